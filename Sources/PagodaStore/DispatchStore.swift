import Foundation
import GRDB
import PagodaJSON

/// The durable SQLite store of the dispatch pipeline: inbox, tickets,
/// decisions, deadlines, events, rejections and the transactional outbox.
///
/// Every method is synchronous and may block on disk I/O and on the SQLite
/// write lock (up to `busyTimeout`); call it from a thread that may block,
/// never from a cooperative executor thread in a hot loop. Writes are
/// serialized by the single writer connection of a `DatabasePool` (WAL mode)
/// and, across processes, by SQLite's write lock: every write method runs
/// exactly one `BEGIN IMMEDIATE` transaction, so either all of its rows are
/// committed or none. Reads run on concurrent reader connections and see the
/// last committed state. All errors are `StoreError`.
///
/// The methods the service calls also come as `async` twins (same name, same transaction) on GRDB's
/// async access: a write waits on the writer connection's own queue, a read on a reader's, and neither
/// blocks a thread of the Swift concurrency pool; an async write runs to its end even if the awaiting task
/// is cancelled. In an async context Swift picks the async twin.
public final class DispatchStore: Sendable {
    let pool: DatabasePool
    /// The connection `checkpoint()` uses, when the configuration asks for background checkpoints.
    private let checkpointer: DatabaseQueue?
    /// The configuration the store was opened with.
    public let configuration: StoreConfiguration

    /// Opens (creating if needed) the database at `configuration.path` and
    /// brings its schema up to date.
    ///
    /// Opens a `DatabasePool` in WAL mode with foreign keys enforced, applies
    /// `PRAGMA synchronous` per configuration to every connection, and runs
    /// the pending named migrations (each in its own transaction; already
    /// applied ones are skipped, so reopening is cheap and a second store on
    /// the same file is safe).
    ///
    /// The file is private to its owner: created 0600 (its directory 0700 when missing), an existing one
    /// and its `-wal` and `-shm` files brought down to owner-only permissions (`StoreFiles.prepare`).
    ///
    /// Throws `.cannotOpen` if the file cannot be opened or created, `.corrupt`
    /// if it is not a database, `.migrationFailed` if a migration fails or the
    /// file was migrated by a newer version of this code, `.busy` if another
    /// process holds the lock longer than `busyTimeout` (opening is retried
    /// within that time, so concurrent first opens of a new file succeed).
    /// Blocks the calling thread for up to `busyTimeout`.
    /// Creates the database's directory (0700) and empty file (0600) when missing, as opening does, so that
    /// files kept beside the database (the service's instance lock) can be made before the store opens.
    /// Throws `.cannotOpen` naming the path and the reason.
    public static func prepareFiles(at path: String) throws(StoreError) {
        try StoreFiles.prepare(path)
    }

    public init(_ configuration: StoreConfiguration) throws(StoreError) {
        self.configuration = configuration
        try StoreFiles.prepare(configuration.path)
        // Opening and migrating take locks for which SQLite does not always
        // wait (switching a new file to WAL, upgrading a read to a write
        // while another connection migrates return SQLITE_BUSY at once).
        // Several processes opening the same file at the same moment would
        // fail spuriously, so retry the whole open while `busyTimeout` lasts.
        let clock = ContinuousClock()
        let deadline = clock.now.advanced(by: configuration.busyTimeout)
        while true {
            do {
                let opened = try Self.openAndMigrate(configuration)
                checkpointer = configuration.backgroundCheckpoints ? try Self.openCheckpointer(configuration) : nil
                pool = opened
                return
            } catch  where error.code == .busy && clock.now < deadline {
                Thread.sleep(forTimeInterval: 0.005 + Double.random(in: 0..<0.02))
            }
        }
    }

