import Foundation
import Logging
import PagodaStore
import PostgresNIO

// The rejected intake messages and what operators did with them (`pagoda rejected`), as
// `DispatchStore.rejections`, `rejection(id:)` and `recordRejectionAction` give them on SQLite.

extension PostgresStore {
    /// The recorded rejections, newest first, with their status; only those with `status` when given.
    ///
    /// At most `limit` (1...10,000) entries. Throws `.invalidArgument` for a limit outside that range.
    public func rejections(status: RejectionEntry.Status? = nil, limit: Int = 100)
        async throws(StoreError) -> [RejectionEntry]
    {
        try RejectionEntry.checkLimit(limit)
        let sql = RejectionEntry.select + " \(RejectionEntry.filter(status)) ORDER BY r.id DESC LIMIT \(limit)"
        return try await read { [logger] conn in
            try await Self.rejectionEntries(PostgresQuery(unsafeSQL: sql), conn, logger)
        }
    }

    /// The rejection with this id, or nil.
    public func rejection(id: Int64) async throws(StoreError) -> RejectionEntry? {
        try await read { [logger] conn in
            try await Self.rejection(id: id, conn, logger)
        }
    }

    /// Records what an operator did with an open rejection, in one transaction; returns the entry as it now is.
    ///
    /// A rejection takes one action only: throws `.constraint` naming who acted and when if it was already
    /// resubmitted or dropped, `.invalidArgument` if there is no rejection `id`, or the actor is empty, or a
    /// drop has no reason, or a resubmission no message id. The rejection and its body stay.
    @discardableResult
    public func recordRejectionAction(id: Int64, _ action: RejectionAction) async throws(StoreError)
        -> RejectionEntry
    {
        try action.validate()
        return try await write { conn, logger in
            guard let current = try await Self.rejection(id: id, conn, logger) else {
                throw StoreError(.invalidArgument, "no rejection \(id)")
            }
            try current.checkOpen()
            let at = EpochMillis.from(action.at)
            try await conn.query(
                """
                INSERT INTO rejection_actions (rejection_id, action, actor, at, reason, message_id, body)
                VALUES (\(id), \(action.kind.rawValue), \(action.actor), \(at), \(action.reason),
                        \(action.messageID), \(action.body.map { Data($0) }))
                """, logger: logger)
            var entry = current
            entry.action = action
            // As read back: to the millisecond.
            entry.action?.at = EpochMillis.date(at)
            return entry
        }
    }

    private static func rejection(id: Int64, _ conn: PostgresConnection, _ logger: Logger) async throws
        -> RejectionEntry?
    {
        try await rejectionEntries(
            PostgresQuery(unsafeSQL: RejectionEntry.select + " WHERE r.id = $1", binds: binds(id)), conn, logger
        ).first
    }

    private static func binds(_ id: Int64) -> PostgresBindings {
        var b = PostgresBindings()
        b.append(id)
        return b
    }

    private static func rejectionEntries(_ query: PostgresQuery, _ conn: PostgresConnection, _ logger: Logger)
        async throws -> [RejectionEntry]
    {
        var entries: [RejectionEntry] = []
        for try await row in try await conn.query(query, logger: logger) {
            let r = row.makeRandomAccess()
            entries.append(
                RejectionEntry(
                    id: try r.at(0), amqpMessageID: try r.at(1), code: try r.at(2), reason: try r.at(3),
                    createdAt: try r.at(5), body: [UInt8](try r.at(4, Data.self)), issuesJSON: try r.at(6),
                    actionKind: try r.at(7), actor: try r.at(8), actionAt: try r.at(9), actionReason: try r.at(10),
                    actionMessageID: try r.at(11), actionBody: try r.at(12, Data?.self).map { [UInt8]($0) }))
        }
        return entries
    }
}
