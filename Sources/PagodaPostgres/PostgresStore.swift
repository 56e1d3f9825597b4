import Foundation
import Logging
import PagodaStore
import PostgresNIO
import Synchronization

/// The durable store of the dispatch pipeline on PostgreSQL 15: the same tables, invariants and stored bytes
/// as SQLite's `DispatchStore`, behind the same seams (`IntakeStore`, `OutboxStore`, `LifecycleStore`).
///
/// Connections come from a postgres-nio `PostgresClient` pool that the store runs in a task of its own.
/// Every write runs in ONE transaction that first takes the store's writer lock (a transaction-level
/// advisory lock, `writerLock`): writes are serialized as on SQLite's single writer connection, across
/// processes too, so the dispatch sequence has no gaps, an inbox check sees every earlier commit, and outbox
/// ids (identity values, taken under the lock) grow in commit order, which the relay's cursor relies on.
/// Reads run on other pooled connections without the lock and see the last committed state; a read of
/// several statements runs in one REPEATABLE READ snapshot. A write, once started, runs to its end even if
/// the awaiting task is cancelled (as the SQLite store's async writes do).
///
/// Errors are `StoreError`s: a lost or refused connection, a server shutting down, a full disk give
/// storage failures (`io`, `cannotOpen`, `readOnly`, `busy`), on which the services hold their work and
/// try again; a constraint violation gives `constraint`. After a failed COMMIT the outcome is unknown; the
/// services' retry is safe (committed tickets come back `.duplicate`, commands `.duplicateCommand` or
/// `.conflict`).
public final class PostgresStore: Sendable {
    /// The key of the transaction-level advisory lock every write transaction takes first ("Pagoda" in ASCII).
    static let writerLock: Int64 = 0x5061_676F_6461
    let client: PostgresClient
    /// The lease's own connection (`PostgresStore+Lease`): a renewal never waits for a connection behind
    /// writes queued on the writer lock or slow console reads, which would let the lease run out under load.
    let leaseClient: PostgresClient
    private let running: Task<Void, Never>
    let logger: Logger
    /// What every write transaction checks of the lease (`PostgresStore+Lease`): nothing until a node
    /// that competes for the lease sets it.
    let fence = Mutex<WriteFence>(.unchecked)
    /// The configuration the store was opened with.
    public let configuration: PostgresStoreConfiguration

    private init(configuration: PostgresStoreConfiguration, logger: Logger) {
        self.configuration = configuration
        self.logger = logger
        var c = PostgresClient.Configuration(
            host: configuration.host, port: configuration.port, username: configuration.username,
            password: configuration.password, database: configuration.database, tls: .disable)
        c.options.maximumConnections = configuration.maximumConnections
        c.options.connectTimeout = configuration.connectTimeout
        let client = PostgresClient(configuration: c, backgroundLogger: logger)
        self.client = client
        var one = c
        one.options.minimumConnections = 0
        one.options.maximumConnections = 1
        let leaseClient = PostgresClient(configuration: one, backgroundLogger: logger)
        self.leaseClient = leaseClient
        running = Task {
            await withDiscardingTaskGroup { group in
                group.addTask { await client.run() }
                group.addTask { await leaseClient.run() }
            }
        }
    }

    /// Connects to the database `configuration` names and brings its schema up to date.
    ///
    /// Runs the pending named migrations, each in its own transaction under a migration lock (so two
    /// processes opening a new database at once apply each migration once). Throws `.cannotOpen` when the
    /// server cannot be reached within `connectTimeout` or refuses the login or the database,
    /// `.migrationFailed` when a migration fails or the database was migrated by a newer version of this code
    /// (it names the migrations it does not know).
    public static func open(_ configuration: PostgresStoreConfiguration, logger: Logger) async throws(StoreError)
        -> PostgresStore
    {
        let store = PostgresStore(configuration: configuration, logger: logger)
        do {
            try await store.migrate()
        } catch {
            await store.close()
            throw error
        }
        return store
    }

    /// Closes the pool's connections. Calls after it fail with a storage error.
    public func close() async {
        running.cancel()
        await running.value
    }

    /// Names of all migrations this version knows, in order.
    public static var knownMigrations: [String] { PostgresSchema.migrations.map(\.name) }

