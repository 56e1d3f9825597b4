import Foundation
import PagodaJSON
import PagodaStore
import Testing

/// Lifecycle rows on a real SQLite file: states and timers written with the dispatch, version-checked
/// changes, the command ledger, due timers in order, repeat matching.
struct LifecycleStoreTests {
    /// A dispatch that starts a lifecycle (state version 0, a timer at `timer`) with repeat keys.
    func started(
        _ id: String, receivedAt: Date = t0, timer: Date?, keys: [String] = [], seen: Locked<RepeatMatch?>? = nil
    ) throws -> IntakeRecord {
        guard case .dispatch(var d) = dispatch(id, at: receivedAt) else { throw FixtureError() }
        d.repeatKeys = keys
        d.lifecycle = { match in
            seen?.set(match)
            return LifecycleStart(
                state: StateWrite(version: 0, phase: "assigned", unitID: "u1", state: bytes("{\"v\":0}"), timer: timer),
                events: [], messages: [])
        }
        return .dispatch(d)
    }

    func change(_ id: String, from version: Int?, to newVersion: Int, timer: Date?, command: String? = nil)
        -> LifecycleChange
    {
        LifecycleChange(
            ticketID: id, expectedVersion: version,
            state: StateWrite(
                version: newVersion, phase: "signed", unitID: "u1", state: bytes("{\"v\":\(newVersion)}"), timer: timer),
            events: [EventWrite(type: "ticket.signed", at: t0, payloadJSON: "{}")],
            messages: [
                OutboxMessage(
                    exchange: "pagoda.events", routingKey: "ticket.signed", messageID: "\(id)#\(newVersion)",
                    body: bytes("{}"))
            ],
            command: command.map { ($0, "sign", "applied") }, at: t0)
    }

    @Test func dispatchWritesTheFirstStateAndTimer() throws {
        let dir = try TempDir()
        defer { dir.cleanup() }
        let store = try openStore(dir)
        _ = try store.recordDispatches([
            try started("A", timer: t0.addingTimeInterval(60)), try started("B", timer: t0.addingTimeInterval(30)),
        ])
        let states = try store.lifecycle(["A", "B", "missing"])
        #expect(Set(states.keys) == ["A", "B"])
        #expect(states["A"]?.ticketBody == bytes(#"{"id":"A"}"#))
        #expect(try store.nextTimerDue() == t0.addingTimeInterval(30))
        let due = try store.dueTimers(until: t0.addingTimeInterval(60), limit: 10)
        #expect(due.map(\.ticketID) == ["B", "A"])
        #expect(try store.dueTimers(until: t0.addingTimeInterval(45), limit: 10).map(\.ticketID) == ["B"])
    }

