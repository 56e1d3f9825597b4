import Foundation

/// What the web console reads and writes: its accounts, sessions, tokens and audit log, the read model
/// of its pages, and the ticket reads it shares with `pagoda show`. SQLite's `DispatchStore` and
/// PostgreSQL's `PostgresStore` both conform, each with the same tables and the same meaning (the
/// store conformance suite runs one set of tests against both).
///
/// Every method awaits its database without holding a thread of the concurrency pool.
public protocol ConsoleStore: Sendable {
    // MARK: Accounts

    /// Adds an account. Throws `.constraint` when the name is taken (or the row breaks the table's checks).
    func addConsoleAccount(_ a: ConsoleAccount, audit: ConsoleAuditEntry?) async throws(StoreError)
    /// The account named, or nil.
    func consoleAccount(_ name: String) async throws(StoreError) -> ConsoleAccount?
    /// Every account, by name.
    func consoleAccounts() async throws(StoreError) -> [ConsoleAccount]
    /// Disables (or enables) an account; disabling also ends its sessions and revokes its API tokens.
    /// Returns false when there is no such account.
    @discardableResult
    func setConsoleAccountDisabled(_ name: String, _ disabled: Bool, at: Date, audit: ConsoleAuditEntry?)
        async throws(StoreError) -> Bool
    /// Sets a new password hash, clears the failure counter and the lock, ends the account's sessions and
    /// revokes its API tokens. Returns false when there is no such account.
    @discardableResult
    func setConsolePassword(_ name: String, hash: String, at: Date, audit: ConsoleAuditEntry?)
        async throws(StoreError) -> Bool
    /// Counts a login attempt before its password is checked, so that attempts made at once cannot
    /// outrun the lock: at `limit` attempts in a row without a success the account is locked until
    /// `at + lockFor` and the counter starts again. Nil for an unknown name.
    func countLoginAttempt(_ name: String, at: Date, limit: Int, lockFor: TimeInterval)
        async throws(StoreError) -> LoginAttempt?

    // MARK: Sessions and tokens

    /// Starts a session after a successful login: clears the failure counter, stores the session, audits.
    func startConsoleSession(
        tokenHash: String, userName: String, csrfToken: String, at: Date, audit: ConsoleAuditEntry
    ) async throws(StoreError)
    /// The session with this token digest, with its account; nil when there is none.
    func consoleSession(tokenHash: String) async throws(StoreError) -> (ConsoleSessionRecord, ConsoleAccount)?
    /// Marks a session used now (its idle time starts again).
    func touchConsoleSession(tokenHash: String, at: Date) async throws(StoreError)
    /// Ends a session (logout, or found idle too long), auditing when given a line.
    func endConsoleSession(tokenHash: String, audit: ConsoleAuditEntry?) async throws(StoreError)
    /// Deletes sessions idle since before `before`; returns how many.
    @discardableResult
    func deleteIdleConsoleSessions(before: Date) async throws(StoreError) -> Int
    /// Stores a bearer token's digest for an account, good until `expiresAt`. Returns false when there is no
    /// such account.
    @discardableResult
    func addConsoleToken(tokenHash: String, userName: String, at: Date, expiresAt: Date, audit: ConsoleAuditEntry?)
        async throws(StoreError) -> Bool
    /// The account a bearer token's digest belongs to, or nil when there is none or it expired by `at`. Marks
    /// the token used at `at` when it was last marked more than an hour before (or never).
    func consoleTokenAccount(tokenHash: String, at: Date) async throws(StoreError) -> ConsoleAccount?
    /// An account's API tokens, oldest first (expired ones too, until they are revoked).
    func consoleTokens(userName: String) async throws(StoreError) -> [ConsoleTokenRecord]
    /// Revokes the account's token whose digest begins with `id` (`ConsoleTokenRecord.id`), auditing when
    /// given a line. Returns false when the account has no such token.
    @discardableResult
    func revokeConsoleToken(userName: String, id: String, audit: ConsoleAuditEntry?) async throws(StoreError) -> Bool

