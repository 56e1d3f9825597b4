import Foundation
import Logging
import PagodaStore
import PagodaTransport
import ServiceLifecycle

/// Publishes the outbox with publisher confirms and marks rows sent once the broker confirmed them.
///
/// Up to `window` messages are in flight at once. The relay reads only new rows (ids above the highest
/// it has taken). A message whose outcome is unknown (the connection dropped before its confirm) or that
/// was nacked stays in the outbox and is published again from memory; after a restart every unsent row
/// is read again. A worker recognises a repeat by its message id and dispatch sequence. A message the broker returned as
/// unroutable is retried at the next tick and logged, since it means a destination queue is missing.
/// On graceful shutdown the relay keeps going until the outbox is empty, or `drainTimeout` passes.
final class OutboxRelay: Service {
    let publisher: AMQPPublisher
    let store: DispatchStore
    let storeQueue: BlockingQueue
    let wake: Signal
    let metrics: ServiceMetrics
    let logger: Logger
    let window: Int
    let drainTimeout: Duration
    /// Holds new publishes back, for a bounded time, while the lifecycle loop works off due timers.
    let priority: FiringPriority?
    let health: StoreHealth

    init(publisher: AMQPPublisher, store: DispatchStore, storeQueue: BlockingQueue, wake: Signal, metrics: ServiceMetrics,
         health: StoreHealth, logger: Logger, window: Int = 256, drainTimeout: Duration = .seconds(20),
         priority: FiringPriority? = nil) {
        self.publisher = publisher
        self.store = store
        self.storeQueue = storeQueue
        self.wake = wake
        self.metrics = metrics
        self.logger = logger
        self.window = window
        self.drainTimeout = drainTimeout
        self.priority = priority
        self.health = health
    }

    enum Event: Sendable {
        case published(id: Int64, outcome: PublishOutcome)
        case failed(id: Int64, error: String)
        case tick
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
        var inFlight: [Int64: OutboxMessage] = [:]
        var confirmed: [Int64] = []
        var attempts: [Int64: Int] = [:]
        // The highest outbox id taken so far; rows whose outcome was unknown are published again from
        // `retry`, so the store is only asked for new rows.
        var cursor: Int64 = 0
        var retry: [OutboxMessage] = []
        var parked: [OutboxMessage] = []
        var drainDeadline: ContinuousClock.Instant?
        await withTaskGroup(of: Event.self) { group in
            var tickerRunning = false
            var lastWasTick = true
            var lastFlush = ContinuousClock.now
            // After a failed mark, the next try waits (100 ms doubling to 5 s) instead of following every
            // confirm and tick; the confirmed rows keep their place in the window meanwhile, so nothing
            // new is published while the store cannot write.
            var backoff = Backoff()
            var nextFlush = ContinuousClock.now
            while true {
                // Cancelled (another part of the service failed): stop at once; what is unsent stays in
                // the outbox for the next start.
                if Task.isCancelled { break }
                // Fill the window from the outbox, once a quarter of it is free (or on a tick), so the
                // store is not queried for every single confirm. While timers are being fired, new
                // messages wait (the loop's commits wake the relay, and the hold is bounded); a shutdown
                // drains at once.
                let holding = !shutdown.requested && priority?.relayShouldHold() == true
                if !holding && (window - inFlight.count >= max(1, window / 4) || (lastWasTick && inFlight.count < window)) {
                    let room = window - inFlight.count
                    var pending = Array(retry.prefix(room))
                    retry.removeFirst(pending.count)
                    if pending.count < room {
                        let after = cursor, limit = room - pending.count
                        let fresh = (try? await storeQueue.run { [store] in try store.pendingOutbox(after: after, limit: limit) }) ?? []
                        if let last = fresh.last { cursor = last.id }
                        pending += fresh
                    }
                    for row in pending {
                        inFlight[row.id] = row
                        let n = attempts[row.id, default: 0]
                        attempts[row.id] = n + 1
                        if n > 0 { metrics.republished.increment() }
                        let message = Self.transportMessage(row.message)
                        group.addTask { [publisher] in
                            do {
                                return .published(id: row.id, outcome: try await publisher.publish(message))
                            } catch {
                                return .failed(id: row.id, error: "\(error)")
                            }
                        }
                    }
                }
                if shutdown.requested {
                    if drainDeadline == nil { drainDeadline = .now + drainTimeout }
                    let backlog = (try? await storeQueue.run { [store] in try store.outboxBacklog() }) ?? 0
                    if inFlight.isEmpty && confirmed.isEmpty && retry.isEmpty && parked.isEmpty && backlog == 0 { break }
                    if let d = drainDeadline, .now > d {
                        logger.warning("shutting down with unsent outbox messages; they are sent at the next start",
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
                case let .published(id, outcome):
                    switch outcome {
                    case .confirmed:
                        confirmed.append(id)
                        metrics.published.increment()
                    case let .returned(code, text):
                        metrics.returned.increment()
                        logger.error("broker returned a message as unroutable (a destination queue is missing); will retry", metadata: [
                            "outbox.id": "\(id)", "amqp.reply_code": "\(code)", "amqp.reply_text": "\(text)",
                        ])
                        // Wait for the next tick before trying again, without holding up other messages.
                        if let row = inFlight.removeValue(forKey: id) { parked.append(row) }
                    case .nacked, .outcomeUnknown:
                        if let row = inFlight.removeValue(forKey: id) { retry.append(row) }
                    }
                case let .failed(id, error):
                    logger.warning("publish failed; will retry", metadata: ["outbox.id": "\(id)", "error": "\(error)"])
                    if let row = inFlight.removeValue(forKey: id) { retry.append(row) }
                }
                // Mark rows sent in batches: each commit is an fsync. A crash before the commit only means
                // those messages are published again (same message id and dispatch sequence).
                // Flush when half a window is confirmed, or at most every 250 ms, so the relay does not take
                // the SQLite writer for every intake commit.
                let flush = confirmed.count >= max(1, window / 2) || ContinuousClock.now - lastFlush >= .milliseconds(250) || shutdown.requested
                if !confirmed.isEmpty && flush && ContinuousClock.now >= nextFlush {
                    let ids = confirmed
                    do {
                        _ = try await storeQueue.run { [store] in try store.markSent(ids, at: Date()) }
                        health.succeeded("relay")
                        backoff.reset()
                        for id in ids {
                            inFlight[id] = nil
                            attempts[id] = nil
                        }
                        confirmed.removeAll()
                        lastFlush = .now
                    } catch {
                        if let error = error as? StoreError, error.isStorageFailure {
                            health.failed("relay", error)
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

    static func transportMessage(_ m: StoredMessage) -> PagodaTransport.OutgoingMessage {
        var headers: [String: HeaderValue] = [:]
        for (k, v) in m.headers { headers[k] = .string(v) }
        if !m.extraRoutingKeys.isEmpty { headers["BCC"] = .array(m.extraRoutingKeys.map(HeaderValue.string)) }
        return PagodaTransport.OutgoingMessage(exchange: m.exchange, routingKey: m.routingKey, body: m.body, messageId: m.messageID,
                               contentType: m.contentType, headers: headers, persistent: true, timestamp: Date(), mandatory: m.mandatory)
    }
}

/// Set once when graceful shutdown begins.
final class ShutdownFlag: Sendable {
    private let flag = Counter()
    func request() { flag.increment() }
    var requested: Bool { flag.count > 0 }
}
