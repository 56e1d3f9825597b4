import Foundation
import Logging
import PagodaJSON
import PagodaRules
import PagodaStore
import PagodaTesting
import PagodaTransport
import Testing

@testable import PagodaService

/// The lifecycle loop's commands, their poison handling and the store-failure hold, against the in-memory
/// fakes: no broker.
@Suite struct LifecycleUnitTests {
    /// A store holding ticket `id`, dispatched through the intake processor (with its first lifecycle state);
    /// returns it with the unit holding the ticket.
    static func storeWithTicket(_ id: String, _ rules: LiveRules) async throws -> (InMemoryStore, String) {
        let store = InMemoryStore()
        let processor = rules.current.processor
        let record = processor.process(body: IntakeUnitTests.ticket(id), messageID: "m-\(id)", now: Date())
        #expect(try await store.recordDispatches([record]) == [.recorded(dispatchSequence: 1)])
        let unit = try #require(store.contents.states[id]?.unitID)
        return (store, unit)
    }

    static func sign(_ commandID: String, ticket: String, unit: String) -> [UInt8] {
        let at = RFC3339.format(Date(), offsetSeconds: 28800)
        return JSON.serialize(
            .object(
                JSONObject([
                    ("command_id", .string(commandID)), ("ticket_id", .string(ticket)),
                    ("unit", .string(unit)), ("type", "sign"), ("at", .string(at)),
                ])))
    }

    /// Runs the lifecycle loop over `source` and `store` until `body` returns, then closes the source.
    static func running(
        _ source: FakeDeliverySource, _ store: InMemoryStore, _ rules: LiveRules,
        _ body: (StoreHealth) async throws -> Void
    ) async throws {
        let health = StoreHealth(logger: Logger(label: "test"))
        let loop = LifecycleService(
            consumer: source, store: store, rules: rules, codec: rules.current.processor.codec,
            relay: Signal(), metrics: ServiceMetrics(factory: PrometheusExport()), health: health,
            logger: Logger(label: "test"))
        try await whileRunning(loop.run, over: source) { try await body(health) }
    }

    /// A command is applied in one commit with its state, its command id and its messages, then acknowledged.
    @Test func aCommandIsAppliedAndAcknowledged() async throws {
        let rules = LiveRules(ruleSet: IntakeUnitTests.rules, names: Names())
        let (store, unit) = try await Self.storeWithTicket("L-1", rules)
        let before = try #require(store.contents.states["L-1"])
        let source = FakeDeliverySource()
        source.deliver(Self.sign("c-1", ticket: "L-1", unit: unit), messageId: "c-1")
        try await Self.running(source, store, rules) { _ in
            #expect(await eventually(timeout: .seconds(30)) { source.settlements.count == 1 })
        }
        #expect(source.settlements.map(\.acked) == [true])
        let contents = store.contents
        #expect(contents.commands == ["c-1"])
        let after = try #require(contents.states["L-1"])
        #expect(after.version > before.version)
        #expect(after.phase == "signed")
        #expect(contents.outbox.contains { $0.message.routingKey == "ticket.signed" })
    }

    /// A command whose id was used before for another ticket is not a duplicate: it is refused
    /// (`reused_command_id`, to the events and its `reply_to`), so that its sender sends it again under a new
    /// id; the same bytes again are a duplicate of that refusal.
    @Test func aCommandIdUsedForAnotherTicketIsRefused() async throws {
        let rules = LiveRules(ruleSet: IntakeUnitTests.rules, names: Names())
        let (store, unit) = try await Self.storeWithTicket("L-1", rules)
        let record = rules.current.processor.process(
            body: IntakeUnitTests.ticket("L-2"), messageID: "m-L-2", now: Date())
        _ = try await store.recordDispatches([record])
        let other = try #require(store.contents.states["L-2"]?.unitID)
        let source = FakeDeliverySource()
        source.deliver(Self.sign("c-1", ticket: "L-1", unit: unit), messageId: "c-1")
        let reused = Self.sign("c-1", ticket: "L-2", unit: other)
        source.deliver(reused, messageId: "c-1b")
        source.deliver(reused, messageId: "c-1b")
        try await Self.running(source, store, rules) { _ in
            #expect(await eventually(timeout: .seconds(30)) { source.settlements.count == 3 })
        }
        #expect(source.settlements.map(\.acked) == [true, true, true])
        let contents = store.contents
        #expect(contents.states["L-1"]?.phase == "signed" && contents.states["L-2"]?.phase == "assigned")
        let refusals = contents.outbox.filter { $0.message.routingKey == "command.rejected" }
        #expect(refusals.count == 1)
        let body = String(decoding: refusals.first?.message.body ?? [], as: UTF8.self)
        #expect(body.contains("reused_command_id") && body.contains("L-2"), "\(body)")
    }

