import Foundation
import PagodaJSON
import PagodaRules
import PagodaService
import PagodaStore
import PagodaTesting
import Testing

/// Degraded tickets (malformed optional fields) in `pagoda simulate` and `pagoda show`: dispatched, not
/// rejected, with their warnings on the `ticket.dispatched` event and in the ticket's history; a ticket
/// missing a required field is still rejected.
@Suite struct SimulateWarningsTests {
    typealias R = SimulateRequestsTests
    static let phone = "138-1234-567x"
    static let masked = #"got "********67" (masked)"#
    /// The illegal shed of `SimulateRequestsTests.complaint`, without its category: each ticket adds the field
    /// it gets wrong.
    static let shed: [(String, JSONValue)] = [
        ("kind", "complaint"), ("text", "小区有住户在楼顶违规加建铁皮房，存在安全隐患。"),
    ]
    static let zumiao: (String, JSONValue) = ("region", ["district": "禅城区", "town": "祖庙街道"])

    /// The `ticket_warnings` of an event as (path, code) pairs; nil when the event has none.
    static func warnings(_ event: JSONObject?) -> [String]? {
        guard case .array(let items)? = event?["ticket_warnings"] else { return nil }
        return items.map { item in
            let o = item.objectValue
            return "\(o?["path"]?.stringValue ?? "?") \(o?["code"]?.stringValue ?? "?")"
        }
    }

    @Test func degradedTicketsAreDispatchedWithTheirWarnings() async throws {
        let dir = try R.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let at = R.time("02T09:00")
        let lines = [
            R.ticket(
                "W-PHONE", at: at,
                Self.shed + [
                    ("category", "city_management"), Self.zumiao,
                    ("caller", ["name": "王女士", "phone": .string(Self.phone)]),
                ]),
            R.ticket("W-CATEGORY", at: at, Self.shed + [("category", "no_such_category"), Self.zumiao]),
            R.ticket(
                "W-REGION", at: at,
                Self.shed + [
                    ("category", "city_management"), ("region", ["district": "禅城区", "town": "祖庙街道", "code": "44060"]),
                ]),
            R.ticket("W-FIRE", at: at, [("kind", "help"), ("text", "仓库起火了，火很大"), ("category", 7)]),
            R.ticket("W-NONE", at: at, Self.shed + [("category", "city_management"), Self.zumiao]),
            // A required field missing: no ticket, a rejection.
            R.ticket("R-TEXT", at: at, [("kind", "complaint"), ("caller", ["phone": .string(Self.phone)])]),
        ]
        let (events, file) = try await R.simulate(lines, until: R.time("02T18:00"), in: dir)
        let output = try String(contentsOf: file, encoding: .utf8)
        func dispatched(_ id: String) -> JSONObject? {
            events.first { $0["ticket_id"] == .string(id) && $0["event"] == "ticket.dispatched" }
        }
        #expect(Self.warnings(dispatched("W-PHONE")) == ["caller.phone format"], "\(output)")
        #expect(Self.warnings(dispatched("W-CATEGORY")) == ["category unknown_category"], "\(output)")
        #expect(Self.warnings(dispatched("W-REGION")) == ["region.code format"], "\(output)")
        #expect(Self.warnings(dispatched("W-FIRE")) == ["category type"], "\(output)")
        // Each is routed without what is malformed: the phone and the region code play no part; an unknown
        // category is classified from the text; the emergency is handed off as any other.
        #expect(dispatched("W-PHONE")?["unit"] == "chancheng.zumiao", "\(output)")
        #expect(dispatched("W-REGION")?["unit"] == "chancheng.zumiao", "\(output)")
        #expect(dispatched("W-CATEGORY")?["unit"] != nil && dispatched("W-CATEGORY")?["destination"] != "emergency")
        #expect(dispatched("W-FIRE")?["destination"] == "emergency" && dispatched("W-FIRE")?["emergency"] == "119")
        // The same ticket without a malformed field: no `ticket_warnings` member at all.
        let clean = try #require(dispatched("W-NONE"))
        #expect(clean["ticket_warnings"] == nil && clean["unit"] == "chancheng.zumiao")
        // The warning names the phone masked, and nothing in the output holds it unmasked.
        let phoneWarning = try #require(dispatched("W-PHONE")?["ticket_warnings"]?.arrayValue?.first?.objectValue)
        #expect(phoneWarning["message"]?.stringValue?.hasSuffix(Self.masked) == true, "\(phoneWarning)")
        #expect(!output.contains(Self.phone) && !output.contains("1381234567"))
        // A degraded ticket lives on like any other (nobody signs: its 11:00 sign-in deadline passes); the
        // rejected one has no events.
        #expect(
            events.contains { e in
                e["ticket_id"] == "W-PHONE" && e["event"] == "ticket.overdue" && e["clock"] == "sign"
            }, "\(output)")
        let rejected = events.filter { $0["ticket_id"] == "R-TEXT" }
        #expect(rejected.map { $0["event"]?.stringValue ?? "?" } == ["ticket.rejected"], "\(output)")
        let issues = rejected.first?["issues"]?.arrayValue?.compactMap { $0.objectValue } ?? []
        #expect(issues.contains { $0["path"] == "text" && $0["code"] == "required" }, "\(issues)")
        #expect(events.filter { $0["event"] == "ticket.dispatched" }.count == 5)
    }

    /// `pagoda show` prints a degraded ticket's warnings from its stored decision, the phone masked.
    @Test func showPrintsTheWarningsOfTheStoredDecision() async throws {
        let dir = try R.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let db = dir.appendingPathComponent("pagoda.sqlite").path
        let processor = IntakeProcessor(ruleSet: SimulateCommandTests.rules, names: Names())
        let body = Array(
            (#"{"id":"SHOW-1","received_at":"2026-03-02T09:00:00+08:00","channel":"hotline","#
                + #""kind":"complaint","text":"河涌有污水，气味很大","category":"no_such","#
                + #""caller":{"phone":"\#(Self.phone)"}}"#).utf8)
        let clean = Array(
            (#"{"id":"SHOW-2","received_at":"2026-03-02T09:00:00+08:00","channel":"hotline","#
                + #""kind":"complaint","text":"河涌有污水，气味很大"}"#).utf8)
        let store = try DispatchStore(StoreConfiguration(path: db))
        _ = try await store.recordDispatches([
            processor.process(body: body, messageID: "m-1", now: Date()),
            processor.process(body: clean, messageID: "m-2", now: Date()),
        ])
        let show = try await runProcess([ServeProcess.binary, "show", "SHOW-1", "--db", db], separateStderr: true)
        #expect(show.status == 0, "\(show)")
        let shown = show.stdout.split(separator: "\n").filter { $0.hasPrefix("  warning: ") }
        #expect(shown.count == 2, "\(show.stdout)")
        #expect(
            shown.contains { $0.hasPrefix("  warning: category: ") && $0.hasSuffix(" [unknown_category]") },
            "\(shown)")
        #expect(
            shown.contains { $0.hasPrefix("  warning: caller.phone: ") && $0.hasSuffix("\(Self.masked) [format]") },
            "\(shown)")
        #expect(!show.stdout.contains(Self.phone) && !show.stdout.contains("1381234567"))
        let other = try await runProcess([ServeProcess.binary, "show", "SHOW-2", "--db", db], separateStderr: true)
        #expect(other.status == 0 && !other.stdout.contains("warning:"), "\(other)")
    }
}