    private static func openAndMigrate(_ configuration: StoreConfiguration) throws(StoreError) -> DatabasePool {
        var config = Configuration()
        config.label = "PagodaStore"
        config.foreignKeysEnabled = true
        config.journalMode = .wal
        let timeout = configuration.busyTimeout.components
        config.busyMode = .timeout(Double(timeout.seconds) + Double(timeout.attoseconds) / 1e18)
        let synchronous = configuration.synchronous.rawValue
        let autocheckpoint = configuration.backgroundCheckpoints ? 65_536 : 1_000
        config.prepareDatabase { db in
            try db.execute(sql: "PRAGMA synchronous = \(synchronous)")
            try db.execute(sql: "PRAGMA wal_autocheckpoint = \(autocheckpoint)")
        }
        let pool = try storeOperation(fallback: .cannotOpen) {
            let pool = try DatabasePool(path: configuration.path, configuration: config)
            // GRDB's WAL setup runs after prepareDatabase and sets the writer to
            // NORMAL; re-apply the configured level on the writer connection,
            // the only one whose commits it affects.
            try pool.writeWithoutTransaction { db in
                try db.execute(sql: "PRAGMA synchronous = \(synchronous)")
                // A batch of intake touches several indexes at random places (text keys); with SQLite's
                // default 2 MiB page cache the writer read most index pages back from the file every
                // batch. The readers keep the default.
                try db.execute(sql: "PRAGMA cache_size = -65536")
            }
            return pool
        }
        try storeOperation(fallback: .migrationFailed) {
            let migrator = Schema.migrator
            if try pool.read({ try migrator.hasBeenSuperseded($0) }) {
                throw StoreError(
                    .migrationFailed,
                    "database at \(configuration.path) has migrations unknown to this version")
            }
            func applied() -> Int { (try? pool.read { try migrator.appliedMigrations($0) }.count) ?? 0 }
            var before = applied()
            while true {
                do {
                    try migrator.migrate(pool)
                    break
                } catch {
                    // Another process opening the same new file migrates it at the same time: GRDB reads the
                    // applied migrations outside each migration's transaction, so one of ours can lose the
                    // race (a table or column made twice). While the other makes progress, ours starts
                    // again from where the file is; the schema ends the same.
                    let now = applied()
                    if now > before {
                        before = now
                        continue
                    }
                    let wrapped = StoreError.wrap(error, fallback: .migrationFailed)
                    // Keep busy/io/corrupt distinguishable; everything else is a migration failure.
                    switch wrapped.code {
                    case .busy, .io, .corrupt, .readOnly: throw wrapped
                    default: throw StoreError(.migrationFailed, wrapped.message)
                    }
                }
            }
        }
        return pool
    }

    private static func openCheckpointer(_ configuration: StoreConfiguration) throws(StoreError) -> DatabaseQueue {
        var config = Configuration()
        config.label = "PagodaStore.checkpoint"
        // A restart checkpoint holds the writer off while it waits for the readers to leave the WAL: wait
        // briefly, and leave it for the next round when they are busy.
        config.busyMode = .timeout(0.05)
        let synchronous = configuration.synchronous.rawValue
        config.prepareDatabase { db in try db.execute(sql: "PRAGMA synchronous = \(synchronous)") }
        return try storeOperation(fallback: .cannotOpen) {
            try DatabaseQueue(path: configuration.path, configuration: config)
        }
    }

    /// Copies committed WAL frames back into the database file, on its own connection, and keeps the
    /// WAL from growing.
    ///
    /// A passive checkpoint first: it neither waits for nor blocks the writer or the readers and copies
    /// what is committed. Under steady writes the WAL never finds a moment where everything is copied
    /// before the next commit, so SQLite cannot start it over and it keeps growing; once it holds more
    /// than `restartFrames` frames, all of them already copied, a restart checkpoint waits for the readers
    /// to leave it (briefly holding off the writer, for very little is left to copy) so the next commit
    /// writes from its start again.
    ///
    /// For a store opened with `backgroundCheckpoints`; the owner calls it periodically from a thread that
    /// may block (it writes and fsyncs the database file). Returns the WAL's size in frames before the
    /// call, how many of them are in the database file, and whether the WAL was started over. Throws
    /// `.invalidArgument` for a store without background checkpoints.
    @discardableResult
    public func checkpoint(restartFrames: Int = 4_096) throws(StoreError) -> (
        walFrames: Int, checkpointed: Int, restarted: Bool
    ) {
        guard let checkpointer else {
            throw StoreError(.invalidArgument, "the store was opened without background checkpoints")
        }
        return try storeOperation { try checkpointer.inDatabase(Self.checkpointing(restartFrames: restartFrames)) }
    }

    /// `checkpoint` on its connection's own queue (GRDB's async access), awaited without blocking a thread.
    @discardableResult
    public func checkpoint(restartFrames: Int = 4_096) async throws(StoreError)
        -> (walFrames: Int, checkpointed: Int, restarted: Bool)
    {
        guard let checkpointer else {
            throw StoreError(.invalidArgument, "the store was opened without background checkpoints")
        }
        return try await storeOperation {
            try await checkpointer.writeWithoutTransaction(Self.checkpointing(restartFrames: restartFrames))
        }
    }

    private static func checkpointing(restartFrames: Int)
        -> @Sendable (Database) throws -> (walFrames: Int, checkpointed: Int, restarted: Bool)
    {
        { db in
            let passive = try Row.fetchOne(db, sql: "PRAGMA wal_checkpoint(PASSIVE)")
            let frames: Int = passive?[1] ?? 0
            let copied: Int = passive?[2] ?? 0
            guard frames > restartFrames, copied == frames else { return (frames, copied, false) }
            // Busy (readers did not leave in time, or the writer held on): the next round tries again.
            guard let restart = try? Row.fetchOne(db, sql: "PRAGMA wal_checkpoint(RESTART)") else {
                return (frames, copied, false)
            }
            let busy: Int = restart[0] ?? 1
            return (frames, copied, busy == 0)
        }
    }

