import CoreMetrics
import Foundation
import Logging
import PagodaJSON
import PagodaLifecycle
import PagodaRules
import PagodaStore
import PagodaTransport
import ServiceLifecycle
import Synchronization

/// Runs the ticket lifecycle: worker commands from `pagoda.commands` and the durable timers.
///
/// One loop owns every lifecycle change, so a command and a timer never race on a ticket: it applies the
/// commands that arrived (a batch per transaction, each delivery acknowledged after its commit), then the
/// timers that fell due (earliest first), then waits for the next delivery, the next due time or intake's
/// word that it dispatched tickets (whose timers may be due at once). Timers
/// live in SQLite; at start the ones that fell due while the service was down fire once, in due order.
/// Each write checks the state version it was computed from, so a stale read can never overwrite a newer
/// state; the engine's token check makes a timer set before a later change do nothing.
///
/// While the store cannot write (`StoreHealth`), a batch of commands or timers is held and its commit
/// tried again with backoff: the command deliveries stay unacknowledged, so no attempt counts against
/// them, and the timers stay due.
final class LifecycleService: Service {
    /// `pagoda.commands` (an `AMQPConsumer` in service).
    let consumer: any DeliverySource
    let store: any LifecycleStore
    /// The rules in force; each batch of commands or timers captures `lifecycle` once.
    let rules: LiveRules
    var lifecycle: Lifecycle { rules.current.lifecycle }
    let codec: LifecycleCodec
    let relay: Signal
    let metrics: ServiceMetrics
    let health: StoreHealth
    /// Set at graceful shutdown: a commit waiting for the store gives up.
    let stopping = ShutdownFlag()
    /// Tickets whose state could not be read at a firing, each logged once (at most 10,000 remembered).
    private let unreadableSeen = UnreadableTickets()
    /// Whether the last read of due timers failed (logged once until one succeeds).
    private let readFailing = Atomic<Bool>(false)
    let logger: Logger
    let maxBatch: Int
    let maxAttempts = 5
    /// The longest the loop sleeps before looking at the timer table again. It sleeps until the next due
    /// timer, and wakes for commands and for dispatches (`timersChanged`), so this is only a safety net:
    /// for a change it was not told of, such as the system clock being set forward.
    let pollInterval: Duration
    /// Wakes the loop: deliveries of commands, and intake after it committed dispatches (their timers may
    /// be due before the loop's next look).
    let wake = Signal()
    let clock: @Sendable () -> Date
    /// Told when more timers are due than one batch takes, and when they are all fired, so the outbox
    /// relay can stand aside meanwhile.
    let priority: FiringPriority?

    init(
        consumer: any DeliverySource, store: any LifecycleStore, rules: LiveRules, codec: LifecycleCodec,
        relay: Signal, metrics: ServiceMetrics, health: StoreHealth, logger: Logger, maxBatch: Int = 500,
        pollInterval: Duration = .seconds(2), priority: FiringPriority? = nil,
        clock: @escaping @Sendable () -> Date = { Date() }
    ) {
        self.consumer = consumer
        self.store = store
        self.rules = rules
        self.codec = codec
        self.relay = relay
        self.metrics = metrics
        self.health = health
        self.logger = logger
        self.maxBatch = maxBatch
        self.pollInterval = pollInterval
        self.priority = priority
        self.clock = clock
    }

    /// Tells the loop that timers were written outside it (a dispatch's clocks): it looks again at once.
    func timersChanged() { wake.notify() }

