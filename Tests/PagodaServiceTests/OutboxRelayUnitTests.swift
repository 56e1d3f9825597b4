import Foundation
import Logging
import PagodaJSON
import PagodaRules
import PagodaStore
import PagodaTesting
import PagodaTransport
import Testing

@testable import PagodaService

/// The outbox relay's hold-and-drain against the in-memory fakes: no broker.
@Suite struct OutboxRelayUnitTests {
    /// A store holding one dispatched ticket (its dispatch message and lifecycle messages in the outbox);
    /// returns it with the dispatch message's outbox id.
    static func storeWithOneDispatch(_ id: String = "R-1") async throws -> (InMemoryStore, Int64) {
        let store = InMemoryStore()
        let processor = LiveRules(ruleSet: IntakeUnitTests.rules, names: Names()).current.processor
        let record = processor.process(body: IntakeUnitTests.ticket(id), messageID: "m-\(id)", now: Date())
        let outcomes = try await store.recordDispatches([record])
        #expect(outcomes == [.recorded(dispatchSequence: 1)])
        let row = try #require(store.contents.outbox.first { $0.message.messageID == "\(id)/dispatch/1" })
        return (store, row.id)
    }

    /// Runs a relay over `publisher` and `store` until `body` returns, then cancels it and waits for it.
    static func running(
        _ publisher: FakeMessagePublisher, _ store: InMemoryStore, health: StoreHealth,
        redeclare: @escaping @Sendable (Topology) async throws -> Void = { _ in },
        _ body: () async throws -> Void
    ) async throws {
        let relay = OutboxRelay(
            publisher: publisher, store: store, wake: Signal(), metrics: ServiceMetrics(factory: PrometheusExport()),
            health: health, logger: Logger(label: "test"), names: Names(), redeclare: redeclare)
        let task = Task { try await relay.run() }
        defer { task.cancel() }
        try await body()
        task.cancel()
        try await task.value
    }

    /// Publishes of a row, by where they went.
    static func parts(_ publisher: FakeMessagePublisher, _ messageID: String) -> [FakeMessagePublisher.Publish] {
        publisher.published.filter { $0.message.messageId == messageID }
    }

    /// A part the broker nacks is held and published again; the row is marked sent only once every part
    /// is confirmed, and a part already confirmed is not published again.
    @Test func aRowIsSentOnlyWhenEveryPartIsConfirmed() async throws {
        let (store, row) = try await Self.storeWithOneDispatch()
        let events = Names().eventsExchange
        // The events copy is nacked the first time, confirmed after; the unit queue's part is confirmed at once.
        let publisher = FakeMessagePublisher { m, earlier in
            m.exchange == events && earlier == 0 ? .nacked : .confirmed
        }
        publisher.hold { $0.exchange == events && $0.messageId == "R-1/dispatch/1" }
        let health = StoreHealth(logger: Logger(label: "test"))
        try await Self.running(publisher, store, health: health) {
            let unitConfirmed = await eventually(timeout: .seconds(30)) {
                Self.parts(publisher, "R-1/dispatch/1").contains {
                    $0.message.exchange != events && $0.outcome == .confirmed
                }
            }
            #expect(unitConfirmed)
            #expect(await eventually(timeout: .seconds(30)) { publisher.heldCount == 1 })
            // The events copy is still unanswered: through several of the relay's flushes (every 250 ms at
            // most), the row stays unsent.
            let deadline = ContinuousClock.now + .milliseconds(800)
            while ContinuousClock.now < deadline {
                #expect(!store.isSent(row))
                try await Task.sleep(for: .milliseconds(50))
            }
            publisher.release()
            #expect(await eventually(timeout: .seconds(30)) { store.isSent(row) })
        }
        let parts = Self.parts(publisher, "R-1/dispatch/1")
        #expect(parts.filter { $0.message.exchange == events }.map(\.outcome) == [.nacked, .confirmed])
        #expect(parts.filter { $0.message.exchange != events }.map(\.outcome) == [.confirmed])
        // The other rows (the ticket's lifecycle messages) were sent too: nothing is left behind.
        #expect(try await store.outboxBacklog() == 0)
    }

