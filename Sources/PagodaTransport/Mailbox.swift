import CAMQPShim
import Foundation
import Synchronization

/// Lock-protected queue between async callers and one connection thread.
///
/// Thread safety: `@unchecked Sendable` because every mutable field below is read and written
/// only while holding `condition` (an NSCondition, i.e. a mutex + condition variable).
/// The connection thread waits on its socket and on the mailbox at once (`waitForWork`): an eventfd that
/// `post` and `requestClose` make readable while the thread waits, so an idle connection sleeps until a
/// frame arrives or work is posted instead of waking every few milliseconds to look.
final class Mailbox<Item: Sendable>: @unchecked Sendable {
    private let condition = NSCondition()
    private var items: [Item] = []
    private var head = 0
    private var accepting = true
    private var finished = false
    private var closeDeadline: ContinuousClock.Instant?
    private var closeWaiters: [CheckedContinuation<Void, Never>] = []
    /// Readable while the thread is to wake; -1 if it could not be made (then waits are short).
    private let wakeDescriptor = pagoda_wake_open()
    /// The thread is in `waitForWork`: wake it on close, and on a post when `wakeOnPost`.
    private var waiting = false
    private var wakeOnPost = false

    deinit {
        if wakeDescriptor >= 0 { close(wakeDescriptor) }
    }

    /// Enqueues unless close() has been requested. Returns false if rejected.
    func post(_ item: Item) -> Bool {
        condition.lock()
        defer { condition.unlock() }
        guard accepting else { return false }
        items.append(item)
        condition.signal()
        if wakeOnPost { wakeLocked() }
        return true
    }

    private func wakeLocked() {
        guard waiting else { return }
        waiting = false
        _ = pagoda_wake_signal(wakeDescriptor)
    }

    /// How a connection thread waits in `waitForWork`.
    enum Wait {
        /// Idle: until a frame arrives, an item is posted or close is requested.
        case forWork
        /// Busy a moment ago: for a frame only, letting items gather meanwhile (under load this batches
        /// them, as each wake-up costs system calls on both sides).
        case forFrames
        /// Items cannot be taken now (a publisher whose confirm window is full): for a frame only, even
        /// when items are waiting.
        case forFramesWithItemsWaiting
    }

    /// Blocks the connection thread until `socket` is readable, close is requested or `limit` passes, and
    /// with `.forWork` until an item is posted; returns at once when an item is waiting already (except
    /// `.forFramesWithItemsWaiting`). `limit` bounds how late the thread sends a heartbeat or notices a
    /// close deadline. Returns whether the socket is readable.
    func waitForWork(socket: Int32, limit: Duration, _ mode: Wait) -> Bool {
        condition.lock()
        if mode != .forFramesWithItemsWaiting && head < items.count {
            condition.unlock()
            return false
        }
        waiting = wakeDescriptor >= 0
        wakeOnPost = mode == .forWork
        condition.unlock()
        let wait = wakeDescriptor >= 0 ? limit : min(limit, .milliseconds(2))
        let ms = max(
            0, Int32(clamping: wait.components.seconds * 1000 + wait.components.attoseconds / 1_000_000_000_000_000))
        let ready = pagoda_wait_readable(socket, wakeDescriptor, ms)
        condition.lock()
        waiting = false
        condition.unlock()
        if ready & 2 != 0 { pagoda_wake_drain(wakeDescriptor) }
        return ready & 1 != 0
    }

    /// How long a thread that was busy a moment ago waits for frames before it sleeps until woken.
    static var linger: Duration { .milliseconds(1) }

    func pop() -> Item? {
        condition.lock()
        defer { condition.unlock() }
        guard head < items.count else { return nil }
        let item = items[head]
        head += 1
        compactLocked()
        return item
    }

    func drainAll() -> [Item] {
        condition.lock()
        defer { condition.unlock() }
        let out = Array(items[head...])
        items.removeAll(keepingCapacity: true)
        head = 0
        return out
    }

    var isEmpty: Bool {
        condition.lock()
        defer { condition.unlock() }
        return head >= items.count
    }

    private func compactLocked() {
        if head == items.count {
            items.removeAll(keepingCapacity: true)
            head = 0
        } else if head > 1024 && head * 2 > items.count {
            items.removeFirst(head)
            head = 0
        }
    }

    /// Asks the connection thread to shut down; `waiter` resumes when it has finished.
    func requestClose(timeout: Duration, waiter: CheckedContinuation<Void, Never>) {
        condition.lock()
        if finished {
            condition.unlock()
            waiter.resume()
            return
        }
        accepting = false
        let deadline = ContinuousClock.now + timeout
        if let existing = closeDeadline {
            closeDeadline = min(existing, deadline)
        } else {
            closeDeadline = deadline
        }
        closeWaiters.append(waiter)
        condition.broadcast()
        wakeLocked()
        condition.unlock()
    }

