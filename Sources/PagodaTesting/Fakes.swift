import Foundation
import PagodaJSON
import PagodaService
import PagodaStore
import PagodaTransport

// In-memory fakes of the service layer's seams (`DeliverySource`, `MessagePublisher`, `IntakeStore`,
// `OutboxStore`, `LifecycleStore`), for unit tests of the services' logic without a broker or a file. They
// keep the contracts the services rely on (a requeued delivery comes back with one more attempt counted;
// a batch commits whole or not at all; the outbox hands out entries by id) and let a test script failures.
// Live behaviour stays with the live suites.

/// A queue in memory: a test delivers messages, the service settles them, the test reads the settlements.
///
/// A delivery given back with `nack(requeue: true)` is delivered again with its `x-delivery-count` one
/// higher, as a quorum queue does (unless `redeliversRequeued` is false). `close` ends the stream.
public final class FakeDeliverySource: DeliverySource {
    /// How a delivery was settled.
    public struct Settlement: Sendable, Equatable {
        public var tag: UInt64
        public var messageId: String?
        public var acked: Bool
        public var requeued: Bool
        /// Earlier deliveries of the same message (its `x-delivery-count`).
        public var attempts: Int
    }

    public let deliveries: AsyncStream<Delivery>
    private let continuation: AsyncStream<Delivery>.Continuation
    private let state = Locked(State())
    private let redeliversRequeued: Bool

    private struct State {
        var nextTag: UInt64 = 1
        var settlements: [Settlement] = []
        var closed = false
    }

    public init(redeliversRequeued: Bool = true) {
        (deliveries, continuation) = AsyncStream.makeStream(of: Delivery.self)
        self.redeliversRequeued = redeliversRequeued
    }

    /// Delivers a message; returns its delivery tag. `attempts` is how often it was delivered before.
    @discardableResult
    public func deliver(_ body: [UInt8], messageId: String?, attempts: Int = 0, replyTo: String? = nil) -> UInt64 {
        let tag = state.withLock { s in
            defer { s.nextTag += 1 }
            return s.nextTag
        }
        var properties = MessageProperties(
            headers: ["x-delivery-count": .int(Int64(attempts))], deliveryMode: 2,
            replyTo: replyTo, messageId: messageId)
        properties.contentType = "application/json"
        continuation.yield(Delivery(body: body, deliveryTag: tag, redelivered: attempts > 0, properties: properties))
        return tag
    }

    public func ack(_ delivery: Delivery) { settle(delivery, acked: true, requeue: false) }

    public func nack(_ delivery: Delivery, requeue: Bool) {
        settle(delivery, acked: false, requeue: requeue)
        let closed = state.withLock { $0.closed }
        if requeue && redeliversRequeued && !closed {
            deliver(
                delivery.body, messageId: delivery.messageId, attempts: attempts(delivery) + 1,
                replyTo: delivery.properties.replyTo)
        }
    }

    public func close(timeout: Duration) async {
        state.withLock { $0.closed = true }
        continuation.finish()
    }

    /// Every settlement so far, in order.
    public var settlements: [Settlement] { state.withLock { $0.settlements } }

    /// The message ids acknowledged so far, in order.
    public var acked: [String?] { settlements.filter(\.acked).map(\.messageId) }

    private func settle(_ d: Delivery, acked: Bool, requeue: Bool) {
        let s = Settlement(
            tag: d.deliveryTag, messageId: d.messageId, acked: acked, requeued: requeue,
            attempts: attempts(d))
        state.withLock { $0.settlements.append(s) }
    }

    private func attempts(_ d: Delivery) -> Int { Int(d.headers["x-delivery-count"]?.intValue ?? 0) }
}

