import CoreMetrics
import Foundation
import Logging
import PagodaJSON
import PagodaStore
import PagodaTransport
import ServiceLifecycle
import Synchronization

/// Publishes the outbox with publisher confirms and marks rows sent once the broker confirmed them.
///
/// Up to `window` rows are in flight at once; each row is one publish per destination queue plus the
/// copy to the events exchange (`PublishPlan`), and is marked sent only once every one of them is
/// confirmed. The relay reads only new rows (ids above the highest it has taken). A publish whose outcome
/// is unknown (the connection dropped before its confirm) or that was nacked is published again from
/// memory, alone; after a restart every unsent row is read again. A worker recognises a repeat by its
/// message id and dispatch sequence. A publish the broker returned as unroutable means its destination
/// queue is missing (deleted by hand): the relay declares that queue and its binding again (once for all
/// the publishes returned meanwhile), counts it (`pagoda_queue_redeclared_total`), logs a warning and
/// publishes them again. One it cannot attribute to a queue of ours is retried at the next tick.
/// On graceful shutdown the relay keeps going until the outbox is empty, or `drainTimeout` passes.
///
/// With several nodes on one PostgreSQL store, `active` says whether this node holds the lease (its local
/// deadline not passed, `NodeLease`): it is asked right before each publish window, and while it says no
/// the relay publishes nothing, not even what it holds for a retry, and a shutdown ends it without draining.
/// A mark refused by the fencing token is reported to the lease (`StoreHealth.fenced`), which ends the term.
final class OutboxRelay: Service {
    /// Publishes with confirms (an `AMQPPublisher` in service).
    let publisher: any MessagePublisher
    let store: any OutboxStore
    let wake: Signal
    let metrics: ServiceMetrics
    let logger: Logger
    let window: Int
    let drainTimeout: Duration
    /// Holds new publishes back, for a bounded time, while the lifecycle loop works off due timers.
    let priority: FiringPriority?
    let health: StoreHealth
    /// Turns a row into its publishes: one per destination queue and the events copy.
    let plan: PublishPlan
    /// Declares a missing destination queue again (with its binding), off the concurrency pool.
    let redeclare: @Sendable (Topology) async throws -> Void
    /// Whether this node may publish now (several nodes: it holds the lease); nil: always.
    let active: (@Sendable () -> Bool)?

    init(
        publisher: any MessagePublisher, store: any OutboxStore, wake: Signal, metrics: ServiceMetrics,
        health: StoreHealth, logger: Logger, names: Names,
        redeclare: @escaping @Sendable (Topology) async throws -> Void,
        window: Int = 256, drainTimeout: Duration = .seconds(20), priority: FiringPriority? = nil,
        active: (@Sendable () -> Bool)? = nil
    ) {
        self.active = active
        self.plan = PublishPlan(names: names)
        self.redeclare = redeclare
        self.publisher = publisher
        self.store = store
        self.wake = wake
        self.metrics = metrics
        self.logger = logger
        self.window = window
        self.drainTimeout = drainTimeout
        self.priority = priority
        self.health = health
    }

    enum Event: Sendable {
        case published(part: Part, outcome: PublishOutcome)
        case failed(part: Part, error: String)
        case redeclared(queue: String, error: String?)
        case tick
    }

    /// One publish of an outbox row (`PublishPlan`): the row is sent once all its parts are confirmed.
    struct Part: Sendable {
        let row: Int64
        let index: Int
        let plan: PublishPlan.Part
        /// When it was last published.
        var sentAt: ContinuousClock.Instant = .now
    }

    func run() async throws {
        let shutdown = ShutdownFlag()
        await withGracefulShutdownHandler {
            await relay(shutdown)
        } onGracefulShutdown: {
            shutdown.request()
            self.wake.notify()
        }
        logger.info("outbox relay stopped")
    }

