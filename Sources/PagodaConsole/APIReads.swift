import Foundation
import Hummingbird
import PagodaJSON
import PagodaLifecycle
import PagodaRules
import PagodaStore

/// The API's read routes beside the ticket: the ticket list (the unit inbox's query), the board and the
/// report (docs/api.md). Each reads what its page reads, through the same code, so page and API agree.
extension ConsoleAPI {
    static func registerReads(on api: RouterGroup<ConsoleRequestContext>, _ env: ConsoleEnvironment, rates: LiveRates) {
        api.get("tickets") { request, context in
            let user = try context.requireUser
            let query = try ticketsQuery(request, user: user, rules: env.backend.ruleSet)
            let store = env.store
            let result = try await store.consoleInbox(query)
            let bodies = try await store.ticketBodies(result.rows.map(\.ticketID))
            let off = env.configuration.offsetSeconds
            let items: [JSONValue] = result.rows.map { r in
                var o = listRowJSON(r, hierarchy: env.hierarchy, offsetSeconds: off)
                let ticket = bodies[r.ticketID].flatMap { ConsoleAccess.ticketJSON($0, for: user)?.objectValue }
                o.set("title", ticket?["title"] ?? .null)
                o.set("text", ticket?["text"] ?? .null)
                o.set("caller", ticket?["caller"] ?? .null)
                return .object(o)
            }
            return json(
                .object(
                    JSONObject([
                        ("total", .number(String(result.total))), ("limit", .number(String(query.limit))),
                        ("offset", .number(String(query.offset))), ("tickets", .array(items)),
                    ])))
        }
        api.get("board") { _, context in
            let user = try context.requireUser
            guard BoardPage.allowed(user) else { throw ConsoleError(.forbidden, "承办人员不能查看态势大屏") }
            return json(boardJSON(try await BoardPage.load(env, rates: rates), env: env, user: user))
        }
        api.get("report") { request, context in
            let user = try context.requireUser
            let r = try await ReportsPage.run(request, user: user, env: env)
            let off = env.configuration.offsetSeconds
            func t(_ d: Date) -> JSONValue { .string(RFC3339.format(d, offsetSeconds: off)) }
            let units: [JSONValue] = r.ranked.enumerated().map { i, row in
                var fields: [(String, JSONValue)] = [
                    ("rank", row.rate(r.query.rankBy) == nil ? .null : .number(String(i + 1))),
                    ("name", .string(env.hierarchy.name(row.unit))),
                ]
                fields += UnitReport.fields(row)
                return .object(JSONObject(fields))
            }
            return json(
                .object(
                    JSONObject([
                        ("ranked_by", .string(r.query.rankBy.rawValue)), ("from", t(r.from)), ("to", t(r.to)),
                        ("as_of", t(r.asOf)), ("level", r.query.level.map { .string($0.name) } ?? .null),
                        ("units", .array(units)), ("total", .object(JSONObject(UnitReport.fields(r.total)))),
                    ])))
        }
    }

    /// The ticket list's parameters as the inbox's query. A worker's list is its own unit's (403 when it
    /// names another); a parameter that is not one of its values is 400 naming it.
    static func ticketsQuery(_ request: Request, user: ConsoleUser, rules: RuleSet) throws -> ConsoleInboxQuery {
        let q = request.uri.queryParameters
        func v(_ name: String) -> String? {
            guard let s = q[name[...]].map(String.init)?.trimmingCharacters(in: .whitespaces), !s.isEmpty else {
                return nil
            }
            return s
        }
        func bad(_ name: String, _ message: String) -> ConsoleError {
            ConsoleError(.badRequest, "\(name): \(message)", details: JSONObject([("parameter", .string(name))]))
        }
        if user.role == .admin { throw ConsoleError(.forbidden, "an administrator reads no tickets") }
        var unit = v("unit")
        if user.role == .worker {
            if let asked = unit, asked != user.unit {
                throw ConsoleError(.forbidden, "a worker sees its own unit's tickets only")
            }
            guard let own = user.unit else { throw ConsoleError(.forbidden, "the worker belongs to no unit") }
            unit = own
        } else if let asked = unit, rules.unit(id: asked) == nil {
            throw bad("unit", "no unit \"\(asked)\" in the rules")
        }
        let openPhases = Phase.allCases.filter { !$0.isFinal }.map(\.rawValue)
        if let p = v("phase"), !openPhases.contains(p) {
            throw bad("phase", "\"\(p)\" is not one of \(openPhases.joined(separator: ", "))")
        }
        if let l = v("light"), Light(rawValue: l) == nil {
            throw bad("light", "\"\(l)\" is not one of green, yellow, red")
        }
        if let c = v("category"), !rules.isKnownCategory(c) {
            throw bad("category", "\"\(c)\" is not a category of the rules")
        }
        var enterprise: Bool?
        if let e = v("enterprise") {
            switch e {
            case "true", "1": enterprise = true
            case "false", "0": enterprise = false
            default: throw bad("enterprise", "\"\(e)\" is not true or false")
            }
        }
        if let s = v("q"), s.count > 200 { throw bad("q", "at most 200 characters") }
        func integer(_ name: String, _ range: ClosedRange<Int>, default value: Int) throws -> Int {
            guard let s = v(name) else { return value }
            guard let n = Int(s), range.contains(n) else {
                throw bad(name, "\"\(s)\" is not an integer from \(range.lowerBound) to \(range.upperBound)")
            }
            return n
        }
        let limit = try integer("limit", 1...1000, default: 50)
        let offset = try integer("offset", 0...1_000_000, default: 0)
        return ConsoleInboxQuery(
            unitID: unit, phase: v("phase"), light: v("light"), category: v("category"), enterprise: enterprise,
            search: v("q"), searchScope: ConsoleAccess.searchScope(v("q"), for: user), limit: limit, offset: offset)
    }

