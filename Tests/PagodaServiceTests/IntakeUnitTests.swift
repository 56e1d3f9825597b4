import Foundation
import Logging
import PagodaJSON
import PagodaRules
import PagodaStore
import PagodaTesting
import PagodaTransport
import Testing

@testable import PagodaService

/// Intake's batching, poison handling and store-failure hold, against the in-memory fakes: no broker.
@Suite struct IntakeUnitTests {
    static let rules: RuleSet = {
        let files = try! RuleSetCompiler.readFiles(in: repositoryRoot.appendingPathComponent("rules").path)
        return RuleSetCompiler.compile(files).ruleSet!
    }()

    static func ticket(_ id: String) -> [UInt8] {
        let now = RFC3339.format(Date(), offsetSeconds: 28800)
        return Array(
            (#"{"id":"\#(id)","received_at":"\#(now)","channel":"hotline","kind":"complaint","#
                + #""text":"路灯坏了很久没人修","category":"city_management","region":{"district":"南海区"}}"#).utf8)
    }

    /// A store that fails every batch holding ticket `id` as a dispatch, as a constraint violation would.
    static func failing(_ id: String) -> @Sendable (InMemoryStore.Operation) -> StoreError? {
        { op in
            guard case .recordDispatches(let records) = op else { return nil }
            let bad = records.contains { if case .dispatch(let d) = $0 { d.ticketID == id } else { false } }
            return bad ? StoreError(.constraint, "UNIQUE constraint failed (test)") : nil
        }
    }

    /// Runs intake over `source` and `store` until `body` returns, then closes the source and waits for it.
    static func running(
        _ source: FakeDeliverySource, _ store: InMemoryStore, health: StoreHealth? = nil,
        _ body: (StoreHealth) async throws -> Void
    ) async throws {
        let health = health ?? StoreHealth(logger: Logger(label: "test"))
        let intake = IntakeService(
            consumer: source, store: store, rules: LiveRules(ruleSet: rules, names: Names()),
            relay: Signal(), metrics: ServiceMetrics(factory: PrometheusExport()), health: health,
            logger: Logger(label: "test"))
        try await whileRunning(intake.run, over: source) { try await body(health) }
    }

    /// A batch whose commit fails is committed again one delivery at a time: the good ones are recorded and
    /// acknowledged, the one that fails goes back to the queue, and nothing is settled twice.
    @Test func aFailedBatchIsRetriedOneByOne() async throws {
        let source = FakeDeliverySource(redeliversRequeued: false)
        let store = InMemoryStore()
        store.setFault(Self.failing("BAD-1"))
        let ids = ["OK-1", "OK-2", "BAD-1", "OK-3", "OK-4", "OK-5"]
        for id in ids { source.deliver(Self.ticket(id), messageId: "m-\(id)") }
        try await Self.running(source, store) { _ in
            #expect(await eventually(timeout: .seconds(30)) { source.settlements.count == ids.count })
        }
        let settled = source.settlements
        #expect(Set(settled.map(\.tag)).count == settled.count)
        let good = Set(ids.filter { $0 != "BAD-1" }.map { "m-\($0)" })
        #expect(Set(settled.filter(\.acked).compactMap(\.messageId)) == good)
        #expect(settled.filter { !$0.acked }.map(\.messageId) == ["m-BAD-1"])
        #expect(settled.first { !$0.acked }?.requeued == true)
        let contents = store.contents
        #expect(Set(contents.inbox.keys) == ["OK-1", "OK-2", "OK-3", "OK-4", "OK-5"])
        #expect(contents.lastSequence == 5)
        #expect(contents.rejections.isEmpty)
        // Every batch holding the bad ticket failed; the good ones were written alone or with other good ones.
        #expect(store.attempts("recordDispatches").count > 5)
    }

    /// A message that keeps failing comes back from the queue with its attempts counted; when its fifth
    /// delivery fails too it is recorded as a poison rejection, body byte for byte and the reason, and
    /// acknowledged.
    @Test func aMessageThatKeepsFailingIsRejectedAsPoison() async throws {
        let source = FakeDeliverySource()
        let store = InMemoryStore()
        store.setFault(Self.failing("BAD-1"))
        let body = Self.ticket("BAD-1")
        source.deliver(body, messageId: "m-BAD-1")
        source.deliver(Self.ticket("OK-1"), messageId: "m-OK-1")
        try await Self.running(source, store) { _ in
            #expect(await eventually(timeout: .seconds(30)) { source.settlements.filter(\.acked).count == 2 })
        }
        let bad = source.settlements.filter { $0.messageId == "m-BAD-1" }
        // Delivered with 0 to 3 earlier attempts, each given back; the fifth (4 earlier) fails and is rejected.
        #expect(bad.map(\.attempts) == [0, 1, 2, 3, 4])
        #expect(bad.dropLast().allSatisfy { !$0.acked && $0.requeued })
        #expect(bad.last?.acked == true)
        let contents = store.contents
        #expect(contents.inbox.keys.sorted() == ["OK-1"])
        let rejection = try #require(contents.rejections.first)
        #expect(contents.rejections.count == 1)
        #expect(rejection.code == "poison")
        #expect(rejection.reason.contains("processing failed 5 times"))
        #expect(rejection.body == body)
        #expect(rejection.amqpMessageID == "m-BAD-1")
        // Its outbox message goes to the rejected queue.
        #expect(contents.outbox.contains { $0.message.routingKey == Names().rejectedQueue })
    }

    /// The broker counts deliveries returned through no fault of theirs (restarts while the store could not
    /// write, consumer timeouts): a valid ticket delivered 100 times is dispatched. Only after 100 earlier
    /// deliveries is a message set aside as poison without being processed, so that one which stops the
    /// process cannot stop intake at every start.
    @Test func aTicketReturnedOftenIsStillDispatched() async throws {
        let source = FakeDeliverySource()
        let store = InMemoryStore()
        source.deliver(Self.ticket("R-1"), messageId: "m-R-1", attempts: 99)
        source.deliver(Self.ticket("R-2"), messageId: "m-R-2", attempts: 100)
        try await Self.running(source, store) { _ in
            #expect(await eventually(timeout: .seconds(30)) { source.settlements.filter(\.acked).count == 2 })
        }
        let contents = store.contents
        #expect(contents.inbox.keys.sorted() == ["R-1"])
        #expect(contents.rejections.map(\.amqpMessageID) == ["m-R-2"])
        #expect(contents.rejections.first?.reason.contains("earlier attempts did not complete") == true)
    }

    /// A message without an id is known by its bytes: delivered again (after a crash, or a commit whose
    /// outcome was lost), an invalid one is one rejection, not two; other bytes are another rejection.
    @Test func aMessageWithoutAnIdIsRejectedOnceHoweverOftenItComes() async throws {
        let source = FakeDeliverySource()
        let store = InMemoryStore()
        let bad = Array(#"{"id":"X-1"}"#.utf8)
        source.deliver(bad, messageId: nil)
        source.deliver(bad, messageId: nil, attempts: 1)
        source.deliver(Array(#"{"id":"X-2"}"#.utf8), messageId: nil)
        try await Self.running(source, store) { _ in
            #expect(await eventually(timeout: .seconds(30)) { source.settlements.filter(\.acked).count == 3 })
        }
        let rejections = store.contents.rejections
        #expect(rejections.count == 2)
        #expect(rejections.allSatisfy { $0.amqpMessageID?.hasPrefix("sha256:") == true })
        #expect(rejections.first?.body == bad)
        let published = store.contents.outbox.filter { $0.message.routingKey == Names().rejectedQueue }
        #expect(published.count == 2)
        #expect(published.first?.message.messageID == "rejected/\(rejections.first?.amqpMessageID ?? "")")
    }

    /// While the store cannot write (disk full, I/O error), the batch is held: nothing is acknowledged or
    /// given back, no attempt counts against the messages, and the same commit is tried again after pauses
    /// that double from 100 ms. When the store writes again, every delivery is recorded and acknowledged.
    @Test func aStoreFailureHoldsTheBatchAndRetriesWithBackoff() async throws {
        let source = FakeDeliverySource()
        let store = InMemoryStore()
        let failures = Locked(0)
        store.setFault { op in
            guard case .recordDispatches = op else { return nil }
            return failures.withLock { n in
                n += 1
                return n <= 3 ? StoreError(.io, "disk I/O error (test)") : nil
            }
        }
        source.deliver(Self.ticket("H-1"), messageId: "m-H-1")
        source.deliver(Self.ticket("H-2"), messageId: "m-H-2")
        try await Self.running(source, store) { health in
            #expect(await eventually(timeout: .seconds(30)) { store.attempts("recordDispatches").count >= 2 })
            #expect(source.settlements.isEmpty)
            #expect(!health.writable)
            #expect(health.problem?.code == .io)
            #expect(await eventually(timeout: .seconds(30)) { source.settlements.count == 2 })
            #expect(await eventually(timeout: .seconds(5)) { health.writable })
        }
        #expect(source.settlements.allSatisfy { $0.acked && $0.attempts == 0 })
        #expect(Set(store.contents.inbox.keys) == ["H-1", "H-2"])
        // The pauses between the tries: at least 100, 200 and 400 ms (no upper bound on a loaded machine).
        let tries = store.attempts("recordDispatches")
        let pauses = zip(tries, tries.dropFirst()).map { $1 - $0 }.prefix(3)
        for (pause, least) in zip(pauses, [100, 200, 400]) { #expect(pause >= .milliseconds(least)) }
    }
}