    func run() async throws {
        let buffer = Buffer<Delivery>()
        let wake = self.wake
        let consumer = self.consumer
        try await withGracefulShutdownHandler {
            try await withThrowingTaskGroup(of: Void.self) { group in
                group.addTask { await buffer.fill(from: consumer, waking: wake) }
                var open = true
                // Timers that could not be read or written wait this long before the next look, rather than
                // being tried again at once (they are still due).
                var backoff = Backoff()
                while open {
                    while !buffer.isEmpty { await commands(buffer.drain(max: maxBatch)) }
                    if stopping.requested {
                        // At shutdown a backlog of due timers is left for the next start (or the next active
                        // node: they stay due); the commands still received are settled until the consumer
                        // has closed.
                        open = await wake.wait(atMost: pollInterval)
                        continue
                    }
                    let (more, failed, unreadable) = await timers(commandsWaiting: { !buffer.isEmpty })
                    if !failed { backoff.reset() }
                    if (more && !failed) || !buffer.isEmpty { continue }
                    // Sleep until the next delivery, or the next due timer (at most `pollInterval`).
                    let next = (try? await store.nextTimerDue()) ?? nil
                    var wait = pollInterval
                    if let next {
                        let ms = Int64(max(0, next.timeIntervalSince(clock()) * 1000).rounded(.up))
                        wait = min(wait, .milliseconds(ms))
                    }
                    if failed { wait = backoff.next() }
                    // A timer whose ticket cannot be read stays due: looked at again after a second, not at once.
                    if unreadable && !failed { wait = max(wait, .seconds(1)) }
                    if wait > .zero { open = await wake.wait(atMost: wait) }
                }
                while !buffer.isEmpty { await commands(buffer.drain(max: maxBatch)) }
                try await group.waitForAll()
            }
        } onGracefulShutdown: {
            self.stopping.request()
            Task { await consumer.close(timeout: .seconds(30)) }
        }
        logger.info("lifecycle stopped")
    }

    // MARK: Commands

    private func commands(_ batch: [Delivery]) async {
        guard !batch.isEmpty else { return }
        do {
            try await applyWaitingForStore(batch)
        } catch let error as StoreError where error.isStorageFailure || error.isFenced {
            giveUp(batch)
        } catch {
            logger.warning(
                "command batch failed; retrying one by one",
                metadata: ["batch.size": "\(batch.count)", "error": "\(error)"])
            for (i, d) in batch.enumerated() {
                do {
                    try await applyWaitingForStore([d])
                } catch let error as StoreError where error.isStorageFailure || error.isFenced {
                    giveUp(Array(batch[i...]))
                    break
                } catch {
                    // A command that keeps failing is refused as poison after `maxAttempts` deliveries
                    // (quorum queues count them), so it cannot block the queue.
                    let attempts = d.earlierAttempts
                    if attempts + 1 >= maxAttempts, (try? await poison(d, error: error)) != nil {
                        metrics.commandsRefused.increment()
                        consumer.ack(d)
                    } else {
                        metrics.processingFailures.increment()
                        logger.error(
                            "command failed; returned to the queue",
                            metadata: ["amqp.message_id": "\(d.messageId ?? "-")", "error": "\(error)"])
                        consumer.nack(d, requeue: true)
                    }
                }
            }
        }
        relay.notify()
    }

    /// `apply`, again with backoff while the store cannot write (until graceful shutdown).
    private func applyWaitingForStore(_ batch: [Delivery]) async throws {
        try await health.retrying("lifecycle", stop: stopping) { try await apply(batch) }
    }

    /// Shutdown while the store cannot write: the command deliveries go back to the queue for the next start.
    private func giveUp(_ deliveries: [Delivery]) {
        logger.warning(
            "store cannot write at shutdown; commands returned to the queue",
            metadata: [
                "batch.size": "\(deliveries.count)"
            ])
        for d in deliveries { consumer.nack(d, requeue: true) }
    }

