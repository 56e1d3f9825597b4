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

/// One problem found while decoding or validating a ticket.
public struct ValidationIssue: Hashable, Sendable, CustomStringConvertible {
    /// Where: "id", "region.district", "attachments[2]", or "" for the root / the document itself.
    public let path: String
    /// Stable code: too_large, invalid_utf8, too_deep, empty, syntax, duplicate_key, type, required, format, enum, length, unknown_category, unknown_field.
    public let code: String
    /// Human-readable "path: reason" ("(root): reason" for the root).
    public let message: String

    /// An issue with the given fields (the message is used as given).
    public init(path: String, code: String, message: String) {
        self.path = path
        self.code = code
        self.message = message
    }

    /// "message [code]".
    public var description: String { "\(message) [\(code)]" }
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