    /// Closes all connections. Later calls throw. Optional: deinit also closes.
    ///
    /// Throws `.busy` if a statement is still running.
    public func close() throws(StoreError) {
        try storeOperation {
            try checkpointer?.close()
            try pool.close()
        }
    }

    // MARK: - Intake

    /// Records a batch of processed intake deliveries in ONE transaction.
    ///
    /// Returns one outcome per item, in order. For a dispatch whose ticket id
    /// is already in the inbox (from an earlier batch or earlier in this one)
    /// nothing is written and the outcome is `.duplicate` with the first
    /// dispatch's sequence. Otherwise the next global dispatch sequence is
    /// assigned (strictly increasing, no gaps among committed dispatches),
    /// `messages(sequence)` is called to build the outgoing messages, and the
    /// ticket, inbox, decision, deadlines, outbox and `ticket.dispatched` event
    /// rows are inserted: `.recorded(dispatchSequence:)`.
    ///
    /// A rejection inserts a `rejections` row and its outbox message (no inbox
    /// row): `.rejected(id:)`. A rejection whose AMQP message id brought a
    /// ticket that was dispatched is skipped as `.duplicate` with that
    /// dispatch's sequence (the delivery came back, as poison perhaps); one
    /// whose key is already recorded is skipped: `.duplicateRejection`. Without an AMQP message id,
    /// rejections are never deduplicated.
    ///
    /// The caller acks the deliveries only after this returns. On any error
    /// the whole batch is rolled back (nothing written, no sequence consumed)
    /// and the caller must not ack: `.constraint` for a schema violation (e.g.
    /// an outbox message id already used, or used twice in the batch; an
    /// empty ticket id), `.busy`, `.io`, `.corrupt`, `.readOnly`. Retrying a
    /// batch after an error is safe: committed tickets come back `.duplicate`.
    public func recordDispatches(_ items: [IntakeRecord]) throws(StoreError) -> [IntakeOutcome] {
        if items.isEmpty { return [] }
        return try storeOperation { try pool.writeWithoutTransaction(Self.recording(items)) }
    }

    /// `recordDispatches` on GRDB's writer queue: the caller awaits without blocking a thread. Like every
    /// async write here it runs to its end even if the awaiting task is cancelled (`uncancelled`).
    public func recordDispatches(_ items: [IntakeRecord]) async throws(StoreError) -> [IntakeOutcome] {
        if items.isEmpty { return [] }
        let pool = self.pool
        return try await storeOperation {
            try await Self.uncancelled { try await pool.writeWithoutTransaction(Self.recording(items)) }
        }
    }

    /// Runs `write` in a task of its own, so that cancelling the caller does not interrupt it: a write
    /// asked for completes or fails as a whole, and the caller settles its work on what really happened,
    /// as when the writes ran on a thread of their own (GRDB's async access would otherwise interrupt the
    /// statement and roll back on cancellation).
    static func uncancelled<T: Sendable>(_ write: @escaping @Sendable () async throws -> T) async throws -> T {
        try await Task { try await write() }.value
    }

    private static func recording(_ items: [IntakeRecord]) -> @Sendable (Database) throws -> [IntakeOutcome] {
        { db in
            var outcomes: [IntakeOutcome] = []
            try db.inTransaction(.immediate) {
                outcomes = try Self.insert(items, db)
                return .commit
            }
            return outcomes
        }
    }