    /// Names of the migrations applied to the database, in the order they were applied.
    public func appliedMigrations() async throws(StoreError) -> [String] {
        try await read { conn in
            var names: [String] = []
            for try await name in try await conn.query(
                "SELECT name FROM schema_migrations ORDER BY applied_at, name", logger: self.logger
            ).decode(String.self) {
                names.append(name)
            }
            return names
        }
    }

    private func migrate() async throws(StoreError) {
        // Reachability first, with a deadline of its own: the pool keeps trying to connect, so a server
        // that is down would otherwise keep the first query waiting.
        try await reachable()
        do {
            try await Self.uncancelled { [client, logger] in
                try await client.withConnection { conn in
                    try await conn.withTransaction(logger: logger) { conn in
                        // Any transaction-level advisory lock of the database; released at commit.
                        try await conn.perform("SELECT pg_advisory_xact_lock(\(Self.writerLock + 1))", logger: logger)
                        try await conn.perform(PostgresQuery(unsafeSQL: PostgresSchema.migrationsTable), logger: logger)
                        var applied = Set<String>()
                        for try await name in try await conn.query("SELECT name FROM schema_migrations", logger: logger)
                            .decode(String.self)
                        {
                            applied.insert(name)
                        }
                        let unknown = applied.subtracting(Self.knownMigrations).sorted()
                        if !unknown.isEmpty {
                            throw StoreError(
                                .migrationFailed,
                                "database has migrations unknown to this version: \(unknown.joined(separator: ", "))")
                        }
                        for m in PostgresSchema.migrations where !applied.contains(m.name) {
                            for statement in m.statements {
                                try await conn.perform(PostgresQuery(unsafeSQL: statement), logger: logger)
                            }
                            let now = EpochMillis.from(Date())
                            try await conn.perform(
                                "INSERT INTO schema_migrations (name, applied_at) VALUES (\(m.name), \(now))",
                                logger: logger)
                        }
                    }
                }
            }
        } catch {
            let wrapped = Self.storeError(error, fallback: .migrationFailed)
            switch wrapped.code {
            case .io, .busy, .cannotOpen, .readOnly, .corrupt, .migrationFailed: throw wrapped
            default: throw StoreError(.migrationFailed, wrapped.message)
            }
        }
    }

    /// Connects once, waiting up to the configuration's `connectTimeout`; `.cannotOpen` with the reason (the
    /// server's refusal: an unknown database, a failed login; no connection; no answer in time) otherwise.
    private func reachable() async throws(StoreError) {
        let (c, logger, timeout) = (configuration, self.logger, configuration.connectTimeout)
        let server = configuration.description
        do {
            try await withThrowingTaskGroup(of: Bool.self) { group in
                group.addTask {
                    // One connection of its own: the pool would keep retrying and hide the server's refusal.
                    let probe = try await PostgresConnection.connect(
                        configuration: .init(
                            host: c.host, port: c.port, username: c.username, password: c.password,
                            database: c.database,
                            tls: .disable), id: 0, logger: logger)
                    try? await probe.close()
                    return true
                }
                group.addTask {
                    try await Task.sleep(for: timeout)
                    return false
                }
                let answered = try await group.next() ?? false
                group.cancelAll()
                if !answered {
                    throw StoreError(.cannotOpen, "no answer from \(server) within \(timeout)")
                }
            }
        } catch {
            let wrapped = Self.storeError(error, fallback: .cannotOpen)
            throw wrapped.isStorageFailure ? StoreError(.cannotOpen, "\(server): \(wrapped.message)") : wrapped
        }
    }

    // MARK: - Transactions