    /// Applies a batch of command deliveries in one transaction and settles them.
    private func apply(_ batch: [Delivery]) async throws {
        let now = clock()
        let decoded: [(Delivery, Result<Command, CommandValidationError>)] = batch.map {
            ($0, CommandContract.decode($0.body, replyTo: $0.properties.replyTo))
        }
        let ids = Array(Set(decoded.compactMap { try? $0.1.get().ticketID }))
        let records = try await store.lifecycle(ids, withTicket: true)
        let lifecycle = self.lifecycle
        let changes = try {
            var states: [String: (TicketState, Int, [UInt8])] = [:]
            for (id, r) in records { states[id] = (try codec.decode(r.state), r.version, r.ticketBody) }
            var changes: [LifecycleChange] = []
            for (d, result) in decoded {
                switch result {
                case .failure(let error):
                    changes.append(
                        Self.refusal(
                            error.issues, body: d.body, commandID: error.commandID, ticketID: error.ticketID, now: now,
                            codec: codec, replyTo: d.properties.replyTo))
                case .success(let command):
                    let current = states[command.ticketID]
                    let t = lifecycle.handle(command, state: current?.0, now: now) { excluding in
                        Self.reroute(current?.2, excluding: excluding, rules: lifecycle.rules)
                    }
                    if t.outcome == .duplicate {
                        changes.append(
                            LifecycleChange(
                                ticketID: command.ticketID, expectedVersion: nil, state: nil, events: [], messages: [],
                                command: nil, at: now))
                        continue
                    }
                    var write: StateWrite?
                    if t.changed, let s = t.state {
                        write = codec.encode(s)
                        states[command.ticketID] = (s, s.version, current?.2 ?? [])
                    }
                    var (rows, messages) = codec.encode(t.events, ticket: current?.2)
                    if current == nil {
                        // No state, no version to make the event id unique: the command id does.
                        for i in messages.indices { messages[i].messageID = "command/\(command.id)/\(i)" }
                    }
                    changes.append(
                        LifecycleChange(
                            ticketID: command.ticketID, expectedVersion: current?.1, state: write,
                            events: rows, messages: messages,
                            command: (command.id, command.action.type.rawValue, t.outcome.rawValue), at: now))
                }
            }
            return changes
        }()
        let outcomes = try await store.applyLifecycle(changes)
        for ((d, result), (change, outcome)) in zip(decoded, zip(changes, outcomes)) {
            switch outcome {
            case .applied where change.command == nil && change.messages.isEmpty: metrics.commandsDuplicate.increment()
            case .applied:
                if case .success = result, change.command?.outcome == "applied" {
                    metrics.commandsApplied.increment()
                } else {
                    metrics.commandsRefused.increment()
                }
            case .duplicateCommand: metrics.commandsDuplicate.increment()
            case .reusedCommandID:
                // Another command under an id used before (another ticket or type): refused, so that its
                // sender learns it and sends it again under a new id, rather than dropped as a duplicate.
                do {
                    try await refuseReusedID(d, result)
                    metrics.commandsRefused.increment()
                } catch {
                    logger.warning(
                        "cannot record the refusal of a reused command id; returned to the queue",
                        metadata: ["amqp.message_id": "\(d.messageId ?? "-")", "error": "\(error)"])
                    consumer.nack(d, requeue: true)
                    continue
                }
            case .conflict:
                // Another writer (the console's command desk, or a node that lost its lease) changed the
                // state first: the command goes back to the queue and is worked out again.
                logger.warning(
                    "lifecycle state changed under the command; returned to the queue",
                    metadata: ["ticket.id": "\(change.ticketID)"])
                consumer.nack(d, requeue: true)
                continue
            }
            consumer.ack(d)
        }
    }

    /// Records `command.rejected` (`reused_command_id`) for a command whose id was recorded before for another
    /// ticket or type. Its ids come from its bytes, as for an unreadable command, so that a redelivery is a
    /// duplicate of this refusal.
    private func refuseReusedID(_ d: Delivery, _ result: Result<Command, CommandValidationError>) async throws {
        let command = try? result.get()
        let change = Self.refusal(
            [
                ValidationIssue(
                    path: "command_id", code: .reusedCommandID,
                    message: "command_id: already used for another command; send this one under a new command_id")
            ],
            body: d.body, commandID: command?.id, ticketID: command?.ticketID, now: clock(), codec: codec,
            replyTo: d.properties.replyTo)
        _ = try await store.applyLifecycle([change])
    }

