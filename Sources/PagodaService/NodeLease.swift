import Foundation
import Logging
import PagodaPostgres
import PagodaStore
import ServiceLifecycle
import Synchronization

/// What `ActiveRole` is told: the node's role changed, its active services ended, or shutdown began.
enum RoleEvent: Sendable {
    case change(LeaseTerm.Change)
    /// The services of term `term` ended (with the failure that ended them).
    case servicesEnded(term: Int, (any Error)?)
    case shutdown
}

/// The lease of this node on a PostgreSQL store shared by several `pagoda serve` (docs/architecture.md,
/// "Several nodes, one active"), run as a service of the group.
///
/// A standby tries to take the lease every `acquireEvery`; the active renews it every `renewEvery`. Each
/// attempt waits at most `attemptTimeout` for the database (an attempt that answers later is ignored; an
/// acquisition the node ignored is taken again, since the lease may be taken again by its own holder).
/// The decisions are `LeaseTerm`'s: the node is active only before its local deadline, so a node paused
/// (SIGSTOP) or cut off from the database stops by itself, and a refused renewal or a fenced write ends
/// its term at once. On a change the store's write fence is set first (the new epoch, or every write
/// refused), then the change is logged, counted (`pagoda_node_role_changes_total`) and sent to `ActiveRole`,
/// which starts or stops the active services. After losing the lease the node does not compete again
/// until those services have stopped (`competeAgain`). At graceful shutdown (after `ActiveRole` stopped
/// the services) the lease is given up, so a standby takes over without waiting for it to expire.
final class NodeLease: Service, Sendable {
    let store: PostgresStore
    /// This node's name in the lease row: host, process id and a random suffix (unique per process).
    let holder: String
    let renewEvery: Duration
    let acquireEvery: Duration
    let attemptTimeout: Duration
    let metrics: ServiceMetrics
    let logger: Logger
    private let term: Mutex<LeaseTerm>
    /// How long the database keeps the lease after each acquisition or renewal (the term's).
    let ttl: Duration
    private let competing = Atomic<Bool>(true)
    private let events: AsyncStream<RoleEvent>.Continuation
    private let stopping = ShutdownFlag()
    private let renewalFailing = Atomic<Bool>(false)

    init(
        store: PostgresStore, term: LeaseTerm = LeaseTerm(), renewEvery: Duration = .seconds(1),
        acquireEvery: Duration = .milliseconds(500), attemptTimeout: Duration = .seconds(2),
        events: AsyncStream<RoleEvent>.Continuation, metrics: ServiceMetrics, logger: Logger
    ) {
        self.store = store
        self.term = Mutex(term)
        ttl = term.ttl
        self.renewEvery = renewEvery
        self.acquireEvery = acquireEvery
        self.attemptTimeout = attemptTimeout
        self.events = events
        self.metrics = metrics
        self.logger = logger
        let host = ProcessInfo.processInfo.hostName
        let suffix = String(UInt32.random(in: 0...UInt32.max), radix: 36)
        holder = "\(host):\(ProcessInfo.processInfo.processIdentifier):\(suffix)"
        // Nothing is written before the lease is won.
        store.setWriteFence(.refused)
    }

    /// Whether the node may write and publish now: it holds the lease and its local deadline has not passed.
    var isActive: Bool { term.withLock { $0.isActive(at: .now) } }

    /// `active` or `standby`.
    var role: String { isActive ? "active" : "standby" }

    /// A write was refused by the fencing token: the node stops being active at once.
    func fenced(_ error: StoreError) {
        change(detail: ["error": "\(error.message)"]) { $0.fenced() }
    }

    /// The active services have stopped: the node competes for the lease again.
    func competeAgain() { competing.store(true, ordering: .relaxed) }

    func run() async throws {
        await withGracefulShutdownHandler {
            await keep()
        } onGracefulShutdown: {
            self.stopping.request()
        }
        let held = term.withLock { $0.epoch }
        change(detail: [:]) { $0.released() }
        if let held {
            do {
                try await store.releaseLease(holder: holder, epoch: held)
            } catch {
                logger.warning(
                    "cannot give the lease up; a standby takes over once it expires",
                    metadata: ["error": "\(error)"])
            }
        }
        events.finish()
    }