/// A broker's publishing side in memory: every publish is recorded and answered by `answer`.
///
/// `answer` sees the message and how many times a message with the same id, exchange and routing key
/// was published before (0 the first time), and returns the broker's verdict; the default confirms all.
/// A test can hold publishes matching a condition until it releases them (`hold`, `release`).
public final class FakeMessagePublisher: MessagePublisher {
    public typealias Answer = @Sendable (_ message: AMQPMessage, _ earlier: Int) -> PublishOutcome

    /// One publish and the answer it got (nil while held).
    public struct Publish: Sendable {
        public var message: AMQPMessage
        public var outcome: PublishOutcome?
    }

    private struct State {
        var answer: Answer
        var published: [Publish] = []
        var counts: [String: Int] = [:]
        var holding: (@Sendable (AMQPMessage) -> Bool)?
        var held: [CheckedContinuation<Void, Never>] = []
        var closed = false
    }

    private let state: Locked<State>

    public init(answer: @escaping Answer = { _, _ in .confirmed }) {
        state = Locked(State(answer: answer))
    }

    public func publish(_ message: AMQPMessage) async throws -> PublishOutcome {
        let (index, hold) = try state.withLock { s throws -> (Int, Bool) in
            if s.closed { throw AMQPError.closed }
            s.published.append(Publish(message: message, outcome: nil))
            return (s.published.count - 1, s.holding?(message) == true)
        }
        if hold {
            await withCheckedContinuation { c in
                let closed = state.withLock { s -> Bool in
                    if s.closed { return true }
                    s.held.append(c)
                    return false
                }
                if closed { c.resume() }
            }
        }
        return state.withLock { s in
            let key = Self.key(message)
            let earlier = s.counts[key, default: 0]
            s.counts[key] = earlier + 1
            let outcome = s.closed ? .outcomeUnknown : s.answer(message, earlier)
            s.published[index].outcome = outcome
            return outcome
        }
    }

    /// Holds every publish for which `condition` is true (until `release`).
    public func hold(_ condition: @escaping @Sendable (AMQPMessage) -> Bool) {
        state.withLock { $0.holding = condition }
    }

    /// Stops holding and lets the held publishes be answered.
    public func release() {
        let held = state.withLock { s -> [CheckedContinuation<Void, Never>] in
            s.holding = nil
            defer { s.held = [] }
            return s.held
        }
        for c in held { c.resume() }
    }

    /// How many publishes are held now.
    public var heldCount: Int { state.withLock { $0.held.count } }

    /// Every publish so far, in the order they were made.
    public var published: [Publish] { state.withLock { $0.published } }

    /// Publishes still waiting for a confirm end as `outcomeUnknown`, as when a connection closes.
    public func close(timeout: Duration) async {
        let held = state.withLock { s -> [CheckedContinuation<Void, Never>] in
            s.closed = true
            defer { s.held = [] }
            return s.held
        }
        for c in held { c.resume() }
    }

    private static func key(_ m: AMQPMessage) -> String {
        "\(m.messageId)\u{1}\(m.exchange)\u{1}\(m.routingKey)\u{1}\(m.properties.headers["CC"].map { "\($0)" } ?? "")"
    }
}

/// The store in memory: inbox, rejections, outbox, lifecycle states, timers and command ids, with the
/// transactions of `DispatchStore` (a batch is written whole or not at all).
///
/// `fault` is asked before every operation and may fail it with a `StoreError` (nothing is written).
public final class InMemoryStore: IntakeStore, OutboxStore, LifecycleStore {
    /// An operation the store was asked for, as `fault` sees it.
    public enum Operation: Sendable {
        case recordDispatches([IntakeRecord])
        case pendingOutbox
        case markSent([Int64])
        case outboxBacklog
        case lifecycle
        case ticketBodies
        case dueTimers
        case nextTimerDue
        case applyLifecycle([LifecycleChange])

