import Foundation
import GRDB
import PagodaJSON
import PagodaRules

/// A recorded rejection as an operator sees it: why it was refused, its body, and what was done with it.
public struct RejectionEntry: Sendable, Hashable {
    /// Where a rejection stands: open until an operator resubmits or drops it.
    public enum Status: String, Sendable, Hashable, CaseIterable {
        case open, resubmitted, dropped
    }

    /// The `rejections` row id: the number operators name it by.
    public var id: Int64
    /// The AMQP message id of the rejected delivery, when it had one.
    public var amqpMessageID: String?
    /// The first issue's code (`syntax`, `required`, `poison`, ...).
    public var code: String
    /// The first issue's message.
    public var reason: String
    /// When it was rejected.
    public var at: Date
    /// The body as received, byte for byte.
    public var body: [UInt8]
    /// Every issue found; empty for rejections recorded before issues were kept (`reason` then says why).
    public var issues: [ValidationIssue]
    /// What an operator did with it; nil while it is open.
    public var action: RejectionAction?

    public var status: Status {
        switch action?.kind {
        case nil: .open
        case .resubmitted?: .resubmitted
        case .dropped?: .dropped
        }
    }
}

/// What an operator did with a rejection: resubmitted a body to intake, or dropped it for a reason.
public struct RejectionAction: Sendable, Hashable {
    public enum Kind: String, Sendable, Hashable, CaseIterable {
        case resubmitted, dropped
    }

    public var kind: Kind
    /// Who did it (the operator's name as given).
    public var actor: String
    public var at: Date
    /// Why: required for a drop, optional for a resubmission.
    public var reason: String?
    /// The AMQP message id the body was published with (a resubmission only).
    public var messageID: String?
    /// The body published (a resubmission only): the stored one or the operator's fixed one.
    public var body: [UInt8]?

    /// A resubmission of `body`, published to intake as `messageID`.
    public static func resubmitted(
        by actor: String, at: Date, messageID: String, body: [UInt8],
        reason: String? = nil
    ) -> RejectionAction {
        RejectionAction(kind: .resubmitted, actor: actor, at: at, reason: reason, messageID: messageID, body: body)
    }

    /// A drop, for `reason`.
    public static func dropped(by actor: String, at: Date, reason: String) -> RejectionAction {
        RejectionAction(kind: .dropped, actor: actor, at: at, reason: reason, messageID: nil, body: nil)
    }
}

extension DispatchStore {
    /// The recorded rejections, newest first, with their status; only those with `status` when given.
    ///
    /// At most `limit` (1...10,000) entries. Throws `.invalidArgument` for a limit outside that range.
    public func rejections(status: RejectionEntry.Status? = nil, limit: Int = 100)
        throws(StoreError) -> [RejectionEntry]
    {
        try RejectionEntry.checkLimit(limit)
        return try storeOperation { try pool.read(Self.rejections(status, limit)) }
    }

    /// `rejections(status:limit:)` on a reader connection's queue, awaited without blocking a thread.
    public func rejections(status: RejectionEntry.Status? = nil, limit: Int = 100)
        async throws(StoreError) -> [RejectionEntry]
    {
        try RejectionEntry.checkLimit(limit)
        return try await storeOperation { try await pool.read(Self.rejections(status, limit)) }
    }

    private static func rejections(_ status: RejectionEntry.Status?, _ limit: Int)
        -> @Sendable (Database) throws -> [RejectionEntry]
    {
        { db in
            let sql = RejectionEntry.select + " \(RejectionEntry.filter(status)) ORDER BY r.id DESC LIMIT ?"
            return try Row.fetchAll(db, sql: sql, arguments: [limit]).map(Self.rejectionEntry)
        }
    }

    /// The rejection with this id, or nil.
    public func rejection(id: Int64) throws(StoreError) -> RejectionEntry? {
        try storeOperation {
            try pool.read { db in
                try Self.rejection(id: id, db)
            }
        }
    }

    /// Records what an operator did with an open rejection, in one transaction; returns the entry as it now is.
    ///
    /// A rejection takes one action only: throws `.constraint` naming who acted and when if it was already
    /// resubmitted or dropped, `.invalidArgument` if there is no rejection `id`, or the actor is empty, or a
    /// drop has no reason, or a resubmission no message id. Nothing is ever deleted here: the rejection and
    /// its body stay, with the action beside them.
    @discardableResult
    public func recordRejectionAction(id: Int64, _ action: RejectionAction) throws(StoreError) -> RejectionEntry {
        try action.validate()
        return try storeOperation {
            try pool.write { db in
                guard let current = try Self.rejection(id: id, db) else {
                    throw StoreError(.invalidArgument, "no rejection \(id)")
                }
                try current.checkOpen()
                try db.execute(
                    sql: """
                        INSERT INTO rejection_actions (rejection_id, action, actor, at, reason, message_id, body)
                        VALUES (?, ?, ?, ?, ?, ?, ?)
                        """,
                    arguments: [
                        id, action.kind.rawValue, action.actor, EpochMillis.from(action.at), action.reason,
                        action.messageID, action.body.map { Data($0) },
                    ])
                var entry = current
                entry.action = action
                // As read back: to the millisecond.
                entry.action?.at = EpochMillis.date(EpochMillis.from(action.at))
                return entry
            }
        }
    }

