import PagodaTransport
import Synchronization

/// A level-triggered wake-up between tasks: any number of `notify()` calls wake the one waiting task
/// once (or the next `wait()` returns at once). Cancelling a waiter is safe and leaves the signal usable.
final class Signal: Sendable {
    private struct State {
        var pending = false
        var finished = false
        var waiter: CheckedContinuation<Bool, Never>?
    }
    private let state = Mutex(State())

    init() {}

    func notify() {
        let waiter = state.withLock { s -> CheckedContinuation<Bool, Never>? in
            if let w = s.waiter {
                s.waiter = nil
                return w
            }
            s.pending = true
            return nil
        }
        waiter?.resume(returning: true)
    }

    func finish() {
        let waiter = state.withLock { s -> CheckedContinuation<Bool, Never>? in
            s.finished = true
            defer { s.waiter = nil }
            return s.waiter
        }
        waiter?.resume(returning: false)
    }

    /// Returns true when notified, false once finished (or when the waiting task is cancelled).
    func wait() async -> Bool {
        await withTaskCancellationHandler {
            await withCheckedContinuation { (c: CheckedContinuation<Bool, Never>) in
                let immediate: Bool? = state.withLock { s in
                    if s.pending {
                        s.pending = false
                        return true
                    }
                    if s.finished || Task.isCancelled { return false }
                    s.waiter = c
                    return nil
                }
                if let immediate { c.resume(returning: immediate) }
            }
        } onCancel: {
            let waiter = state.withLock { s -> CheckedContinuation<Bool, Never>? in
                defer { s.waiter = nil }
                return s.waiter
            }
            waiter?.resume(returning: false)
        }
    }
}

extension Signal {
    /// Like `wait()`, and also returns true once `timeout` has passed without a notification.
    func wait(atMost timeout: Duration) async -> Bool {
        let ticker = Task {
            try? await Task.sleep(for: timeout)
            if !Task.isCancelled { notify() }
        }
        defer { ticker.cancel() }
        return await wait()
    }
}

/// Deliveries taken off the consumer stream, waiting to be processed in a batch.
final class Buffer<Element: Sendable>: Sendable {
    private let items = Mutex<[Element]>([])

    func append(_ e: Element) { items.withLock { $0.append(e) } }

    func drain(max: Int) -> [Element] {
        items.withLock { all in
            let n = Swift.min(max, all.count)
            let batch = Array(all.prefix(n))
            all.removeFirst(n)
            return batch
        }
    }

    var isEmpty: Bool { items.withLock { $0.isEmpty } }
}

extension Buffer where Element == Delivery {
    /// Moves a consumer's deliveries into the buffer as they arrive, waking `signal` for each; finishes
    /// `signal` when the consumer's stream ends.
    func fill(from consumer: any DeliverySource, waking signal: Signal) async {
        for await delivery in consumer.deliveries {
            append(delivery)
            signal.notify()
        }
        signal.finish()
    }
}

extension Delivery {
    /// How often the broker delivered this message before (quorum queues count it in `x-delivery-count`;
    /// elsewhere a redelivery counts once).
    var earlierAttempts: Int { Int(headers["x-delivery-count"]?.intValue ?? (redelivered ? 1 : 0)) }
}
