import Dispatch

/// Runs blocking work on its own serial thread, never on the Swift concurrency pool, and hands the result
/// back to async code.
///
/// Only for work that has no async form and truly blocks: declaring topology through rabbitmq-c on a
/// connection of its own (the relay's redeclare, the start's queue check, a rules reload) and reading and
/// compiling rule files. The store needs none: its async access runs on GRDB's own connection queues.
public final class BlockingQueue: Sendable {
    private let queue: DispatchQueue

    public init(label: String) { queue = DispatchQueue(label: label, qos: .userInitiated) }

    public func run<T: Sendable>(_ body: @escaping @Sendable () throws -> T) async throws -> T {
        try await withCheckedThrowingContinuation { continuation in
            queue.async { continuation.resume(with: Result { try body() }) }
        }
    }
}
