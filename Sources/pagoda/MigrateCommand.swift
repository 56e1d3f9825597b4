import ArgumentParser
import Foundation
import Logging
import PagodaPostgres
import PagodaService
import PagodaStore

/// `pagoda migrate`: copies a SQLite store into an empty PostgreSQL database and checks the copy.
struct Migrate: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Copy a SQLite database into an empty PostgreSQL database, then check the copy.",
        discussion: """
            Copies the tickets, decisions, deadlines, inbox, rejections, outbox, timeline, lifecycle states, \
            open timers, command ledger and repeat keys in one transaction (nothing is copied when it fails), \
            then compares the row counts of every table and a sample of tickets field by field. pagoda serve \
            must not run on the file meanwhile: the command takes its instance lock. Exit 1 when the check \
            finds a difference.
            """)

    @Option(help: ArgumentHelp("The SQLite database to copy.", valueName: "file"))
    var from: String

    @Option(
        help: ArgumentHelp(
            "The PostgreSQL database to fill: postgres://USER[:PASSWORD]@HOST:PORT/DB.", valueName: "url"))
    var to: String

    @Option(help: "How many tickets to compare field by field.")
    var sample: Int = 100

    func validate() throws {
        guard PostgresStoreConfiguration.isURL(to) else { throw ValidationError("--to must be a postgres:// URL") }
        guard sample >= 0 else { throw ValidationError("--sample must be 0 or more, got \(sample)") }
    }

    func run() async throws {
        guard FileManager.default.fileExists(atPath: from) else {
            printError("pagoda: no database at \(from)\n")
            throw ExitCode(2)
        }
        let lock: InstanceLock
        do {
            lock = try InstanceLock(database: from)
        } catch {
            printError("pagoda migrate: \(error)\n")
            throw ExitCode.failure
        }
        defer { withExtendedLifetime(lock) {} }
        let source = try DispatchStore(StoreConfiguration(path: from))
        let target = try PostgresStoreConfiguration(url: to)
        let store = try await PostgresStore.open(target, logger: Logger(label: "pagoda.migrate"))
        let result: SQLiteImport
        do {
            result = try await store.importSQLite(source, sample: sample)
        } catch {
            await store.close()
            printError("pagoda migrate: \(error)\n")
            throw ExitCode.failure
        }
        await store.close()
        print("copied \(from) to \(target)")
        for t in result.tables {
            print("  \(t.name): \(t.sqlite) -> \(t.postgres)\(t.sqlite == t.postgres ? "" : "  DIFFERS")")
        }
        let seq = result.lastDispatchSequence
        print("  dispatch sequence: \(seq.sqlite) -> \(seq.postgres)\(seq.sqlite == seq.postgres ? "" : "  DIFFERS")")
        print("  \(result.sampled.count) tickets compared field by field, \(result.mismatches.count) differ")
        for m in result.mismatches { print("  \(m)") }
        if !result.matches { throw ExitCode.failure }
    }
}
