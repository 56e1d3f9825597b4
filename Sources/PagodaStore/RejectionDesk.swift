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
        guard (1...10_000).contains(limit) else {
            throw StoreError(.invalidArgument, "limit must be 1-10000, got \(limit)")
        }
        let filter =
            switch status {
            case nil: ""
            case .open?: "WHERE a.rejection_id IS NULL"
            case .resubmitted?: "WHERE a.action = 'resubmitted'"
            case .dropped?: "WHERE a.action = 'dropped'"
            }
        return try storeOperation {
            try pool.read { db in
                let sql = Self.rejectionSelect + " \(filter) ORDER BY r.id DESC LIMIT ?"
                return try Row.fetchAll(db, sql: sql, arguments: [limit]).map(Self.rejectionEntry)
            }
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
        guard !action.actor.trimmingCharacters(in: .whitespaces).isEmpty else {
            throw StoreError(.invalidArgument, "the operator's name is empty")
        }
        switch action.kind {
        case .dropped:
            guard let reason = action.reason, !reason.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty else {
                throw StoreError(.invalidArgument, "a drop needs a reason")
            }
        case .resubmitted:
            guard let m = action.messageID, !m.isEmpty, action.body != nil else {
                throw StoreError(.invalidArgument, "a resubmission needs the message id and body it was published with")
            }
        }
        return try storeOperation {
            try pool.write { db in
                guard let current = try Self.rejection(id: id, db) else {
                    throw StoreError(.invalidArgument, "no rejection \(id)")
                }
                if let done = current.action {
                    let when = RFC3339.format(done.at, offsetSeconds: 0)
                    throw StoreError(
                        .constraint,
                        "rejection \(id) was already \(done.kind.rawValue) by \(done.actor) at \(when)")
                }
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
        try Row.fetchOne(db, sql: rejectionSelect + " WHERE r.id = ?", arguments: [id]).map(rejectionEntry)
    }

    private static let rejectionSelect = """
        SELECT r.id, r.amqp_message_id, r.code, r.reason, r.body, r.created_at, r.issues_json,
               a.action, a.actor, a.at AS action_at, a.reason AS action_reason, a.message_id, a.body AS action_body
        FROM rejections r LEFT JOIN rejection_actions a ON a.rejection_id = r.id
        """

    private static func rejectionEntry(_ row: Row) -> RejectionEntry {
        var issues: [ValidationIssue] = []
        if let text: String = row["issues_json"], case .array(let items)? = try? JSON.parse(Array(text.utf8)) {
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
        if let kindText: String = row["action"], let kind = RejectionAction.Kind(rawValue: kindText) {
            let body: Data? = row["action_body"]
            action = RejectionAction(
                kind: kind, actor: row["actor"], at: EpochMillis.date(row["action_at"]),
                reason: row["action_reason"], messageID: row["message_id"],
                body: body.map { [UInt8]($0) })
        }
        let body: Data = row["body"]
        return RejectionEntry(
            id: row["id"], amqpMessageID: row["amqp_message_id"], code: row["code"],
            reason: row["reason"], at: EpochMillis.date(row["created_at"]), body: [UInt8](body),
            issues: issues, action: action)
    }
}
