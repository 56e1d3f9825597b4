import Foundation

extension RuleSet {
    /// Classifies and routes one validated ticket.
    ///
    /// Pure and total: the same ticket and rule set always give the same decision, and every ticket gets
    /// one (emergency hand-off, a unit, the platform, or triage). Deadlines run from the ticket's
    /// `received_at` on the rule set's calendar. With `explainMisses`, the explanation also lists the
    /// routes that came closest to matching and the conditions they failed.
    ///
    /// `excluding` names units the ticket must not go to (a unit that returned it): routes that would
    /// send it there are passed over, and triage takes it when no other route matches.
    ///
    /// With `trimmed`, the decision is `route(ticket).trimmed()` made directly: its explanation,
    /// decision warnings, co-handlers and escalation chain are not worked out, only to be dropped (the
    /// ticket's warnings are kept).
    ///
    /// A ticket whose optional fields the contract left out (`Ticket.warnings`) is routed without them:
    /// an unreadable region as if absent, an unknown category classified from the text. The decision
    /// carries those warnings (`ticketWarnings`) and names each in its explanation.
    public func route(_ ticket: Ticket, explainMisses: Bool = false, excluding: Set<String> = [], trimmed: Bool = false) -> Decision {
        let explain = !trimmed
        var explanation: [Explanation] = []
        // Malformed optional fields were left out of the ticket by the contract: say so first.
        if explain { for w in ticket.warnings { explanation.append(.fieldLeftOut(w)) } }
        let found = matchedPhrases(ticket)
        let enterprise = ticket.enterprise != nil

        // 1. Emergencies are handed off before anything else. Rules are read in place, through the
        // array's buffer: a `for rule in` loop copies each rule, a reference count per field, per ticket.
        if let i = emergencyRules.withUnsafeBufferPointer({ rules in rules.indices.first { rules[$0].text.holds(found) } }) {
            let rule = emergencyRules[i]
            if explain { explanation.append(.emergency(rule: rule.reference.id, line: rule.line, phrases: phraseTexts(rule.text, found))) }
            return Decision(
                ticketID: ticket.id, type: .emergency, unit: nil, queue: "emergency", emergencyLine: rule.line,
                enterprise: enterprise, category: ticket.category, urgency: .emergency, rule: rule.reference, slaProfile: nil,
                deadlines: [], coHandlers: [], escalationChain: [], escalationPolicy: "default", priority: 1, rulesHash: hash,
                region: nil, explanation: explanation, warnings: [], ticketWarnings: ticket.warnings)
        }
        if explain, ticket.urgency == .emergency { explanation.append(.intakeEmergencyWithoutRule) }

        // 2. Classification: category (first applicable rule) and urgency (raised by any rule).
        var category = ticket.category.flatMap { categoryByCode[$0] }
        if explain, let c = ticket.category { explanation.append(.categoryFromIntake(c)) }
        var urgency = ticket.urgency ?? .normal
        var categoryDecided = false
        classifyRules.withUnsafeBufferPointer { rules in
            for i in rules.indices {
                if !rules[i].kinds.isEmpty && !rules[i].kinds.contains(ticket.kind) { continue }
                if !rules[i].channels.isEmpty && !rules[i].channels.contains(ticket.channel) { continue }
                if let set = rules[i].setCategory, !categoryDecided, category == nil || rules[i].override, rules[i].text.holds(found) {
                    let previous = category.map { categories[$0].code }
                    if explain, previous != categories[set].code {
                        explanation.append(.categorySet(rule: rules[i].reference.id, category: categories[set].code,
                                                        phrases: phraseTexts(rules[i].text, found), overriding: previous))
                    }
                    category = set
                    categoryDecided = true
                }
                if let raise = rules[i].setUrgency, raise > urgency, rules[i].text.holds(found) {
                    urgency = raise
                    if explain { explanation.append(.urgencyRaised(rule: rules[i].reference.id, to: raise, phrases: phraseTexts(rules[i].text, found))) }
                }
            }
        }

        // 3. Region.
        let resolution = resolveRegion(ticket.region)
        var regionIndex: Int?
        switch resolution {
        case .absent: if explain { explanation.append(.regionAbsent) }
        case .resolved(let r):
            regionIndex = r
            if explain { explanation.append(.regionResolved(regions[r].path)) }
        case .unresolved(let why):
            if explain { explanation.append(.regionUnresolved(why)) }
            return triage(ticket, category: category, urgency: urgency, explanation: explanation, trimmed: trimmed)
        }

        // 4. Routes, first match wins.
        let rows = RouteIndex.Rows(
            category: category ?? index.noCategoryRow, region: regionIndex ?? index.noRegionRow,
            kind: Self.ordinal(ticket.kind), urgency: Self.ordinal(urgency), channel: Self.ordinal(ticket.channel),
            enterprise: enterprise ? 1 : 0)
        let accept: ((Int) -> Bool)? = excluding.isEmpty ? nil : { i in
            var ignored: [Explanation] = []
            return !excluding.contains(self.resolve(self.routes[i].target, region: regionIndex, explanation: &ignored).1.id)
        }
        guard let routeIndex = index.firstMatch(rows: rows, phrases: found, routes: routes, accept: accept) else {
            if explain { explanation.append(.noRouteMatched) }
            if explain, explainMisses { explanation.append(contentsOf: nearMisses(rows: rows, found: found, before: routes.count)) }
            return triage(ticket, category: category, urgency: urgency, explanation: explanation, trimmed: trimmed)
        }
        let route = routes[routeIndex]
        if explain {
            explanation.append(.matched(route: route.reference.id, conditions: matchedConditions(route, rows: rows, found: found)))
            if explainMisses { explanation.append(contentsOf: nearMisses(rows: rows, found: found, before: routeIndex)) }
        }

        let (type, unit) = resolve(route.target, region: regionIndex, explanation: &explanation)
        let co = trimmed ? [] : route.coHandlers.compactMap { t -> Unit? in
            var ignored: [Explanation] = []
            let (_, u) = resolve(t, region: regionIndex, explanation: &ignored)
            return u.index == unit.index ? nil : u
        }
        let (profile, because) = chooseSLA(route.sla, urgency: urgency, enterprise: enterprise)
        if explain { explanation.append(.slaChosen(profile: profile, because: because)) }
        let (deadlines, warnings) = computeDeadlines(profile, from: ticket.receivedAt)
        return Decision(
            ticketID: ticket.id, type: type, unit: unit, queue: queue(type, unit), emergencyLine: nil, enterprise: enterprise,
            category: category.map { categories[$0].code }, urgency: urgency, rule: route.reference, slaProfile: profile,
            deadlines: deadlines, coHandlers: co, escalationChain: trimmed ? [] : chains[unit.index],
            escalationPolicy: route.escalation, priority: route.priority ?? defaultPriority, rulesHash: hash,
            region: regionIndex.map { regions[$0].path }, explanation: trimmed ? [] : explanation,
            warnings: trimmed ? [] : warnings, ticketWarnings: ticket.warnings)
    }