    @Test func statesAreReadWithEveryColumnInChunksOfAnyLength() throws {
        let dir = try TempDir()
        defer { dir.cleanup() }
        let store = try openStore(dir)
        let ids = (0..<1_203).map { String(format: "R-%04d", $0) }
        _ = try store.recordDispatches(try ids.map { try started($0, timer: nil) })
        var handOff = change("R-0000", from: 0, to: 1, timer: nil)
        handOff.state?.unitID = nil
        handOff.state?.state = bytes("{\"v\":1,\"text\":\"佛山\"}")
        #expect(try store.applyLifecycle([handOff]) == [.applied])
        // 1,203 ids: two chunks of 500 (the kept statement) and one of 203; twice, so the kept one is reused.
        for withTicket in [true, false, true] {
            let states = try store.lifecycle(ids + ["missing"], withTicket: withTicket)
            #expect(states.count == ids.count)
            let first = try #require(states["R-0000"])
            #expect(first.version == 1 && first.phase == "signed" && first.unitID == nil)
            #expect(first.state == bytes("{\"v\":1,\"text\":\"佛山\"}"))
            #expect(first.ticketBody == (withTicket ? bytes(#"{"id":"R-0000"}"#) : []))
            let last = try #require(states["R-1202"])
            #expect(
                last.version == 0 && last.phase == "assigned" && last.unitID == "u1" && last.state == bytes("{\"v\":0}")
            )
        }
    }

    /// A burst read page by page: every due timer exactly once, in due order, ties broken by ticket id.
    @Test func dueTimersPageThroughABurstInOrder() throws {
        let dir = try TempDir()
        defer { dir.cleanup() }
        let store = try openStore(dir)
        // 25 timers at the same second, 5 a second earlier, 3 not yet due.
        var records = try (0..<25).map {
            try started(String(format: "S%02d", 24 - $0), timer: t0.addingTimeInterval(60))
        }
        records += try (0..<5).map { try started("E\($0)", timer: t0.addingTimeInterval(59)) }
        records += try (0..<3).map { try started("L\($0)", timer: t0.addingTimeInterval(120)) }
        _ = try store.recordDispatches(records)
        var pages: [[String]] = []
        var after: DueTimer?
        while true {
            let page = try store.dueTimers(until: t0.addingTimeInterval(60), after: after, limit: 7)
            if page.isEmpty { break }
            pages.append(page.map(\.ticketID))
            after = page.last
        }
        #expect(pages.map(\.count) == [7, 7, 7, 7, 2])
        #expect(pages.flatMap { $0 } == (0..<5).map { "E\($0)" } + (0..<25).map { String(format: "S%02d", $0) })
    }

    @Test func changesCheckTheVersionAndTheCommandLedger() throws {
        let dir = try TempDir()
        defer { dir.cleanup() }
        let store = try openStore(dir)
        _ = try store.recordDispatches([try started("A", timer: t0.addingTimeInterval(60))])
        let outcomes = try store.applyLifecycle([
            change("A", from: 0, to: 1, timer: nil, command: "c1"),
            change("A", from: 0, to: 1, timer: nil, command: "c2"),  // computed from a stale read
        ])
        #expect(outcomes == [.applied, .conflict])
        #expect(try store.lifecycle(["A"])["A"]?.version == 1)
        // The same command again.
        #expect(
            try store.applyLifecycle([change("A", from: 1, to: 2, timer: t0.addingTimeInterval(90), command: "c1")])
                == [.duplicateCommand])
        // The refused change left no ledger entry: c2 can still be applied once recomputed.
        #expect(
            try store.applyLifecycle([change("A", from: 1, to: 2, timer: t0.addingTimeInterval(90), command: "c2")])
                == [.applied])
        #expect(try store.dueTimers(until: t0.addingTimeInterval(90), limit: 10).map(\.token) == [2])
        let history = try #require(try store.ticket(id: "A"))
        #expect(history.ticket.state == "signed")
        #expect(history.events.map(\.type).filter { $0 == "ticket.signed" }.count == 2)
        #expect(history.messages.map(\.outbox.message.messageID).contains("A#2"))
        // No timer: the row is gone.
        #expect(try store.applyLifecycle([change("A", from: 2, to: 3, timer: nil)]) == [.applied])
        #expect(try store.nextTimerDue() == nil)
    }

    /// A change that keeps the phase and holder (most timers: a light, a reminder) writes the new version,
    /// state and timer all the same; one that changes them writes them to the state and ticket rows.
    @Test func aChangeKeepingPhaseAndHolderWritesTheStateAndTimer() throws {
        let dir = try TempDir()
        defer { dir.cleanup() }
        let store = try openStore(dir)
        _ = try store.recordDispatches([try started("A", timer: t0.addingTimeInterval(60))])
        var keep = change("A", from: 0, to: 1, timer: t0.addingTimeInterval(120))
        keep.state?.phase = "assigned"
        keep.updatesTicket = false
        #expect(try store.applyLifecycle([keep]) == [.applied])
        let kept = try #require(try store.lifecycle(["A"])["A"])
        #expect(
            kept.version == 1 && kept.phase == "assigned" && kept.unitID == "u1" && kept.state == bytes("{\"v\":1}"))
        #expect(try store.dueTimers(until: t0.addingTimeInterval(120), limit: 10).map(\.token) == [1])
        // Stale: refused, as with the full statement.
        #expect(try store.applyLifecycle([keep]) == [.conflict])
        var move = change("A", from: 1, to: 2, timer: nil)
        move.state?.unitID = "u2"
        #expect(try store.applyLifecycle([move]) == [.applied])
        let moved = try #require(try store.lifecycle(["A"])["A"])
        #expect(moved.version == 2 && moved.phase == "signed" && moved.unitID == "u2")
        #expect(try store.ticket(id: "A")?.ticket.state == "signed")
    }

    @Test func messagesChangedAfterTheChangeWasMadeAreStoredAsChanged() throws {
        let dir = try TempDir()
        defer { dir.cleanup() }
        let store = try openStore(dir)
        _ = try store.recordDispatches([try started("A", timer: t0.addingTimeInterval(60))])
        let before = try store.pendingOutbox(limit: 100).count
        var c = change("A", from: 0, to: 1, timer: nil)
        // The outbox row's stored forms are made with the change; a later edit of its messages counts.
        c.messages[0].messageID = "edited"
        c.messages[0].headers = ["x-pagoda-event-id": "e-1"]
        c.messages[0].extraRoutingKeys = ["unit.a", "unit.b"]
        c.messages.append(
            OutboxMessage(exchange: "", routingKey: "reply", messageID: "edited>reply", body: bytes("[1]")))
        #expect(try store.applyLifecycle([c]) == [.applied])
        let rows = try store.pendingOutbox(limit: 100).dropFirst(before).map(\.message)
        #expect(rows.map(\.messageID) == ["edited", "edited>reply"])
        #expect(
            rows.first?.headers == ["x-pagoda-event-id": "e-1"] && rows.first?.extraRoutingKeys == ["unit.a", "unit.b"])
        #expect(rows.last?.body == bytes("[1]") && rows.last?.routingKey == "reply")
    }

    @Test func rawBoundStatementsStoreEmptyBlobsAndFailAsAWhole() throws {
        let dir = try TempDir()
        defer { dir.cleanup() }
        let store = try openStore(dir)
        _ = try store.recordDispatches([
            try started("A", timer: t0.addingTimeInterval(60)), try started("B", timer: nil),
        ])
        // An empty state is an empty blob (the column is NOT NULL), not NULL.
        var empty = change("A", from: 0, to: 1, timer: nil)
        empty.state?.state = []
        #expect(try store.applyLifecycle([empty]) == [.applied])
        #expect(try store.lifecycle(["A"])["A"]?.state == [])
        // A failing statement (a message id already in the outbox) fails the whole batch: nothing of it stays.
        let b = change("B", from: 0, to: 1, timer: nil)
        var clash = change("A", from: 1, to: 2, timer: nil)
        clash.messages[0].messageID = "A#1"
        #expect(throws: StoreError.self) { try store.applyLifecycle([b, clash]) }
        #expect(try store.lifecycle(["A", "B"]).mapValues(\.version) == ["A": 1, "B": 0])
        #expect(try store.applyLifecycle([b]) == [.applied])
    }

    @Test func repeatsMatchTheLatestEarlierTicketWithinTheWindow() throws {
        let dir = try TempDir()
        defer { dir.cleanup() }
        let store = try openStore(dir)
        let day = 86_400.0
        let seen = Locked<RepeatMatch?>(nil)
        _ = try store.recordDispatches([try started("A", receivedAt: t0, timer: nil, keys: ["phone:1|c"])])
        _ = try store.recordDispatches([
            try started("B", receivedAt: t0.addingTimeInterval(2 * day), timer: nil, keys: ["phone:1|c"])
        ])
        _ = try store.recordDispatches([
            try started(
                "C", receivedAt: t0.addingTimeInterval(3 * day), timer: nil, keys: ["credit:X|c", "phone:1|c"],
                seen: seen)
        ])
        #expect(seen.value == RepeatMatch(ticketID: "B", key: "phone:1|c"))
        _ = try store.recordDispatches([
            try started("D", receivedAt: t0.addingTimeInterval(11 * day), timer: nil, keys: ["phone:1|c"], seen: seen)
        ])
        #expect(seen.value == nil)
        _ = try store.recordDispatches([
            try started(
                "E", receivedAt: t0.addingTimeInterval(12 * day), timer: nil, keys: ["credit:X|other"], seen: seen)
        ])
        #expect(seen.value == nil)
    }
}

struct FixtureError: Error {}

/// A value shared with a `@Sendable` closure.
final class Locked<Value: Sendable>: @unchecked Sendable {
    private let lock = NSLock()
    private var storage: Value
    init(_ value: Value) { storage = value }
    var value: Value {
        lock.lock()
        defer { lock.unlock() }
        return storage
    }
    func set(_ v: Value) {
        lock.lock()
        storage = v
        lock.unlock()
    }
}
