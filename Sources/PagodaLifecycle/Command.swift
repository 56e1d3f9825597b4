import Foundation
import PagodaJSON
import PagodaRules

/// A worker or hotline-centre command (contract v1, `pagoda.commands`), validated.
///
/// Decode untrusted bytes with ``CommandContract/decode(_:)``; the memberwise initializer does no checks.
public struct Command: Sendable, Hashable {
    /// Idempotency key: a command id seen before has no second effect.
    public var id: String
    public var ticketID: String
    /// The sending unit's id (a unit of the rule set).
    public var unit: String
    /// When the sender issued it.
    public var at: Date
    public var action: Action
    /// Where to send a `command.rejected` answer, besides `pagoda.events` (AMQP `reply_to`).
    public var replyTo: String?

    public init(id: String, ticketID: String, unit: String, at: Date, action: Action, replyTo: String? = nil) {
        self.id = id
        self.ticketID = ticketID
        self.unit = unit
        self.at = at
        self.action = action
        self.replyTo = replyTo
    }

    /// The command types and their fields.
    public enum Action: Sendable, Hashable {
        // Department workers (the unit holding the ticket).
        /// 签收: the unit takes the ticket; stops the sign-in clock.
        case sign
        /// First contact with the citizen made; stops the contact clock.
        case contact(note: String?)
        /// A progress note; `milestone` stops the `onsite` or `answer` clock.
        case progress(note: String, milestone: Clock?)
        /// 退单: the unit asks to give the ticket back.
        case requestReturn(reason: ReturnReason, suggestedUnit: String?, text: String?)
        /// 延期: the unit asks for a later resolution deadline.
        case requestExtension(until: Date, reason: String)
        /// 办结反馈: the unit reports the matter handled; stops every clock and asks for a callback.
        case reply(outcome: ReplyOutcome, text: String)
        // Hotline centre and supervisors.
        case approveReturn(unit: String?, note: String?)
        case rejectReturn(note: String?)
        /// Approves an extension, to `until` when given, else to the requested time.
        case approveExtension(until: Date?, note: String?)
        case rejectExtension(note: String?)
        /// 回访 result.
        case callbackResult(reached: Bool, resolved: Bool?, satisfaction: Satisfaction?, note: String?)
        /// Moves the ticket to another unit with fresh clocks.
        case redispatch(unit: String, note: String?)
        /// Closes the ticket as a duplicate of another one.
        case merge(into: String, note: String?)

        /// The wire name of the type (`request_return`).
        public var type: CommandType {
            switch self {
            case .sign: .sign
            case .contact: .contact
            case .progress: .progress
            case .requestReturn: .requestReturn
            case .requestExtension: .requestExtension
            case .reply: .reply
            case .approveReturn: .approveReturn
            case .rejectReturn: .rejectReturn
            case .approveExtension: .approveExtension
            case .rejectExtension: .rejectExtension
            case .callbackResult: .callbackResult
            case .redispatch: .redispatch
            case .merge: .merge
            }
        }
    }
}

/// The `type` of a command on the wire.
public enum CommandType: String, Sendable, Hashable, CaseIterable, Codable {
    case sign, contact, progress
    case requestReturn = "request_return"
    case requestExtension = "request_extension"
    case reply
    case approveReturn = "approve_return"
    case rejectReturn = "reject_return"
    case approveExtension = "approve_extension"
    case rejectExtension = "reject_extension"
    case callbackResult = "callback_result"
    case redispatch, merge

    /// Sent by the unit holding the ticket (the others come from the hotline centre or supervision).
    public var isWorkerCommand: Bool {
        switch self {
        case .sign, .contact, .progress, .requestReturn, .requestExtension, .reply: true
        default: false
        }
    }
}

/// Why a unit asks to return a ticket (退单).
public enum ReturnReason: String, Sendable, Hashable, CaseIterable, Codable {
    /// Not in the unit's area (非本辖区).
    case wrongArea = "wrong_area"
    /// Not the unit's duty (非本单位职责).
    case notOurDuty = "not_our_duty"
    /// Ownership between units is unclear (职责不清).
    case unclearOwnership = "unclear_ownership"
    /// The ticket lacks information needed to act (信息不全).
    case incompleteInformation = "incomplete_information"
}

/// What a unit reports when it replies (办结反馈).
public enum ReplyOutcome: String, Sendable, Hashable, CaseIterable, Codable {
    /// The matter is resolved.
    case resolved
    /// Partly resolved.
    case partiallyResolved = "partially_resolved"
    /// Cannot be resolved (explained to the citizen).
    case unresolvable
    /// Answered (a consultation or suggestion).
    case answered
}

/// The citizen's satisfaction at callback (回访).
public enum Satisfaction: String, Sendable, Hashable, CaseIterable, Codable {
    case satisfied
    case basicallySatisfied = "basically_satisfied"
    case unsatisfied
}

/// A command that could not be decoded: every problem, with field paths and stable codes.
public struct CommandValidationError: Error, Hashable, Sendable, CustomStringConvertible {
    /// The problems; never empty.
    public let issues: [ValidationIssue]
    /// The command id and ticket id when they could be read (for the rejection event).
    public let commandID: String?
    public let ticketID: String?

    public init(issues: [ValidationIssue], commandID: String?, ticketID: String?) {
        self.issues = issues
        self.commandID = commandID
        self.ticketID = ticketID
    }

    public var description: String { issues.map(\.description).joined(separator: "; ") }
}