    private static func insert(_ items: [IntakeRecord], _ db: Database) throws -> [IntakeOutcome] {
        guard
            let first = try Int64.fetchOne(
                db, sql: "SELECT last_value FROM sequences WHERE name = 'dispatch'")
        else {
            throw StoreError(.corrupt, "dispatch sequence row is missing")
        }
        var sequence = first
        var outcomes: [IntakeOutcome] = []
        outcomes.reserveCapacity(items.count)
        for item in items {
            switch item {
            case .dispatch(let dispatch):
                if let seen = try InboxRecord.dispatchSequence(ticketID: dispatch.ticketID, db) {
                    outcomes.append(.duplicate(dispatchSequence: seen))
                    continue
                }
                sequence += 1
                try insert(dispatch, sequence: sequence, db)
                outcomes.append(.recorded(dispatchSequence: sequence))
            case .rejection(var rejection):
                // A message already dispatched came back (as poison, or its body reads otherwise now): the
                // same message id with the same bytes.
                if let messageID = rejection.amqpMessageID,
                    let seen = try InboxRecord.dispatchSequence(amqpMessageID: messageID, body: rejection.body, db)
                {
                    outcomes.append(.duplicate(dispatchSequence: seen))
                    continue
                }
                // The same message again is a duplicate; another body under its id is a rejection of its own.
                if let messageID = rejection.amqpMessageID,
                    let body = try RejectionRecord.body(amqpMessageID: messageID, db)
                {
                    rejection = rejection.keyedByBody
                    let seen =
                        try body == Data(rejection.body)
                        || RejectionRecord.body(amqpMessageID: rejection.amqpMessageID!, db) != nil
                    if seen {
                        outcomes.append(.duplicateRejection)
                        continue
                    }
                }
                let at = EpochMillis.from(rejection.at)
                var row = RejectionRecord(
                    id: nil, amqpMessageID: rejection.amqpMessageID, code: rejection.code,
                    reason: rejection.reason, body: Data(rejection.body), createdAt: at,
                    issuesJSON: rejection.issuesJSON)
                try row.insertRow(db)
                guard let id = row.id else { throw StoreError(.internal, "rejection insert returned no id") }
                // The body is kept once, in the rejection: the outbox row refers to it (`withRejectionBodies`).
                var message = rejection.message
                message.body = []
                try OutboxRecord(message, ticketID: nil, rejectionID: id, createdAt: at).insertRow(db)
                outcomes.append(.rejected(id: id))
            }
        }
        if sequence != first {
            try db.execute(
                sql: "UPDATE sequences SET last_value = ? WHERE name = 'dispatch'", arguments: [sequence])
        }
        return outcomes
    }

    private static func insert(_ dispatch: TicketDispatch, sequence: Int64, _ db: Database) throws {
        let at = EpochMillis.from(dispatch.at)
        let decision = dispatch.decision
        try TicketRecord(
            id: dispatch.ticketID, receivedAt: EpochMillis.from(dispatch.receivedAt),
            body: Data(dispatch.ticketJSON), state: "dispatched", unitID: decision.unitID, createdAt: at
        ).insertRow(db)
        try InboxRecord(
            ticketID: dispatch.ticketID, amqpMessageID: dispatch.amqpMessageID, dispatchSeq: sequence,
            receivedAt: EpochMillis.from(dispatch.receivedAt)
        ).insertRow(db)
        var decisionRow = DecisionRecord(
            id: nil, ticketID: dispatch.ticketID, dispatchSeq: sequence,
            destinationType: decision.destinationType.rawValue, unitID: decision.unitID, level: decision.level,
            queue: decision.queue, ruleID: decision.ruleID, ruleFile: decision.ruleFile,
            ruleLine: decision.ruleLine, rulesHash: decision.rulesHash, slaProfile: decision.slaProfile,
            category: decision.category, urgency: decision.urgency, decisionJSON: Data(decision.decisionJSON),
            createdAt: at)
        try decisionRow.insertRow(db)
        for (clock, due) in decision.deadlines.sorted(by: { $0.key < $1.key }) {
            try DeadlineRecord(ticketID: dispatch.ticketID, clock: clock, dueAt: EpochMillis.from(due)).insertRow(db)
        }
        let messages = dispatch.messages(sequence)
        for message in messages {
            try OutboxRecord(message, ticketID: dispatch.ticketID, rejectionID: nil, createdAt: at).insertRow(db)
        }
        var event = EventRecord(
            id: nil, ticketID: dispatch.ticketID, type: "ticket.dispatched", at: at,
            payloadJSON: DispatchedEventPayload.json(
                sequence: sequence, decision: decision, messageIDs: messages.map(\.messageID)))
        try event.insertRow(db)
        if let start = dispatch.lifecycle {
            let match = try matchRepeat(
                ticketID: dispatch.ticketID, keys: dispatch.repeatKeys, receivedAt: dispatch.receivedAt,
                window: dispatch.repeatWindow, db)
            let life = start(match)
            try writeState(dispatch.ticketID, life.state, at: at, db)
            for e in life.events { try writeEvent(dispatch.ticketID, e, db) }
            for m in life.messages {
                try OutboxRecord(m, ticketID: dispatch.ticketID, rejectionID: nil, createdAt: at).insertRow(db)
            }
        }
    }

    // MARK: - Outbox

