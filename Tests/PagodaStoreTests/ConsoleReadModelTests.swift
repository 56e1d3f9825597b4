import Foundation
import PagodaJSON
import PagodaStore
import Testing

/// The console's read model on a real SQLite file: counters kept by the triggers in the writing
/// transaction, the inbox in deadline order with its filters, the lists and the day counters.
struct ConsoleReadModelTests {
    func started(
        _ id: String, unit: String, light: String, due: Date?, desk: String? = nil, category: String = "city.noise",
        enterprise: Bool = false, at: Date = t0
    ) throws -> IntakeRecord {
        guard case .dispatch(var d) = dispatch(id, at: at) else { throw FixtureError() }
        d.lifecycle = { _ in
            LifecycleStart(
                state: StateWrite(
                    version: 0, phase: "assigned", unitID: unit, state: bytes("{}"), timer: nil,
                    console: ConsoleColumns(
                        light: light, dueAt: due, desk: desk, category: category,
                        enterprise: enterprise)),
                events: [EventWrite(type: "ticket.dispatched", at: at, payloadJSON: #"{"event":"ticket.dispatched"}"#)],
                messages: [])
        }
        return .dispatch(d)
    }

    func change(
        _ id: String, from version: Int, unit: String, phase: String = "signed", console: ConsoleColumns,
        event: String = "ticket.signed", at: Date = t0
    ) -> LifecycleChange {
        LifecycleChange(
            ticketID: id, expectedVersion: version,
            state: StateWrite(
                version: version + 1, phase: phase, unitID: unit, state: bytes("{}"), timer: nil, console: console),
            events: [EventWrite(type: event, at: at, payloadJSON: #"{"event":"\#(event)"}"#)], messages: [],
            command: nil, at: at)
    }

    func counts(_ store: DispatchStore) throws -> [String: Int] {
        var out: [String: Int] = [:]
        for c in try store.consoleOpenCounts() {
            out["\(c.unitID)/\(c.light)\(c.supervised ? "/s" : "")", default: 0] += c.count
        }
        return out
    }

    @Test func countersFollowDispatchesChangesAndClosures() throws {
        let dir = try TempDir()
        defer { dir.cleanup() }
        let store = try openStore(dir)
        _ = try store.recordDispatches([
            try started("A", unit: "u1", light: "green", due: t0.addingTimeInterval(300)),
            try started("B", unit: "u1", light: "green", due: t0.addingTimeInterval(100)),
            try started("C", unit: "u2", light: "green", due: nil),
        ])
        #expect(try counts(store) == ["u1/green": 2, "u2/green": 1])
        // A turns red (a timer: phase and holder unchanged), B escalates to u2 under supervision, C closes.
        var red = change(
            "A", from: 0, unit: "u1", phase: "assigned", console: ConsoleColumns(light: "red", dueAt: t0),
            event: "ticket.overdue")
        red.updatesTicket = false
        _ = try store.applyLifecycle([
            red,
            change(
                "B", from: 0, unit: "u2", phase: "assigned",
                console: ConsoleColumns(light: "red", dueAt: t0.addingTimeInterval(50), supervised: true),
                event: "ticket.escalated"),
            change("C", from: 0, unit: "u2", phase: "closed", console: ConsoleColumns(), event: "ticket.closed"),
        ])
        #expect(try counts(store) == ["u1/red": 1, "u2/red/s": 1])
        #expect(try store.consoleList(.red, limit: 10).map(\.ticketID) == ["A", "B"])
        #expect(try store.consoleList(.supervised, limit: 10).map(\.ticketID) == ["B"])
        let day = DispatchStore.consoleDay(t0)
        let days = try store.consoleDayCounts(day...day)[day] ?? [:]
        #expect(days["intake"] == 3)
        #expect(days["ticket.dispatched"] == 3)
        #expect(days["ticket.escalated"] == 1)
        #expect(days["ticket.closed"] == 1)
        #expect(days["ticket.overdue"] == 1)
        #expect(try store.consoleFirstEventID(onOrAfter: day) == 1)
        #expect(try store.consoleFirstEventID(onOrAfter: day + 1) == nil)
    }

    @Test func inboxIsSortedByDeadlineAndFiltered() throws {
        let dir = try TempDir()
        defer { dir.cleanup() }
        let store = try openStore(dir)
        _ = try store.recordDispatches([
            try started("A", unit: "u1", light: "green", due: t0.addingTimeInterval(300), category: "city.noise"),
            try started(
                "B", unit: "u1", light: "yellow", due: t0.addingTimeInterval(100), category: "city", enterprise: true),
            try started("C", unit: "u1", light: "green", due: nil, category: "env"),
            try started("D", unit: "u2", light: "red", due: t0, desk: "triage"),
        ])
        let all = try store.consoleInbox(ConsoleInboxQuery(unitID: "u1"))
        #expect(all.rows.map(\.ticketID) == ["B", "A", "C"])
        #expect(all.total == 3)
        #expect(all.rows.last?.dueAt == nil)
        #expect(try store.consoleInbox(ConsoleInboxQuery(unitID: "u1", light: "yellow")).rows.map(\.ticketID) == ["B"])
        #expect(
            try store.consoleInbox(ConsoleInboxQuery(unitID: "u1", category: "city")).rows.map(\.ticketID) == [
                "B", "A",
            ])
        #expect(try store.consoleInbox(ConsoleInboxQuery(unitID: "u1", enterprise: true)).rows.map(\.ticketID) == ["B"])
        #expect(try store.consoleInbox(ConsoleInboxQuery(unitID: "u1", search: "C")).rows.map(\.ticketID) == ["C"])
        #expect(try store.consoleInbox(ConsoleInboxQuery(unitID: "u1", search: "D")).total == 0)
        let page = try store.consoleInbox(ConsoleInboxQuery(unitID: "u1", limit: 1, offset: 1))
        #expect(page.rows.map(\.ticketID) == ["A"])
        #expect(page.total == 3)
        #expect(try store.consoleList(.desk("triage"), limit: 5).map(\.ticketID) == ["D"])
        #expect(try store.consoleDeskCounts()["triage"] == 1)
        #expect(try store.consoleOpenCounts(unit: "u2").map(\.count) == [1])
    }

    @Test func deskCountersAndTheInboxWithoutAUnitFollowChanges() throws {
        let dir = try TempDir()
        defer { dir.cleanup() }
        let store = try openStore(dir)
        _ = try store.recordDispatches([
            try started("A", unit: "u1", light: "green", due: t0.addingTimeInterval(300)),
            try started("T", unit: "triage", light: "yellow", due: t0.addingTimeInterval(200), desk: "triage"),
            try started("U", unit: "triage", light: "green", due: t0.addingTimeInterval(400), desk: "triage"),
        ])
        #expect(try store.consoleDeskCounts() == ["triage": 2, "return": 0, "extension": 0, "callback": 0])
        // Every unit's open tickets by deadline; totals from the counters and by counting agree.
        let all = try store.consoleInbox(ConsoleInboxQuery(unitID: nil))
        #expect(all.rows.map(\.ticketID) == ["T", "A", "U"])
        #expect(all.total == 3)
        #expect(try store.consoleInbox(ConsoleInboxQuery(unitID: nil, light: "green")).total == 2)
        #expect(try store.consoleInbox(ConsoleInboxQuery(unitID: nil, phase: "assigned")).total == 3)
        #expect(
            try store.consoleInbox(ConsoleInboxQuery(unitID: nil, limit: 1, offset: 2)).rows.map(\.ticketID) == ["U"])
        // T is dispatched by hand to u1, A replies (the callback desk), U closes.
        _ = try store.applyLifecycle([
            change("T", from: 0, unit: "u1", phase: "assigned", console: ConsoleColumns(light: "green", dueAt: t0)),
            change(
                "A", from: 0, unit: "u1", phase: "replied",
                console: ConsoleColumns(light: "green", dueAt: t0.addingTimeInterval(900), desk: "callback"),
                event: "ticket.replied"),
            change("U", from: 0, unit: "triage", phase: "closed", console: ConsoleColumns(), event: "ticket.closed"),
        ])
        #expect(try store.consoleDeskCounts() == ["triage": 0, "return": 0, "extension": 0, "callback": 1])
        #expect(try store.consoleList(.desk("callback"), limit: 5).map(\.ticketID) == ["A"])
        let after = try store.consoleInbox(ConsoleInboxQuery(unitID: nil))
        #expect(after.rows.map(\.ticketID) == ["T", "A"])
        #expect(after.total == 2)
        #expect(try store.consoleInbox(ConsoleInboxQuery(unitID: "u1", phase: "replied")).total == 1)
    }
}