    private func relay(_ shutdown: ShutdownFlag) async {
        // Rows taken and not yet marked sent, with the parts of each still unconfirmed.
        var inFlight: [Int64: Set<Int>] = [:]
        var confirmed: [Int64] = []
        // The highest outbox id taken so far; parts whose outcome was unknown are published again from
        // `retry`, so the store is only asked for new rows.
        var cursor: Int64 = 0
        // Whether the last read of the outbox failed (logged once until one succeeds).
        var readFailing = false
        var retry: [Part] = []
        var parked: [Part] = []
        // Parts the broker returned because their queue is missing, by queue, while it is declared again.
        var waiting: [String: [Part]] = [:]
        // Parts each queue confirmed lately: a queue deleted by hand takes with it the messages it was sent
        // just before, and the broker confirms those (the queue ended normally). When a publish to that
        // queue comes back, these are published again with the returned ones.
        var recent: [String: RecentParts] = [:]
        // Queues found missing: a confirm for a part published from `horizon` before the return until the
        // queue was declared again (`until`, nil while it is being declared) does not prove the queue has it.
        var suspect: [String: (since: ContinuousClock.Instant, until: ContinuousClock.Instant?)] = [:]
        var drainDeadline: ContinuousClock.Instant?
        var leaseLost = false
        await withTaskGroup(of: Event.self) { group in
            var tickerRunning = false
            var lastWasTick = true
            var lastFlush = ContinuousClock.now
            // After a failed mark, the next try waits (100 ms doubling to 5 s) instead of following every
            // confirm and tick; the confirmed rows keep their place in the window meanwhile, so nothing
            // new is published while the store cannot write.
            var backoff = Backoff()
            var nextFlush = ContinuousClock.now
            // Nacks since the last warning about them, and when that was (one warning in ten seconds).
            var nacks = 0
            var lastNackWarning: ContinuousClock.Instant?
            func send(_ part: Part, again: Bool) {
                if again { metrics.republished.increment() }
                var part = part
                part.sentAt = .now
                group.addTask { [publisher] in
                    do {
                        return .published(part: part, outcome: try await publisher.publish(part.plan.message))
                    } catch {
                        return .failed(part: part, error: "\(error)")
                    }
                }
            }
            while true {
                // Cancelled (another part of the service failed): stop at once; what is unsent stays in
                // the outbox for the next start.
                if Task.isCancelled { break }
                // Several nodes: nothing is published once this node's lease is lost (asked right before each
                // window); what it holds stays in the outbox, which the new active node publishes.
                let mayPublish = active?() ?? true
                if !mayPublish {
                    if !leaseLost {
                        leaseLost = true
                        logger.warning(
                            "lease lost: the outbox relay publishes nothing more",
                            metadata: ["outbox.in_flight": "\(inFlight.count)", "outbox.retry": "\(retry.count)"])
                    }
                    if shutdown.requested { break }
                }
                // Fill the window from the outbox, once a quarter of it is free (or on a tick), so the
                // store is not queried for every single confirm. While timers are being fired, new
                // messages wait (the loop's commits wake the relay, and the hold is bounded); a shutdown
                // drains at once.
                let holding = !mayPublish || (!shutdown.requested && priority?.relayShouldHold() == true)
                if !holding {
                    for part in retry { send(part, again: true) }
                    retry.removeAll()
                }
                if !holding
                    && (window - inFlight.count >= max(1, window / 4) || (lastWasTick && inFlight.count < window))
                {
                    let after = cursor
                    let limit = window - inFlight.count
                    let fresh: [OutboxEntry]
                    do {
                        fresh = try await store.pendingOutbox(after: after, limit: limit)
                        if readFailing {
                            readFailing = false
                            logger.notice("outbox readable again")
                        }
                    } catch {
                        // Said once, not at every tick: nothing after the cursor is published meanwhile.
                        if !readFailing {
                            readFailing = true
                            logger.error(
                                "cannot read the outbox; publishing waits",
                                metadata: ["outbox.after": "\(after)", "error": "\(error)"])
                        }
                        fresh = []
                    }
                    if let last = fresh.last { cursor = last.id }
                    for row in fresh {
                        let parts = plan.parts(row.message)
                        inFlight[row.id] = Set(parts.indices)
                        for (i, p) in parts.enumerated() { send(Part(row: row.id, index: i, plan: p), again: false) }
                    }
                }
                if shutdown.requested {
                    if drainDeadline == nil { drainDeadline = .now + drainTimeout }
                    let backlog = (try? await store.outboxBacklog()) ?? 0
                    if inFlight.isEmpty && confirmed.isEmpty && retry.isEmpty && parked.isEmpty && waiting.isEmpty
                        && backlog == 0
                    {
                        break
                    }
                    if let d = drainDeadline, .now > d {
                        logger.warning(
                            "shutting down with unsent outbox messages; they are sent at the next start",
                            metadata: ["outbox.backlog": "\(backlog)"])
                        break
                    }
                }
                if !tickerRunning {
                    tickerRunning = true
                    group.addTask { [wake] in
                        // Wake on a new commit, or poll: unknown outcomes are retried from the outbox.
                        await withTaskGroup(of: Void.self) { race in
                            race.addTask { _ = await wake.wait() }
                            race.addTask { try? await Task.sleep(for: .milliseconds(200)) }
                            await race.next()
                            race.cancelAll()
                        }
                        return .tick
                    }
                }
                guard let event = await group.next() else { break }
                lastWasTick = false
                switch event {
                case .tick:
                    tickerRunning = false
                    lastWasTick = true
                    retry += parked
                    parked.removeAll()
                case .published(let part, let outcome):
                    switch outcome {
                    case .confirmed:
                        if let queue = part.plan.queue, let s = suspect[queue] {
                            if let until = s.until, ContinuousClock.now - until > RecentParts.horizon {
                                suspect[queue] = nil
                            } else if part.sentAt >= s.since && (s.until.map { part.sentAt < $0 } ?? true) {
                                // Sent while the queue was being deleted: publish it again, into the new queue.
                                if waiting[queue] != nil { waiting[queue]?.append(part) } else { retry.append(part) }
                                break
                            }
                        }
                        if let queue = part.plan.queue, part.plan.redeclare != nil {
                            recent[queue, default: RecentParts()].add(part)
                        }
                        // A part published again after its row was confirmed (see `recent`) changes nothing.
                        if inFlight[part.row]?.remove(part.index) != nil && inFlight[part.row]?.isEmpty == true {
                            confirmed.append(part.row)
                            metrics.published.increment()
                        }
                    case .returned(let code, let text):
                        metrics.returned.increment()
                        guard let queue = part.plan.queue, let topology = part.plan.redeclare else {
                            logger.error(
                                "broker returned a message as unroutable; will retry",
                                metadata: [
                                    "outbox.id": "\(part.row)", "amqp.reply_code": "\(code)",
                                    "amqp.reply_text": "\(text)",
                                    "amqp.exchange": "\(part.plan.message.exchange)",
                                    "amqp.routing_key": "\(part.plan.message.routingKey)",
                                ])
                            // Wait for the next tick before trying again, without holding up other messages.
                            parked.append(part)
                            break
                        }
                        // Its destination queue is missing (deleted by hand): declare it again with its binding,
                        // then publish what came back again. The row is not sent until the queue has it.
                        let first = waiting[queue] == nil
                        waiting[queue, default: []].append(part)
                        if first {
                            suspect[queue] = (since: part.sentAt - RecentParts.horizon, until: nil)
                            let lately = recent.removeValue(forKey: queue)?.parts ?? []
                            waiting[queue, default: []] += lately
                            logger.warning(
                                "destination queue missing: the broker returned a message for it; declaring it again",
                                metadata: [
                                    "queue.name": "\(queue)", "outbox.id": "\(part.row)", "amqp.reply_code": "\(code)",
                                    "amqp.reply_text": "\(text)",
                                    "outbox.confirmed_lately": "\(lately.count)",
                                ])
                            group.addTask { [redeclare] in
                                do {
                                    try await redeclare(topology)
                                    return .redeclared(queue: queue, error: nil)
                                } catch {
                                    return .redeclared(queue: queue, error: "\(error)")
                                }
                            }
                        }
                    case .nacked:
                        // A nacking broker is asked again on the next tick, not at once; the publisher moves
                        // to another connection if every publish keeps being nacked.
                        parked.append(part)
                        nacks += 1
                        if lastNackWarning.map({ ContinuousClock.now - $0 >= .seconds(10) }) ?? true {
                            logger.warning(
                                "broker nacked publishes; publishing them again on the next tick",
                                metadata: ["outbox.nacked": "\(nacks)"])
                            lastNackWarning = .now
                            nacks = 0
                        }
                    case .outcomeUnknown:
                        retry.append(part)
                    }
                case .redeclared(let queue, let error):
                    let parts = waiting.removeValue(forKey: queue) ?? []
                    if let error {
                        logger.error(
                            "cannot declare a missing destination queue again; will retry",
                            metadata: [
                                "queue.name": "\(queue)", "error": "\(error)", "outbox.waiting": "\(parts.count)",
                            ])
                        // Only what was sent until now can have gone to the queue being deleted. Left open, the
                        // window would take every later confirm for suspect once the queue is back by other
                        // means (a reconnect declares it, an operator does), and publish again without end;
                        // if it is still missing, the parked parts come back returned and open a new one.
                        if suspect[queue] != nil { suspect[queue]?.until = .now }
                        parked += parts
                    } else {
                        metrics.queuesRedeclared.increment()
                        if suspect[queue] != nil { suspect[queue]?.until = .now }
                        logger.warning(
                            "destination queue declared again; publishing its returned messages again",
                            metadata: [
                                "queue.name": "\(queue)", "outbox.returned": "\(parts.count)",
                            ])
                        retry += parts
                    }
                case .failed(let part, let error):
                    logger.warning(
                        "publish failed; will retry", metadata: ["outbox.id": "\(part.row)", "error": "\(error)"])
                    retry.append(part)
                }
                // Mark rows sent in batches: each commit is an fsync. A crash before the commit only means
                // those messages are published again (same message id and dispatch sequence).
                // Flush when half a window is confirmed, or at most every 250 ms, so the relay does not take
                // the SQLite writer for every intake commit.
                let flush =
                    confirmed.count >= max(1, window / 2) || ContinuousClock.now - lastFlush >= .milliseconds(250)
                    || shutdown.requested
                if !confirmed.isEmpty && flush && ContinuousClock.now >= nextFlush {
                    let ids = confirmed
                    do {
                        try await store.markSent(ids, at: Date())
                        health.succeeded("relay")
                        backoff.reset()
                        for id in ids { inFlight[id] = nil }
                        confirmed.removeAll()
                        lastFlush = .now
                    } catch {
                        if let error = error as? StoreError, error.isStorageFailure {
                            health.failed("relay", error)
                        } else if let error = error as? StoreError, error.isFenced {
                            health.fenced(error)
                        } else {
                            logger.error("cannot mark outbox rows sent; retrying", metadata: ["error": "\(error)"])
                        }
                        // At shutdown the drain deadline still ends the loop; the marks are made again later.
                        nextFlush = .now + backoff.next()
                    }
                }
            }
            group.cancelAll()
            // Publishes still waiting for a confirm end when the connection closes, so the group can finish.
            await publisher.close(timeout: .seconds(5))
        }
    }
}