    /// Oldest unsent outbox messages first, at most `limit`, excluding ids in `inFlight`.
    ///
    /// Read-only: does not change `attempts` (see `claimOutbox`). A relay
    /// passes the ids it has published but not yet seen confirmed as
    /// `inFlight`; after a reconnect it passes an empty set, so unconfirmed
    /// rows come back and are re-sent. Throws `.invalidArgument` for a
    /// negative limit; `.busy`/`.io`/`.corrupt` from SQLite.
    public func pendingOutbox(limit: Int, excluding inFlight: Set<Int64> = []) throws(StoreError) -> [OutboxEntry] {
        guard limit >= 0 else { throw StoreError(.invalidArgument, "limit must be >= 0, got \(limit)") }
        if limit == 0 { return [] }
        return try storeOperation {
            try pool.read { db in
                let rows = try Self.pendingRows(limit: limit, excluding: inFlight, db)
                return try Self.withRejectionBodies(rows, db).map { try $0.outboxEntry() }
            }
        }
    }

    /// Like `pendingOutbox`, and counts the hand-out: increments `attempts` of
    /// the returned rows in ONE transaction.
    ///
    /// Use it from the relay right before publishing, so `attempts` tells how
    /// often a message was published (re-sends after reconnects). The returned
    /// messages carry the incremented count. Same failure modes as
    /// `pendingOutbox`; on error no attempt is counted.
    public func claimOutbox(limit: Int, excluding inFlight: Set<Int64> = []) throws(StoreError) -> [OutboxEntry] {
        guard limit >= 0 else { throw StoreError(.invalidArgument, "limit must be >= 0, got \(limit)") }
        if limit == 0 { return [] }
        return try storeOperation {
            try pool.writeWithoutTransaction { db in
                var claimed: [OutboxEntry] = []
                try db.inTransaction(.immediate) {
                    var rows = try Self.withRejectionBodies(Self.pendingRows(limit: limit, excluding: inFlight, db), db)
                    for chunk in Self.chunks(rows.compactMap(\.id)) {
                        try OutboxRecord.filter(chunk.contains(OutboxRecord.Columns.id))
                            .updateAll(db, OutboxRecord.Columns.attempts += 1)
                    }
                    for index in rows.indices { rows[index].attempts += 1 }
                    claimed = try rows.map { try $0.outboxEntry() }
                    return .commit
                }
                return claimed
            }
        }
    }

    /// Unsent outbox messages with an id above `cursor`, oldest first, at most `limit`.
    ///
    /// Outbox ids grow in commit order (there is one writer at a time), so a relay that remembers the
    /// highest id it has taken reads only new rows, through the primary key, however many are in flight.
    /// A relay starting afresh passes 0 and gets every unsent row. Read-only.
    public func pendingOutbox(after cursor: Int64, limit: Int) throws(StoreError) -> [OutboxEntry] {
        guard limit >= 0 else { throw StoreError(.invalidArgument, "limit must be >= 0, got \(limit)") }
        if limit == 0 { return [] }
        return try storeOperation { try pool.read(Self.unsent(after: cursor, limit: limit)) }
    }

    /// `pendingOutbox(after:limit:)` on a reader connection's queue, awaited without blocking a thread.
    public func pendingOutbox(after cursor: Int64, limit: Int) async throws(StoreError) -> [OutboxEntry] {
        guard limit >= 0 else { throw StoreError(.invalidArgument, "limit must be >= 0, got \(limit)") }
        if limit == 0 { return [] }
        return try await storeOperation { try await pool.read(Self.unsent(after: cursor, limit: limit)) }
    }

    private static func unsent(after cursor: Int64, limit: Int) -> @Sendable (Database) throws -> [OutboxEntry] {
        { db in
            let rows =
                try OutboxRecord
                .filter(OutboxRecord.Columns.sentAt == nil && OutboxRecord.Columns.id > cursor)
                .order(OutboxRecord.Columns.id)
                .limit(limit)
                .fetchAll(db)
            return try Self.withRejectionBodies(rows, db).map { try $0.outboxEntry() }
        }
    }

    /// The rows with the body of the rejection each rejection row publishes: it is stored in the
    /// `rejections` row only (rows written before that carry a copy of their own, which this replaces with
    /// the same bytes).
    private static func withRejectionBodies(_ rows: [OutboxRecord], _ db: Database) throws -> [OutboxRecord] {
        let ids = rows.compactMap(\.rejectionID)
        if ids.isEmpty { return rows }
        var bodies: [Int64: Data] = [:]
        for chunk in chunks(ids) {
            let marks = chunk.map { _ in "?" }.joined(separator: ",")
            let found = try Row.fetchAll(
                db, sql: "SELECT id, body FROM rejections WHERE id IN (\(marks))",
                arguments: StatementArguments(chunk))
            for row in found { bodies[row["id"]] = row["body"] }
        }
        return try rows.map { row in
            guard let id = row.rejectionID else { return row }
            guard let body = bodies[id] else {
                throw StoreError(.corrupt, "outbox row \(row.id ?? 0) refers to rejection \(id), which is missing")
            }
            var row = row
            row.body = body
            return row
        }
    }