    private func poison(_ d: Delivery, error: any Error) async throws {
        let now = clock()
        var commandID: String?
        var ticketID: String?
        if case .object(let o)? = try? JSON.parse(d.body) {
            commandID = o["command_id"]?.stringValue
            ticketID = o["ticket_id"]?.stringValue
        }
        let change = Self.refusal(
            [ValidationIssue(path: "", code: .poison, message: "processing failed repeatedly: \(error)")],
            body: d.body, commandID: commandID, ticketID: ticketID, now: now, codec: codec,
            replyTo: d.properties.replyTo)
        _ = try await store.applyLifecycle([change])
        logger.error(
            "command refused as poison", metadata: ["amqp.message_id": "\(d.messageId ?? "-")", "error": "\(error)"])
    }

    /// A `command.rejected` event for a command that could not be read (or kept failing). Its ids come from
    /// the command's bytes, and it enters the command ledger as `refused/` and their SHA-256, so that a
    /// redelivery of the same message (after a crash, or a commit whose outcome was lost) is a duplicate
    /// and not a second refusal.
    static func refusal(
        _ issues: [ValidationIssue], body: [UInt8], commandID: String?, ticketID: String?, now: Date,
        codec: LifecycleCodec, replyTo: String? = nil
    ) -> LifecycleChange {
        let first = issues[0]
        let digest = Digest.sha256Hex(body)
        var event = LifecycleEvent(
            type: .commandRejected, ticketID: ticketID ?? "", at: now, unit: nil, level: nil, queues: [],
            replyTo: replyTo,
            carriesTicket: false, version: 0, sequence: 0,
            fields: JSONObject([
                ("command_id", commandID.map { .string($0) } ?? .null), ("command_type", .null),
                ("code", .string(first.code.rawValue)), ("path", .string(first.path)),
                ("reason", .string(first.message)),
                (
                    "errors",
                    .array(
                        issues.map(\.json))
                ),
            ]))
        event.refused = "sha256:" + digest
        var messages = codec.messages(event, ticket: nil)
        for i in messages.indices { messages[i].messageID = "refused-command/\(digest)/\(i)" }
        return LifecycleChange(
            ticketID: ticketID ?? "", expectedVersion: nil, state: nil, events: [], messages: messages,
            command: (id: "refused/\(digest)", type: "unreadable", outcome: "rejected"), at: now)
    }

    static func reroute(_ ticketBody: [UInt8]?, excluding: Set<String>, rules: RuleSet) -> String? {
        guard let body = ticketBody,
            case .success(let ticket) = TicketContract.decode(body, isKnownCategory: rules.isKnownCategory)
        else { return nil }
        return rules.rerouteUnit(ticket, excluding: excluding)
    }

    // MARK: Timers

    /// A computed batch of timer firings, ready to commit.
    private struct TimerBatch: Sendable {
        var due: [DueTimer]
        var changes: [LifecycleChange]
        var stale: Int
        /// Tickets whose stored state could not be read: left out, their timers still due.
        var unreadable: [String] = []
        var computed: Duration
    }