/// The parts a queue confirmed in the last `horizon` (at most `limit` of them), oldest first.
///
/// RabbitMQ confirms a message routed to a queue that is deleted before it enqueued it (the queue ended
/// normally), so the confirms just before a deletion do not prove the queue has those messages. Publishing
/// them again when the deletion is found makes them arrive at least once; a worker drops a repeat by its
/// message id and dispatch sequence.
struct RecentParts {
    static let horizon: Duration = .seconds(2)
    static let limit = 4_096
    private(set) var entries: [(at: ContinuousClock.Instant, part: OutboxRelay.Part)] = []
    private var start = 0

    mutating func add(_ part: OutboxRelay.Part, now: ContinuousClock.Instant = .now) {
        entries.append((now, part))
        while start < entries.count && (entries.count - start > Self.limit || now - entries[start].at > Self.horizon) {
            start += 1
        }
        if start > 1_024 && start * 2 > entries.count {
            entries.removeFirst(start)
            start = 0
        }
    }

    var parts: [OutboxRelay.Part] {
        let now = ContinuousClock.now
        return entries[start...].filter { now - $0.at <= Self.horizon }.map(\.part)
    }
}

/// Set once when graceful shutdown begins.
final class ShutdownFlag: Sendable {
    private let flag = Atomic<Bool>(false)
    func request() { flag.store(true, ordering: .relaxed) }
    var requested: Bool { flag.load(ordering: .relaxed) }
}