    /// Runs `body` in ONE write transaction holding the writer lock; every write of the store goes through
    /// here, and this is where the fencing token is checked (`writeFence`, docs/architecture.md, "Several
    /// nodes, one active"): right after the lock, before `body`, the lease row is read and its epoch
    /// compared with the node's, so a write either runs under the lease the node holds or writes nothing
    /// and throws `.fenced`. Every write that starts after a takeover sees the new epoch; one in flight
    /// across it still holds the writer lock, so the new active's writes come after it.
    func write<T: Sendable>(
        synchronousCommit: Bool = true, _ body: @escaping @Sendable (PostgresConnection, Logger) async throws -> T
    ) async throws(StoreError) -> T {
        let (client, logger) = (self.client, self.logger)
        let fence = self.fence.withLock { $0 }
        let idleLimit = Self.milliseconds(configuration.idleInTransactionLimit)
        if case .refused = fence { throw StoreError(.fenced, "this node does not hold the lease") }
        do {
            return try await Self.uncancelled {
                try await client.withConnection { conn in
                    try await conn.withTransaction(logger: logger) { conn in
                        // The writer lock and the transaction's settings in one round trip (a batch's
                        // overhead is paid on every write). Like SQLite's marks without an fsync of their
                        // own, `synchronousCommit: false` commits without waiting for the WAL flush: a lost
                        // mark after a crash only means a message is published again, which consumers
                        // recognise by its id. A node holding the lease bounds its transactions: one frozen
                        // (SIGSTOP) or cut off half way through a write must not keep the writer lock and
                        // the lease row locked; the server ends such a session, so a takeover does not wait
                        // for it and the frozen write commits nothing.
                        var settings = ["pg_advisory_xact_lock(\(Self.writerLock))"]
                        if !synchronousCommit { settings.append("set_config('synchronous_commit', 'off', true)") }
                        if case .epoch = fence {
                            settings.append(
                                "set_config('idle_in_transaction_session_timeout', '\(idleLimit)', true)"
                            )
                        }
                        try await conn.perform(
                            PostgresQuery(unsafeSQL: "SELECT " + settings.joined(separator: ", ")), logger: logger)
                        if case .epoch(let mine) = fence { try await Self.checkLease(mine, on: conn, logger: logger) }
                        return try await body(conn, logger)
                    }
                }
            }
        } catch {
            throw Self.storeError(error)
        }
    }

    /// Runs `body` on a pooled connection, outside a transaction (one statement is one snapshot), or in
    /// one REPEATABLE READ, READ ONLY transaction with `snapshot`.
    func read<T: Sendable>(
        snapshot: Bool = false, onLeaseConnection: Bool = false, _ body: (PostgresConnection) async throws -> T
    ) async throws(StoreError) -> T {
        let (client, logger) = (onLeaseConnection ? leaseClient : self.client, self.logger)
        do {
            return try await client.withConnection { conn in
                guard snapshot else { return try await body(conn) }
                return try await conn.withTransaction(logger: logger) { conn in
                    try await conn.perform("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY", logger: logger)
                    return try await body(conn)
                }
            }
        } catch {
            throw Self.storeError(error)
        }
    }

    /// Runs `work` in a task of its own, so that cancelling the caller does not interrupt a write half way.
    static func uncancelled<T: Sendable>(_ work: @escaping @Sendable () async throws -> T) async throws -> T {
        try await Task { try await work() }.value
    }

    /// Maps postgres-nio's errors to `StoreError` by SQLSTATE class (server errors) or by what failed
    /// (connection errors are storage failures: the same write succeeds once the server is back).
    static func storeError(_ error: any Error, fallback: StoreError.Code = .internal) -> StoreError {
        if let e = error as? StoreError { return e }
        if let t = error as? PostgresTransactionError {
            if let e = t.closureError ?? t.commitError ?? t.beginError ?? t.rollbackError {
                return storeError(e, fallback: fallback)
            }
            return StoreError(fallback, "transaction failed")
        }
        guard let p = error as? PSQLError else {
            if error is CancellationError { return StoreError(.busy, "cancelled") }
            return StoreError(fallback, String(describing: error))
        }
        switch p.code {
        case .server:
            let state = p.serverInfo?[.sqlState] ?? ""
            let text = "PostgreSQL \(state): \(p.serverInfo?[.message] ?? "no message")"
            switch state {
            case "25006": return StoreError(.readOnly, text)
            case "40001", "40P01", "55P03", "57014": return StoreError(.busy, text)
            // The server ended a session left idle in a transaction (a node frozen half way through a write).
            case "25P03": return StoreError(.io, text)
            case "XX001", "XX002": return StoreError(.corrupt, text)
            case "3D000", "28000", "28P01": return StoreError(.cannotOpen, text)
            default: break
            }
            switch state.prefix(2) {
            case "23", "22": return StoreError(.constraint, text)
            case "08", "53", "57", "58": return StoreError(.io, text)
            case "28": return StoreError(.cannotOpen, text)
            default: return StoreError(fallback, text)
            }
        case .connectionError, .serverClosedConnection, .clientClosedConnection, .uncleanShutdown, .poolClosed:
            return StoreError(.io, "PostgreSQL connection: \(p.code)\(p.underlying.map { ": \($0)" } ?? "")")
        case .queryCancelled:
            return StoreError(.busy, "PostgreSQL query cancelled")
        case .tooManyParameters:
            return StoreError(.invalidArgument, "too many parameters in one statement")
        default:
            return StoreError(fallback, "PostgreSQL: \(p.code)")
        }
    }
}

