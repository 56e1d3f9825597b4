import CoreMetrics
import Foundation
import Logging
import PagodaJSON
import PagodaRules
import PagodaStore
import PagodaTransport
import ServiceLifecycle

/// Consumes `pagoda.intake`, processes deliveries in batches, commits each batch in one SQLite
/// transaction, and acknowledges a delivery only after its batch committed.
///
/// Batching is natural: while one batch is being written, the next is processed and new deliveries
/// accumulate for it; the commits stay in delivery order, one at a time. A batch that fails to commit is
/// retried one delivery at a time, so one bad message cannot hold back the others; a delivery whose own
/// write still fails on its `maxAttempts`-th delivery (quorum queues count them) is stored as a poison
/// rejection instead of going back to the queue.
///
/// The broker's count also grows for deliveries returned through no fault of theirs (a restart or a lost
/// lease while the store could not write, a consumer timeout), so a valid ticket delivered many times is
/// still processed. Only after `crashLimit` earlier deliveries is a message set aside as poison without
/// being processed: one whose processing stops the process would otherwise stop intake at every start.
/// The deliveries returned with it by each crash reach that count with it and are set aside too; the
/// limit is high so that an incident of the other kind does not reach it (50 hours of a full disk at the
/// broker's 30-minute consumer timeout).
///
/// A commit that fails for the store's reasons (disk full, I/O error, read-only, `StoreHealth`) is not the
/// messages' fault: the batch's deliveries stay unacknowledged (the consumer's prefetch then stops the
/// broker sending more) and the same commit is tried again with backoff until the store writes, so no
/// attempt is counted against them. Only at graceful shutdown does it give up, returning the deliveries
/// to the queue for the next start.
final class IntakeService: Service {
    /// `pagoda.intake` (an `AMQPConsumer` in service).
    let consumer: any DeliverySource
    let store: any IntakeStore
    /// The rules in force: each batch is processed under the generation current when it is prepared.
    let rules: LiveRules
    let relay: Signal
    /// Called after each batch is committed: the lifecycle loop looks at the timers its dispatches started.
    let timersChanged: @Sendable () -> Void
    let logger: Logger
    let maxBatch: Int
    let maxAttempts: Int
    /// Earlier deliveries after which a message is rejected as poison unprocessed (20 times `maxAttempts`).
    var crashLimit: Int { maxAttempts * 20 }
    let metrics: ServiceMetrics
    let health: StoreHealth
    /// Set at graceful shutdown: a commit waiting for the store gives up.
    let stopping = ShutdownFlag()

    init(
        consumer: any DeliverySource, store: any IntakeStore, rules: LiveRules,
        relay: Signal, timersChanged: @escaping @Sendable () -> Void = {}, metrics: ServiceMetrics,
        health: StoreHealth, logger: Logger, maxBatch: Int = 256, maxAttempts: Int = 5
    ) {
        self.consumer = consumer
        self.store = store
        self.rules = rules
        self.relay = relay
        self.timersChanged = timersChanged
        self.metrics = metrics
        self.health = health
        self.logger = logger
        self.maxBatch = maxBatch
        self.maxAttempts = maxAttempts
    }

    func run() async throws {
        let buffer = Buffer<Delivery>()
        let arrived = Signal()
        let consumer = self.consumer
        try await withGracefulShutdownHandler {
            try await withThrowingTaskGroup(of: Void.self) { group in
                group.addTask { await buffer.fill(from: consumer, waking: arrived) }
                // One batch is committed while the next is processed: the commit (SQLite and its fsync,
                // on the store's writer queue) and the processing (validation, routing, lifecycle start) overlap.
                // Commits stay in order and at most one is in flight.
                var committing: Task<Void, Never>?
                func pipeline() async {
                    while !buffer.isEmpty {
                        // One rule set for the whole batch, even if a reload lands meanwhile.
                        let processor = rules.current.processor
                        var batch = buffer.drain(max: maxBatch)
                        var records = prepare(batch, processor)
                        await committing?.value
                        // What arrived while the previous batch committed joins this one.
                        while batch.count < maxBatch && !buffer.isEmpty {
                            let more = buffer.drain(max: maxBatch - batch.count)
                            batch += more
                            records += prepare(more, processor)
                        }
                        committing = Task { [batch, records] in await self.commit(batch, records) }
                    }
                }
                while true {
                    await pipeline()
                    guard await arrived.wait() else { break }
                }
                // The stream ended (consumer closed): settle whatever arrived last.
                await pipeline()
                await committing?.value
                try await group.waitForAll()
            }
        } onGracefulShutdown: {
            // Stop consuming; deliveries already received are still processed and acknowledged, and the
            // consumer's close waits for them before the stream ends.
            self.stopping.request()
            Task { await consumer.close(timeout: .seconds(30)) }
        }
        logger.info("intake stopped")
    }

