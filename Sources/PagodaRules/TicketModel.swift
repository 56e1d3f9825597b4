import Foundation
import PagodaJSON

/// The intake channel a ticket arrived through (JSON `channel`).
public enum Channel: String, Sendable, CaseIterable {
    /// Phone call to the 12345 hotline.
    case hotline
    /// Government web portal form.
    case web
    /// WeChat official account or mini program.
    case wechat
    /// Mobile app.
    case app
    /// Referred by press or broadcast media.
    case media
    /// Mayor's mailbox (市长信箱) or similar e-mail box.
    case mailbox
    /// Public online message board (留言板); JSON "message_board".
    case messageBoard = "message_board"
}

/// What the citizen wants (JSON `kind`).
public enum TicketKind: String, Sendable, CaseIterable {
    /// 咨询: a question about policy or procedure.
    case consultation
    /// 求助: a request for help.
    case help
    /// 投诉: a complaint about a service or an actor.
    case complaint
    /// 举报: a report of a violation.
    case report
    /// 建议: a suggestion.
    case suggestion
}

/// Declared urgency (JSON `urgency`), ordered normal < urgent < emergency.
public enum Urgency: String, Sendable, CaseIterable, Comparable {
    /// Regular handling time.
    case normal
    /// Needs faster handling than normal.
    case urgent
    /// Risk to life, health or property; handle immediately.
    case emergency

    private var rank: Int {
        switch self {
        case .normal: return 0
        case .urgent: return 1
        case .emergency: return 2
        }
    }

    /// Orders by severity: normal < urgent < emergency.
    public static func < (lhs: Urgency, rhs: Urgency) -> Bool { lhs.rank < rhs.rank }
}

/// The enterprise a ticket concerns (JSON `enterprise`: `name`, `credit_code`).
public struct Enterprise: Hashable, Sendable {
    /// Registered name, 1-200 characters.
    public var name: String?
    /// 18-character unified social credit code (digits and A-Z except I, O, Z, S, V).
    public var creditCode: String?

    /// Memberwise initializer; performs no validation.
    public init(name: String? = nil, creditCode: String? = nil) {
        self.name = name
        self.creditCode = creditCode
    }
}

/// The citizen who raised the ticket (JSON `caller`: `name`, `phone`).
public struct Caller: Hashable, Sendable {
    /// Caller's name, at most 100 characters.
    public var name: String?
    /// Phone as received (digits, optional leading "+", spaces/hyphens); mask with `PhoneMask` before display.
    public var phone: String?

    /// Memberwise initializer; performs no validation.
    public init(name: String? = nil, phone: String? = nil) {
        self.name = name
        self.phone = phone
    }
}

/// Where the matter is located administratively (JSON `region`).
public struct RegionRef: Hashable, Sendable {
    /// District (区/县) name, 1-100 characters.
    public var district: String?
    /// Town or subdistrict (镇/街道) name, 1-100 characters.
    public var town: String?
    /// Village or community (村/社区) name, 1-100 characters.
    public var village: String?
    /// Administrative division code, 6-12 digits.
    public var code: String?

    /// Memberwise initializer; performs no validation.
    public init(district: String? = nil, town: String? = nil, village: String? = nil, code: String? = nil) {
        self.district = district
        self.town = town
        self.village = village
        self.code = code
    }
}

/// A validated intake ticket (contract v1); build one with `TicketContract.decode` or `validate`.
public struct Ticket: Hashable, Sendable {
    /// Upstream ticket id, 1-64 characters of [A-Za-z0-9._:-].
    public var id: String
    /// The instant the ticket was received.
    public var receivedAt: Date
    /// UTC offset of `received_at` as sent, in seconds east of UTC (e.g. 28800 for +08:00).
    public var receivedAtOffsetSeconds: Int
    /// Where the ticket came in.
    public var channel: Channel
    /// What kind of request it is.
    public var kind: TicketKind
    /// The citizen's request, 1-10,000 characters, not only whitespace.
    public var text: String
    /// Dotted lowercase category path, e.g. "living_environment.water".
    public var category: String?
    /// Declared urgency, nil when absent.
    public var urgency: Urgency?
    /// The enterprise concerned, nil when absent.
    public var enterprise: Enterprise?
    /// The caller, or nil when absent, null or an empty object.
    public var caller: Caller?
    /// Administrative location, nil when absent.
    public var region: RegionRef?
    /// Free-form address, at most 500 characters.
    public var address: String?
    /// Short title, at most 200 characters.
    public var title: String?
    /// Attachment references (URLs or ids), at most 50; empty when absent or null.
    public var attachments: [String]
    /// Unknown top-level fields, in received order, for pass-through.
    public var extra: JSONObject
    /// The whole object as received.
    public var json: JSONObject
    /// The hotline the ticket came in through (`source_line`: `12345`, or a department line merged into
    /// it such as `12333`), nil when absent.
    public var sourceLine: String?
    /// The problems of optional fields that were left out of the ticket (`TicketContract.isBlocking` is
    /// false for each), in contract field order; empty for a ticket without any.
    public var warnings: [ValidationIssue]

