import Dispatch

/// Runs blocking work (SQLite writes and their fsyncs) on its own serial thread, never on the Swift
/// concurrency pool, and hands the result back to async code.
public final class BlockingQueue: Sendable {
    private let queue: DispatchQueue

    public init(label: String) { queue = DispatchQueue(label: label, qos: .userInitiated) }

    public func run<T: Sendable>(_ body: @escaping @Sendable () throws -> T) async throws -> T {
        try await withCheckedThrowingContinuation { continuation in
            queue.async { continuation.resume(with: Result { try body() }) }
        }
    }
}