    // MARK: Audit

    /// Appends one audit line.
    func appendConsoleAudit(_ entry: ConsoleAuditEntry) async throws(StoreError)
    /// The latest audit lines, newest first; only `userName`'s when given.
    func consoleAudit(userName: String?, limit: Int) async throws(StoreError) -> [ConsoleAuditEntry]

    // MARK: The pages' read model

    /// Whether a ticket is or was a unit's: the unit holds it, was given it by a decision, or is named by
    /// one of its timeline events as holder (`unit`), as the unit it came from (`from_unit`) or as a
    /// co-handler. A command the dispatcher refused names its sender, not a holder, and does not count.
    func ticketConcernsUnit(_ ticketID: String, unit: String) async throws(StoreError) -> Bool
    /// The open-ticket counters (rows with tickets only): one row per unit, light and supervision; with
    /// `unit`, that unit's rows only.
    func consoleOpenCounts(unit: String?) async throws(StoreError) -> [ConsoleOpenCount]
    /// Counts by kind for each day of `days` (`ConsoleDay`): `intake`, `rejected`, and lifecycle event
    /// types (`ticket.dispatched`, `ticket.escalated`, `ticket.closed`, `ticket.supervised`,
    /// `ticket.overdue`, `ticket.replied`, `ticket.callback_recorded`).
    func consoleDayCounts(_ days: ClosedRange<Int>) async throws(StoreError) -> [Int: [String: Int]]
    /// The first timeline row written on or after `day` (`ConsoleDay`), or nil when none was.
    func consoleFirstEventID(onOrAfter day: Int) async throws(StoreError) -> Int64?
    /// The highest timeline row id (0 when none): what changed since a reader last looked.
    func consoleLastEventID() async throws(StoreError) -> Int64
    /// Up to `limit` timeline rows after row `id`, in the order written, as `forEachEvent` reads them.
    func consoleEvents(after id: Int64, limit: Int) async throws(StoreError) -> [DispatchStore.TimelineRow]
    /// One of the console's lists, nearest deadline first, at most `limit`, read through its index.
    func consoleList(_ list: ConsoleList, limit: Int) async throws(StoreError) -> [ConsoleListRow]
    /// How many tickets wait at each centre desk (every desk present, 0 for none).
    func consoleDeskCounts() async throws(StoreError) -> [String: Int]
    /// A unit's open tickets (or every unit's), nearest deadline first, filtered, and how many match.
    func consoleInbox(_ q: ConsoleInboxQuery) async throws(StoreError) -> (rows: [ConsoleListRow], total: Int)

    // MARK: Tickets

    /// The ticket with its decisions, deadlines, messages and events, or nil.
    func ticket(id: String) async throws(StoreError) -> TicketHistory?
    /// The lifecycle states of the given tickets (missing ids are absent).
    func lifecycle(_ ticketIDs: [String], withTicket: Bool) async throws(StoreError) -> [String: LifecycleRecord]
    /// The tickets as received, by id (missing ids are absent).
    func ticketBodies(_ ticketIDs: [String]) async throws(StoreError) -> [String: [UInt8]]
    /// The recorded intake rejections, newest first; only those with `status` when given.
    func rejections(status: RejectionEntry.Status?, limit: Int) async throws(StoreError) -> [RejectionEntry]
}

/// SQLite's implementation: ConsoleStore.swift (accounts, sessions, tokens, audit), ConsoleReadModel.swift
/// (the pages' reads), and the ticket reads of DispatchStore.swift, LifecycleStore.swift, RejectionDesk.swift.
extension DispatchStore: ConsoleStore {}

/// The days the console counts by: days since the epoch in China Standard Time (+08:00), as the day
/// counters of both stores compute them.
public enum ConsoleDay {
    /// The day a time falls on.
    public static func of(_ date: Date) -> Int {
        Int((EpochMillis.from(date) + 28_800_000) / 86_400_000)
    }
}