        /// The operation's name, as `attempts` takes it.
        public var name: String {
            switch self {
            case .recordDispatches: "recordDispatches"
            case .pendingOutbox: "pendingOutbox"
            case .markSent: "markSent"
            case .outboxBacklog: "outboxBacklog"
            case .lifecycle: "lifecycle"
            case .ticketBodies: "ticketBodies"
            case .dueTimers: "dueTimers"
            case .nextTimerDue: "nextTimerDue"
            case .applyLifecycle: "applyLifecycle"
            }
        }
    }

    /// A rejection as recorded.
    public struct RejectionRow: Sendable {
        public var id: Int64
        public var amqpMessageID: String?
        public var code: String
        public var reason: String
        public var body: [UInt8]
    }

    public struct Contents: Sendable {
        /// Ticket id to its dispatch sequence.
        public var inbox: [String: Int64] = [:]
        /// The dispatch sequence of each message id that brought a dispatched ticket.
        public var dispatchedMessages: [String: (sequence: Int64, body: [UInt8])] = [:]
        public var tickets: [String: [UInt8]] = [:]
        public var lastSequence: Int64 = 0
        public var rejections: [RejectionRow] = []
        public var outbox: [OutboxEntry] = []
        /// When each outbox entry was marked sent.
        public var sent: [Int64: Date] = [:]
        public var states: [String: LifecycleRecord] = [:]
        public var timers: [String: DueTimer] = [:]
        public var commands: Set<String> = []
        /// The ticket and type each command id was recorded for.
        public var commandOwners: [String: (ticketID: String, type: String)] = [:]
        public var events: [String: [EventWrite]] = [:]
        /// Repeat key to the tickets that carried it, with when they were received.
        public var repeatKeys: [String: [(ticketID: String, at: Date)]] = [:]
        var nextOutboxID: Int64 = 1
        var nextRejectionID: Int64 = 1
    }

    private let state = Locked(Contents())
    private let faults = Locked<(@Sendable (Operation) -> StoreError?)?>(nil)
    /// When each operation was asked for (failed or not), for tests of retries and their pauses.
    private let asked = Locked<[(operation: String, at: ContinuousClock.Instant)]>([])

    public init() {}

    /// Fails the operations for which `fault` returns an error (nil: they run); replaces an earlier fault.
    public func setFault(_ fault: (@Sendable (Operation) -> StoreError?)?) { faults.withLock { $0 = fault } }

    /// A snapshot of what is stored.
    public var contents: Contents { state.withLock { $0 } }

    /// Changes what is stored behind the store's back (a damaged row, for tests of how it is met).
    public func edit(_ body: (inout Contents) -> Void) { state.withLock { body(&$0) } }

    /// When an operation named `name` (`"recordDispatches"`, `"markSent"`, ...) was asked for, in order.
    public func attempts(_ name: String) -> [ContinuousClock.Instant] {
        asked.withLock { $0.filter { $0.operation == name }.map(\.at) }
    }

    /// Whether outbox entry `id` is marked sent.
    public func isSent(_ id: Int64) -> Bool { state.withLock { $0.sent[id] != nil } }

    private func check(_ op: Operation) throws(StoreError) {
        asked.withLock { $0.append((op.name, .now)) }
        if let error = faults.withLock({ $0 })?(op) { throw error }
    }

    // MARK: IntakeStore