    private static func pendingRows(limit: Int, excluding inFlight: Set<Int64>, _ db: Database) throws -> [OutboxRecord]
    {
        var request =
            OutboxRecord
            .filter(OutboxRecord.Columns.sentAt == nil)
            .order(OutboxRecord.Columns.id)
            .limit(limit)
        if !inFlight.isEmpty {
            // One bound parameter per id: relays keep their in-flight window far
            // below SQLite's 32766-parameter limit.
            request = request.filter(!inFlight.contains(OutboxRecord.Columns.id))
        }
        return try request.fetchAll(db)
    }

    /// Marks outbox rows as confirmed by the broker, in ONE transaction.
    ///
    /// Sets `sent_at = at` on the given rows that are still unsent; rows
    /// already sent keep their first `sent_at`, unknown ids are ignored, so
    /// repeating a call (duplicate confirm) is harmless. Returns how many rows
    /// changed from unsent to sent. Throws `.busy`/`.io`/`.readOnly`; on error
    /// nothing is marked and the rows will be re-sent (consumers dedupe by
    /// message id).
    @discardableResult
    public func markSent(_ ids: [Int64], at: Date) throws(StoreError) -> Int {
        if ids.isEmpty { return 0 }
        return try storeOperation { try pool.writeWithoutTransaction(marking(ids, at: at)) }
    }

    /// `markSent` on GRDB's writer queue: the caller awaits without blocking a thread.
    @discardableResult
    public func markSent(_ ids: [Int64], at: Date) async throws(StoreError) -> Int {
        if ids.isEmpty { return 0 }
        let (pool, marking) = (self.pool, marking(ids, at: at))
        return try await storeOperation {
            try await Self.uncancelled { try await pool.writeWithoutTransaction(marking) }
        }
    }

    private func marking(_ ids: [Int64], at: Date) -> @Sendable (Database) throws -> Int {
        let sentAt = EpochMillis.from(at)
        let full = configuration.synchronous == .full
        return { db in
            // No fsync of its own: the WAL is appended in order, so the next fully synchronous commit
            // (the next intake batch) makes these marks durable too. Lost marks after a power loss
            // only mean those messages are published again, which workers recognise.
            if full { try db.execute(sql: "PRAGMA synchronous = NORMAL") }
            var changed = 0
            let result = Result {
                try db.inTransaction(.immediate) {
                    for chunk in Self.chunks(ids) {
                        changed +=
                            try OutboxRecord
                            .filter(chunk.contains(OutboxRecord.Columns.id) && OutboxRecord.Columns.sentAt == nil)
                            .updateAll(db, OutboxRecord.Columns.sentAt.set(to: sentAt))
                    }
                    return .commit
                }
            }
            // Back to the configured level before anything else commits on this connection; if that
            // fails, the error is the caller's (intake must not go on committing without fsync).
            if full { try db.execute(sql: "PRAGMA synchronous = FULL") }
            try result.get()
            return changed
        }
    }

    /// Deletes up to `limit` outbox rows the broker confirmed before `sentBefore`, oldest first, in ONE
    /// short transaction; returns how many it deleted (fewer than `limit`: none of that age is left).
    ///
    /// What a row held is not lost: a dispatch's ticket and decision, a lifecycle event's timeline row and
    /// a rejection's body and reason stay in their own tables; unsent rows are never deleted. It looks only
    /// at rows created before `sentBefore` (ids grow with time, so the scan stops at the first younger
    /// row) and does not fsync on its own (like `markSent`): after a power loss a deletion may be done
    /// again. Meant to be called in a loop, with pauses, off the intake path. Throws `.invalidArgument`
    /// for a limit below 1; `.busy`/`.io`/`.readOnly` from SQLite (nothing deleted).
    @discardableResult
    public func pruneSentOutbox(sentBefore: Date, limit: Int = 500) throws(StoreError) -> Int {
        guard limit >= 1 else { throw StoreError(.invalidArgument, "limit must be >= 1, got \(limit)") }
        return try storeOperation { try pool.writeWithoutTransaction(pruning(sentBefore: sentBefore, limit: limit)) }
    }

    /// `pruneSentOutbox` on GRDB's writer queue: the caller awaits without blocking a thread.
    @discardableResult
    public func pruneSentOutbox(sentBefore: Date, limit: Int = 500) async throws(StoreError) -> Int {
        guard limit >= 1 else { throw StoreError(.invalidArgument, "limit must be >= 1, got \(limit)") }
        let (pool, pruning) = (self.pool, pruning(sentBefore: sentBefore, limit: limit))
        return try await storeOperation {
            try await Self.uncancelled { try await pool.writeWithoutTransaction(pruning) }
        }
    }