    // MARK: Steps

    func matchedPhrases(_ ticket: Ticket) -> [Int32] {
        var found: [Int32] = []
        if let title = ticket.title { matcher.scan(title, into: &found) }
        matcher.scan(ticket.text, into: &found)
        PhraseMatcher.sortUnique(&found)
        return found
    }

    func phraseTexts(_ cond: TextCondition, _ found: [Int32]) -> [String] {
        var texts: [String] = []
        for id in cond.any where TextCondition.contains(found, id) { texts.append(phrases[Int(id)]) }
        for id in cond.all where TextCondition.contains(found, id) { texts.append(phrases[Int(id)]) }
        return texts
    }

    enum RegionResolution { case absent, resolved(Int), unresolved(String) }

    /// Resolves a ticket's region object to the deepest node it names.
    func resolveRegion(_ ref: RegionRef?) -> RegionResolution {
        guard let ref, ref.district != nil || ref.town != nil || ref.village != nil || ref.code != nil else { return .absent }
        if let code = ref.code {
            guard let r = regionByCode[code] else { return .unresolved("code \(code) is not a region of \(regions[0].name)") }
            if ref.district == nil && ref.town == nil && ref.village == nil { return .resolved(r) }
        }
        var node = 0
        let parts: [(Level, String?)] = [(.district, ref.district), (.town, ref.town), (.village, ref.village)]
        for (level, name) in parts {
            guard var name else { continue }
            if level == .district, name.hasPrefix(regions[0].name), name != regions[0].name { name = String(name.dropFirst(regions[0].name.count)) }
            if regions[node].level == level.up {
                guard let child = childByName[node][name] else {
                    return .unresolved("\(level) '\(name)' is not in \(regions[node].path)")
                }
                node = child
            } else {
                // A level was skipped (a town without its district): search below the deepest known node.
                let candidates = descendants(of: node, at: level).filter { regions[$0].name == name || regions[$0].aliases.contains(name) }
                guard candidates.count == 1 else {
                    return .unresolved(candidates.isEmpty ? "\(level) '\(name)' is not in \(regions[node].path)"
                                       : "\(level) '\(name)' is ambiguous in \(regions[node].path); give the \(level.up!)")
                }
                node = candidates[0]
            }
        }
        if let code = ref.code, let r = regionByCode[code], r != node, !region(node, isWithin: r), !region(r, isWithin: node) {
            return .unresolved("code \(code) (\(regions[r].path)) contradicts the names (\(regions[node].path))")
        }
        return .resolved(node)
    }

