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

    public init() {}

    public var summary: [String: Int] {
        ["dispatched": dispatched.count, "duplicates": duplicates.count, "rejected": rejected.count,
         "processing_failures": processingFailures.count, "published": published.count, "republished": republished.count,
         "returned": returned.count]
    }
}