    private func pruning(sentBefore: Date, limit: Int) -> @Sendable (Database) throws -> Int {
        let cutoff = EpochMillis.from(sentBefore)
        let full = configuration.synchronous == .full
        return { db in
            if full { try db.execute(sql: "PRAGMA synchronous = NORMAL") }
            var deleted = 0
            let result = Result {
                try db.inTransaction(.immediate) {
                    try db.execute(
                        sql: """
                            DELETE FROM outbox WHERE id IN (
                              SELECT id FROM outbox
                              WHERE id < coalesce((SELECT id FROM outbox WHERE created_at >= ?1 ORDER BY id LIMIT 1),
                                                  9223372036854775807)
                                AND sent_at IS NOT NULL AND sent_at < ?1
                              ORDER BY id LIMIT ?2)
                            """, arguments: [cutoff, limit])
                    deleted = db.changesCount
                    return .commit
                }
            }
            if full { try db.execute(sql: "PRAGMA synchronous = FULL") }
            try result.get()
            return deleted
        }
    }

    /// The sizes of the database file and its WAL, and the room left on their file system, from the file
    /// system (no SQLite lock, so it answers while the store cannot write).
    public func fileSizes() -> StoreFileSizes { StoreFiles.sizes(configuration.path) }

    /// Number of outbox messages not yet confirmed sent.
    public func outboxBacklog() throws(StoreError) -> Int {
        try storeOperation { try pool.read(Self.backlog) }
    }

    /// `outboxBacklog` on a reader connection's queue, awaited without blocking a thread.
    public func outboxBacklog() async throws(StoreError) -> Int {
        try await storeOperation { try await pool.read(Self.backlog) }
    }

    @Sendable private static func backlog(_ db: Database) throws -> Int {
        try OutboxRecord.filter(OutboxRecord.Columns.sentAt == nil).fetchCount(db)
    }

    private static func chunks(_ ids: [Int64], size: Int = 500) -> [[Int64]] {
        stride(from: 0, to: ids.count, by: size).map { Array(ids[$0..<min($0 + size, ids.count)]) }
    }

    // MARK: - Queries

    /// The ticket with its decisions, deadlines, outbox messages and events,
    /// or nil if no such ticket was recorded.
    ///
    /// Read from one consistent snapshot. Throws `.corrupt` if stored values
    /// cannot be decoded (unknown destination type, malformed headers JSON).
    public func ticket(id: String) throws(StoreError) -> TicketHistory? {
        try storeOperation { try pool.read(Self.history(id)) }
    }

    /// `ticket(id:)` on a reader connection's queue, awaited without blocking a thread.
    public func ticket(id: String) async throws(StoreError) -> TicketHistory? {
        try await storeOperation { try await pool.read(Self.history(id)) }
    }

    private static func history(_ id: String) -> @Sendable (Database) throws -> TicketHistory? {
        { db in
            guard let ticket = try TicketRecord.fetchOne(db, key: id) else { return nil }
            let inbox = try InboxRecord.fetchOne(db, key: id)
            let deadlines =
                try DeadlineRecord
                .filter(DeadlineRecord.Columns.ticketID == id)
                .order(DeadlineRecord.Columns.dueAt, DeadlineRecord.Columns.clock)
                .fetchAll(db)
            let deadlineMap = Dictionary(
                deadlines.map { ($0.clock, EpochMillis.date($0.dueAt)) }, uniquingKeysWith: { a, _ in a })
            let decisions =
                try DecisionRecord
                .filter(DecisionRecord.Columns.ticketID == id)
                .order(DecisionRecord.Columns.id)
                .fetchAll(db)
                .map { row -> TicketHistory.Decision in
                    guard let type = DecisionRow.DestinationType(rawValue: row.destinationType) else {
                        throw StoreError(.corrupt, "unknown destination type \(row.destinationType)")
                    }
                    return TicketHistory.Decision(
                        id: row.id ?? 0, dispatchSequence: row.dispatchSeq,
                        createdAt: EpochMillis.date(row.createdAt),
                        row: DecisionRow(
                            destinationType: type, unitID: row.unitID, level: row.level, queue: row.queue,
                            ruleID: row.ruleID, ruleFile: row.ruleFile, ruleLine: row.ruleLine,
                            rulesHash: row.rulesHash, slaProfile: row.slaProfile, category: row.category,
                            urgency: row.urgency, decisionJSON: [UInt8](row.decisionJSON),
                            deadlines: deadlineMap))
                }
            let messages =
                try OutboxRecord
                .filter(OutboxRecord.Columns.ticketID == id)
                .order(OutboxRecord.Columns.id)
                .fetchAll(db)
                .map { row in
                    do {
                        return TicketHistory.Message(
                            outbox: try row.outboxEntry(), sentAt: row.sentAt.map(EpochMillis.date))
                    } catch is DecodingError {
                        throw StoreError(
                            .corrupt, "outbox row \(row.id ?? 0) has malformed headers_json or extra_routing_keys")
                    }
                }
            let events =
                try EventRecord
                .filter(EventRecord.Columns.ticketID == id)
                .order(EventRecord.Columns.id)
                .fetchAll(db)
                .map {
                    TicketHistory.Event(
                        id: $0.id ?? 0, type: $0.type, at: EpochMillis.date($0.at),
                        payloadJSON: Array($0.payloadJSON.utf8))
                }
            return TicketHistory(
                ticket: TicketHistory.Ticket(
                    id: ticket.id, receivedAt: EpochMillis.date(ticket.receivedAt), body: [UInt8](ticket.body),
                    state: ticket.state, unitID: ticket.unitID, createdAt: EpochMillis.date(ticket.createdAt),
                    dispatchSequence: inbox?.dispatchSeq ?? decisions.first?.dispatchSequence ?? 0,
                    amqpMessageID: inbox?.amqpMessageID),
                decisions: decisions,
                deadlines: deadlines.map {
                    TicketHistory.Deadline(clock: $0.clock, dueAt: EpochMillis.date($0.dueAt))
                },
                messages: messages,
                events: events)
        }
    }