    func descendants(of node: Int, at level: Level) -> [Int] {
        var out: [Int] = [], stack = [node]
        while let n = stack.popLast() {
            if regions[n].level == level { out.append(n) } else if regions[n].level < level { stack.append(contentsOf: regions[n].children) }
        }
        return out
    }

    func resolve(_ target: Target, region: Int?, explanation: inout [Explanation]) -> (Decision.DestinationType, Unit) {
        switch target {
        case .unit(let u): return (.unit, units[u])
        case .platform: return (.platform, units[platformUnit ?? triageUnit])
        case .triage: return (.triage, units[triageUnit])
        case let .relative(level, function, table):
            // A ticket that names no region resolves at the city; every region has an entry (checked
            // when the rule set was compiled).
            let u = units[Int(relativeTables[table][region ?? 0])]
            explanation.append(.relative(level: level, function: function, resolved: u.id))
            return (.unit, u)
        }
    }

    /// The queue (below the service's prefix) a ticket held by `unit` waits in: `triage` and `platform`
    /// for those two units, the unit's own queue otherwise.
    public func queueName(of unit: Unit) -> String {
        if unit.index == triageUnit { return "triage" }
        if unit.index == platformUnit { return "platform" }
        return unit.queue
    }

    func queue(_ type: Decision.DestinationType, _ unit: Unit) -> String {
        switch type {
        case .unit: unit.queue
        case .platform: "platform"
        case .triage: "triage"
        case .emergency: "emergency"
        }
    }

    func chooseSLA(_ sla: [SLACase: String], urgency: Urgency, enterprise: Bool) -> (String, String) {
        for c in Self.slaOrder {
            switch c {
            case .emergency: guard urgency == .emergency else { continue }
            case .urgent: guard urgency >= .urgent else { continue }
            case .enterprise: guard enterprise else { continue }
            case .default: break
            }
            if let p = sla[c] { return (p, Self.slaReasons[c]!.route) }
            if let p = defaultSLA[c] { return (p, Self.slaReasons[c]!.default) }
        }
        return (triageSLA, "the triage profile")
    }

    /// The cases in the order they are tried: the most specific first.
    static let slaOrder: [SLACase] = [.emergency, .urgent, .enterprise, .default]