    public func recordDispatches(_ records: [IntakeRecord]) async throws(StoreError) -> [IntakeOutcome] {
        try check(.recordDispatches(records))
        return try state.withLock { (live: inout Contents) throws(StoreError) -> [IntakeOutcome] in
            var s = live  // the transaction: written back only when all of it succeeded
            var outcomes: [IntakeOutcome] = []
            for record in records {
                switch record {
                case .dispatch(let d):
                    if let seen = s.inbox[d.ticketID] {
                        outcomes.append(.duplicate(dispatchSequence: seen))
                        continue
                    }
                    guard !d.ticketID.isEmpty else { throw StoreError(.constraint, "empty ticket id") }
                    s.lastSequence += 1
                    let seq = s.lastSequence
                    s.inbox[d.ticketID] = seq
                    if let id = d.amqpMessageID { s.dispatchedMessages[id] = (seq, d.ticketJSON) }
                    s.tickets[d.ticketID] = d.ticketJSON
                    let dispatched = EventWrite(type: "ticket.dispatched", at: d.at, payloadJSON: "{}")
                    s.events[d.ticketID, default: []].append(dispatched)
                    try Self.enqueue(d.messages(seq), &s, at: d.at)
                    if let start = d.lifecycle {
                        let life = start(Self.matchRepeat(d, &s))
                        Self.write(d.ticketID, life.state, body: d.ticketJSON, &s)
                        s.events[d.ticketID, default: []] += life.events
                        try Self.enqueue(life.messages, &s, at: d.at)
                    }
                    outcomes.append(.recorded(dispatchSequence: seq))
                case .rejection(var r):
                    if let id = r.amqpMessageID, let earlier = s.dispatchedMessages[id], earlier.body == r.body {
                        outcomes.append(.duplicate(dispatchSequence: earlier.sequence))
                        continue
                    }
                    if let id = r.amqpMessageID, let earlier = s.rejections.first(where: { $0.amqpMessageID == id }) {
                        r = r.keyedByBody
                        if earlier.body == r.body
                            || s.rejections.contains(where: { $0.amqpMessageID == r.amqpMessageID })
                        {
                            outcomes.append(.duplicateRejection)
                            continue
                        }
                    }
                    let id = s.nextRejectionID
                    s.nextRejectionID += 1
                    s.rejections.append(
                        RejectionRow(
                            id: id, amqpMessageID: r.amqpMessageID, code: r.code,
                            reason: r.reason, body: r.body))
                    try Self.enqueue([r.message], &s, at: r.at)
                    outcomes.append(.rejected(id: id))
                }
            }
            live = s
            return outcomes
        }
    }

    private static func enqueue(_ messages: [OutboxMessage], _ s: inout Contents, at: Date) throws(StoreError) {
        for m in messages {
            // The outbox's unique index on the message id.
            if s.outbox.contains(where: { $0.message.messageID == m.messageID }) {
                throw StoreError(.constraint, "UNIQUE constraint failed: outbox.message_id (\(m.messageID))")
            }
            s.outbox.append(OutboxEntry(id: s.nextOutboxID, message: m, createdAt: at, attempts: 0))
            s.nextOutboxID += 1
        }
    }

    private static func matchRepeat(_ d: TicketDispatch, _ s: inout Contents) -> RepeatMatch? {
        var found: [(ticketID: String, at: Int64, key: String)] = []
        for key in d.repeatKeys {
            let window = s.repeatKeys[key, default: []].filter {
                $0.at <= d.receivedAt && d.receivedAt.timeIntervalSince($0.at) <= d.repeatWindow
            }
            if let latest = window.max(by: { $0.at < $1.at }) {
                found.append((latest.ticketID, EpochMillis.from(latest.at), key))
            }
            s.repeatKeys[key, default: []].append((d.ticketID, d.receivedAt))
        }
        return RepeatMatch.latest(of: found)
    }

    private static func write(_ ticketID: String, _ w: StateWrite, body: [UInt8]?, _ s: inout Contents) {
        let previous = s.states[ticketID]
        s.states[ticketID] = LifecycleRecord(
            ticketID: ticketID, version: w.version, phase: w.phase, unitID: w.unitID,
            state: w.state,
            ticketBody: body ?? previous?.ticketBody ?? s.tickets[ticketID] ?? [])
        s.timers[ticketID] = w.timer.map { DueTimer(ticketID: ticketID, dueAt: $0, token: w.version) }
    }

    // MARK: OutboxStore