    /// Row counts of every table, from one consistent snapshot.
    public func counts() throws(StoreError) -> StoreCounts {
        try storeOperation {
            try pool.read { db in
                let row = try Row.fetchOne(
                    db,
                    sql: """
                        SELECT
                          (SELECT COUNT(*) FROM inbox) AS inbox,
                          (SELECT COUNT(*) FROM tickets) AS tickets,
                          (SELECT COUNT(*) FROM decisions) AS decisions,
                          (SELECT COUNT(*) FROM deadlines) AS deadlines,
                          (SELECT COUNT(*) FROM events) AS events,
                          (SELECT COUNT(*) FROM rejections) AS rejections,
                          (SELECT COUNT(*) FROM outbox WHERE sent_at IS NULL) AS pending,
                          (SELECT COUNT(*) FROM outbox WHERE sent_at IS NOT NULL) AS sent,
                          (SELECT last_value FROM sequences WHERE name = 'dispatch') AS last_seq
                        """)!
                return StoreCounts(
                    inbox: row["inbox"], tickets: row["tickets"], decisions: row["decisions"],
                    deadlines: row["deadlines"], events: row["events"], rejections: row["rejections"],
                    outboxPending: row["pending"], outboxSent: row["sent"], lastDispatchSequence: row["last_seq"])
            }
        }
    }

    // MARK: - Diagnostics

    /// The journal mode, synchronous level, foreign-key enforcement and busy
    /// timeout in force on the writer connection, read back from SQLite.
    ///
    /// Waits for the writer connection (like a write) but writes nothing.
    public func pragmas() throws(StoreError) -> StorePragmas {
        try storeOperation {
            try pool.writeWithoutTransaction { db in
                StorePragmas(
                    journalMode: try String.fetchOne(db, sql: "PRAGMA journal_mode") ?? "",
                    synchronous: try Int.fetchOne(db, sql: "PRAGMA synchronous") ?? -1,
                    foreignKeys: try Bool.fetchOne(db, sql: "PRAGMA foreign_keys") ?? false,
                    busyTimeoutMilliseconds: try Int.fetchOne(db, sql: "PRAGMA busy_timeout") ?? -1)
            }
        }
    }

    /// Names of the migrations applied to the file, in order.
    public func appliedMigrations() throws(StoreError) -> [String] {
        try storeOperation {
            try pool.read { db in try Schema.migrator.appliedMigrations(db) }
        }
    }

    /// Names of all migrations this version knows, in order.
    public static var knownMigrations: [String] { Schema.migrationNames }

    /// Runs SQLite's `PRAGMA integrity_check` and foreign-key check.
    ///
    /// Throws `.corrupt` with SQLite's report if either finds a problem.
    public func checkIntegrity() throws(StoreError) {
        try storeOperation {
            try pool.read { db in
                let report = try String.fetchAll(db, sql: "PRAGMA integrity_check")
                guard report == ["ok"] else {
                    throw StoreError(.corrupt, report.prefix(10).joined(separator: "; "))
                }
                let violations = try Row.fetchAll(db, sql: "PRAGMA foreign_key_check")
                guard violations.isEmpty else {
                    throw StoreError(.corrupt, "\(violations.count) foreign key violation(s)")
                }
            }
        }
    }
}
