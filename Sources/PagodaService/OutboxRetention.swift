import Foundation
import Logging
import PagodaJSON
import PagodaStore
import ServiceLifecycle

/// How long messages the broker confirmed stay in the outbox (`pagoda serve --retention`).
///
/// Written as a whole number and a unit: `7d`, `36h`, `90m`, `30s`; `none` keeps them for good.
public struct OutboxRetentionPeriod: Sendable, Equatable, CustomStringConvertible {
    /// nil: never pruned.
    public var duration: Duration?

    public static let `default` = OutboxRetentionPeriod(duration: .seconds(7 * 86_400))
    public static let none = OutboxRetentionPeriod(duration: nil)

    public init(duration: Duration?) {
        self.duration = duration
    }

    /// `<n>d`, `<n>h`, `<n>m`, `<n>s` with n from 1 (at most 100 years), or `none`; nil for anything else.
    public init?(parsing text: String) {
        if text == "none" {
            self = .none
            return
        }
        guard let unit = text.last, let n = Int64(text.dropLast()), n >= 1 else { return nil }
        let seconds: Int64
        switch unit {
        case "d": seconds = 86_400
        case "h": seconds = 3_600
        case "m": seconds = 60
        case "s": seconds = 1
        default: return nil
        }
        guard n <= 36_500 * 86_400 / seconds else { return nil }
        self.init(duration: .seconds(n * seconds))
    }

    public var description: String {
        guard let duration else { return "none" }
        let s = duration.components.seconds
        for (unit, size) in [("d", Int64(86_400)), ("h", 3_600), ("m", 60)] where s % size == 0 {
            return "\(s / size)\(unit)"
        }
        return "\(s)s"
    }
}

/// Deletes the outbox rows the broker confirmed longer than the retention period ago, in small batches,
/// off the intake path (each batch on the store's writer queue, through GRDB's async access).
///
/// A sent row is no longer needed to publish anything: what it carried stays in the store's own tables
/// (the ticket and its decision, the timeline, the rejection with its body and reason), and unsent rows
/// are never touched. Every `interval` it deletes batches of `batchSize` rows, each one short
/// transaction with a pause after it, so intake commits pass between them. Failures are logged once
/// until a round succeeds again; the rows are simply deleted later. Stops at graceful shutdown.
final class OutboxRetention: Service {
    let store: any OutboxPruning
    let retention: Duration
    let interval: Duration
    let batchSize: Int
    let pause: Duration
    let logger: Logger

    init(
        store: any OutboxPruning, retention: Duration, interval: Duration? = nil, batchSize: Int = 500,
        pause: Duration = .milliseconds(50), logger: Logger
    ) {
        self.store = store
        self.retention = retention
        // A tenth of the period, between 1 s and 5 min: rows stay at most that much longer than the period.
        self.interval = interval ?? min(max(retention / 10, .seconds(1)), .seconds(300))
        self.batchSize = batchSize
        self.pause = pause
        self.logger = logger
    }

    func run() async throws {
        let stop = Signal()
        await withGracefulShutdownHandler {
            var failing = false
            var open = true
            while open {
                do {
                    let deleted = try await round(stop)
                    if failing { logger.notice("outbox pruning resumed") }
                    failing = false
                    if deleted > 0 {
                        logger.debug(
                            "outbox pruned",
                            metadata: [
                                "outbox.deleted": "\(deleted)", "outbox.retention": "\(retention)",
                            ])
                    }
                } catch {
                    if !failing { logger.warning("cannot prune the outbox; retrying", metadata: ["error": "\(error)"]) }
                    failing = true
                }
                open = await stop.wait(atMost: interval)
            }
        } onGracefulShutdown: {
            stop.finish()
        }
    }

    /// Deletes what is old enough, batch after batch; returns how many rows.
    private func round(_ stop: Signal) async throws -> Int {
        let retention = self.retention
        var total = 0
        while true {
            let cutoff = Date().addingTimeInterval(-Double(retention.components.seconds))
            let n = try await store.pruneSentOutbox(sentBefore: cutoff, limit: batchSize)
            total += n
            guard n == batchSize else { return total }
            // False once shutdown began: stop after this batch.
            guard await stop.wait(atMost: pause) else { return total }
        }
    }
}
