/// The lease decision of one node, pure: given the time and what the database answered, is the node
/// active, until when, and did its role just change (docs/architecture.md, "Several nodes, one active").
///
/// A node is active only before its local deadline: the start of its last successful acquisition or
/// renewal plus the lease's time to live, minus a margin. The start (not the answer) counts, because the
/// database set its expiry after the request left, so the local deadline always ends before the database's
/// expiry, even when the answer was held up. The times are a monotonic clock's, which keeps running
/// while the process is stopped (SIGSTOP): a resumed node finds its deadline past at once and steps
/// down, without asking anybody. `now` is always an argument, so the logic is tested on a fake clock.
public struct LeaseTerm: Sendable, Equatable {
    /// Why a node stopped being active.
    public enum Loss: String, Sendable, Equatable, CaseIterable {
        /// Its local deadline passed without a successful renewal (paused, or the database unreachable).
        case expired
        /// The database refused the renewal: another node took the lease over, or it expired there first.
        case refused
        /// A write was refused by the fencing check (`StoreError.fenced`).
        case fenced
        /// The node gives the lease up (shutdown).
        case released

        /// What happened, for the log.
        public var explanation: String {
            switch self {
            case .expired: "the lease's local deadline passed before a renewal succeeded"
            case .refused: "the database refused the renewal: the lease was taken over or expired there"
            case .fenced: "a write was refused by the fencing token"
            case .released: "shutting down: the lease was given up"
            }
        }
    }

    /// What an event did to the node's role.
    public enum Change: Sendable, Equatable {
        case none
        case becameActive(epoch: Int64)
        case lost(Loss)
    }

    /// How long the database keeps the lease after an acquisition or renewal.
    public let ttl: Duration
    /// Taken off the local deadline, for clocks that run at slightly different rates.
    public let margin: Duration
    /// The epoch held, while active.
    public private(set) var epoch: Int64?
    /// The end of the local term, while active.
    public private(set) var deadline: ContinuousClock.Instant?

    public init(ttl: Duration = .seconds(5), margin: Duration = .seconds(1)) {
        precondition(ttl > margin, "the lease's time to live must be longer than its margin")
        self.ttl = ttl
        self.margin = margin
    }

    /// Whether the node may write and publish at `now`.
    public func isActive(at now: ContinuousClock.Instant) -> Bool {
        guard epoch != nil, let deadline else { return false }
        return now < deadline
    }

    /// The database granted the lease at `epoch` to a request sent at `requestedAt`.
    public mutating func acquired(epoch: Int64, requestedAt: ContinuousClock.Instant) -> Change {
        self.epoch = epoch
        deadline = requestedAt + ttl - margin
        return .becameActive(epoch: epoch)
    }

    /// The database extended the lease for a request sent at `requestedAt`, answered at `now`. A renewal
    /// answered after the local deadline passed does not bring the node back: it stepped down already.
    public mutating func renewed(requestedAt: ContinuousClock.Instant, now: ContinuousClock.Instant) -> Change {
        guard epoch != nil else { return .none }
        let change = expire(now)
        if change != .none { return change }
        deadline = max(deadline ?? requestedAt, requestedAt + ttl - margin)
        return .none
    }

    /// The database refused the renewal (the node no longer holds the lease there).
    public mutating func renewalRefused() -> Change { lose(.refused) }

    /// A write was refused by the fencing check.
    public mutating func fenced() -> Change { lose(.fenced) }

    /// The node gives the lease up.
    public mutating func released() -> Change { lose(.released) }

    /// A renewal could not be made (no answer, connection lost): the node stays active until its deadline.
    public mutating func renewalFailed(now: ContinuousClock.Instant) -> Change { expire(now) }

    /// Looks at the clock: past the deadline, the node is no longer active.
    public mutating func expire(_ now: ContinuousClock.Instant) -> Change {
        guard epoch != nil, let deadline, now >= deadline else { return .none }
        return lose(.expired)
    }

    private mutating func lose(_ why: Loss) -> Change {
        guard epoch != nil else { return .none }
        epoch = nil
        deadline = nil
        return .lost(why)
    }
}