    /// Fires the timers that are due, one batch per transaction, computing each batch while the previous
    /// one commits. Returns whether more may be due, and whether a batch could not be read or written
    /// (the loop then waits before it looks again); stops early (after the commit in flight) when
    /// commands are waiting, so a burst of timers cannot hold them up.
    private func timers(commandsWaiting: () -> Bool) async -> (more: Bool, failed: Bool, unreadable: Bool) {
        var after: DueTimer?
        var committing: Task<Bool, Never>?
        var more = false
        var failed = false
        var unreadable = false
        while true {
            let batch: TimerBatch
            do {
                batch = try await compute(after: after)
            } catch {
                // Said once, not at every try: the loop backs off and tries again.
                if !readFailing.exchange(true, ordering: .relaxed) {
                    logger.error("cannot read due timers; retrying with backoff", metadata: ["error": "\(error)"])
                }
                more = false  // wait before trying again rather than retry at once
                failed = true
                break
            }
            if readFailing.exchange(false, ordering: .relaxed) { logger.notice("due timers readable again") }
            // The previous batch's tickets are not in this one (it starts after them), so computing it from
            // states read before that commit is safe.
            if let committing, await committing.value == false {
                more = false
                failed = true
                break
            }
            committing = nil
            if batch.due.isEmpty { break }
            if !batch.unreadable.isEmpty {
                // The other tickets' timers fire; these stay due, and the loop looks at them again a second
                // later rather than at once.
                metrics.timersUnreadable.increment(by: batch.unreadable.count)
                if unreadableSeen.firstReport(batch.unreadable) {
                    logger.error(
                        "cannot read the state of tickets with due timers; their timers wait",
                        metadata: ["ticket.ids": "\(batch.unreadable.prefix(20).joined(separator: ","))"])
                }
                unreadable = true
            }
            after = batch.due.last
            committing = Task { await self.commit(batch) }
            more = batch.due.count >= maxBatch
            if more { priority?.backlogBegan() }
            if !more || commandsWaiting() || stopping.requested { break }
        }
        if let committing, await committing.value == false {
            more = false
            failed = true
        }
        if !more, let priority {
            priority.backlogEnded()
            relay.notify()
        }
        return (more, failed, unreadable)
    }

    /// Reads one batch of due timers (after `after`, in due order) and computes their transitions: the
    /// reads on SQLite's reader connections, beside a commit on the writer.
    private func compute(after: DueTimer?) async throws -> TimerBatch {
        let now = clock()
        let started = ContinuousClock.now
        let due = try await store.dueTimers(until: now, after: after, limit: maxBatch)
        if due.isEmpty { return TimerBatch(due: [], changes: [], stale: 0, computed: .zero) }
        let fired = try await TimerFiring.changes(
            firing: due, now: { _ in now }, store: store, lifecycle: lifecycle,
            codec: codec)
        return TimerBatch(
            due: due, changes: fired.changes, stale: fired.stale, unreadable: fired.unreadable,
            computed: ContinuousClock.now - started)
    }

    /// Commits a computed batch, waiting with backoff while the store cannot write; false when it could not
    /// be written (another failure, or shutdown while the store cannot write: the timers stay due).
    private func commit(_ batch: TimerBatch) async -> Bool {
        let started = ContinuousClock.now
        do {
            _ = try await health.retrying("lifecycle", stop: stopping) { [store] in
                try await store.applyLifecycle(batch.changes)
            }
        } catch let error as StoreError where error.isStorageFailure || error.isFenced {
            return false
        } catch {
            logger.error("timer batch failed; retried shortly", metadata: ["error": "\(error)"])
            return false
        }
        // A timer has fired when its change is committed: lateness counts from then.
        let committed = clock()
        logger.debug(
            "timers fired",
            metadata: [
                "batch.size": "\(batch.due.count)", "batch.compute": "\(batch.computed)",
                "batch.commit": "\(ContinuousClock.now - started)",
                "batch.lateness_ms": "\(Int(committed.timeIntervalSince(batch.due[0].dueAt) * 1000))",
            ])
        let unfired = Set(batch.unreadable)
        for t in batch.due where !unfired.contains(t.ticketID) {
            metrics.timerLateness.record(milliseconds: Int(committed.timeIntervalSince(t.dueAt) * 1000))
        }
        metrics.timersFired.increment(by: batch.due.count - batch.stale - batch.unreadable.count)
        metrics.timersStale.increment(by: batch.stale)
        relay.notify()
        return true
    }
}

/// What firing a batch of due timers changes: reads the tickets' states, fires them, and encodes the new
/// states, timeline rows and messages (the ticket body only where an escalation hands it to a new unit).
/// No write: the lifecycle loop commits the changes; `pagoda-bench store --fire` times the same code.
public enum TimerFiring {
    public static func changes(
        firing due: [DueTimer], now: (DueTimer) -> Date, store: DispatchStore, lifecycle: Lifecycle,
        codec: LifecycleCodec
    ) throws -> (changes: [LifecycleChange], stale: Int, unreadable: [String]) {
        let records = try store.lifecycle(due.map(\.ticketID), withTicket: false)
        let (fired, stale, unreadable) = fire(due, records: records, now: now, lifecycle: lifecycle, codec: codec)
        let needing = carryingTicket(fired)
        let bodies = needing.isEmpty ? [:] : try store.ticketBodies(needing)
        return (encode(fired, bodies: bodies, codec: codec), stale, unreadable)
    }