    /// Renews while active, tries to take the lease while standby, until shutdown.
    private func keep() async {
        logger.info("standby: competing for the lease", metadata: ["lease.holder": "\(holder)"])
        while !stopping.requested {
            change(detail: [:]) { $0.expire(.now) }
            let (epoch, deadline) = term.withLock { ($0.epoch, $0.deadline) }
            let started = ContinuousClock.now
            if let epoch {
                let answer = await Self.answer(within: attemptTimeout) { [store, holder, ttl] in
                    try await store.renewLease(holder: holder, epoch: epoch, ttl: ttl)
                }
                switch answer {
                case .success(true):
                    if renewalFailing.exchange(false, ordering: .relaxed) {
                        logger.notice("lease renewed again", metadata: ["lease.epoch": "\(epoch)"])
                    }
                    change(detail: [:]) { $0.renewed(requestedAt: started, now: .now) }
                case .success(false):
                    change(detail: ["lease.epoch": "\(epoch)"]) { $0.renewalRefused() }
                case .failure(let error):
                    if !renewalFailing.exchange(true, ordering: .relaxed) {
                        logger.warning(
                            "cannot renew the lease; active until its local deadline",
                            metadata: ["lease.epoch": "\(epoch)", "error": "\(error)"])
                    }
                    change(detail: ["error": "\(error)"]) { $0.renewalFailed(now: .now) }
                }
                var until = started + renewEvery
                if let deadline { until = min(until, deadline) }
                await pause(until: until)
            } else if competing.load(ordering: .relaxed) {
                let answer = await Self.answer(within: attemptTimeout) { [store, holder, ttl] in
                    try await store.acquireLease(holder: holder, ttl: ttl)
                }
                if case .success(let won?) = answer {
                    change(detail: [:]) { t in
                        let c = t.acquired(epoch: won, requestedAt: started)
                        // An answer that took longer than the whole term brings nothing.
                        return t.expire(.now) == .none ? c : .none
                    }
                } else if case .failure(let error) = answer {
                    logger.debug("cannot take the lease now", metadata: ["error": "\(error)"])
                }
                await pause(until: started + acquireEvery)
            } else {
                await pause(until: started + .milliseconds(100))
            }
        }
    }

    private func pause(until instant: ContinuousClock.Instant) async {
        let wait = instant - .now
        if wait > .zero { try? await Task.sleep(for: wait) }
    }

    /// Applies an event to the term; on a change, sets the store's write fence (under the same lock, so no
    /// write sees a fence older than the role), then logs, counts and tells `ActiveRole`.
    private func change(detail: Logger.Metadata, _ event: (inout LeaseTerm) -> LeaseTerm.Change) {
        let change = term.withLock { t -> LeaseTerm.Change in
            let c = event(&t)
            switch c {
            case .none: break
            case .becameActive(let epoch): store.setWriteFence(.epoch(epoch))
            case .lost:
                store.setWriteFence(.refused)
                competing.store(false, ordering: .relaxed)
            }
            return c
        }
        switch change {
        case .none: return
        case .becameActive(let epoch):
            metrics.roleChanges.increment("active", "acquired")
            logger.notice(
                "role changed: active (this node holds the lease)",
                metadata: detail.merging(["lease.epoch": "\(epoch)", "lease.holder": "\(holder)"]) { $1 })
        case .lost(let why):
            metrics.roleChanges.increment("standby", why.rawValue)
            let metadata = detail.merging(["lease.reason": "\(why.rawValue)", "lease.holder": "\(holder)"]) { $1 }
            if why == .released {
                logger.notice("role changed: standby (\(why.explanation))", metadata: metadata)
            } else {
                logger.warning(
                    "role changed: standby, stepping down (\(why.explanation))", metadata: metadata)
            }
        }
        events.yield(.change(change))
    }

    /// Runs `operation` and waits at most `limit` for its answer (nil answer: a `.failure` naming the
    /// timeout); then the operation is cancelled (a request still queued for a connection is dropped, so it
    /// cannot run long after, when the node has moved on), and an answer that comes later is dropped.
    static func answer<T: Sendable>(
        within limit: Duration, _ operation: @escaping @Sendable () async throws -> T
    ) async -> Result<T, any Error> {
        let slot = Slot<Result<T, any Error>>()
        return await withCheckedContinuation { continuation in
            slot.set(continuation)
            let work = Task {
                let result: Result<T, any Error>
                do { result = .success(try await operation()) } catch { result = .failure(error) }
                slot.resume(result)
            }
            let timer = Task {
                guard (try? await Task.sleep(for: limit)) != nil else { return }
                slot.resume(.failure(LeaseTimeout(limit: limit)))
                work.cancel()
            }
            // The timer goes when the work ends first.
            Task {
                _ = await work.result
                timer.cancel()
            }
        }
    }
}

/// A continuation resumed once, by whichever answer comes first.
final class Slot<T: Sendable>: Sendable {
    private let continuation = Mutex<CheckedContinuation<T, Never>?>(nil)

    func set(_ c: CheckedContinuation<T, Never>) { continuation.withLock { $0 = c } }

    func resume(_ value: T) { continuation.withLock { $0.take() }?.resume(returning: value) }
}

/// The database did not answer a lease request in time.
struct LeaseTimeout: Error, CustomStringConvertible {
    let limit: Duration
    var description: String { "no answer from the database within \(limit)" }
}