    /// A ticket whose stored state cannot be read (a damaged row) does not stop the other tickets' timers:
    /// they fire, it stays as it was, its timer still due.
    @Test func anUnreadableStateStopsNoOtherTimer() async throws {
        let rules = LiveRules(ruleSet: IntakeUnitTests.rules, names: Names())
        let store = InMemoryStore()
        let processor = rules.current.processor
        for id in ["U-1", "U-2"] {
            let record = processor.process(body: IntakeUnitTests.ticket(id), messageID: "m-\(id)", now: Date())
            _ = try await store.recordDispatches([record])
        }
        // U-1 sorts first among the due timers; its state is damaged.
        store.edit { $0.states["U-1"]?.state = [0xFF, 0x00] }
        let before = try #require(store.contents.states["U-2"]).version
        let later = Date().addingTimeInterval(3 * 86_400)
        let source = FakeDeliverySource()
        let loop = LifecycleService(
            consumer: source, store: store, rules: rules, codec: processor.codec, relay: Signal(),
            metrics: ServiceMetrics(factory: PrometheusExport()), health: StoreHealth(logger: Logger(label: "test")),
            logger: Logger(label: "test"), clock: { later })
        try await whileRunning(loop.run, over: source) {
            #expect(await eventually(timeout: .seconds(30)) { (store.contents.states["U-2"]?.version ?? 0) > before })
        }
        let contents = store.contents
        #expect(contents.states["U-1"]?.state == [0xFF, 0x00])
        #expect(contents.timers["U-1"] != nil)
        #expect(contents.events["U-2"]?.contains { $0.type == "ticket.overdue" } == true)
    }

    /// A command whose commit keeps failing comes back with its attempts counted and is refused as poison
    /// at the limit: acknowledged, with a `command.rejected` message naming it; the other commands pass.
    @Test func aCommandThatKeepsFailingIsRefusedAsPoison() async throws {
        let rules = LiveRules(ruleSet: IntakeUnitTests.rules, names: Names())
        let (store, unit) = try await Self.storeWithTicket("L-2", rules)
        store.setFault { op in
            guard case .applyLifecycle(let changes) = op, changes.contains(where: { $0.command?.id == "c-bad" }) else {
                return nil
            }
            return StoreError(.constraint, "CHECK constraint failed (test)")
        }
        let source = FakeDeliverySource()
        source.deliver(Self.sign("c-bad", ticket: "L-2", unit: unit), messageId: "c-bad")
        try await Self.running(source, store, rules) { _ in
            #expect(await eventually(timeout: .seconds(30)) { source.settlements.contains { $0.acked } })
        }
        let settled = source.settlements
        // Delivered with 0 to 3 earlier attempts, each given back; the fifth delivery is refused.
        #expect(settled.map(\.attempts) == [0, 1, 2, 3, 4])
        #expect(settled.dropLast().allSatisfy { !$0.acked && $0.requeued })
        #expect(settled.last?.acked == true)
        let contents = store.contents
        // The ledger knows the refused bytes, not the command id: a redelivery is no second refusal.
        #expect(contents.commands.count == 1 && contents.commands.first?.hasPrefix("refused/") == true)
        let refusal = try #require(contents.outbox.first { $0.message.messageID.hasPrefix("refused-command/") })
        let text = String(decoding: refusal.message.body, as: UTF8.self)
        #expect(text.contains("c-bad") && text.contains("poison"))
    }

    /// A command that cannot be read is refused once: the same bytes delivered again (after a crash, or a
    /// commit whose outcome was lost) are acknowledged as a duplicate; other bytes are another refusal.
    @Test func anUnreadableCommandIsRefusedOnceHoweverOftenItComes() async throws {
        let rules = LiveRules(ruleSet: IntakeUnitTests.rules, names: Names())
        let (store, _) = try await Self.storeWithTicket("L-4", rules)
        let source = FakeDeliverySource()
        let bad = Array(#"{"command_id":"c-x","ticket_id":"L-4"}"#.utf8)
        source.deliver(bad, messageId: "c-x")
        source.deliver(bad, messageId: "c-x", attempts: 1)
        source.deliver(Array(#"{"command_id":"c-y"}"#.utf8), messageId: "c-y")
        try await Self.running(source, store, rules) { _ in
            #expect(await eventually(timeout: .seconds(30)) { source.settlements.filter(\.acked).count == 3 })
        }
        let contents = store.contents
        #expect(contents.commands.count == 2)
        let refusals = Set(
            contents.outbox.map(\.message.messageID).filter { $0.hasPrefix("refused-command/") }.map {
                $0.split(separator: "/")[1]
            })
        #expect(refusals.count == 2)
    }

    /// While the store cannot write, a batch of commands is held (not acknowledged, not given back) and its
    /// commit tried again; once the store writes, it is applied and acknowledged with no attempt counted.
    @Test func aStoreFailureHoldsTheCommands() async throws {
        let rules = LiveRules(ruleSet: IntakeUnitTests.rules, names: Names())
        let (store, unit) = try await Self.storeWithTicket("L-3", rules)
        let failures = Locked(0)
        store.setFault { op in
            guard case .applyLifecycle(let changes) = op, changes.contains(where: { $0.command != nil }) else {
                return nil
            }
            return failures.withLock { n in
                n += 1
                return n <= 2 ? StoreError(.io, "disk I/O error (test)") : nil
            }
        }
        let source = FakeDeliverySource()
        source.deliver(Self.sign("c-3", ticket: "L-3", unit: unit), messageId: "c-3")
        try await Self.running(source, store, rules) { health in
            #expect(await eventually(timeout: .seconds(30)) { failures.value >= 1 })
            #expect(source.settlements.isEmpty)
            #expect(!health.writable)
            #expect(await eventually(timeout: .seconds(30)) { source.settlements.count == 1 })
            #expect(await eventually(timeout: .seconds(5)) { health.writable })
        }
        #expect(source.settlements.map(\.acked) == [true])
        #expect(store.contents.commands == ["c-3"])
    }
}