    /// Why a profile was chosen, by case: made once rather than per ticket.
    static let slaReasons: [SLACase: (route: String, default: String)] = Dictionary(uniqueKeysWithValues: SLACase.allCases.map { c in
        (c, c == .default ? ("the route's profile", "the default profile") : ("the route's \(c.rawValue) profile", "the default \(c.rawValue) profile"))
    })

    func computeDeadlines(_ profileName: String, from start: Date) -> ([Decision.Deadline], [String]) {
        guard let profile = profiles[profileName] else { return ([], []) }
        var warnings: [String] = []
        var out: [Decision.Deadline] = []
        out.reserveCapacity(profile.clocks.count)
        if !calendar.covers(calendar.civilDate(of: start)) { warnings.append("calendar_gap: no holiday data for \(calendar.civilDate(of: start).year)") }
        for limit in profile.clocks {
            let d = calendar.clockDeadline(limit.duration, warning: profile.warning, from: start)
            if case .natural = limit.duration {} else if !calendar.covers(calendar.civilDate(of: d.due)) {
                warnings.append("calendar_gap: the \(limit.clock.rawValue) deadline falls in \(calendar.civilDate(of: d.due).year), which has no holiday data")
            }
            out.append(.init(clock: limit.clock, due: d.due, warnAt: d.warnAt))
        }
        return (out, warnings.count < 2 ? warnings : Array(Set(warnings)).sorted())
    }

    func triage(_ ticket: Ticket, category: Int?, urgency: Urgency, explanation: [Explanation], trimmed: Bool = false) -> Decision {
        var explanation = explanation
        if !trimmed { explanation.append(.slaChosen(profile: triageSLA, because: "manual triage")) }
        let (deadlines, warnings) = computeDeadlines(triageSLA, from: ticket.receivedAt)
        let unit = units[triageUnit]
        return Decision(
            ticketID: ticket.id, type: .triage, unit: unit, queue: "triage", emergencyLine: nil, enterprise: ticket.enterprise != nil,
            category: category.map { categories[$0].code }, urgency: urgency, rule: fallbackRule, slaProfile: triageSLA,
            deadlines: deadlines, coHandlers: [], escalationChain: trimmed ? [] : chains[unit.index], escalationPolicy: "default",
            priority: urgency >= .urgent ? 1 : defaultPriority, rulesHash: hash, region: nil,
            explanation: trimmed ? [] : explanation, warnings: trimmed ? [] : warnings,
            ticketWarnings: ticket.warnings)
    }

    // MARK: Explanations

    func failedConditions(_ route: Route, rows: RouteIndex.Rows, found: [Int32]) -> [String] {
        var failed: [String] = []
        let r = route.index
        if !index.bit(index.byCategory, row: rows.category, route: r) {
            failed.append("category is \(rows.category < categories.count ? categories[rows.category].code : "unset"), not in \(route.categories.map { categories[$0].code }.joined(separator: ", "))")
        }
        if !index.bit(index.byRegion, row: rows.region, route: r) {
            let wanted = route.regions.isEmpty ? "a known region" : route.regions.map { regions[$0].path }.joined(separator: ", ")
            failed.append("region is \(rows.region < regions.count ? regions[rows.region].path : "unknown"), not in \(wanted)")
        }
        if !index.bit(index.byKind, row: rows.kind, route: r) { failed.append("kind is \(TicketKind.allCases[rows.kind].rawValue), not \(route.kinds.map(\.rawValue).sorted().joined(separator: ", "))") }
        if !index.bit(index.byUrgency, row: rows.urgency, route: r) { failed.append("urgency is \(Urgency.allCases[rows.urgency].rawValue), not \(route.urgencies.map(\.rawValue).sorted().joined(separator: ", "))") }
        if !index.bit(index.byChannel, row: rows.channel, route: r) { failed.append("channel is \(Channel.allCases[rows.channel].rawValue), not \(route.channels.map(\.rawValue).sorted().joined(separator: ", "))") }
        if !index.bit(index.byEnterprise, row: rows.enterprise, route: r) { failed.append(rows.enterprise == 1 ? "the ticket is an enterprise's" : "the ticket is not an enterprise's") }
        if let text = route.text, !text.holds(found) { failed.append("text condition does not hold (\(describe(text)))") }
        return failed
    }

