import Testing

@testable import PagodaService

/// The lease decision on a fake clock: instants are an origin plus whole seconds, no waiting.
@Suite struct LeaseTermTests {
    let t0 = ContinuousClock.now

    func at(_ seconds: Double) -> ContinuousClock.Instant { t0 + .milliseconds(Int(seconds * 1000)) }

    @Test func aStandbyIsNotActiveAndLosesNothing() {
        var term = LeaseTerm(ttl: .seconds(5), margin: .seconds(1))
        #expect(!term.isActive(at: at(0)))
        #expect(term.expire(at(100)) == .none)
        #expect(term.renewalRefused() == .none)
        #expect(term.fenced() == .none)
        #expect(term.renewalFailed(now: at(100)) == .none)
    }

    @Test func anAcquisitionLastsTheTimeToLiveLessTheMarginFromTheRequest() {
        var term = LeaseTerm(ttl: .seconds(5), margin: .seconds(1))
        // The request left at 10 s; the answer came at 12 s: the term counts from 10 s.
        #expect(term.acquired(epoch: 7, requestedAt: at(10)) == .becameActive(epoch: 7))
        #expect(term.epoch == 7)
        #expect(term.isActive(at: at(13.9)))
        #expect(!term.isActive(at: at(14)))
        #expect(term.expire(at(13.9)) == .none)
        #expect(term.expire(at(14)) == .lost(.expired))
        #expect(term.epoch == nil && !term.isActive(at: at(14)))
    }

    @Test func renewalsExtendTheTermFromTheirRequest() {
        var term = LeaseTerm(ttl: .seconds(5), margin: .seconds(1))
        _ = term.acquired(epoch: 1, requestedAt: at(0))
        for s in 1...20 {
            #expect(term.renewed(requestedAt: at(Double(s)), now: at(Double(s) + 0.5)) == .none)
        }
        #expect(term.isActive(at: at(23.9)) && !term.isActive(at: at(24)))
        // An old request answered late never shortens the term.
        #expect(term.renewed(requestedAt: at(15), now: at(20.5)) == .none)
        #expect(term.isActive(at: at(23.9)))
    }

    @Test func aNodeResumedAfterAPauseIsNoLongerActive() {
        // SIGSTOP at 3 s for 60 s: the monotonic clock kept running, so the first look after the pause
        // finds the deadline past, and a renewal answered now (sent before the pause) does not bring it back.
        var term = LeaseTerm(ttl: .seconds(5), margin: .seconds(1))
        _ = term.acquired(epoch: 3, requestedAt: at(0))
        _ = term.renewed(requestedAt: at(2), now: at(2.1))
        #expect(!term.isActive(at: at(63)))
        #expect(term.renewed(requestedAt: at(3), now: at(63)) == .lost(.expired))
        #expect(term.epoch == nil)
    }

    @Test func failedRenewalsKeepTheNodeActiveUntilItsDeadline() {
        var term = LeaseTerm(ttl: .seconds(5), margin: .seconds(1))
        _ = term.acquired(epoch: 2, requestedAt: at(0))
        #expect(term.renewalFailed(now: at(1)) == .none)
        #expect(term.renewalFailed(now: at(3.5)) == .none)
        #expect(term.isActive(at: at(3.9)))
        #expect(term.renewalFailed(now: at(4)) == .lost(.expired))
    }

    @Test func aRefusedRenewalOrAFencedWriteEndsTheTermAtOnce() {
        var term = LeaseTerm(ttl: .seconds(5), margin: .seconds(1))
        _ = term.acquired(epoch: 4, requestedAt: at(0))
        #expect(term.renewalRefused() == .lost(.refused))
        #expect(!term.isActive(at: at(0.5)))
        _ = term.acquired(epoch: 6, requestedAt: at(1))
        #expect(term.fenced() == .lost(.fenced))
        #expect(term.fenced() == .none, "a second refusal changes nothing")
        _ = term.acquired(epoch: 8, requestedAt: at(2))
        #expect(term.released() == .lost(.released))
    }

    @Test func aRenewalCannotReviveALostTerm() {
        var term = LeaseTerm(ttl: .seconds(5), margin: .seconds(1))
        _ = term.acquired(epoch: 1, requestedAt: at(0))
        _ = term.renewalRefused()
        #expect(term.renewed(requestedAt: at(1), now: at(1.1)) == .none)
        #expect(!term.isActive(at: at(1.2)))
    }
}
