import Foundation
import PagodaPostgres
import PagodaStore
import PagodaTesting
import Testing

/// The lease and its fencing token on the real PostgreSQL: two stores on one database play two nodes.
/// Expiry is the database's clock; the tests use short times to live and wait for conditions, not for
/// fixed times.
@Suite struct PostgresLeaseTests {
    /// Two stores (two nodes) on one fresh database; removed afterwards whatever `body` did.
    func withTwoNodes(_ body: (PostgresStore, PostgresStore) async throws -> Void) async throws {
        var database = try await TestPostgres.createDatabase()
        // A loaded test machine can leave a transaction idle for seconds between statements; these tests
        // are about the fence, not about the server ending a frozen node's session.
        database.idleInTransactionLimit = .seconds(120)
        let a = try await PostgresStore.open(database, logger: TestPostgres.logger)
        let b = try await PostgresStore.open(database, logger: TestPostgres.logger)
        do {
            try await body(a, b)
        } catch {
            await a.close()
            await b.close()
            await TestPostgres.dropDatabase(database.database)
            throw error
        }
        await a.close()
        await b.close()
        await TestPostgres.dropDatabase(database.database)
    }

    /// Waits (polling, up to 30 s) until the lease row has expired in the database's clock.
    func awaitExpiry(_ store: PostgresStore) async throws {
        let deadline = ContinuousClock.now + .seconds(30)
        while try await store.lease().isHeld {
            guard ContinuousClock.now < deadline else { throw TestFailure("the lease never expired") }
            try await Task.sleep(for: .milliseconds(50))
        }
    }

    @Test func theMigrationAddsAFreeLease() async throws {
        try await withTwoNodes { a, _ in
            #expect(try await a.appliedMigrations().contains("v7-lease-row"))
            let row = try await a.lease()
            #expect(row.holder == nil && row.epoch == 0 && !row.isHeld, "\(row)")
        }
    }

    @Test func oneNodeAcquiresAndRenewsTheOtherWaits() async throws {
        try await withTwoNodes { a, b in
            // Times to live far above what a loaded machine takes between two statements.
            let epoch = try #require(try await a.acquireLease(holder: "a", ttl: .seconds(300)))
            #expect(epoch == 1)
            #expect(try await b.acquireLease(holder: "b", ttl: .seconds(30)) == nil, "held by a")
            let before = try await a.lease()
            #expect(before.holder == "a" && before.isHeld && before.expiresAt - before.databaseNow > 240_000)
            #expect(try await a.renewLease(holder: "a", epoch: epoch, ttl: .seconds(600)))
            let after = try await a.lease()
            #expect(after.epoch == epoch && after.expiresAt > before.expiresAt + 240_000, "\(before) \(after)")
            // Only the holder at its epoch renews.
            #expect(!(try await b.renewLease(holder: "b", epoch: epoch, ttl: .seconds(60))))
            #expect(!(try await a.renewLease(holder: "a", epoch: epoch + 1, ttl: .seconds(60))))
        }
    }

    @Test func anExpiredLeaseIsTakenOverWithANewEpochAndTheOldHolderCannotRenew() async throws {
        try await withTwoNodes { a, b in
            let first = try #require(try await a.acquireLease(holder: "a", ttl: .milliseconds(300)))
            try await awaitExpiry(b)
            let second = try #require(try await b.acquireLease(holder: "b", ttl: .seconds(30)))
            #expect(second == first + 1)
            #expect(!(try await a.renewLease(holder: "a", epoch: first, ttl: .seconds(30))), "a lost the lease")
            #expect(try await a.acquireLease(holder: "a", ttl: .seconds(30)) == nil, "b holds it")
            // Released, it is free at once.
            try await b.releaseLease(holder: "b", epoch: second)
            #expect(try await a.acquireLease(holder: "a", ttl: .seconds(30)) == second + 1)
        }
    }

    /// An acquisition the holder sent earlier and that runs late (queued while the database was away) keeps
    /// the epoch of the lease it holds: it cannot fence the node's own writes.
    @Test func aLateAcquisitionByTheHolderKeepsItsEpoch() async throws {
        try await withTwoNodes { a, b in
            let epoch = try #require(try await a.acquireLease(holder: "a", ttl: .seconds(300)))
            a.setWriteFence(.epoch(epoch))
            #expect(try await a.acquireLease(holder: "a", ttl: .seconds(300)) == epoch)
            #expect(try await a.recordDispatches([.dispatch(dispatch("K-1"))]) == [.recorded(dispatchSequence: 1)])
            #expect(try await b.acquireLease(holder: "b", ttl: .seconds(30)) == nil, "a holds it")
        }
    }

