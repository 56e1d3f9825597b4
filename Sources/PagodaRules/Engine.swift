import Foundation
import PagodaJSON

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
    public func route(_ ticket: Ticket, explainMisses: Bool = false, excluding: Set<String> = [], trimmed: Bool = false)
        -> Decision
    {
        let explain = !trimmed
        var explanation: [Explanation] = []
        // Malformed optional fields were left out of the ticket by the contract: say so first.
        if explain { for w in ticket.warnings { explanation.append(.fieldLeftOut(w)) } }
        let found = matchedPhrases(ticket)
        let enterprise = ticket.enterprise != nil

        // 1. Emergencies are handed off before anything else. Rules are read in place, through the
        // array's buffer: a `for rule in` loop copies each rule, a reference count per field, per ticket.
        if let i = emergencyRules.withUnsafeBufferPointer({ rules in
            rules.indices.first { i in
                (rules[i].kinds.isEmpty || rules[i].kinds.contains(ticket.kind))
                    && (rules[i].channels.isEmpty || rules[i].channels.contains(ticket.channel))
                    && rules[i].text.holds(found)
            }
        }) {
            let rule = emergencyRules[i]
            if explain {
                explanation.append(
                    .emergency(rule: rule.reference.id, line: rule.line, phrases: phraseTexts(rule.text, found)))
            }
            return Decision(
                ticketID: ticket.id, type: .emergency, unit: nil, queue: "emergency", emergencyLine: rule.line,
                enterprise: enterprise, category: ticket.category, urgency: .emergency, rule: rule.reference,
                slaProfile: nil,
                deadlines: [], coHandlers: [], escalationChain: [], escalationPolicy: "default", priority: 1,
                rulesHash: hash,
                region: nil, explanation: explanation, warnings: [], ticketWarnings: ticket.warnings)
        }
        if explain, ticket.urgency == .emergency { explanation.append(.intakeEmergencyWithoutRule) }

        // 2. Classification: category (first applicable rule) and urgency (raised by any rule).
        var category = ticket.category.flatMap { categoryByCode[$0] }
        if explain, let c = ticket.category { explanation.append(.categoryFromIntake(c)) }
        var urgency = ticket.urgency ?? .normal
        var categoryDecided = false
        let intakeCategory = category
        // Under `most_specific`, the category-setting rules that apply, best first; the winner is set below.
        var specific: (rule: Int, specificity: Int)?
        var competitors: [Int] = []
        let listCompetitors = explain && explainMisses
        classifyRules.withUnsafeBufferPointer { rules in
            for i in rules.indices {
                if !rules[i].kinds.isEmpty && !rules[i].kinds.contains(ticket.kind) { continue }
                if !rules[i].channels.isEmpty && !rules[i].channels.contains(ticket.channel) { continue }
                if !rules[i].fields.isEmpty && !rules[i].fields.hold(for: ticket) { continue }
                if rules[i].setCategory != nil, intakeCategory == nil || rules[i].override, rules[i].text.holds(found) {
                    if listCompetitors { competitors.append(i) }
                    switch classifyChoice {
                    case .first:
                        if !categoryDecided, let set = rules[i].setCategory {
                            let previous = category.map { categories[$0].code }
                            if explain, previous != categories[set].code {
                                explanation.append(
                                    .categorySet(
                                        rule: rules[i].reference.id, category: categories[set].code,
                                        phrases: phraseTexts(rules[i].text, found), overriding: previous))
                            }
                            category = set
                            categoryDecided = true
                        }
                    case .mostSpecific:
                        let score = rules[i].specificity
                        if specific == nil || score > specific!.specificity { specific = (i, score) }
                    }
                }
                if let raise = rules[i].setUrgency, raise > urgency, rules[i].text.holds(found) {
                    urgency = raise
                    if explain {
                        explanation.append(
                            .urgencyRaised(
                                rule: rules[i].reference.id, to: raise, phrases: phraseTexts(rules[i].text, found)))
                    }
                }
            }
        }
        if let (i, _) = specific, let set = classifyRules[i].setCategory {
            let previous = category.map { categories[$0].code }
            if explain, previous != categories[set].code {
                explanation.append(
                    .categorySet(
                        rule: classifyRules[i].reference.id, category: categories[set].code,
                        phrases: phraseTexts(classifyRules[i].text, found), overriding: previous))
            }
            category = set
        }
        if listCompetitors, competitors.count > 1 {
            explanation.append(classifyCompetition(competitors))
        }

        // 3. Region.
        let resolution = resolveRegion(ticket.region)
        var regionIndex: Int?
        var regionWarning: String?
        switch resolution {
        case .absent: if explain { explanation.append(.regionAbsent) }
        case .resolved(let r):
            regionIndex = r
            if explain { explanation.append(.regionResolved(regions[r].path)) }
        case .partial(let r, let why):
            regionIndex = r
            if explain {
                explanation.append(.regionPartial(regions[r].path, why))
                regionWarning = "region_partial: \(why); routed at \(regions[r].path)"
            }
        case .unresolved(let why):
            if explain { explanation.append(.regionUnresolved(why)) }
            return triage(ticket, category: category, urgency: urgency, explanation: explanation, trimmed: trimmed)
        }

        // 4. Routes, first match wins.
        let rows = RouteIndex.Rows(
            category: category ?? index.noCategoryRow, region: regionIndex ?? index.noRegionRow,
            kind: Self.ordinal(ticket.kind), urgency: Self.ordinal(urgency), channel: Self.ordinal(ticket.channel),
            enterprise: enterprise ? 1 : 0)
        let accept: ((Int) -> Bool)? =
            excluding.isEmpty && !routesHaveFields
            ? nil
            : { i in
                if !self.routes[i].fields.isEmpty && !self.routes[i].fields.hold(for: ticket) { return false }
                if excluding.isEmpty { return true }
                var ignored: [Explanation] = []
                return !excluding.contains(
                    self.resolve(self.routes[i].target, region: regionIndex, explanation: &ignored).1.id)
            }
        guard let routeIndex = index.firstMatch(rows: rows, phrases: found, routes: routes, accept: accept) else {
            if explain { explanation.append(.noRouteMatched) }
            if explain, explainMisses {
                explanation.append(
                    contentsOf: nearMisses(rows: rows, found: found, before: routes.count, ticket: ticket))
            }
            return triage(ticket, category: category, urgency: urgency, explanation: explanation, trimmed: trimmed)
        }
        let route = routes[routeIndex]
        if explain {
            explanation.append(
                .matched(
                    route: route.reference.id,
                    conditions: matchedConditions(route, rows: rows, found: found, ticket: ticket)))
            if explainMisses {
                explanation.append(contentsOf: nearMisses(rows: rows, found: found, before: routeIndex, ticket: ticket))
            }
        }

        let (type, unit) = resolve(route.target, region: regionIndex, explanation: &explanation)
        // The policies section: escalation policy, extra co-handlers and early supervision, unless the route says.
        var escalationPolicy = route.escalation
        var supervise = route.superviseAt
        var policyCo: [Target] = []
        if !policyRules.isEmpty {
            var policyChosen = route.escalationGiven
            for p in policyRules
            where policyApplies(p, category: category, urgency: urgency, enterprise: enterprise, kind: ticket.kind) {
                var applied: [String] = []
                if !policyChosen, let e = p.escalation {
                    escalationPolicy = e
                    policyChosen = true
                    applied.append("escalation \(e)")
                }
                if supervise == nil, let s = p.superviseAt {
                    supervise = s
                    applied.append("supervise_at \(s.percent)% of \(s.clock.rawValue)")
                }
                if !p.coHandlers.isEmpty {
                    policyCo += p.coHandlers
                    applied.append("co-handlers")
                }
                if explain, !applied.isEmpty { explanation.append(.policyApplied(rule: p.reference.id, what: applied)) }
            }
        }
        var co: [Unit] = []
        if !trimmed {
            for t in route.coHandlers + policyCo {
                var ignored: [Explanation] = []
                let (_, u) = resolve(t, region: regionIndex, explanation: &ignored)
                if u.index != unit.index, !co.contains(where: { $0.index == u.index }) { co.append(u) }
            }
        }
        let (profile, because) = chooseSLA(route.sla, urgency: urgency, enterprise: enterprise)
        if explain { explanation.append(.slaChosen(profile: profile, because: because)) }
        var (deadlines, warnings) = computeDeadlines(profile, from: ticket.receivedAt)
        if let regionWarning { warnings.insert(regionWarning, at: 0) }
        var superviseAt: Date?
        if let supervise, let limit = profiles[profile]?.clocks.first(where: { $0.clock == supervise.clock }) {
            superviseAt =
                calendar.clockDeadline(limit.duration, warning: .percent(supervise.percent), from: ticket.receivedAt)
                .warnAt
        } else if let supervise, explain {
            warnings.append(
                "supervise_at: profile \(profile) has no \(supervise.clock.rawValue) clock; no early supervision")
        }
        var decision = Decision(
            ticketID: ticket.id, type: type, unit: unit, queue: queue(type, unit), emergencyLine: nil,
            enterprise: enterprise,
            category: category.map { categories[$0].code }, urgency: urgency, rule: route.reference,
            slaProfile: profile,
            deadlines: deadlines, coHandlers: co, escalationChain: trimmed ? [] : chains[unit.index],
            escalationPolicy: escalationPolicy, priority: route.priority ?? defaultPriority, rulesHash: hash,
            region: regionIndex.map { regions[$0].path }, explanation: trimmed ? [] : explanation,
            warnings: trimmed ? [] : warnings, ticketWarnings: ticket.warnings)
        decision.superviseAt = superviseAt
        return decision
    }

    /// Whether a rule of the policies section applies to a routed ticket.
    func policyApplies(_ p: PolicyRule, category: Int?, urgency: Urgency, enterprise: Bool, kind: TicketKind) -> Bool {
        if let e = p.enterprise, e != enterprise { return false }
        if !p.urgencies.isEmpty && !p.urgencies.contains(urgency) { return false }
        if !p.kinds.isEmpty && !p.kinds.contains(kind) { return false }
        if !p.categories.isEmpty {
            guard let c = category, p.categories.contains(where: { self.category(c, isWithin: $0) }) else {
                return false
            }
        }
        return true
    }

    // MARK: Steps

    func matchedPhrases(_ ticket: Ticket) -> [Int32] {
        // The text counts from far past any title, so that no gap or nearness joins the title to the text.
        var found: [Int32] = []
        var located: [PhraseHit] = []
        if let title = ticket.title { matcher.scan(title, offset: 0, into: &found, located: &located) }
        matcher.scan(ticket.text, offset: 1 << 20, into: &found, located: &located)
        PhraseMatcher.sortUnique(&found)
        if !located.isEmpty { addVirtualPhrases(&located, into: &found) }
        return found
    }

    /// Works out which virtual phrases occur, given where their real phrases occur (`spans`, to which
    /// their occurrences are added), and adds their ids to `found` (the real phrases that occur, sorted),
    /// which stays sorted. Linear in the number of occurrences, whatever the text.
    func addVirtualPhrases(_ spans: inout [PhraseHit], into found: inout [Int32]) {
        // Only the virtual phrases whose first real phrase occurred can occur; in id order, so a virtual
        // phrase comes after those it is made of.
        var candidates: [Int32] = []
        for id in found { candidates += virtualsByRoot[Int(id)] }
        if candidates.isEmpty { return }
        candidates.sort()
        // Occurrences sorted by phrase, then by end (and so by start); a virtual phrase's occurrences are
        // appended in id order, so the array stays sorted.
        spans.sort { ($0.id, $0.end) < ($1.id, $1.end) }
        func firstIndex(in range: Range<Int>, where isPast: (PhraseHit) -> Bool) -> Int {
            var (lo, hi) = (range.lowerBound, range.upperBound)
            while lo < hi {
                let mid = (lo + hi) / 2
                if isPast(spans[mid]) { hi = mid } else { lo = mid + 1 }
            }
            return lo
        }
        func occurrences(_ id: Int32) -> Range<Int> {
            let all = 0..<spans.count
            return firstIndex(in: all) { $0.id >= id }..<firstIndex(in: all) { $0.id > id }
        }
        for id in candidates {
            let before = spans.count
            switch virtualPhrases[Int(id - VirtualPhrase.base)] {
            case .gap(let first, let second, let within):
                // For each occurrence of `first`, the occurrences of `second` that begin within the gap after
                // it: from the nearest (the shortest span) to the farthest (its reach).
                let b = occurrences(second)
                var (nearest, past) = (b.lowerBound, b.lowerBound)
                for x in occurrences(first) {
                    let end = spans[x].end
                    while nearest < b.upperBound && spans[nearest].start <= end { nearest += 1 }
                    past = max(past, nearest)
                    while past < b.upperBound && Int(spans[past].start - end) - 1 <= within { past += 1 }
                    if past > nearest {
                        spans.append(
                            PhraseHit(
                                id: id, start: spans[x].start, end: spans[nearest].end, reach: spans[past - 1].end))
                    }
                }
            case .guarded(let base, let exclusions, let within):
                // An occurrence counts if no exclusion reaches within `within` characters of it. Occurrences
                // of one phrase are in order of start and of reach, so the first that reaches far enough is
                // also the one that starts earliest.
                let near = Int32(within)
                for o in occurrences(base) {
                    let (start, end) = (spans[o].start - near, spans[o].end + near)
                    let excluded = exclusions.contains { e in
                        let range = occurrences(e)
                        let i = firstIndex(in: range) { $0.reach >= start }
                        return i < range.upperBound && spans[i].start <= end
                    }
                    if !excluded { spans.append(PhraseHit(id: id, start: spans[o].start, end: spans[o].end)) }
                }
            }
            if spans.count > before { found.append(id) }
        }
    }

    /// How a phrase id is written in the rule set.
    func phraseText(_ id: Int32) -> String {
        id >= VirtualPhrase.base ? virtualTexts[Int(id - VirtualPhrase.base)] : phrases[Int(id)]
    }

    func phraseTexts(_ cond: TextCondition, _ found: [Int32]) -> [String] {
        var texts: [String] = []
        for id in cond.any where TextCondition.contains(found, id) { texts.append(phraseText(id)) }
        for id in cond.all where TextCondition.contains(found, id) { texts.append(phraseText(id)) }
        for g in cond.groups { for id in g where TextCondition.contains(found, id) { texts.append(phraseText(id)) } }
        return texts
    }

    func descendants(of node: Int, at level: Level) -> [Int] {
        var out: [Int] = []
        var stack = [node]
        while let n = stack.popLast() {
            if regions[n].level == level {
                out.append(n)
            } else if regions[n].level < level {
                stack.append(contentsOf: regions[n].children)
            }
        }
        return out
    }

    func resolve(_ target: Target, region: Int?, explanation: inout [Explanation]) -> (Decision.DestinationType, Unit) {
        switch target {
        case .unit(let u): return (.unit, units[u])
        case .platform: return (.platform, units[platformUnit ?? triageUnit])
        case .triage: return (.triage, units[triageUnit])
        case .relative(let level, let function, let table):
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
    static let slaReasons: [SLACase: (route: String, default: String)] = Dictionary(
        uniqueKeysWithValues: SLACase.allCases.map { c in
            (
                c,
                c == .default
                    ? ("the route's profile", "the default profile")
                    : ("the route's \(c.rawValue) profile", "the default \(c.rawValue) profile")
            )
        })

    func computeDeadlines(_ profileName: String, from start: Date) -> ([Decision.Deadline], [String]) {
        guard let profile = profiles[profileName] else { return ([], []) }
        var warnings: [String] = []
        var out: [Decision.Deadline] = []
        out.reserveCapacity(profile.clocks.count)
        if !calendar.covers(calendar.civilDate(of: start)) {
            warnings.append("calendar_gap: no holiday data for \(calendar.civilDate(of: start).year)")
        }
        for limit in profile.clocks {
            let d = calendar.clockDeadline(limit.duration, warning: profile.warning, from: start)
            if case .natural = limit.duration {
            } else if !calendar.covers(calendar.civilDate(of: d.due)) {
                warnings.append(
                    "calendar_gap: the \(limit.clock.rawValue) deadline falls in \(calendar.civilDate(of: d.due).year), which has no holiday data"
                )
            }
            out.append(.init(clock: limit.clock, due: d.due, warnAt: d.warnAt))
        }
        return (out, warnings.count < 2 ? warnings : Array(Set(warnings)).sorted())
    }

    func triage(_ ticket: Ticket, category: Int?, urgency: Urgency, explanation: [Explanation], trimmed: Bool = false)
        -> Decision
    {
        var explanation = explanation
        if !trimmed { explanation.append(.slaChosen(profile: triageSLA, because: "manual triage")) }
        let (deadlines, warnings) = computeDeadlines(triageSLA, from: ticket.receivedAt)
        let unit = units[triageUnit]
        return Decision(
            ticketID: ticket.id, type: .triage, unit: unit, queue: "triage", emergencyLine: nil,
            enterprise: ticket.enterprise != nil,
            category: category.map { categories[$0].code }, urgency: urgency, rule: fallbackRule, slaProfile: triageSLA,
            deadlines: deadlines, coHandlers: [], escalationChain: trimmed ? [] : chains[unit.index],
            escalationPolicy: "default",
            priority: urgency >= .urgent ? 1 : defaultPriority, rulesHash: hash, region: nil,
            explanation: trimmed ? [] : explanation, warnings: trimmed ? [] : warnings,
            ticketWarnings: ticket.warnings)
    }

    // MARK: Explanations

    /// Why the winner among several category-setting classify rules that matched won.
    func classifyCompetition(_ matched: [Int]) -> Explanation {
        let rules = matched.map { classifyRules[$0] }
        let winner: ClassifyRule
        let why: String
        switch classifyChoice {
        case .first:
            winner = rules[0]
            why = "classify_choice first: the first matching rule in the rule set's order decides"
        case .mostSpecific:
            let best = rules.map(\.specificity).max()!
            winner = rules.first { $0.specificity == best }!
            let tied = rules.filter { $0.specificity == best }.count
            why =
                "classify_choice most_specific: \(winner.reference.id) has \(best) condition(s), the most"
                + (tied > 1 ? "; among the \(tied) with as many, it comes first" : "")
        }
        let others = rules.filter { $0.reference != winner.reference }.map { r in
            "\(r.reference.id) (\(r.setCategory.map { categories[$0].code } ?? "-"), \(r.specificity) condition(s), "
                + "\(r.reference.file):\(r.reference.line))"
        }
        return .classifyCompetitors(winner: winner.reference.id, others: others, why: why)
    }

    func describeFailure(_ fields: FieldConditions, _ ticket: Ticket) -> String {
        var parts: [String] = []
        if !fields.sourceLines.isEmpty, !fields.sourceLines.contains(ticket.sourceLine ?? "") {
            parts.append(
                "source_line is \(ticket.sourceLine ?? "absent"), not \(fields.sourceLines.sorted().joined(separator: ", "))"
            )
        }
        for f in fields.fields {
            let value = ticket.extra[f.field].flatMap(FieldConditions.text)
            if !f.values.contains(value ?? "\u{0}") {
                parts.append("extra \(f.field) is \(value ?? "absent"), not \(f.values.joined(separator: ", "))")
            }
        }
        return parts.joined(separator: "; ")
    }

    func failedConditions(_ route: Route, rows: RouteIndex.Rows, found: [Int32], ticket: Ticket? = nil) -> [String] {
        var failed: [String] = []
        let r = route.index
        if !index.bit(index.byCategory, row: rows.category, route: r) {
            failed.append(
                "category is \(rows.category < categories.count ? categories[rows.category].code : "unset"), not in \(route.categories.map { categories[$0].code }.joined(separator: ", "))"
            )
        }
        if !index.bit(index.byRegion, row: rows.region, route: r) {
            let wanted =
                route.regions.isEmpty
                ? "a known region" : route.regions.map { regions[$0].path }.joined(separator: ", ")
            failed.append(
                "region is \(rows.region < regions.count ? regions[rows.region].path : "unknown"), not in \(wanted)")
        }
        if !index.bit(index.byKind, row: rows.kind, route: r) {
            failed.append(
                "kind is \(TicketKind.allCases[rows.kind].rawValue), not \(route.kinds.map(\.rawValue).sorted().joined(separator: ", "))"
            )
        }
        if !index.bit(index.byUrgency, row: rows.urgency, route: r) {
            failed.append(
                "urgency is \(Urgency.allCases[rows.urgency].rawValue), not \(route.urgencies.map(\.rawValue).sorted().joined(separator: ", "))"
            )
        }
        if !index.bit(index.byChannel, row: rows.channel, route: r) {
            failed.append(
                "channel is \(Channel.allCases[rows.channel].rawValue), not \(route.channels.map(\.rawValue).sorted().joined(separator: ", "))"
            )
        }
        if !index.bit(index.byEnterprise, row: rows.enterprise, route: r) {
            failed.append(rows.enterprise == 1 ? "the ticket is an enterprise's" : "the ticket is not an enterprise's")
        }
        if let text = route.text, !text.holds(found) {
            failed.append("text condition does not hold (\(describe(text)))")
        }
        if let ticket, !route.fields.isEmpty, !route.fields.hold(for: ticket) {
            failed.append(describeFailure(route.fields, ticket))
        }
        return failed
    }

    func describe(_ text: TextCondition) -> String {
        var parts: [String] = []
        if !text.any.isEmpty { parts.append("any of " + text.any.map { phraseText($0) }.joined(separator: "/")) }
        if !text.all.isEmpty { parts.append("all of " + text.all.map { phraseText($0) }.joined(separator: "/")) }
        for g in text.groups { parts.append("one of " + g.map { phraseText($0) }.joined(separator: "/")) }
        if !text.none.isEmpty { parts.append("none of " + text.none.map { phraseText($0) }.joined(separator: "/")) }
        return parts.joined(separator: ", ")
    }

    func matchedConditions(_ route: Route, rows: RouteIndex.Rows, found: [Int32], ticket: Ticket? = nil)
        -> [MatchedCondition]
    {
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
        if !route.fields.sourceLines.isEmpty, let line = ticket?.sourceLine { out.append(.sourceLine(line)) }
        for f in route.fields.fields {
            if let v = ticket?.extra[f.field].flatMap(FieldConditions.text) {
                out.append(.extra(field: f.field, value: v))
            }
        }
        return out
    }

    /// The up to three routes before `before` that failed the fewest conditions.
    func nearMisses(rows: RouteIndex.Rows, found: [Int32], before: Int, ticket: Ticket? = nil) -> [Explanation] {
        var scored: [(Int, [String])] = []
        for r in routes.prefix(before) {
            let failed = failedConditions(r, rows: rows, found: found, ticket: ticket)
            if !failed.isEmpty { scored.append((r.index, failed)) }
        }
        return scored.sorted { ($0.1.count, $0.0) < ($1.1.count, $1.0) }.prefix(3).map {
            .nearMiss(route: routes[$0.0].reference.id, failed: $0.1)
        }
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
    public func clockDeadline(_ duration: SLADuration, warning: SLAProfile.Warning, from start: Date) -> (
        due: Date, warnAt: Date
    ) {
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

extension RuleSet {
    /// Where an approved return that names no unit sends the ticket: the unit the rules route it to without
    /// `excluding` (the units it was returned by); nil, for the centre's triage, when they route it anywhere
    /// else (the platform, triage, an emergency line). The service and the simulator both ask this.
    public func rerouteUnit(_ ticket: Ticket, excluding: Set<String>) -> String? {
        let decision = route(ticket, excluding: excluding, trimmed: true)
        return decision.type == .unit ? decision.unit?.id : nil
    }
}