    /// Memberwise initializer; performs no validation (use `TicketContract` for untrusted input).
    public init(
        id: String, receivedAt: Date, receivedAtOffsetSeconds: Int, channel: Channel, kind: TicketKind, text: String,
        category: String? = nil, urgency: Urgency? = nil, enterprise: Enterprise? = nil, caller: Caller? = nil,
        region: RegionRef? = nil, address: String? = nil, title: String? = nil, attachments: [String] = [],
        extra: JSONObject = JSONObject(), json: JSONObject = JSONObject(), warnings: [ValidationIssue] = [],
        sourceLine: String? = nil
    ) {
        self.sourceLine = sourceLine
        self.id = id
        self.receivedAt = receivedAt
        self.receivedAtOffsetSeconds = receivedAtOffsetSeconds
        self.channel = channel
        self.kind = kind
        self.text = text
        self.category = category
        self.urgency = urgency
        self.enterprise = enterprise
        self.caller = caller
        self.region = region
        self.address = address
        self.title = title
        self.attachments = attachments
        self.extra = extra
        self.json = json
        self.warnings = warnings
    }
}

/// The closed set of codes a contract's issue carries: the JSON parser's codes for a message that is not
/// JSON, then the contracts' own. The raw values are the wire's and the store's (`issues[].code`).
public enum ValidationCode: String, Sendable, Hashable, CaseIterable, CustomStringConvertible {
    /// The message is larger than the contract's limit.
    case tooLarge = "too_large"
    /// The message is not UTF-8.
    case invalidUTF8 = "invalid_utf8"
    /// The message nests deeper than the contract's limit.
    case tooDeep = "too_deep"
    /// The message is empty or only white space.
    case empty
    /// The message is not JSON.
    case syntax
    /// An object repeats a member.
    case duplicateKey = "duplicate_key"
    /// A field has the wrong JSON type.
    case type
    /// A required field is absent or null.
    case required
    /// A field's value is malformed (an id, a time, a phone number, a credit code...).
    case format
    /// A field's value is not one of its enumeration's.
    case enumeration = "enum"
    /// A field is too short or too long.
    case length
    /// The ticket names a category the rule set does not know.
    case unknownCategory = "unknown_category"
    /// A member that is not a field of the contract (or of the command type).
    case unknownField = "unknown_field"
    /// The ticket id was already dispatched (the simulator's intake).
    case duplicate
    /// Processing the message failed repeatedly; it was set aside.
    case poison
    /// A command's id was recorded before for another ticket or another type of command.
    case reusedCommandID = "reused_command_id"

    /// The raw value, as the wire writes it.
    public var description: String { rawValue }

    /// The JSON parser's code as a contract issue's code.
    public init(_ code: JSONParseError.Code) {
        switch code {
        case .tooLarge: self = .tooLarge
        case .invalidUTF8: self = .invalidUTF8
        case .tooDeep: self = .tooDeep
        case .empty: self = .empty
        case .syntax: self = .syntax
        case .duplicateKey: self = .duplicateKey
        }
    }
}

/// One problem found while decoding or validating a ticket.
public struct ValidationIssue: Hashable, Sendable, CustomStringConvertible {
    /// Where: "id", "region.district", "attachments[2]", or "" for the root / the document itself.
    public let path: String
    /// What is wrong, as a stable code (its raw value is what the wire and the store carry).
    public let code: ValidationCode
    /// Human-readable "path: reason" ("(root): reason" for the root).
    public let message: String

    /// An issue with the given fields (the message is used as given).
    public init(path: String, code: ValidationCode, message: String) {
        self.path = path
        self.code = code
        self.message = message
    }

    /// "message [code]".
    public var description: String { "\(message) [\(code.rawValue)]" }
}

/// A rejected ticket: every problem found, in contract field order.
public struct TicketValidationError: Error, Hashable, Sendable, CustomStringConvertible {
    /// The problems; never empty, at most `TicketContract.maxIssues`.
    public let issues: [ValidationIssue]

    /// Wraps `issues`; returns nil when `issues` is empty (an error must carry at least one issue).
    public init?(issues: [ValidationIssue]) {
        guard !issues.isEmpty else { return nil }
        self.issues = issues
    }

    /// The issue descriptions joined with "; ".
    public var description: String { issues.map(\.description).joined(separator: "; ") }
}