    /// `changes`, reading through a lifecycle store's async access (the lifecycle loop's way).
    public static func changes(
        firing due: [DueTimer], now: (DueTimer) -> Date, store: any LifecycleStore,
        lifecycle: Lifecycle, codec: LifecycleCodec
    ) async throws
        -> (changes: [LifecycleChange], stale: Int, unreadable: [String])
    {
        let records = try await store.lifecycle(due.map(\.ticketID), withTicket: false)
        let (fired, stale, unreadable) = fire(due, records: records, now: now, lifecycle: lifecycle, codec: codec)
        let needing = carryingTicket(fired)
        let bodies = needing.isEmpty ? [:] : try await store.ticketBodies(needing)
        return (encode(fired, bodies: bodies, codec: codec), stale, unreadable)
    }

    private typealias Fired = (timer: DueTimer, record: LifecycleRecord, transition: Transition, at: Date)

    /// Fires each due timer on its ticket's state. A state that cannot be read (a damaged row) is left out
    /// and named in `unreadable`, so that one ticket cannot stop every other's timers.
    private static func fire(
        _ due: [DueTimer], records: [String: LifecycleRecord], now: (DueTimer) -> Date,
        lifecycle: Lifecycle, codec: LifecycleCodec
    ) -> (fired: [Fired], stale: Int, unreadable: [String]) {
        var fired: [Fired] = []
        fired.reserveCapacity(due.count)
        var stale = 0
        var unreadable: [String] = []
        for timer in due {
            guard let r = records[timer.ticketID] else { continue }
            guard let state = try? codec.decode(r.state) else {
                unreadable.append(timer.ticketID)
                continue
            }
            let at = now(timer)
            let t = lifecycle.fire(state, token: timer.token, now: at)
            if t.outcome == .staleTimer { stale += 1 }
            fired.append((timer, r, t, at))
        }
        return (fired, stale, unreadable)
    }

    /// Only an escalation hands the ticket to a new unit, with the ticket itself: the tickets whose bodies
    /// to read.
    private static func carryingTicket(_ fired: [Fired]) -> [String] {
        fired.filter { $0.transition.events.contains(where: \.carriesTicket) }.map(\.timer.ticketID)
    }

    private static func encode(_ fired: [Fired], bodies: [String: [UInt8]], codec: LifecycleCodec)
        -> [LifecycleChange]
    {
        var changes: [LifecycleChange] = []
        changes.reserveCapacity(fired.count)
        for (timer, r, t, at) in fired {
            guard let s = t.state else { continue }
            // A stale token (the row was replaced since it was read) rewrites the timer row from the state
            // as it is, with no events.
            let (rows, messages) = codec.encode(t.events, ticket: bodies[timer.ticketID])
            changes.append(
                LifecycleChange(
                    ticketID: timer.ticketID, expectedVersion: r.version, state: codec.encode(s),
                    events: rows, messages: messages, command: nil, at: at,
                    updatesTicket: s.phase.rawValue != r.phase || s.holder?.unit != r.unitID))
        }
        return changes
    }
}

/// Tickets already reported as unreadable at a firing, so that each is logged once.
final class UnreadableTickets: Sendable {
    private let seen = Mutex<Set<String>>([])

    /// Whether any of `ids` is reported for the first time (at most 10,000 are remembered).
    func firstReport(_ ids: [String]) -> Bool {
        seen.withLock { s in
            let new = ids.filter { !s.contains($0) }
            if s.count < 10_000 { s.formUnion(new) }
            return !new.isEmpty
        }
    }
}