/// Where the PostgreSQL store connects: `postgres://USER[:PASSWORD]@HOST[:PORT]/DATABASE`.
public struct PostgresStoreConfiguration: Sendable, CustomStringConvertible {
    public var host: String
    public var port: Int
    public var username: String
    public var password: String?
    public var database: String
    /// Pooled connections at most (intake, the lifecycle loop and the relay each hold one at a time).
    public var maximumConnections = 8
    /// How long opening waits for the server, and each new connection for its handshake.
    public var connectTimeout: Duration = .seconds(10)
    /// With a lease (several nodes): how long a write transaction may wait for its node between statements
    /// before the server ends the session, so that a frozen node does not keep the writer lock past the
    /// lease's time to live (5 s). Tests that play two nodes on a loaded machine raise it.
    public var idleInTransactionLimit: Duration = .seconds(5)

    public init(host: String, port: Int = 5432, username: String, password: String? = nil, database: String) {
        self.host = host
        self.port = port
        self.username = username
        self.password = password
        self.database = database
    }

    /// Whether `text` is a PostgreSQL URL (rather than a SQLite file path).
    public static func isURL(_ text: String) -> Bool {
        text.hasPrefix("postgres://") || text.hasPrefix("postgresql://")
    }

    /// Reads `postgres://USER[:PASSWORD]@HOST[:PORT]/DATABASE` (also `postgresql://`); percent-escapes in
    /// the user and password are decoded (URLComponents). Throws `.invalidArgument` naming what is missing or malformed
    /// (the password is never repeated in the message).
    public init(url text: String) throws(StoreError) {
        guard Self.isURL(text), let url = URLComponents(string: text) else {
            throw StoreError(.invalidArgument, "not a postgres:// URL: \(Self.redacted(text))")
        }
        guard let host = url.host, !host.isEmpty else {
            throw StoreError(.invalidArgument, "the PostgreSQL URL names no host: \(Self.redacted(text))")
        }
        guard let user = url.user, !user.isEmpty else {
            throw StoreError(.invalidArgument, "the PostgreSQL URL names no user: \(Self.redacted(text))")
        }
        let database = String(url.path.drop(while: { $0 == "/" }))
        guard !database.isEmpty, !database.contains("/") else {
            throw StoreError(.invalidArgument, "the PostgreSQL URL names no database: \(Self.redacted(text))")
        }
        if let port = url.port, !(1...65535).contains(port) {
            throw StoreError(.invalidArgument, "the PostgreSQL URL's port is out of range: \(Self.redacted(text))")
        }
        if let q = url.query, !q.isEmpty {
            throw StoreError(.invalidArgument, "the PostgreSQL URL takes no options (\(q))")
        }
        self.init(
            host: host, port: url.port ?? 5432, username: user, password: url.password, database: database)
    }

    /// The URL without its password.
    public var description: String {
        let h = host.contains(":") ? "[\(host)]" : host
        return "postgres://\(username)@\(h):\(port)/\(database)"
    }

    static func redacted(_ text: String) -> String {
        guard var c = URLComponents(string: text), c.password != nil else { return text }
        c.password = "***"
        return c.string ?? "(unreadable)"
    }
}

extension PostgresConnection {
    /// Runs `query` to its end, reading and dropping any rows, so that its error, if any, is thrown here
    /// (a query's rows, and an error after them, arrive only as they are read).
    func perform(_ query: PostgresQuery, logger: Logger) async throws {
        for try await _ in try await self.query(query, logger: logger) {}
    }
}