    @Test func anExpiredLeaseCannotBeRenewedEvenUntaken() async throws {
        try await withTwoNodes { a, _ in
            let epoch = try #require(try await a.acquireLease(holder: "a", ttl: .milliseconds(200)))
            try await awaitExpiry(a)
            #expect(!(try await a.renewLease(holder: "a", epoch: epoch, ttl: .seconds(30))))
            // Taking it again bumps the epoch: writes under the old one stay refused.
            #expect(try await a.acquireLease(holder: "a", ttl: .seconds(30)) == epoch + 1)
        }
    }

    @Test func aWriteAfterATakeoverIsRefusedAndWritesNothing() async throws {
        try await withTwoNodes { a, b in
            // Held long enough for the first write on a loaded machine, then cut short by a renewal.
            let first = try #require(try await a.acquireLease(holder: "a", ttl: .seconds(30)))
            a.setWriteFence(.epoch(first))
            let outcomes = try await a.recordDispatches([.dispatch(dispatch("L-1"))])
            #expect(outcomes == [.recorded(dispatchSequence: 1)])
            #expect(try await a.renewLease(holder: "a", epoch: first, ttl: .milliseconds(1)))
            try await awaitExpiry(b)
            let second = try #require(try await b.acquireLease(holder: "b", ttl: .seconds(30)))
            b.setWriteFence(.epoch(second))
            // a still believes it holds epoch `first`: its writes are refused by the database's check.
            do {
                _ = try await a.recordDispatches([.dispatch(dispatch("L-2"))])
                Issue.record("a write under a lost lease was accepted")
            } catch {
                #expect((error as? StoreError).map { $0.code == .fenced && !$0.isStorageFailure } == true, "\(error)")
            }
            do {
                _ = try await a.markSent([1], at: t0)
                Issue.record("a mark under a lost lease was accepted")
            } catch {
                #expect((error as? StoreError)?.code == .fenced, "\(error)")
            }
            // Nothing of it was written; b writes on.
            let counts = try await b.counts()
            #expect(counts.tickets == 1 && counts.inbox == 1 && counts.lastDispatchSequence == 1, "\(counts)")
            #expect(try await b.outboxBacklog() == 2)
            #expect(try await b.recordDispatches([.dispatch(dispatch("L-3"))]) == [.recorded(dispatchSequence: 2)])
        }
    }

    @Test func aWriteUnderAnExpiredLeaseIsRefusedEvenUntaken() async throws {
        try await withTwoNodes { a, _ in
            let epoch = try #require(try await a.acquireLease(holder: "a", ttl: .milliseconds(200)))
            a.setWriteFence(.epoch(epoch))
            try await awaitExpiry(a)
            do {
                _ = try await a.recordDispatches([.dispatch(dispatch("E-1"))])
                Issue.record("a write under an expired lease was accepted")
            } catch {
                #expect((error as? StoreError)?.code == .fenced, "\(error)")
            }
            #expect(try await a.counts().tickets == 0)
        }
    }

    @Test func aStandbyWritesNothingAndAnUncheckedStoreWritesAsBefore() async throws {
        try await withTwoNodes { a, b in
            a.setWriteFence(.refused)
            do {
                _ = try await a.recordDispatches([.dispatch(dispatch("S-1"))])
                Issue.record("a standby's write was accepted")
            } catch {
                #expect((error as? StoreError)?.code == .fenced, "\(error)")
            }
            // Without a fence (tools, one node) the lease is not looked at.
            #expect(b.writeFence == .unchecked)
            let outcomes = try await b.recordDispatches([.dispatch(dispatch("S-2"))])
            #expect(outcomes == [.recorded(dispatchSequence: 1)])
        }
    }

    @Test func aWriteInFlightAcrossATakeoverIsWrittenWholeBeforeTheNewActiveWrites() async throws {
        // A batch checked under the old lease may commit after the takeover (the check does not block
        // renewals and takeovers), but it holds the writer lock: the new active's first write comes after it.
        try await withTwoNodes { a, b in
            let first = try #require(try await a.acquireLease(holder: "a", ttl: .milliseconds(400)))
            a.setWriteFence(.epoch(first))
            let batch = (0..<400).map { IntakeRecord.dispatch(dispatch("W-\($0)")) }
            let written = Task { try await a.recordDispatches(batch) }
            try await awaitExpiry(b)
            let second = try await b.acquireLease(holder: "b", ttl: .seconds(30))
            // Either the batch was checked before the takeover (written whole) or after it (refused, nothing).
            let result = await written.result
            let tickets = try await b.counts().tickets
            switch result {
            case .success(let outcomes): #expect(outcomes.count == 400 && tickets == 400)
            case .failure(let error): #expect((error as? StoreError)?.code == .fenced && tickets == 0, "\(error)")
            }
            #expect(second == first + 1)
            b.setWriteFence(.epoch(try #require(second)))
            let next = try await b.recordDispatches([.dispatch(dispatch("W-next"))])
            #expect(next == [.recorded(dispatchSequence: Int64(tickets) + 1)])
        }
    }
}
