import CoreMetrics
import Logging
import PagodaJSON
import PagodaStore
import Synchronization

/// Whether the store can write, as the parts that write to it (intake, the lifecycle loop, the outbox
/// relay, retention) last found, and how they wait while it cannot.
///
/// A write that fails for the store's reasons (`StoreError.isStorageFailure`: the disk full, an I/O error,
/// a read-only file, a lock held too long) says nothing about the messages it carried. The part that
/// tried holds its work (deliveries stay unacknowledged, so the broker neither redelivers them nor counts
/// an attempt) and tries the same write again after a pause that doubles from 100 ms to 5 s. The first
/// such failure is logged once, as an error; the store counts as unable to write until every part that
/// failed has written again, which is logged once too. Meanwhile `/ready` answers 503 naming the store,
/// and `pagoda_store_writable` is 0.
public final class StoreHealth: Sendable {
    private struct State {
        /// The parts whose last write failed for the store's reasons, with the failure.
        var failing: [String: StoreError] = [:]
        var since: ContinuousClock.Instant?
        var failedWrites = 0
    }

    private let state = Mutex(State())
    /// Writes that failed for the store's reasons, since start (`pagoda_store_write_failures_total`).
    let failedWrites: CoreMetrics.Counter
    let logger: Logger

    /// Told of a write the fencing token refused (`StoreError.fenced`): the node's lease (`NodeLease`).
    let onFenced: @Sendable (StoreError) -> Void

    /// `failedWrites` counts every failed write (the service passes `ServiceMetrics.storeWriteFailures`);
    /// `fenced` is told of every write refused because the node lost the lease.
    init(
        logger: Logger,
        failedWrites: CoreMetrics.Counter = CoreMetrics.Counter(
            label: "pagoda_store_write_failures_total",
            factory: NOOPMetricsHandler.instance),
        fenced: @escaping @Sendable (StoreError) -> Void = { _ in }
    ) {
        self.logger = logger
        self.failedWrites = failedWrites
        self.onFenced = fenced
    }

    /// Notes a write refused by the fencing token: not a failure of the store, the node lost the lease.
    func fenced(_ error: StoreError) { onFenced(error) }

    /// True unless some part's last write failed for the store's reasons.
    public var writable: Bool { state.withLock { $0.failing.isEmpty } }

    /// A failure that keeps the store from writing, if there is one now.
    public var problem: StoreError? { state.withLock { s in s.failing.sorted { $0.key < $1.key }.first?.value } }

    /// Notes a write by `role` that failed for the store's reasons; logs when the store was writable until now.
    func failed(_ role: String, _ error: StoreError) {
        failedWrites.increment()
        let first = state.withLock { s -> Bool in
            s.failedWrites += 1
            let first = s.failing.isEmpty
            s.failing[role] = error
            if first { s.since = .now }
            return first
        }
        if first {
            logger.error(
                "store cannot write; holding work unacknowledged and retrying with backoff",
                metadata: [
                    "store.role": "\(role)", "store.error": "\(error.code.rawValue)", "error": "\(error.message)",
                ])
        }
    }

    /// Notes a write by `role` that succeeded; logs when it was the last part waiting for the store.
    func succeeded(_ role: String) {
        let recovered = state.withLock { s -> (Duration, Int)? in
            guard s.failing.removeValue(forKey: role) != nil, s.failing.isEmpty else { return nil }
            defer {
                s.since = nil
                s.failedWrites = 0
            }
            return (s.since.map { .now - $0 } ?? .zero, s.failedWrites)
        }
        if let (duration, failures) = recovered {
            logger.notice(
                "store writes again",
                metadata: [
                    "store.role": "\(role)", "store.unwritable_for": "\(duration)",
                    "store.failed_writes": "\(failures)",
                ])
        }
    }

    /// Runs `write` until it succeeds, retrying after failures for the store's reasons with a pause that
    /// doubles from 100 ms to 5 s; throws what else it throws at once.
    ///
    /// When `stop` is requested (graceful shutdown) it gives up waiting and throws the store's failure, so
    /// the caller can leave its work for the next start. A write refused by the fencing token (the node
    /// lost the lease) is not the store's failure: it is reported (`fenced`), which stops the node's active
    /// services, and held the same way until `stop` (thrown at once without a `stop` to wait for).
    func retrying<T: Sendable>(
        _ role: String, stop: ShutdownFlag? = nil,
        _ write: () async throws -> T
    ) async throws -> T {
        var backoff = Backoff()
        while true {
            do {
                let result = try await write()
                succeeded(role)
                return result
            } catch let error as StoreError where error.isStorageFailure {
                failed(role, error)
                if stop?.requested == true || Task.isCancelled { throw error }
                try? await Task.sleep(for: backoff.next())
            } catch let error as StoreError where error.isFenced {
                fenced(error)
                guard let stop, !stop.requested, !Task.isCancelled else { throw error }
                try? await Task.sleep(for: .milliseconds(50))
            }
        }
    }
}

/// Pauses between retries: 100 ms, doubling to at most 5 s.
struct Backoff: Sendable {
    static let first = Duration.milliseconds(100)
    static let limit = Duration.seconds(5)
    private(set) var delay = Backoff.first

    /// The pause to take now; the next one is twice as long, up to `limit`.
    mutating func next() -> Duration {
        defer { delay = min(delay * 2, Self.limit) }
        return delay
    }

    mutating func reset() { delay = Self.first }
}