    private func prepare(_ batch: [Delivery], _ processor: IntakeProcessor) -> [IntakeRecord] {
        let now = Date()
        return batch.map { record(for: $0, processor: processor, now: now) }
    }

    private func commit(_ batch: [Delivery], _ records: [IntakeRecord]) async {
        guard !batch.isEmpty else { return }
        let clock = ContinuousClock()
        let started = clock.now
        do {
            let outcomes = try await write(records)
            let committed = clock.now
            settle(batch, records, outcomes)
            logger.debug(
                "batch committed",
                metadata: [
                    "batch.size": "\(batch.count)", "batch.commit": "\(committed - started)",
                ])
        } catch let error as StoreError where error.isStorageFailure || error.isFenced {
            giveUp(batch)
        } catch {
            logger.warning(
                "batch commit failed; retrying one by one",
                metadata: ["batch.size": "\(batch.count)", "error": "\(error)"])
            for (i, (d, r)) in zip(batch, records).enumerated() {
                do {
                    let outcomes = try await write([r])
                    settle([d], [r], outcomes)
                } catch let error as StoreError where error.isStorageFailure || error.isFenced {
                    giveUp(Array(batch[i...]))
                    break
                } catch {
                    metrics.processingFailures.increment()
                    if d.earlierAttempts + 1 >= maxAttempts, await setAside(d, error: error) { continue }
                    logger.error(
                        "delivery failed; returned to the queue",
                        metadata: [
                            "amqp.message_id": "\(d.messageId ?? "-")", "error": "\(error)",
                        ])
                    consumer.nack(d, requeue: true)
                }
            }
        }
        relay.notify()
        timersChanged()
    }

    /// Records a delivery whose own write failed on its last allowed attempt as a poison rejection and
    /// acknowledges it; false (the delivery unsettled) when that cannot be written either.
    private func setAside(_ d: Delivery, error: any Error) async -> Bool {
        let attempts = d.earlierAttempts + 1
        let record = rules.current.processor.poison(
            body: d.body, messageID: d.messageId, attempts: attempts, error: "\(error)", now: Date())
        guard let outcomes = try? await write([record]) else { return false }
        logger.error(
            "delivery rejected as poison",
            metadata: ["amqp.message_id": "\(d.messageId ?? "-")", "attempts": "\(attempts)", "error": "\(error)"])
        settle([d], [record], outcomes)
        return true
    }

    /// Commits `records`, waiting with backoff while the store cannot write; throws a failure of the data
    /// at once, and the store's failure only once shutdown began.
    private func write(_ records: [IntakeRecord]) async throws -> [IntakeOutcome] {
        try await health.retrying("intake", stop: stopping) { [store] in try await store.recordDispatches(records) }
    }

    /// Shutdown while the store cannot write: the deliveries go back to the queue for the next start.
    private func giveUp(_ deliveries: [Delivery]) {
        logger.warning(
            "store cannot write at shutdown; deliveries returned to the queue",
            metadata: [
                "batch.size": "\(deliveries.count)"
            ])
        for d in deliveries { consumer.nack(d, requeue: true) }
    }

    private func record(for d: Delivery, processor: IntakeProcessor, now: Date) -> IntakeRecord {
        let attempts = d.earlierAttempts
        if attempts >= crashLimit {
            return processor.poison(
                body: d.body, messageID: d.messageId, attempts: attempts, error: "earlier attempts did not complete",
                now: now)
        }
        return processor.process(body: d.body, messageID: d.messageId, now: now)
    }

    private func settle(_ batch: [Delivery], _ records: [IntakeRecord], _ outcomes: [IntakeOutcome]) {
        for ((d, record), outcome) in zip(zip(batch, records), outcomes) {
            switch outcome {
            case .recorded(let seq):
                metrics.dispatched.increment()
                if case .dispatch(let t) = record {
                    for w in t.warnings {
                        metrics.intakeWarnings.increment(TicketContract.warningField(of: w.path), w.code.rawValue)
                    }
                }
                logger.debug(
                    "dispatched", metadata: ["amqp.message_id": "\(d.messageId ?? "-")", "dispatch.seq": "\(seq)"])
            case .duplicate(let seq):
                metrics.duplicates.increment()
                logger.info(
                    "duplicate ticket acknowledged without a second dispatch",
                    metadata: [
                        "amqp.message_id": "\(d.messageId ?? "-")", "dispatch.seq": "\(seq)",
                    ])
            case .rejected, .duplicateRejection:
                metrics.rejected.increment()
            }
            consumer.ack(d)
        }
    }
}
