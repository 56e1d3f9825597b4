import Foundation
import Logging
import PagodaPostgres
import PostgresNIO

/// The test PostgreSQL server: `PAGODA_TEST_POSTGRES_URL` (ops/test.sh starts one with ops/postgres.sh and
/// sets it). Outside CI, without the variable, a private server is started on the default URL's port under
/// .build when nothing answers there; in CI a missing variable fails the tests that need it, saying so.
public enum TestPostgres {
    public static let defaultURL = "postgres://pagoda@127.0.0.1:5433/pagoda"

    public static let logger: Logger = {
        var l = Logger(label: "pagoda.conformance.tests")
        l.logLevel = ProcessInfo.processInfo.environment["PAGODA_TEST_LOG"] == "debug" ? .debug : .warning
        return l
    }()

    public struct SetupError: Error, CustomStringConvertible {
        public let description: String
    }

    /// The server's URL (its `pagoda` database, whose role may create databases).
    public static var url: String {
        get throws {
            let env = ProcessInfo.processInfo.environment
            if let url = env["PAGODA_TEST_POSTGRES_URL"], !url.isEmpty { return url }
            if env["CI"] != nil {
                throw SetupError(
                    description: """
                        PAGODA_TEST_POSTGRES_URL is unset: the store conformance suite needs a PostgreSQL server \
                        (ops/test.sh starts one with ops/postgres.sh and sets the variable)
                        """)
            }
            return defaultURL
        }
    }

    static var script: String { repositoryRoot.appendingPathComponent("ops/postgres.sh").path }

    /// One start attempt per test process. A server named by `PAGODA_TEST_POSTGRES_URL` was started by
    /// the caller: it is waited for (a loaded machine may take seconds to accept a connection), never
    /// started a second time on its port. Without the variable, a private server is started when nothing
    /// answers on the default URL.
    private static let startup = Task<PostgresStoreConfiguration, any Error> {
        let given = ProcessInfo.processInfo.environment["PAGODA_TEST_POSTGRES_URL"].map { !$0.isEmpty } ?? false
        let configuration = try PostgresStoreConfiguration(url: try url)
        if given {
            let deadline = ContinuousClock.now + .seconds(60)
            while ContinuousClock.now < deadline {
                if await answers(configuration) { return configuration }
                try await Task.sleep(for: .seconds(1))
            }
            throw SetupError(
                description: """
                    PAGODA_TEST_POSTGRES_URL names \(configuration.host):\(configuration.port), which took no \
                    connection within 60 s
                    """)
        }
        if !(await answers(configuration)) {
            let dir = repositoryRoot.appendingPathComponent(".build/test-postgres-\(configuration.port)").path
            let (status, output) = try await runProcess(["bash", script, "start", dir, String(configuration.port)])
            guard status == 0 else {
                throw SetupError(description: "ops/postgres.sh could not start PostgreSQL: \(output)")
            }
        }
        return configuration
    }

    /// Whether the server takes a connection within 5 s (one connection of its own, which a timeout can
    /// cancel; a pool would keep trying).
    private static func answers(_ c: PostgresStoreConfiguration) async -> Bool {
        await withTaskGroup(of: Bool.self) { group in
            group.addTask {
                guard
                    let probe = try? await PostgresConnection.connect(
                        configuration: .init(
                            host: c.host, port: c.port, username: c.username, password: c.password,
                            database: c.database, tls: .disable), id: 0, logger: logger)
                else { return false }
                try? await probe.close()
                return true
            }
            group.addTask {
                try? await Task.sleep(for: .seconds(5))
                return false
            }
            let answered = await group.next() ?? false
            group.cancelAll()
            return answered
        }
    }

    /// Runs one statement on the server's own database (CREATE and DROP DATABASE cannot run in a transaction).
    private static func admin(_ sql: String) async throws {
        let c = try await startup.value
        let client = PostgresClient(
            configuration: .init(
                host: c.host, port: c.port, username: c.username, password: c.password, database: c.database,
                tls: .disable), backgroundLogger: logger)
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { await client.run() }
            defer { group.cancelAll() }
            try await client.query(PostgresQuery(unsafeSQL: sql), logger: logger)
        }
    }

    /// Ends every connection to `database` from the server's side (as a server restart or a network cut
    /// would), with `pg_terminate_backend`.
    public static func terminateConnections(to database: String) async throws {
        try await admin(
            """
            SELECT pg_terminate_backend(pid) FROM pg_stat_activity
            WHERE datname = '\(database.replacingOccurrences(of: "'", with: "''"))' AND pid <> pg_backend_pid()
            """)
    }

    /// A new, empty database for one test, owned by the URL's role.
    public static func createDatabase() async throws -> PostgresStoreConfiguration {
        var c = try await startup.value
        let name = "pagoda_t_" + UUID().uuidString.replacingOccurrences(of: "-", with: "").lowercased().prefix(16)
        try await admin("CREATE DATABASE \(name)")
        c.database = String(name)
        return c
    }

    public static func dropDatabase(_ name: String) async {
        try? await admin("DROP DATABASE IF EXISTS \(name) WITH (FORCE)")
    }
}
