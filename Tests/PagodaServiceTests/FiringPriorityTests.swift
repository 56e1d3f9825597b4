import PagodaJSON
import Testing

@testable import PagodaService

/// The relay's hold while timers are fired: only during a backlog, at most `maxHold` at a time, and never
/// two holds without as long a time of publishing between them.
@Suite struct FiringPriorityTests {
    let t0 = ContinuousClock.now

    @Test func noBacklogNoHold() {
        let p = FiringPriority(maxHold: .seconds(1))
        #expect(!p.relayShouldHold(now: t0))
        p.backlogBegan()
        p.backlogEnded()
        #expect(!p.relayShouldHold(now: t0))
    }

    @Test func aBacklogHoldsTheRelayForAtMostMaxHold() {
        let p = FiringPriority(maxHold: .seconds(1))
        p.backlogBegan()
        #expect(p.relayShouldHold(now: t0))
        #expect(p.relayShouldHold(now: t0 + .milliseconds(999)))
        // The hold has lasted long enough: the relay publishes, although the backlog goes on ...
        #expect(!p.relayShouldHold(now: t0 + .seconds(1)))
        #expect(!p.relayShouldHold(now: t0 + .milliseconds(1999)))
        // ... for as long as it held, then it may hold again.
        #expect(p.relayShouldHold(now: t0 + .seconds(2)))
        #expect(!p.relayShouldHold(now: t0 + .seconds(3)))
    }

    @Test func theEndOfTheBacklogReleasesTheRelayAtOnce() {
        let p = FiringPriority(maxHold: .seconds(1))
        p.backlogBegan()
        #expect(p.relayShouldHold(now: t0))
        p.backlogEnded()
        #expect(!p.relayShouldHold(now: t0 + .milliseconds(10)))
        // A new backlog soon after a short hold holds again (the short hold earned no publishing time).
        p.backlogBegan()
        #expect(p.relayShouldHold(now: t0 + .milliseconds(20)))
    }

    @Test func aNewBacklogRightAfterAFullHoldWaitsItsTurn() {
        let p = FiringPriority(maxHold: .seconds(1))
        p.backlogBegan()
        #expect(p.relayShouldHold(now: t0))
        #expect(!p.relayShouldHold(now: t0 + .seconds(1)))  // full hold: publishing until t0 + 2 s
        p.backlogEnded()
        p.backlogBegan()
        #expect(!p.relayShouldHold(now: t0 + .milliseconds(1500)))
        #expect(p.relayShouldHold(now: t0 + .seconds(2)))
    }
}
