import PagodaJSON

/// Bitset index over the routes: one row of bits per value of each dimension a route can match on.
///
/// A ticket's candidate routes are the AND of one row per dimension (category, region, kind, urgency,
/// channel, enterprise flag), intersected with the routes whose text condition can hold. The first set
/// bit whose text condition really holds is the winning route. The cost per ticket is a few passes over
/// `routes / 64` words plus the routes named by matched phrases, not a scan of every rule.
struct RouteIndex: Sendable {
    let words: Int
    let byCategory: [UInt64]
    let byRegion: [UInt64]
    let byKind: [UInt64]
    let byUrgency: [UInt64]
    let byChannel: [UInt64]
    let byEnterprise: [UInt64]
    let textFree: [UInt64]
    /// The routes without `source_line` or `extra` conditions.
    let fieldFree: [UInt64]
    /// For each phrase id, the routes whose `any` or `all` list names it.
    let routesByPhrase: [Int: [Int32]]
    let noCategoryRow: Int
    let noRegionRow: Int

    init(routes: [Route], categories: [Category], regions: [Region]) {
        let words = max(1, (routes.count + 63) / 64)
        self.words = words
        noCategoryRow = categories.count
        noRegionRow = regions.count
        var byCategory = [UInt64](repeating: 0, count: (categories.count + 1) * words)
        var byRegion = [UInt64](repeating: 0, count: (regions.count + 1) * words)
        var byKind = [UInt64](repeating: 0, count: TicketKind.allCases.count * words)
        var byUrgency = [UInt64](repeating: 0, count: Urgency.allCases.count * words)
        var byChannel = [UInt64](repeating: 0, count: Channel.allCases.count * words)
        var byEnterprise = [UInt64](repeating: 0, count: 2 * words)
        var textFree = [UInt64](repeating: 0, count: words)
        var fieldFree = [UInt64](repeating: 0, count: words)
        var byPhrase: [Int: [Int32]] = [:]

        var categoryChildren = [[Int]](repeating: [], count: categories.count)
        for c in categories { if let p = c.parent { categoryChildren[p].append(c.index) } }

        func set(_ bits: inout [UInt64], row: Int, route: Int) {
            bits[row * words + route >> 6] |= 1 << UInt64(route & 63)
        }
        func subtree(_ root: Int, _ children: (Int) -> [Int]) -> [Int] {
            var out: [Int] = []
            var stack = [root]
            while let n = stack.popLast() {
                out.append(n)
                stack.append(contentsOf: children(n))
            }
            return out
        }

        for route in routes {
            let i = route.index
            if route.categories.isEmpty {
                for row in 0...categories.count { set(&byCategory, row: row, route: i) }
            } else {
                for c in route.categories {
                    for n in subtree(c, { categoryChildren[$0] }) { set(&byCategory, row: n, route: i) }
                }
            }
            if route.regions.isEmpty {
                for row in 0...regions.count { set(&byRegion, row: row, route: i) }
            } else {
                for r in route.regions {
                    for n in subtree(r, { regions[$0].children }) { set(&byRegion, row: n, route: i) }
                }
            }
            for (k, kind) in TicketKind.allCases.enumerated() where route.kinds.isEmpty || route.kinds.contains(kind) {
                set(&byKind, row: k, route: i)
            }
            for (u, urgency) in Urgency.allCases.enumerated()
            where route.urgencies.isEmpty || route.urgencies.contains(urgency) {
                set(&byUrgency, row: u, route: i)
            }
            for (c, channel) in Channel.allCases.enumerated()
            where route.channels.isEmpty || route.channels.contains(channel) {
                set(&byChannel, row: c, route: i)
            }
            for (e, flag) in [false, true].enumerated() where route.enterprise == nil || route.enterprise == flag {
                set(&byEnterprise, row: e, route: i)
            }
            if route.fields.isEmpty { fieldFree[i >> 6] |= 1 << UInt64(i & 63) }
            if let text = route.text {
                // A route is a text candidate once any phrase it requires occurs; the full check follows.
                for p in text.triggers { byPhrase[Int(p), default: []].append(Int32(i)) }
            } else {
                textFree[i >> 6] |= 1 << UInt64(i & 63)
            }
        }
        self.byCategory = byCategory
        self.byRegion = byRegion
        self.byKind = byKind
        self.byUrgency = byUrgency
        self.byChannel = byChannel
        self.byEnterprise = byEnterprise
        self.textFree = textFree
        self.fieldFree = fieldFree
        self.routesByPhrase = byPhrase
    }