    public func pendingOutbox(after cursor: Int64, limit: Int) async throws(StoreError) -> [OutboxEntry] {
        try check(.pendingOutbox)
        guard limit >= 0 else { throw StoreError(.invalidArgument, "limit must be >= 0, got \(limit)") }
        return state.withLock { s in
            Array(s.outbox.filter { $0.id > cursor && s.sent[$0.id] == nil }.prefix(limit))
        }
    }

    @discardableResult
    public func markSent(_ ids: [Int64], at: Date) async throws(StoreError) -> Int {
        try check(.markSent(ids))
        return state.withLock { s in
            var changed = 0
            for id in ids where s.sent[id] == nil && s.outbox.contains(where: { $0.id == id }) {
                s.sent[id] = at
                changed += 1
            }
            return changed
        }
    }

    public func outboxBacklog() async throws(StoreError) -> Int {
        try check(.outboxBacklog)
        return state.withLock { s in s.outbox.count - s.sent.count }
    }

    // MARK: LifecycleStore

    public func lifecycle(_ ticketIDs: [String], withTicket: Bool) async throws(StoreError)
        -> [String: LifecycleRecord]
    {
        try check(.lifecycle)
        return state.withLock { s in
            var out: [String: LifecycleRecord] = [:]
            for id in ticketIDs {
                guard var r = s.states[id] else { continue }
                if !withTicket { r.ticketBody = [] }
                out[id] = r
            }
            return out
        }
    }

    public func ticketBodies(_ ticketIDs: [String]) async throws(StoreError) -> [String: [UInt8]] {
        try check(.ticketBodies)
        return state.withLock { s in s.tickets.filter { ticketIDs.contains($0.key) } }
    }

    public func dueTimers(until: Date, after: DueTimer?, limit: Int) async throws(StoreError) -> [DueTimer] {
        try check(.dueTimers)
        return state.withLock { s in
            let ordered = s.timers.values.filter { $0.dueAt <= until }
                .sorted { ($0.dueAt, $0.ticketID) < ($1.dueAt, $1.ticketID) }
            let after = after.map { a in ordered.filter { ($0.dueAt, $0.ticketID) > (a.dueAt, a.ticketID) } } ?? ordered
            return Array(after.prefix(limit))
        }
    }

    public func nextTimerDue() async throws(StoreError) -> Date? {
        try check(.nextTimerDue)
        return state.withLock { s in s.timers.values.map(\.dueAt).min() }
    }

    public func applyLifecycle(_ changes: [LifecycleChange]) async throws(StoreError) -> [LifecycleOutcome] {
        try check(.applyLifecycle(changes))
        return try state.withLock { (live: inout Contents) throws(StoreError) -> [LifecycleOutcome] in
            var s = live
            var outcomes: [LifecycleOutcome] = []
            var conflicted: Set<String> = []
            for change in changes {
                if conflicted.contains(change.ticketID) {
                    outcomes.append(.conflict)
                    continue
                }
                if let c = change.command {
                    if s.commands.contains(c.id) {
                        let same = s.commandOwners[c.id].map { $0 == (change.ticketID, c.type) } ?? true
                        outcomes.append(same ? .duplicateCommand : .reusedCommandID)
                        continue
                    }
                    s.commands.insert(c.id)
                    s.commandOwners[c.id] = (change.ticketID, c.type)
                }
                if let expected = change.expectedVersion {
                    guard s.states[change.ticketID]?.version == expected else {
                        if let c = change.command { s.commands.remove(c.id) }
                        conflicted.insert(change.ticketID)
                        outcomes.append(.conflict)
                        continue
                    }
                    if let w = change.state { Self.write(change.ticketID, w, body: nil, &s) }
                    s.events[change.ticketID, default: []] += change.events
                } else if let w = change.state {
                    Self.write(change.ticketID, w, body: nil, &s)
                }
                try Self.enqueue(change.messages, &s, at: change.at)
                outcomes.append(.applied)
            }
            live = s
            return outcomes
        }
    }
}
