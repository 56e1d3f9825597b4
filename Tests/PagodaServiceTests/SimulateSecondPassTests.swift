import Foundation
import PagodaJSON
import PagodaLifecycle
import PagodaRules
import Testing

@testable import PagodaSimulation
@testable import pagoda

/// The second pass of `pagoda simulate` prepares each line again from the file: a line that changed since
/// the first pass checked it is read whole, and one that is no longer valid is an error, not a line
/// silently left out.
@Suite struct SimulateSecondPassTests {
    static let ticketLine =
        #"{"at": "2026-03-02T09:53:00+08:00", "ticket": {"id": "FS-20260302-0001", "received_at": "2026-03-02T09:53:00+08:00", "channel": "wechat", "kind": "complaint", "region": {"district": "南海区", "town": "狮山镇", "village": "务庄社区"}, "text": "务庄步林家村牌坊位置的河涌受到污染，希望有关部门前往核查。", "category": "living_environment"}}"#

    /// The line as the first pass indexes it.
    static func entry(_ line: String, offset: Int = 0) throws -> ScenarioRun.IndexedLine {
        var scanner = JSONObjectScanner()
        let checked = try Array(line.utf8).withUnsafeBytes { try ScenarioLine.check($0, scanner: &scanner).get() }
        let payload = try #require(checked.payload)
        return ScenarioRun.IndexedLine(
            at: checked.at, offset: offset, length: Int32(line.utf8.count), payloadStart: Int32(payload.lowerBound),
            payloadLength: Int32(payload.count), isTicket: checked.isTicket)
    }

    static func prepare(_ line: String, _ entry: ScenarioRun.IndexedLine?) -> Result<PreparedLine, ScenarioLineError> {
        Array(line.utf8).withUnsafeBytes { ScenarioRun.prepare($0, entry, rules: SimulateCommandTests.rules) }
    }

    static func events(_ prepared: PreparedLine) -> [String] {
        var simulation = Simulation(rules: SimulateCommandTests.rules)
        var out: [String] = []
        simulation.apply(prepared) {
            out.append(
                JSON.serializeToString(.object(SimulationEncoder(offsetSeconds: 28_800, verbose: true).json($0))))
        }
        return out
    }

    @Test func anUnchangedLineIsReadFromItsObject() throws {
        let entry = try Self.entry(Self.ticketLine)
        let prepared = try Self.prepare(Self.ticketLine, entry).get()
        let whole = PreparedLine(
            try ScenarioLine.parse(Array(Self.ticketLine.utf8)).get(), rules: SimulateCommandTests.rules)
        #expect(Self.events(prepared) == Self.events(whole))
        #expect(Self.events(prepared).first?.contains("ticket.dispatched") == true)
    }

    /// A scenario line may hold 1 MiB, nested 40 deep; what `serve` would reject (a ticket over 256 KiB or
    /// nested deeper than 32, a command over 64 KiB or deeper than 8) the simulation rejects too.
    @Test func whatServeRefusesForItsSizeIsRejected() throws {
        let large = Self.ticketLine.replacingOccurrences(
            of: "希望有关部门前往核查。", with: String(repeating: "希望有关部门前往核查。", count: 9_000))
        let nested = Self.ticketLine.replacingOccurrences(
            of: #""category": "living_environment""#,
            with: #""category": "living_environment", "x": "# + String(repeating: "[", count: 34)
                + String(repeating: "]", count: 34))
        let command =
            #"{"at": "2026-03-02T10:00:00+08:00", "command": {"command_id": "c1", "ticket_id": "FS-9", "unit": "u", "type": "sign", "at": "2026-03-02T10:00:00+08:00", "x": "#
            + String(repeating: "[", count: 9) + String(repeating: "]", count: 9) + "}}"
        for (line, code) in [(large, "too_large"), (nested, "too_deep"), (command, "too_deep")] {
            let prepared = try Self.prepare(line, try Self.entry(line)).get()
            let events = Self.events(prepared)
            #expect(
                events.count == 1 && events[0].contains("\"\(code)\""), "\(code): \(events.first?.prefix(300) ?? "")")
            #expect(
                events.first?.contains(line.contains("\"command\"") ? "command.rejected" : "ticket.rejected") == true)
        }
    }

    @Test func aLineThatMovedIsReadWhole() throws {
        // The first pass saw a longer line here: its ticket's place is past the end of what is there now.
        let longer = Self.ticketLine.replacingOccurrences(of: "受到污染", with: String(repeating: "受到污染", count: 50))
        let entry = try Self.entry(longer)
        let moved =
            #"{"at": "2026-03-02T10:00:00+08:00", "command": {"command_id": "c1", "ticket_id": "FS-9", "unit": "u", "type": "sign", "at": "2026-03-02T10:00:00+08:00"}}"#
        let prepared = try Self.prepare(moved, entry).get()
        #expect(prepared.at == RFC3339.parse("2026-03-02T10:00:00+08:00")!.date)
        #expect(Self.events(prepared).first?.contains("unknown_ticket") == true, "\(Self.events(prepared))")
    }

    @Test func aLineNoLongerValidIsAnError() throws {
        let entry = try Self.entry(Self.ticketLine)
        // Shorter, the same length with the object broken where the first pass found it, no object at all.
        let sameLength = Self.ticketLine.replacingOccurrences(of: #"{"id""#, with: #"["id""#)
        #expect(sameLength.utf8.count == Self.ticketLine.utf8.count)
        for broken in [
            "{oops", String(Self.ticketLine.dropLast(3)), sameLength, #"{"at": "2026-03-02T09:00:00+08:00"}"#,
        ] {
            switch Self.prepare(broken, entry) {
            case .success: Issue.record("prepared: \(broken)")
            case .failure(let e): #expect(!e.reason.isEmpty)
            }
            switch Self.prepare(broken, nil) {
            case .success: Issue.record("prepared without an entry: \(broken)")
            case .failure: break
            }
        }
    }
}
