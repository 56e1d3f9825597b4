import Synchronization

/// A monotonically increasing count, safe to bump from any thread.
public final class Counter: Sendable {
    private let value = Atomic<Int>(0)
    public init() {}
    public func increment(by n: Int = 1) { value.wrappingAdd(n, ordering: .relaxed) }
    public var count: Int { value.load(ordering: .relaxed) }
}

/// The service's counters (bounded: no per-ticket labels).
public final class ServiceMetrics: Sendable {
    public let dispatched = Counter()
    public let duplicates = Counter()
    public let rejected = Counter()
    public let processingFailures = Counter()
    public let published = Counter()
    public let republished = Counter()
    public let returned = Counter()
    /// Destination queues declared again after the broker returned a publish for them (deleted by hand).
    public let queuesRedeclared = Counter()
    public let commandsApplied = Counter()
    public let commandsRefused = Counter()
    public let commandsDuplicate = Counter()
    public let timersFired = Counter()
    public let timersStale = Counter()
    public let rulesReloaded = Counter()
    public let rulesReloadFailed = Counter()
    /// Timer lateness (fire time minus due time), the latest firings, for the timer benchmark.
    public let timerLateness = LatenessLog()
    /// Warnings on dispatched tickets (optional fields left out), by field (`TicketContract.warningField`)
    /// and code: both from closed sets.
    public let intakeWarnings = PairCounter()

    public init() {}

    public var summary: [String: Int] {
        ["dispatched": dispatched.count, "duplicates": duplicates.count, "rejected": rejected.count,
         "processing_failures": processingFailures.count, "published": published.count, "republished": republished.count,
         "returned": returned.count, "queue_redeclared": queuesRedeclared.count, "commands_applied": commandsApplied.count, "commands_refused": commandsRefused.count,
         "commands_duplicate": commandsDuplicate.count, "timers_fired": timersFired.count, "timers_stale": timersStale.count,
         "rules_reloaded": rulesReloaded.count, "rules_reload_failed": rulesReloadFailed.count]
    }
}

/// Counts by a pair of label values; the caller passes values from closed sets only.
public final class PairCounter: Sendable {
    private let counts = Mutex<[Pair: Int]>([:])

    struct Pair: Hashable { let first: String, second: String }

    public init() {}

    public func increment(_ first: String, _ second: String, by n: Int = 1) {
        counts.withLock { $0[Pair(first: first, second: second), default: 0] += n }
    }

    /// Every pair counted so far, ordered by its labels.
    public var counted: [(first: String, second: String, count: Int)] {
        counts.withLock { $0 }.map { ($0.key.first, $0.key.second, $0.value) }
            .sorted { ($0.first, $0.second) < ($1.first, $1.second) }
    }

    public func count(_ first: String, _ second: String) -> Int {
        counts.withLock { $0[Pair(first: first, second: second)] ?? 0 }
    }
}

/// A bounded log of timer lateness in milliseconds (the most recent 1,000,000 firings).
public final class LatenessLog: Sendable {
    /// Every lateness in milliseconds (at most the last million): a timer that fell due while the
    /// service was down for weeks is late by more than an `Int32` holds.
    private let values = Mutex<[Int]>([])
    private let buckets = Mutex(Histogram())

    /// Upper bounds, in milliseconds, of the histogram's buckets (a last one takes the rest).
    public static let bucketBounds = [100, 250, 500, 1_000, 2_000, 5_000, 10_000, 30_000, 60_000, 300_000]

    /// Every firing since start, by bucket: the cumulative counts for `le` bounds, the sum and the count.
    public struct Histogram: Sendable {
        public var counts = [Int](repeating: 0, count: LatenessLog.bucketBounds.count + 1)
        public var sum = 0
        public var count = 0
    }

    public init() {}

    public func record(milliseconds: Int) {
        values.withLock { v in
            if v.count >= 1_000_000 { v.removeFirst(v.count / 2) }
            v.append(milliseconds)
        }
        let i = Self.bucketBounds.firstIndex { milliseconds <= $0 } ?? Self.bucketBounds.count
        buckets.withLock { h in
            h.counts[i] += 1
            h.sum += milliseconds
            h.count += 1
        }
    }

    public var histogram: Histogram { buckets.withLock { $0 } }

    /// The given quantiles (0...1) of the recorded lateness, with the count; nil when empty.
    public func quantiles(_ qs: [Double]) -> (count: Int, values: [Int])? {
        let sorted = values.withLock { $0 }.sorted()
        guard !sorted.isEmpty else { return nil }
        return (sorted.count, qs.map { sorted[min(sorted.count - 1, Int(Double(sorted.count) * $0))] })
    }
}
