import Foundation
import PagodaJSON
import PagodaPostgres
import PagodaService
import PagodaStore
import PagodaTesting
import Testing

/// `pagoda serve` on PostgreSQL (a private server, `TestPostgres`) through the real broker, beside one on a
/// SQLite file with the same tickets: both dispatch them once, and `pagoda show` and `pagoda report` read
/// the same from either, and `pagoda rejected` handles a rejection there. Part of the (serialized) service
/// suite: it shares its broker.
extension ServiceTests {
    @Test func servesOnPostgreSQLAsOnSQLite() async throws {
        let database = try await TestPostgres.createDatabase()
        let url = database.description
        let pg = try await World(database: url, serveArguments: ["--console-address", "none"])
        let lite = try await World(serveArguments: ["--console-address", "none"])
        let tickets = (1...6).map { Self.ticket($0, prefix: "PG") }
        for w in [pg, lite] {
            try await w.publishAll(tickets)
            // One ticket again: the inbox keeps it from being dispatched twice.
            try await w.publish(tickets[0].1, id: tickets[0].0)
        }
        // A body that is not a ticket: rejected, and the rejection kept for `pagoda rejected`.
        try await pg.publish(Array(#"{"id": "PG-BAD", "text": "13812345678"}"#.utf8), id: "bad-1")
        for (w, name) in [(pg, "postgres"), (lite, "sqlite")] {
            #expect(
                await eventually { Set(w.dispatched().keys) == Set(tickets.map(\.0)) },
                "\(name): dispatched \(w.dispatched().keys.sorted())\n\(w.serve.log.suffix(3000))")
        }
        #expect(pg.serve.log.contains("db.path=\(url)"), "the log names the database without a password")
        // Each ticket once, with one dispatch sequence, and the same routes on both.
        let routes = pg.dispatched().mapValues(\.routingKey)
        #expect(routes == lite.dispatched().mapValues(\.routingKey))
        #expect(pg.dispatched().values.allSatisfy { $0.seqs.count == 1 })
        await pg.stop()
        await lite.stop()
        // The duplicate was recorded (not dispatched) on both: the stores hold six tickets.
        let store = try await PostgresStore.open(database, logger: TestPostgres.logger)
        let counts = try await store.counts()
        await store.close()
        #expect(counts.tickets == 6 && counts.inbox == 6 && counts.lastDispatchSequence == 6, "\(counts)")

        func pagoda(_ args: [String]) async throws -> (status: Int32, stdout: String, stderr: String) {
            try await runProcess([ServeProcess.binary] + args, separateStderr: true)
        }
        // The stored decisions are the same bytes but for each world's queue prefix.
        for (id, _) in tickets {
            let a = try await pagoda(["show", id, "--db", url, "--json"])
            let b = try await pagoda(["show", id, "--db", lite.db, "--json"])
            let (x, y) = (
                a.stdout.replacingOccurrences(of: "\"\(pg.names.prefix).", with: "\"P."),
                b.stdout.replacingOccurrences(of: "\"\(lite.names.prefix).", with: "\"P.")
            )
            #expect(a.status == 0 && x == y && x.contains("\"P.unit."), "\(a)\n\(b)")
        }
        let shown = try await pagoda(["show", "PG-1", "--db", url])
        #expect(shown.status == 0, "\(shown)")
        #expect(shown.stdout.contains("ticket PG-1  state ") && shown.stdout.contains("lifecycle: assigned"))
        #expect(shown.stdout.contains("timeline:") && shown.stdout.contains("ticket.dispatched"), "\(shown.stdout)")
        #expect(try await pagoda(["show", "nobody", "--db", url]).status == 1)
        let asOf = RFC3339.format(Date().addingTimeInterval(3_600), offsetSeconds: 28_800)
        let reportPG = try await pagoda(["report", "--db", url, "--format", "json", "--as-of", asOf])
        let reportLite = try await pagoda(["report", "--db", lite.db, "--format", "json", "--as-of", asOf])
        #expect(reportPG.status == 0 && reportPG.stdout == reportLite.stdout, "\(reportPG)\n\(reportLite)")
        #expect(reportPG.stdout.contains("\"assigned\":"), "\(reportPG.stdout)")

        // The rejection on PostgreSQL, as `pagoda rejected` shows and drops it; the phone number stays masked.
        let open = try await pagoda(["rejected", "list", "--db", url])
        let line = try #require(open.stdout.split(separator: "\n").first, "\(open)")
        #expect(open.status == 0 && line.contains("open  required"), "\(open)")
        let id = String(line.prefix { $0 != " " })
        let one = try await pagoda(["rejected", "show", id, "--db", url])
        #expect(one.status == 0 && one.stdout.contains("PG-BAD") && !one.stdout.contains("13812345678"), "\(one)")
        let drop = try await pagoda(["rejected", "drop", id, "--reason", "test traffic", "--by", "ops", "--db", url])
        #expect(drop.status == 0, "\(drop)")
        let again = try await pagoda(["rejected", "drop", id, "--reason", "again", "--by", "ops", "--db", url])
        #expect(again.status == 1 && again.stderr.contains("already dropped by ops"), "\(again)")
        let dropped = try await pagoda(["rejected", "list", "--status", "dropped", "--db", url])
        #expect(dropped.stdout.hasPrefix("\(id)  ") && dropped.stdout.contains("(dropped by ops"), "\(dropped)")
        await TestPostgres.dropDatabase(database.database)
    }
}
