import Foundation
import PagodaPostgres
import PagodaService
import PagodaStore
import PagodaTesting
import Testing

/// `pagoda migrate`'s copy: a SQLite store with every kind of row, copied into an empty PostgreSQL
/// database, reads back the same (histories, states, timers, outbox, timeline, sequence, the console's
/// accounts, tokens, audit log and read model); the copy
/// refuses a database that holds data; the copied store goes on where SQLite left off.
@Suite struct MigrationCopyTests {
    @Test func aSQLiteStoreCopiedToPostgreSQLReadsTheSame() async throws {
        try await withSQLiteAndPostgres { sqlite, postgres in
            let ids = (0..<23).map { String(format: "M-%02d", $0) }
            _ = try await sqlite.recordDispatches(
                ids.map { started($0, timer: t0.addingTimeInterval(Double($0.suffix(2))! * 60), keys: ["phone:1|c"]) }
                    + [rejection(amqp: "bad-1", messageID: "rej-1"), .dispatch(dispatch("PLAIN"))])
            _ = try await sqlite.applyLifecycle([
                change("M-00", from: 0, to: 1, timer: nil, command: "c1"),
                change("M-01", from: 0, to: 1, timer: t0.addingTimeInterval(9_999), command: "c2"),
            ])
            let pending = try await sqlite.pendingOutbox(after: 0, limit: 10)
            _ = try await sqlite.markSent(pending.prefix(4).map(\.id), at: t0)
            // The console's people: accounts (one disabled, one locked), a token, a session, the audit log.
            let added = ConsoleAuditEntry(at: t0, userName: "cli:root", action: "user_add", outcome: "ok")
            try await sqlite.addConsoleAccount(
                ConsoleAccount(name: "w1", role: "worker", unitID: "u1", passwordHash: "$2b$a", createdAt: t0),
                audit: added)
            try await sqlite.addConsoleAccount(
                ConsoleAccount(name: "c1", role: "centre", unitID: nil, passwordHash: "$2b$b", createdAt: t0),
                audit: added)
            try await sqlite.setConsoleAccountDisabled("c1", true, at: t0, audit: nil)
            try await sqlite.addConsoleToken(
                tokenHash: "tok", userName: "w1", at: t0, expiresAt: t0.addingTimeInterval(86400), audit: nil)
            try await sqlite.startConsoleSession(
                tokenHash: "ses", userName: "w1", csrfToken: "c", at: t0,
                audit: ConsoleAuditEntry(at: t0, userName: "w1", action: "login", outcome: "ok"))
            _ = try await sqlite.countLoginAttempt("w1", at: t0, limit: 1, lockFor: 60)
            try await sqlite.appendConsoleAudit(
                ConsoleAuditEntry(at: t0, userName: "w1", action: "login_failed", outcome: "bad_password"))

            // Pages of three rows: every table spans several, composite keys (deadlines, repeat keys) included.
            let result = try await postgres.importSQLite(sqlite, sample: 10, batch: 3)
            #expect(result.matches, "\(result.tables) \(result.mismatches)")
            #expect(result.sampled.count == 10 && result.mismatches.isEmpty)
            #expect(result.tables.first { $0.name == "outbox" }.map { [$0.sqlite, $0.postgres] } == [74, 74])
            for id in ids + ["PLAIN"] {
                #expect(try await postgres.ticket(id: id) == (try sqlite.ticket(id: id)), "\(id)")
            }
            #expect(try await postgres.counts() == (try sqlite.counts()))
            #expect(try await postgres.consoleAccounts() == (try await sqlite.consoleAccounts()))
            #expect(try await postgres.consoleAccount("w1")?.lockedUntil == t0.addingTimeInterval(60))
            #expect(try await postgres.consoleTokenAccount(tokenHash: "tok", at: t0)?.name == "w1")
            #expect(
                try await postgres.consoleAudit(userName: nil, limit: 10)
                    == (try await sqlite.consoleAudit(userName: nil, limit: 10)))
            // Sessions are not copied: people log in again on the new store.
            #expect(try await postgres.consoleSession(tokenHash: "ses") == nil)
            #expect(
                Set(try await postgres.consoleOpenCounts(unit: nil))
                    == Set(try await sqlite.consoleOpenCounts(unit: nil)))
            #expect(try await postgres.consoleDeskCounts() == (try await sqlite.consoleDeskCounts()))
            let day = ConsoleDay.of(t0)
            #expect(try await postgres.consoleDayCounts(day...day) == (try await sqlite.consoleDayCounts(day...day)))
            #expect(try await postgres.consoleFirstEventID(onOrAfter: day) == 1)
            let intake = try await postgres.consoleDayCounts(day...day)[day]?["intake"] ?? 0
            #expect(
                try await postgres.dueTimers(until: t0.addingTimeInterval(100_000), after: nil, limit: 100)
                    == (try await sqlite.dueTimers(until: t0.addingTimeInterval(100_000), after: nil, limit: 100)))
            #expect(try await postgres.timeline().map(\.json) == (try await sqlite.timeline().map(\.json)))
            #expect(
                try await postgres.pendingOutbox(after: 0, limit: 1_000)
                    == (try await sqlite.pendingOutbox(after: 0, limit: 1_000)))

            // A second copy into the same database is refused and changes nothing.
            let error = await #expect(throws: StoreError.self) { try await postgres.importSQLite(sqlite) }
            #expect(error?.code == .invalidArgument)
            // The copy goes on: the next dispatch, command and outbox row follow SQLite's.
            #expect(
                try await postgres.recordDispatches([.dispatch(dispatch("NEXT"))]) == [.recorded(dispatchSequence: 25)])
            // The read model's triggers are on again after the copy.
            #expect(try await postgres.consoleDayCounts(day...day)[day]?["intake"] == intake + 1)
            #expect(
                try await postgres.applyLifecycle([change("M-00", from: 1, to: 2, timer: nil, command: "c1")]) == [
                    .duplicateCommand
                ])
            try await postgres.appendConsoleAudit(
                ConsoleAuditEntry(at: t0, userName: "w1", action: "logout", outcome: "ok"))
            #expect(try await postgres.consoleAudit(userName: nil, limit: 1).map(\.action) == ["logout"])
            let last = try #require(try await postgres.pendingOutbox(after: 0, limit: 1_000).last)
            #expect(last.message.messageID == "NEXT/event" && last.id > pending.map(\.id).max()!)
        }
    }

    /// A database where a user was added before the copy is refused at once, naming the table, rather than
    /// failing on the accounts' keys after every ticket was copied.
    @Test func aDatabaseWithUsersAlreadyIsRefusedBeforeCopying() async throws {
        try await withSQLiteAndPostgres { sqlite, postgres in
            _ = try await sqlite.recordDispatches([.dispatch(dispatch("A"))])
            try await postgres.addConsoleAccount(
                ConsoleAccount(name: "admin", role: "admin", unitID: nil, passwordHash: "$2b$a", createdAt: t0),
                audit: nil)
            let error = await #expect(throws: StoreError.self) { try await postgres.importSQLite(sqlite) }
            #expect(error?.code == .invalidArgument && error?.message.contains("console_users") == true)
            #expect(try await postgres.history("A") == nil)
        }
    }

    /// Runs `body` on a fresh SQLite store and a fresh PostgreSQL database, both closed afterwards whatever
    /// `body` did.
    func withSQLiteAndPostgres(_ body: (DispatchStore, PostgresStore) async throws -> Void) async throws {
        let lite = try await Backend.sqlite.open()
        let pg = try await Backend.postgres.open()
        do {
            try await body(try #require(lite.store as? DispatchStore), try #require(pg.store as? PostgresStore))
        } catch {
            await lite.close()
            await pg.close()
            throw error
        }
        await lite.close()
        await pg.close()
    }
}
