import Synchronization

/// Lets the lifecycle loop's timer firings go ahead of the outbox relay while a backlog of due timers is
/// worked off (working-day deadlines all fall at 23:59:59, so a large city sees thousands due at once).
///
/// Publishing competes with firing for the same cores (the broker's work on each message is several times
/// the service's) and for SQLite's writer (the relay marks rows sent). While the loop reports a backlog,
/// the relay publishes nothing new, for at most `maxHold` at a time; after a hold it publishes for at least
/// as long before it holds again, so a backlog that never ends cannot stop publishing. Messages already
/// in flight are confirmed and marked as usual, and nothing is lost: held messages wait in the outbox.
final class FiringPriority: Sendable {
    private struct State {
        var backlog = false
        /// When the current hold began (nil when the relay is not holding).
        var holdStarted: ContinuousClock.Instant?
        /// The relay may not hold again before this.
        var nextHoldAllowed: ContinuousClock.Instant?
    }
    private let state = Mutex(State())
    let maxHold: Duration

    init(maxHold: Duration = .seconds(1)) {
        self.maxHold = maxHold
    }

    /// The lifecycle loop found more timers due than one batch takes.
    func backlogBegan() {
        state.withLock { $0.backlog = true }
    }

    /// The lifecycle loop has fired every timer that was due.
    func backlogEnded() {
        state.withLock {
            $0.backlog = false
            $0.holdStarted = nil
        }
    }

    /// Whether the relay should leave new messages in the outbox for now.
    func relayShouldHold(now: ContinuousClock.Instant = .now) -> Bool {
        state.withLock { s in
            guard s.backlog else { return false }
            if let started = s.holdStarted {
                if now - started < maxHold { return true }
                // The hold has lasted long enough: publish for at least as long before the next one.
                s.holdStarted = nil
                s.nextHoldAllowed = now + maxHold
                return false
            }
            if let allowed = s.nextHoldAllowed, now < allowed { return false }
            s.holdStarted = now
            return true
        }
    }
}