    /// Deadline for a graceful close, if one was requested.
    var closeRequested: ContinuousClock.Instant? {
        condition.lock()
        defer { condition.unlock() }
        return closeDeadline
    }

    /// Blocks the connection thread until `deadline` or until close() is requested.
    func sleep(until deadline: ContinuousClock.Instant) {
        condition.lock()
        defer { condition.unlock() }
        while closeDeadline == nil {
            let remaining = ContinuousClock.now.duration(to: deadline)
            if remaining <= .zero { return }
            _ = condition.wait(until: Date().addingTimeInterval(remaining.seconds))
        }
    }

    /// Marks the mailbox finished, hands the items never taken to `remaining`, then resumes close() waiters.
    func finish(_ remaining: ([Item]) -> Void) {
        condition.lock()
        accepting = false
        finished = true
        let rest = Array(items[head...])
        items.removeAll()
        head = 0
        let waiters = closeWaiters
        closeWaiters.removeAll()
        condition.unlock()
        remaining(rest)
        for w in waiters { w.resume() }
    }
}

/// State readable from any thread, written by the connection thread.
/// Sendable because all mutable state lives inside `Synchronization.Mutex`.
final class EndpointShared: Sendable {
    let countersBox = Mutex(TransportCounters())
    let stateBox = Mutex(ConnectionState.connecting)
    /// What the connection declares each time it connects (a publisher's can grow while it runs).
    let topologyBox = Mutex(Topology.empty)

    var topology: Topology {
        get { topologyBox.withLock { $0 } }
        set { topologyBox.withLock { $0 = newValue } }
    }

    func count(_ body: (inout TransportCounters) -> Void) {
        countersBox.withLock { body(&$0) }
    }

    var counters: TransportCounters { countersBox.withLock { $0 } }

    var state: ConnectionState {
        get { stateBox.withLock { $0 } }
        set { stateBox.withLock { $0 = newValue } }
    }

    func waitUntilConnected(timeout: Duration) async throws {
        let deadline = ContinuousClock.now + timeout
        while true {
            switch state {
            case .connected: return
            case .closed: throw AMQPError.closed
            default: break
            }
            if ContinuousClock.now >= deadline { throw AMQPError.timedOut("not connected within \(timeout)") }
            try await Task.sleep(for: .milliseconds(10))
        }
    }
}

/// Computes reconnect delays; resets after a connection that stayed up for a while.
struct BackoffState {
    let policy: ReconnectBackoff
    var failuresInARow = 0
    var connectedAt: ContinuousClock.Instant?

    mutating func nextDelay() -> Duration {
        defer { failuresInARow += 1 }
        return policy.delay(attempt: failuresInARow)
    }

    mutating func didConnect() { connectedAt = .now }

    mutating func didDisconnect() {
        if let at = connectedAt, at.duration(to: .now) >= .seconds(5) { failuresInARow = 0 }
        connectedAt = nil
    }
}

/// When a connection thread sleeps before reading frames, and whether it reads them then: the same for
/// the consumer and the publisher.
struct FrameWait {
    /// When the thread last called the library to read frames.
    private var lastRead = ContinuousClock.now
    /// A frame or posted work came since the thread last slept: it lingers for frames next.
    private var busy = false

    /// Sleeps (see `Mailbox.Wait`) unless the library has input buffered, and tells whether to read frames
    /// now. `itemsBlocked`: posted items cannot be taken (a publisher's full confirm window). Woken by
    /// posted work with nothing to read, the thread does that work first, unless the library has not been
    /// called for half of `interval`: it sends heartbeats and notices a silent broker only when called, so
    /// an idle wait that ran to `interval` always reads.
    mutating func wait<Item>(
        _ mailbox: Mailbox<Item>, _ session: AMQPSession, interval: Duration, itemsBlocked: Bool,
        shared: EndpointShared
    ) -> Bool {
        if !session.hasBufferedInput {
            shared.count { $0.waits += 1 }
            let socket = session.socketDescriptor
            let readable =
                if itemsBlocked {
                    mailbox.waitForWork(socket: socket, limit: interval, .forFramesWithItemsWaiting)
                } else if busy {
                    mailbox.waitForWork(socket: socket, limit: Mailbox<Item>.linger, .forFrames)
                } else {
                    mailbox.waitForWork(socket: socket, limit: interval, .forWork)
                }
            busy = !mailbox.isEmpty
            if !readable && ContinuousClock.now - lastRead < interval / 2 { return false }
        }
        lastRead = .now
        return true
    }

    /// A frame was handled: the thread lingers for more before it sleeps.
    mutating func handledFrame() { busy = true }
}