    /// A publish the broker returns (its queue missing) waits while the queue is declared again, then is
    /// published again; the row is marked sent only after that publish is confirmed.
    @Test func aReturnedPartIsPublishedAgainAfterItsQueueIsDeclared() async throws {
        let (store, row) = try await Self.storeWithOneDispatch()
        let events = Names().eventsExchange
        let publisher = FakeMessagePublisher { m, earlier in
            let first = m.exchange != events && m.messageId == "R-1/dispatch/1" && earlier == 0
            return first ? .returned(code: 312, text: "NO_ROUTE") : .confirmed
        }
        let declared = Locked<[String]>([])
        let health = StoreHealth(logger: Logger(label: "test"))
        let redeclare: @Sendable (Topology) async throws -> Void = { t in
            declared.withLock { $0 += t.queues.map(\.name) }
        }
        try await Self.running(publisher, store, health: health, redeclare: redeclare) {
            #expect(await eventually(timeout: .seconds(30)) { store.isSent(row) })
        }
        let unit = Self.parts(publisher, "R-1/dispatch/1").filter { $0.message.exchange != events }
        #expect(unit.map(\.outcome) == [.returned(code: 312, text: "NO_ROUTE"), .confirmed])
        let queue = try #require(unit.first.map { Names().queue($0.message.routingKey) })
        #expect(declared.value == [queue])
    }

    /// When the declare fails but the queue comes back by other means (a reconnect declares it), the parts
    /// published again are confirmed and the row is sent: not published again and again as suspect.
    @Test func aQueueBackByOtherMeansEndsTheSuspicion() async throws {
        let (store, row) = try await Self.storeWithOneDispatch()
        let events = Names().eventsExchange
        let publisher = FakeMessagePublisher { m, earlier in
            let first = m.exchange != events && m.messageId == "R-1/dispatch/1" && earlier == 0
            return first ? .returned(code: 312, text: "NO_ROUTE") : .confirmed
        }
        struct Refused: Error {}
        let health = StoreHealth(logger: Logger(label: "test"))
        let refuse: @Sendable (Topology) async throws -> Void = { _ in throw Refused() }
        try await Self.running(publisher, store, health: health, redeclare: refuse) {
            #expect(await eventually(timeout: .seconds(30)) { store.isSent(row) })
            // A second's worth of the relay's passes: the unit's part is not published again meanwhile.
            let settled = Self.parts(publisher, "R-1/dispatch/1").count
            try await Task.sleep(for: .seconds(1))
            #expect(Self.parts(publisher, "R-1/dispatch/1").count == settled)
        }
        let unit = Self.parts(publisher, "R-1/dispatch/1").filter { $0.message.exchange != events }
        #expect(unit.map(\.outcome) == [.returned(code: 312, text: "NO_ROUTE"), .confirmed])
    }

    /// While the store cannot mark rows sent, the confirmed rows keep their place and the marks are tried
    /// again with backoff; nothing is published twice meanwhile, and the rows are marked once it writes.
    @Test func marksThatCannotBeWrittenAreHeldAndRetried() async throws {
        let (store, row) = try await Self.storeWithOneDispatch()
        let failures = Locked(0)
        store.setFault { op in
            guard case .markSent = op else { return nil }
            return failures.withLock { n in
                n += 1
                return n <= 2 ? StoreError(.readOnly, "attempt to write a readonly database (test)") : nil
            }
        }
        let publisher = FakeMessagePublisher()
        let health = StoreHealth(logger: Logger(label: "test"))
        try await Self.running(publisher, store, health: health) {
            #expect(await eventually(timeout: .seconds(30)) { store.attempts("markSent").count >= 1 })
            #expect(await eventually(timeout: .seconds(5)) { !health.writable })
            #expect(!store.isSent(row))
            #expect(await eventually(timeout: .seconds(30)) { store.isSent(row) })
            #expect(await eventually(timeout: .seconds(5)) { health.writable })
        }
        let tries = store.attempts("markSent")
        #expect(tries.count >= 3)
        #expect(tries[1] - tries[0] >= .milliseconds(100))
        // Each part went out once: holding the marks does not publish anything again.
        let published = publisher.published.map {
            let m = $0.message
            return "\(m.messageId) \(m.exchange) \(m.routingKey) \(m.properties.headers["CC"] ?? .null)"
        }
        #expect(Set(published).count == published.count)
    }
}