    func describe(_ text: TextCondition) -> String {
        var parts: [String] = []
        if !text.any.isEmpty { parts.append("any of " + text.any.map { phrases[Int($0)] }.joined(separator: "/")) }
        if !text.all.isEmpty { parts.append("all of " + text.all.map { phrases[Int($0)] }.joined(separator: "/")) }
        if !text.none.isEmpty { parts.append("none of " + text.none.map { phrases[Int($0)] }.joined(separator: "/")) }
        return parts.joined(separator: ", ")
    }

    func matchedConditions(_ route: Route, rows: RouteIndex.Rows, found: [Int32]) -> [MatchedCondition] {
        var out: [MatchedCondition] = []
        // Name the condition value that matched, not the whole list.
        if let c = route.categories.first(where: { category(rows.category, isWithin: $0) }) {
            out.append(.category(ticket: categories[rows.category].code, condition: categories[c].code))
        }
        if let r = route.regions.first(where: { region(rows.region, isWithin: $0) }) {
            out.append(.region(ticket: regions[rows.region].path, condition: regions[r].path))
        }
        if !route.kinds.isEmpty { out.append(.kind(TicketKind.allCases[rows.kind].rawValue)) }
        if !route.urgencies.isEmpty { out.append(.urgency(Urgency.allCases[rows.urgency].rawValue)) }
        if !route.channels.isEmpty { out.append(.channel(Channel.allCases[rows.channel].rawValue)) }
        if let e = route.enterprise { out.append(.enterprise(e)) }
        if let text = route.text { out.append(.text(phrases: phraseTexts(text, found))) }
        return out
    }

    /// The up to three routes before `before` that failed the fewest conditions.
    func nearMisses(rows: RouteIndex.Rows, found: [Int32], before: Int) -> [Explanation] {
        var scored: [(Int, [String])] = []
        for r in routes.prefix(before) {
            let failed = failedConditions(r, rows: rows, found: found)
            if !failed.isEmpty { scored.append((r.index, failed)) }
        }
        return scored.sorted { ($0.1.count, $0.0) < ($1.1.count, $1.0) }.prefix(3).map { .nearMiss(route: routes[$0.0].reference.id, failed: $0.1) }
    }

    @inline(__always) static func ordinal(_ k: TicketKind) -> Int {
        switch k {
        case .consultation: 0
        case .help: 1
        case .complaint: 2
        case .report: 3
        case .suggestion: 4
        }
    }

    @inline(__always) static func ordinal(_ u: Urgency) -> Int {
        switch u {
        case .normal: 0
        case .urgent: 1
        case .emergency: 2
        }
    }

    @inline(__always) static func ordinal(_ c: Channel) -> Int {
        switch c {
        case .hotline: 0
        case .web: 1
        case .wechat: 2
        case .app: 3
        case .media: 4
        case .mailbox: 5
        case .messageBoard: 6
        }
    }
}

extension BusinessCalendar {
    /// The deadline of a clock of `duration` started at `start`, and its yellow-light time.
    ///
    /// Working-time clocks warn at the given share of the working time, so the yellow light comes on
    /// during working hours, not at night or on a holiday.
    public func clockDeadline(_ duration: SLADuration, warning: SLAProfile.Warning, from start: Date) -> (due: Date, warnAt: Date) {
        let due = deadline(after: duration, from: start)
        let warnAt: Date
        switch warning {
        case .percent(let p):
            if case .natural = duration {
                warnAt = start.addingTimeInterval((due.timeIntervalSince(start) * Double(p) / 100).rounded(.down))
            } else {
                let minutes = workingSeconds(from: start, to: due) * p / 100 / 60
                warnAt = addingWorkingMinutes(minutes, to: start)
            }
        case .before(let s): warnAt = max(start, due.addingTimeInterval(-Double(s)))
        }
        return (due, warnAt)
    }
}