    /// The rows of a ticket: its category (or none), region (or none), kind, urgency, channel, enterprise.
    struct Rows {
        var category: Int
        var region: Int
        var kind: Int
        var urgency: Int
        var channel: Int
        var enterprise: Int
    }

    /// The index of the first route whose conditions hold, or nil.
    func firstMatch(rows: Rows, phrases: [Int32], routes: [Route], accept: ((Int) -> Bool)? = nil) -> Int? {
        withUnsafeTemporaryAllocation(of: UInt64.self, capacity: words) { text in
            // Routes with a text condition are candidates only if one of their phrases occurred.
            for w in 0..<words { text[w] = textFree[w] }
            for p in phrases {
                if let list = routesByPhrase[Int(p)] {
                    for route in list { text[Int(route) >> 6] |= 1 << UInt64(route & 63) }
                }
            }
            // The candidates, 64 routes at a time, in order: the first whose conditions really hold wins.
            let (c, r, k) = (rows.category * words, rows.region * words, rows.kind * words)
            let (u, ch, e) = (rows.urgency * words, rows.channel * words, rows.enterprise * words)
            for w in 0..<words {
                var bits =
                    byCategory[c + w] & byRegion[r + w] & byKind[k + w] & byUrgency[u + w] & byChannel[ch + w]
                    & byEnterprise[e + w] & text[w]
                while bits != 0 {
                    let i = w << 6 | bits.trailingZeroBitCount
                    if routes[i].text?.holds(phrases) ?? true, accept?(i) ?? true { return i }
                    bits &= bits - 1
                }
            }
            return nil
        }
    }

    /// The routes (as a bitset) that match every ticket `route` matches on the structural dimensions, i.e.
    /// the routes that cover it. Used to find shadowed routes.
    func covering(_ route: Route) -> [UInt64] {
        var acc = [UInt64](repeating: ~0, count: words)
        func and(_ bits: [UInt64], row: Int) {
            for w in 0..<words { acc[w] &= bits[row * words + w] }
        }
        if route.categories.isEmpty {
            and(byCategory, row: noCategoryRow)
        } else {
            for c in route.categories { and(byCategory, row: c) }
        }
        if route.regions.isEmpty {
            and(byRegion, row: noRegionRow)
        } else {
            for r in route.regions { and(byRegion, row: r) }
        }
        for (k, kind) in TicketKind.allCases.enumerated() where route.kinds.isEmpty || route.kinds.contains(kind) {
            and(byKind, row: k)
        }
        for (u, urgency) in Urgency.allCases.enumerated()
        where route.urgencies.isEmpty || route.urgencies.contains(urgency) { and(byUrgency, row: u) }
        for (c, channel) in Channel.allCases.enumerated()
        where route.channels.isEmpty || route.channels.contains(channel) { and(byChannel, row: c) }
        for (e, flag) in [false, true].enumerated() where route.enterprise == nil || route.enterprise == flag {
            and(byEnterprise, row: e)
        }
        for w in 0..<words { acc[w] &= textFree[w] & fieldFree[w] }
        return acc
    }

    func bit(_ bits: [UInt64], row: Int, route: Int) -> Bool {
        bits[row * words + route >> 6] & (1 << UInt64(route & 63)) != 0
    }
}
