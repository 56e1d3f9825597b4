import Foundation
import PagodaJSON
import PagodaRules
import PagodaStore
import PagodaTransport

/// The operator's way back for rejected intake messages: resubmit a body to intake, or drop it with a
/// reason. `pagoda rejected` and the console call the same operations; each is recorded in the store
/// with who did it and when (`RejectionStore.recordRejectionAction`, on SQLite or PostgreSQL), and nothing
/// leaves the record without one of them.
public struct RejectionDesk: Sendable {
    public let store: any RejectionStore
    public let names: Names

    public init(store: any RejectionStore, names: Names = Names()) {
        self.store = store
        self.names = names
    }

    /// Why an operation on a rejection was refused. Closed set of codes.
    public struct Failure: Error, Sendable, CustomStringConvertible {
        public enum Code: String, Sendable, CaseIterable {
            /// No rejection with that id.
            case unknownRejection
            /// The rejection was already resubmitted or dropped.
            case notOpen
            /// The body to resubmit is empty.
            case emptyBody
            /// The broker did not confirm the publish: nothing was recorded, try again.
            case notConfirmed
        }

        public let code: Code
        public let message: String
        public var description: String { message }
    }

    /// Publishes `body` (nil: the stored body unchanged) to the intake exchange and, once the broker
    /// confirmed it, records the resubmission; returns the entry as it now is.
    ///
    /// The message goes through intake as any other: validated again, dispatched, or rejected again as a
    /// new rejection whose AMQP message id is the one recorded here (`resubmit/<id>/<uuid>`). It is
    /// persistent and `mandatory`, with headers `x-pagoda-resubmitted-from` (the rejection id) and
    /// `x-pagoda-resubmitted-by`. `publish` sends one message with publisher confirms (an
    /// `AMQPPublisher`'s `publish`). Throws `Failure` (`unknownRejection`, `notOpen`, `emptyBody`,
    /// `notConfirmed`: then nothing is recorded, though a publish whose outcome is unknown may have reached
    /// intake, which dispatches a ticket id once), `StoreError` (`.constraint` when another operator acted
    /// on it between the check and the record), or what `publish` throws.
    public func resubmit(
        id: Int64, body: [UInt8]?, by actor: String, reason: String? = nil, now: Date = Date(),
        publish: (AMQPMessage) async throws -> PublishOutcome
    ) async throws -> RejectionEntry {
        let entry = try await open(id)
        let bytes = body ?? entry.body
        guard !bytes.isEmpty else { throw Failure(code: .emptyBody, message: "the body to resubmit is empty") }
        let messageID = "resubmit/\(id)/\(UUID().uuidString.lowercased())"
        var message = AMQPMessage(
            exchange: names.intakeExchange, routingKey: "", body: bytes,
            messageId: messageID, mandatory: true)
        message.properties.headers["x-pagoda-resubmitted-from"] = .string(String(id))
        message.properties.headers["x-pagoda-resubmitted-by"] = .string(actor)
        let outcome = try await publish(message)
        guard outcome == .confirmed else {
            throw Failure(
                code: .notConfirmed,
                message: "the broker did not confirm the resubmission (\(outcome)); nothing was recorded")
        }
        let action = RejectionAction.resubmitted(by: actor, at: now, messageID: messageID, body: bytes, reason: reason)
        return try await store.recordRejectionAction(id: id, action)
    }

    /// Records that the rejection is given up, for `reason`; returns the entry as it now is.
    ///
    /// Throws `Failure` (`unknownRejection`, `notOpen`) or `StoreError` (`.invalidArgument` for an empty
    /// reason or name).
    public func drop(id: Int64, by actor: String, reason: String, now: Date = Date()) async throws -> RejectionEntry {
        _ = try await open(id)
        return try await store.recordRejectionAction(id: id, .dropped(by: actor, at: now, reason: reason))
    }

    /// The open rejection `id`, or the failure naming why it is not.
    private func open(_ id: Int64) async throws -> RejectionEntry {
        guard let entry = try await store.rejection(id: id) else {
            throw Failure(code: .unknownRejection, message: "no rejection \(id)")
        }
        if let done = entry.action {
            let when = RFC3339.format(done.at, offsetSeconds: 8 * 3600)
            throw Failure(
                code: .notOpen,
                message: "rejection \(id) was already \(done.kind.rawValue) by \(done.actor) at \(when)")
        }
        return entry
    }
}
