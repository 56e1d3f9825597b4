import Foundation
import PagodaPostgres
import PagodaService
import PagodaStore
import PagodaTesting
import Testing

/// `--db postgres://...` read strictly, and a server that is not there is a clear `cannotOpen`.
@Suite struct PostgresConfigurationTests {
    @Test func urlsAreReadWithTheirParts() throws {
        let c = try PostgresStoreConfiguration(url: "postgres://pagoda:s%40cret@db.example:6543/city")
        #expect(c.host == "db.example" && c.port == 6543 && c.username == "pagoda" && c.database == "city")
        #expect(c.password == "s@cret")
        #expect(c.description == "postgres://pagoda@db.example:6543/city", "the password is never shown")
        let d = try PostgresStoreConfiguration(url: "postgresql://u@127.0.0.1/db")
        #expect(d.port == 5432 && d.password == nil)
        #expect(PostgresStoreConfiguration.isURL("postgres://x") && !PostgresStoreConfiguration.isURL("pagoda.sqlite"))
    }

    @Test(arguments: [
        ("pagoda.sqlite", "not a postgres:// URL"), ("postgres://u@/db", "names no host"),
        ("postgres://127.0.0.1:5432/db", "names no user"), ("postgres://u@h:5432/", "names no database"),
        ("postgres://u@h:5432/a/b", "names no database"), ("postgres://u@h:70000/db", "out of range"),
        ("postgres://u@h/db?sslmode=require", "takes no options"),
    ])
    func badURLsNameWhatIsWrong(_ url: String, _ message: String) {
        #expect {
            try PostgresStoreConfiguration(url: url)
        } throws: { error in
            guard let e = error as? StoreError else { return false }
            return e.code == .invalidArgument && e.message.contains(message)
        }
    }

    @Test func aPasswordIsNotRepeatedInAnError() {
        #expect {
            try PostgresStoreConfiguration(url: "postgres://u:topsecret@h:5432/")
        } throws: { error in
            guard let e = error as? StoreError else { return false }
            return !e.message.contains("topsecret") && e.message.contains("***")
        }
    }

    /// Nothing listens on the port: opening fails as `cannotOpen`, a storage failure naming the server,
    /// instead of waiting for ever (the time limit stops a hang; the time taken is not measured here).
    @Test(.timeLimit(.minutes(2))) func aServerThatIsNotThereCannotBeOpened() async throws {
        var c = PostgresStoreConfiguration(host: "127.0.0.1", port: 1, username: "pagoda", database: "pagoda")
        c.connectTimeout = .seconds(2)
        await #expect {
            _ = try await PostgresStore.open(c, logger: TestPostgres.logger)
        } throws: { error in
            guard let e = error as? StoreError else { return false }
            return e.code == .cannotOpen && e.isStorageFailure && e.message.contains("127.0.0.1:1")
        }
    }

    /// The server is there but the database is not: `cannotOpen` with PostgreSQL's reason.
    @Test func aDatabaseThatIsNotThereCannotBeOpened() async throws {
        var c = try await TestPostgres.createDatabase()
        await TestPostgres.dropDatabase(c.database)
        c.connectTimeout = .seconds(10)
        await #expect {
            _ = try await PostgresStore.open(c, logger: TestPostgres.logger)
        } throws: { error in
            guard let e = error as? StoreError else { return false }
            return e.code == .cannotOpen && e.message.contains("3D000")
        }
    }

    /// The server drops the store's connections (a restart, a cut): a write then either succeeds on a new
    /// connection or fails as a storage failure, which the services retry; retried, the batch is recorded
    /// once.
    @Test func lostConnectionsAreStorageFailuresAndTheRetryRecordsOnce() async throws {
        let database = try await TestPostgres.createDatabase()
        let store = try await PostgresStore.open(database, logger: TestPostgres.logger)
        do {
            #expect(try await store.recordDispatches([.dispatch(dispatch("A"))]) == [.recorded(dispatchSequence: 1)])
            try await TestPostgres.terminateConnections(to: database.database)
            var outcome: [IntakeOutcome]?
            var failures: [StoreError] = []
            let deadline = ContinuousClock.now + .seconds(60)
            while outcome == nil && ContinuousClock.now < deadline {
                do {
                    outcome = try await store.recordDispatches([.dispatch(dispatch("A")), .dispatch(dispatch("B"))])
                } catch {
                    failures.append(error)
                    try await Task.sleep(for: .milliseconds(100))  // the services' backoff before a retry
                }
            }
            #expect(outcome == [.duplicate(dispatchSequence: 1), .recorded(dispatchSequence: 2)], "\(failures)")
            let allStorage = failures.allSatisfy { $0.isStorageFailure }
            #expect(allStorage, "\(failures)")
            #expect(try await store.counts().tickets == 2)
        } catch {
            await store.close()
            await TestPostgres.dropDatabase(database.database)
            throw error
        }
        await store.close()
        await TestPostgres.dropDatabase(database.database)
    }
}