    /// An open ticket of a list (inbox, board): what the read model keeps of it.
    static func listRowJSON(_ r: ConsoleListRow, hierarchy: Hierarchy, offsetSeconds off: Int) -> JSONObject {
        func t(_ d: Date) -> JSONValue { .string(RFC3339.format(d, offsetSeconds: off)) }
        return JSONObject([
            ("ticket_id", .string(r.ticketID)), ("phase", .string(r.phase)),
            ("unit", r.unitID.map { .string($0) } ?? .null),
            ("unit_name", r.unitID.map { .string(hierarchy.name($0)) } ?? .null),
            ("light", r.light.map { .string($0) } ?? .null), ("due_at", r.dueAt.map(t) ?? .null),
            ("supervised", .bool(r.supervised)), ("desk", r.desk.map { .string($0) } ?? .null),
            ("category", r.category.map { .string($0) } ?? .null), ("enterprise", .bool(r.enterprise)),
            ("received_at", t(r.receivedAt)), ("summary", .string(ConsoleAccess.summary(r.summary))),
        ])
    }

    /// The board's data (`GET /api/v1/board`): what `/board` draws, from the same load and grouping. As on the
    /// page, an administrator's lists carry no summary (`summary` is empty).
    static func boardJSON(_ data: BoardPage.Data, env: ConsoleEnvironment, user: ConsoleUser) -> JSONValue {
        let hierarchy = env.hierarchy
        let off = env.configuration.offsetSeconds
        func n(_ v: Int) -> JSONValue { .number(String(v)) }
        func tally(_ t: BoardPage.Tally, _ head: [(String, JSONValue)] = []) -> JSONValue {
            .object(
                JSONObject(
                    head + [
                        ("total", n(t.total)), ("green", n(t.green)), ("yellow", n(t.yellow)), ("red", n(t.red)),
                        ("supervised", n(t.supervised)),
                    ]))
        }
        let tallies = BoardPage.Tallies(data.counts, hierarchy: hierarchy)
        let districts: [JSONValue] = tallies.districts.sorted { $0.key < $1.key }.map { name, t in
            let towns: [JSONValue] = (tallies.towns[name] ?? [:]).sorted { $0.key < $1.key }.map { town, tt in
                tally(tt, [("name", .string(town))])
            }
            guard case .object(var o) = tally(t, [("name", .string(name))]) else { return .null }
            o.set("towns", .array(towns))
            return .object(o)
        }
        let units: [JSONValue] = tallies.units.sorted { $0.key < $1.key }.map { unit, t in
            let place = hierarchy.place(unit)
            return tally(
                t,
                [
                    ("unit", unit.isEmpty ? .null : .string(unit)), ("name", .string(place.name)),
                    ("district", .string(place.district)), ("town", place.town.map { .string($0) } ?? .null),
                ])
        }
        func rates(_ row: UnitReport.Row?) -> JSONValue {
            .object(
                JSONObject(
                    UnitReport.Metric.allCases.map { m in
                        (m.rawValue, row?.rate(m).map { .number(String(format: "%.4f", $0)) } ?? .null)
                    }))
        }
        let r = BoardPage.DistrictRates(data.rates, hierarchy: hierarchy)
        let rateDistricts: [JSONValue] = r.names.map { name in
            .object(
                JSONObject([("name", .string(name)), ("today", rates(r.today[name])), ("month", rates(r.month[name]))]))
        }
        // Figures are shown as soon as there are any (as the page does); `ready` says the month was read.
        let shown = data.rates.ready || !data.rates.month.isEmpty
        let list = { (rows: [ConsoleListRow]) -> JSONValue in
            .array(
                rows.map { row in
                    var o = listRowJSON(row, hierarchy: hierarchy, offsetSeconds: off)
                    if !user.role.seesAll { o.set("summary", .string("")) }
                    return .object(o)
                })
        }
        return .object(
            JSONObject([
                ("at", .string(RFC3339.format(data.now, offsetSeconds: off))), ("open", tally(tallies.all)),
                ("districts", .array(districts)), ("units", .array(units)),
                ("today", .object(JSONObject(BoardPage.today(data.day).map { ($0.key, n($0.value)) }))),
                (
                    "desks",
                    .object(
                        JSONObject(CentreDesk.allCases.map { ($0.rawValue, n(data.desks[$0.rawValue, default: 0])) }))
                ),
                ("top_overdue", list(data.red)), ("supervised", list(data.supervised)),
                (
                    "rates",
                    .object(
                        JSONObject([
                            ("ready", .bool(data.rates.ready)),
                            (
                                "at",
                                data.rates.at == .distantPast
                                    ? .null : .string(RFC3339.format(data.rates.at, offsetSeconds: off))
                            ),
                            ("districts", .array(shown ? rateDistricts : [])),
                            (
                                "city",
                                .object(
                                    JSONObject([
                                        ("today", rates(shown ? r.cityToday : nil)),
                                        ("month", rates(shown ? r.cityMonth : nil)),
                                    ]))
                            ),
                        ]))
                ),
            ]))
    }
}