    private static func rejection(id: Int64, _ db: Database) throws -> RejectionEntry? {
        try Row.fetchOne(db, sql: RejectionEntry.select + " WHERE r.id = ?", arguments: [id]).map(rejectionEntry)
    }

    private static func rejectionEntry(_ row: Row) -> RejectionEntry {
        let body: Data = row["body"]
        let actionBody: Data? = row["action_body"]
        return RejectionEntry(
            id: row["id"], amqpMessageID: row["amqp_message_id"], code: row["code"], reason: row["reason"],
            createdAt: row["created_at"], body: [UInt8](body), issuesJSON: row["issues_json"],
            actionKind: row["action"], actor: row["actor"], actionAt: row["action_at"],
            actionReason: row["action_reason"], actionMessageID: row["message_id"],
            actionBody: actionBody.map { [UInt8]($0) })
    }
}

// What both stores share: the query, the row's reading, the checks before an action is recorded.
extension RejectionEntry {
    /// The columns every reader of rejections selects, in `rejections r` left-joined to its action `a`;
    /// the same SQL on SQLite and PostgreSQL.
    package static let select = """
        SELECT r.id, r.amqp_message_id, r.code, r.reason, r.body, r.created_at, r.issues_json,
               a.action, a.actor, a.at AS action_at, a.reason AS action_reason, a.message_id, a.body AS action_body
        FROM rejections r LEFT JOIN rejection_actions a ON a.rejection_id = r.id
        """

    /// The `WHERE` clause that keeps the rejections with `status` (empty for all).
    package static func filter(_ status: Status?) -> String {
        switch status {
        case nil: ""
        case .open?: "WHERE a.rejection_id IS NULL"
        case .resubmitted?: "WHERE a.action = 'resubmitted'"
        case .dropped?: "WHERE a.action = 'dropped'"
        }
    }

    /// Throws `.invalidArgument` for a list limit outside 1...10,000.
    package static func checkLimit(_ limit: Int) throws(StoreError) {
        guard (1...10_000).contains(limit) else {
            throw StoreError(.invalidArgument, "limit must be 1-10000, got \(limit)")
        }
    }

    /// An entry from the stored columns (times in epoch milliseconds, issues as the stored JSON array).
    package init(
        id: Int64, amqpMessageID: String?, code: String, reason: String, createdAt: Int64, body: [UInt8],
        issuesJSON: String?, actionKind: String?, actor: String?, actionAt: Int64?, actionReason: String?,
        actionMessageID: String?, actionBody: [UInt8]?
    ) {
        var issues: [ValidationIssue] = []
        if let text = issuesJSON, case .array(let items)? = try? JSON.parse(Array(text.utf8)) {
            for case .object(let o) in items {
                // Every stored code is one of `ValidationCode` (the intake and the lifecycle write only those).
                if let path = o["path"]?.stringValue, let code = o["code"]?.stringValue.flatMap(ValidationCode.init),
                    let message = o["message"]?.stringValue
                {
                    issues.append(ValidationIssue(path: path, code: code, message: message))
                }
            }
        }
        var action: RejectionAction?
        if let kind = actionKind.flatMap(RejectionAction.Kind.init), let actor, let actionAt {
            action = RejectionAction(
                kind: kind, actor: actor, at: EpochMillis.date(actionAt), reason: actionReason,
                messageID: actionMessageID, body: actionBody)
        }
        self.init(
            id: id, amqpMessageID: amqpMessageID, code: code, reason: reason, at: EpochMillis.date(createdAt),
            body: body, issues: issues, action: action)
    }

    /// Throws `.constraint` naming who acted and when if the rejection is no longer open.
    package func checkOpen() throws(StoreError) {
        if let done = action {
            let when = RFC3339.format(done.at, offsetSeconds: 0)
            throw StoreError(
                .constraint, "rejection \(id) was already \(done.kind.rawValue) by \(done.actor) at \(when)")
        }
    }
}

extension RejectionAction {
    /// Throws `.invalidArgument` for an empty actor, a drop without a reason, or a resubmission without the
    /// message id and body it was published with.
    package func validate() throws(StoreError) {
        guard !actor.trimmingCharacters(in: .whitespaces).isEmpty else {
            throw StoreError(.invalidArgument, "the operator's name is empty")
        }
        switch kind {
        case .dropped:
            guard let reason, !reason.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty else {
                throw StoreError(.invalidArgument, "a drop needs a reason")
            }
        case .resubmitted:
            guard let messageID, !messageID.isEmpty, body != nil else {
                throw StoreError(.invalidArgument, "a resubmission needs the message id and body it was published with")
            }
        }
    }
}