/// Runs the active services of a node on a shared PostgreSQL store for as long as it holds the lease
/// (`NodeLease`), and stops them at once when it loses it: `make` builds a fresh group each time the node
/// becomes active (consumers, intake, the lifecycle loop, the relay, retention). Stopping is the group's
/// graceful shutdown, with the lease already lost: writes are refused by the fence and the relay publishes
/// nothing more, so intake and the lifecycle loop give their deliveries back to the broker (closing the
/// consuming connections returns any left unacknowledged); after `stopLimit` the group is cancelled, and a
/// group that does not end 5 s later (a part waiting on a database connection lost while the process was
/// frozen) makes the node exit (`stuck`, status 75) for its supervisor to start it again. At
/// graceful shutdown the group stops as with one node (the relay drains the outbox while the lease is
/// still held), without that limit.
/// A service of the group that fails fails this service too (the process stops, as with one node).
final class ActiveRole: Service, Sendable {
    let events: AsyncStream<RoleEvent>
    let continuation: AsyncStream<RoleEvent>.Continuation
    let lease: NodeLease
    let make: @Sendable () async throws -> ServiceGroup
    let stopLimit: Duration
    let logger: Logger
    /// Called when the services of a lost term cannot be stopped (`pagoda serve` exits with
    /// `stuckExitStatus`).
    let stuck: @Sendable () -> Void
    /// The exit status of a node whose services could not be stopped (EX_TEMPFAIL).
    static let stuckExitStatus: Int32 = 75

    init(
        events: AsyncStream<RoleEvent>, continuation: AsyncStream<RoleEvent>.Continuation,
        lease: NodeLease, stopLimit: Duration = .seconds(10), logger: Logger,
        stuck: @escaping @Sendable () -> Void = {},
        make: @escaping @Sendable () async throws -> ServiceGroup
    ) {
        self.stuck = stuck
        self.events = events
        self.continuation = continuation
        self.lease = lease
        self.make = make
        self.stopLimit = stopLimit
        self.logger = logger
    }

    func run() async throws {
        let continuation = self.continuation
        try await withGracefulShutdownHandler {
            try await serve()
        } onGracefulShutdown: {
            continuation.yield(.shutdown)
        }
    }

    private func serve() async throws {
        var iterator = events.makeAsyncIterator()
        var term = 0
        while true {
            // Standby: wait for the lease.
            var active = false
            while !active {
                switch await iterator.next() {
                case nil, .shutdown?: return
                case .change(.becameActive)?: active = true
                default: continue
                }
            }
            let group = try await make()
            let continuation = self.continuation
            term += 1
            let running = Task { [term] in
                do {
                    try await group.run()
                    continuation.yield(.servicesEnded(term: term, nil))
                } catch {
                    continuation.yield(.servicesEnded(term: term, error))
                }
            }
            logger.info("active: intake, commands, timers and the outbox relay started")
            var shutdown = false
            var failure: (any Error)?
            var ended = false
            waiting: while true {
                switch await iterator.next() {
                case nil, .shutdown?:
                    shutdown = true
                    break waiting
                case .change(.lost)?: break waiting
                case .servicesEnded(term, let error)?:
                    ended = true
                    failure = error ?? ServicesEnded()
                    break waiting
                default: continue
                }
            }
            if !ended {
                await group.triggerGracefulShutdown()
                // At shutdown the relay drains the outbox under the lease, as with one node (its own drain
                // timeout bounds it); a node that lost the lease gives its services `stopLimit`.
                let finished = await NodeLease.answer(within: shutdown ? .seconds(86_400) : stopLimit) {
                    await running.value
                }
                var gone = true
                if case .failure = finished {
                    logger.warning("active services did not stop in time; cancelling them", metadata: [:])
                    running.cancel()
                    // A part waiting on a write that cannot end (its connection gone while the node was
                    // frozen) is left behind rather than waited for: the fence refuses its writes, its
                    // publisher is closed, and its deliveries went back with the closed connection.
                    if case .failure = await NodeLease.answer(within: .seconds(5), { await running.value }) {
                        logger.critical(
                            "active services cannot be stopped; exiting for the supervisor to restart this node",
                            metadata: ["exit.status": "\(Self.stuckExitStatus)"])
                        stuck()
                        gone = false
                    }
                }
                // Wait for the group's end (an end of an earlier term is not this one's).
                draining: while gone {
                    switch await iterator.next() {
                    case .servicesEnded(term, let error)?:
                        if shutdown, let error { failure = error }
                        break draining
                    case .shutdown?: shutdown = true
                    case nil:
                        shutdown = true
                        break draining
                    default: break
                    }
                }
            }
            logger.info("active services stopped", metadata: ["role.shutdown": "\(shutdown)"])
            if let failure { throw failure }
            if shutdown { return }
            lease.competeAgain()
        }
    }
}

/// The active services ended by themselves, which they do only when a part failed.
struct ServicesEnded: Error, CustomStringConvertible {
    var description: String { "the active services ended by themselves" }
}
