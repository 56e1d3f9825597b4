import Foundation
import PagodaRules

/// Decoder and validator for the worker-command contract v1 (docs/contract.md, "Worker commands").
///
/// A command is one JSON object on `pagoda.commands`: five common fields (`command_id`, `ticket_id`,
/// `unit`, `type`, `at`) and the fields of its `type`. Validation is strict: a key that is neither common
/// nor a field of the type is `unknown_field`. Problems are collected, never thrown one at a time.
public enum CommandContract {
    /// The contract version this validator implements.
    public static let version = 1

    /// Parse limits for a command body: 64 KiB, at most 8 open arrays/objects.
    public static let limits = JSONLimits(maxBytes: 65_536, maxDepth: 8)

    /// Upper bound on issues reported for one command; further problems are not listed.
    public static let maxIssues = 100

    /// The UTC offset `Command.json()` writes timestamps with: China Standard Time, +08:00.
    public static let offsetSeconds = 28_800

    /// The fields every command carries, in contract (and issue-reporting) order; all required.
    public static let commonFields = ["command_id", "ticket_id", "unit", "type", "at"]

    /// The fields of commands of `type`, in contract (and issue-reporting) order.
    public static func fields(of type: CommandType) -> [String] { typeFields[type] ?? [] }

    /// `fields(of:)` for every type, made once: each command is checked against them for unknown keys.
    private static let typeFields = Dictionary(uniqueKeysWithValues: CommandType.allCases.map { ($0, makeFields(of: $0)) })

    private static func makeFields(of type: CommandType) -> [String] {
        switch type {
        case .sign: []
        case .contact: ["note"]
        case .progress: ["note", "milestone"]
        case .requestReturn: ["reason", "suggested_unit", "text"]
        case .requestExtension: ["until", "reason"]
        case .reply: ["outcome", "text"]
        case .approveReturn: ["new_unit", "note"]
        case .rejectReturn: ["note"]
        case .approveExtension: ["until", "note"]
        case .rejectExtension: ["note"]
        case .callbackResult: ["reached", "resolved", "satisfaction", "note"]
        case .redispatch: ["to_unit", "note"]
        case .merge: ["into_ticket", "note"]
        }
    }

    /// Parses `bytes` as JSON (with `limits`) and validates the result as a v1 command.
    ///
    /// A JSON parse failure yields exactly one issue at path "" whose code is the parse error code
    /// (too_large, invalid_utf8, too_deep, empty, syntax, duplicate_key) and whose message is the parser's
    /// (with byte offset); a root that is not an object yields one `type` issue at path "". In both cases
    /// the error carries no command or ticket id. Otherwise behaves as `validate`. `replyTo` (the AMQP
    /// `reply_to` property) is copied into the command. Never throws.
    public static func decode(_ bytes: [UInt8], replyTo: String? = nil) -> Result<Command, CommandValidationError> {
        // A command written the plain way is read from its bytes; the tree decides everything else.
        if let command = bytes.withUnsafeBytes({ CommandFastReader.read($0, replyTo: replyTo, limits: limits) }) {
            return .success(command)
        }
        let value: JSONValue
        do {
            value = try JSON.parse(bytes, limits: limits)
        } catch {
            return .failure(
                CommandValidationError(
                    issues: [ValidationIssue(path: "", code: error.code, message: error.message)],
                    commandID: nil, ticketID: nil))
        }
        guard case .object(let object) = value else {
            return .failure(
                CommandValidationError(
                    issues: [
                        ValidationIssue(path: "", code: "type", message: "(root): expected an object, got \(value.typeDescription)")
                    ],
                    commandID: nil, ticketID: nil))
        }
        return validate(object, replyTo: replyTo)
    }

    /// Validates a parsed JSON object as a v1 command, collecting every problem.
    ///
    /// Explicit null on an optional field means absent; null or absence of a required field is
    /// `required`. Issues come in contract order: the common fields (`commonFields`), then the fields of
    /// the type (`fields(of:)`), then keys that belong to neither, in received order (`unknown_field`);
    /// at most `maxIssues`. When `type` is missing or invalid only the common fields are checked and no
    /// key is reported as unknown. The error carries `command_id` and `ticket_id` whenever they are JSON
    /// strings, well-formed or not, so a rejection can name them.
    public static func validate(_ object: JSONObject, replyTo: String? = nil) -> Result<Command, CommandValidationError> {
        var c = ContractIssues(cap: maxIssues)

        let commandID = c.identifier(object["command_id"], "command_id", required: true, maxLength: 128, kind: .mixedCase)
        let ticketID = c.identifier(object["ticket_id"], "ticket_id", required: true, maxLength: 64, kind: .mixedCase)
        let unit = c.identifier(object["unit"], "unit", required: true, maxLength: 64, kind: .lowercase)
        let type: CommandType? = c.enumValue(object["type"], "type", required: true)
        let at = c.timestamp(object["at"], "at", required: true)

        var action: Command.Action?
        if let type {
            action = validateFields(of: type, in: object, ticketID: object["ticket_id"]?.stringValue, &c)
            let allowed = fields(of: type)
            for (key, _) in object where !commonFields.contains(key) && !allowed.contains(key) {
                c.add(key, "unknown_field", "not a field of \(type.rawValue) commands")
            }
        }

        guard c.list.isEmpty, let commandID, let ticketID, let unit, let at, let action else {
            return .failure(
                CommandValidationError(
                    issues: c.list, commandID: object["command_id"]?.stringValue,
                    ticketID: object["ticket_id"]?.stringValue))
        }
        return .success(Command(id: commandID, ticketID: ticketID, unit: unit, at: at, action: action, replyTo: replyTo))
    }

    /// Checks the fields of `type` in contract order; the action is meaningful only when no issue was added.
    private static func validateFields(
        of type: CommandType, in o: JSONObject, ticketID: String?, _ c: inout ContractIssues
    ) -> Command.Action? {
        switch type {
        case .sign:
            return .sign
        case .contact:
            return .contact(note: c.note(o["note"]))
        case .progress:
            let note = c.text(o["note"], "note", required: true, min: 1, max: 2000, notBlank: true)
            let milestone: Milestone? = c.enumValue(o["milestone"], "milestone", required: false)
            guard let note else { return nil }
            return .progress(note: note, milestone: milestone?.clock)
        case .requestReturn:
            let reason: ReturnReason? = c.enumValue(o["reason"], "reason", required: true)
            let suggested = c.identifier(o["suggested_unit"], "suggested_unit", required: false, maxLength: 64, kind: .lowercase)
            let text = c.text(o["text"], "text", required: false, min: 0, max: 2000)
            guard let reason else { return nil }
            return .requestReturn(reason: reason, suggestedUnit: suggested, text: text)
        case .requestExtension:
            let until = c.timestamp(o["until"], "until", required: true)
            let reason = c.text(o["reason"], "reason", required: true, min: 1, max: 2000)
            guard let until, let reason else { return nil }
            return .requestExtension(until: until, reason: reason)
        case .reply:
            let outcome: ReplyOutcome? = c.enumValue(o["outcome"], "outcome", required: true)
            let text = c.text(o["text"], "text", required: true, min: 1, max: 10_000)
            guard let outcome, let text else { return nil }
            return .reply(outcome: outcome, text: text)
        case .approveReturn:
            let unit = c.identifier(o["new_unit"], "new_unit", required: false, maxLength: 64, kind: .lowercase)
            return .approveReturn(unit: unit, note: c.note(o["note"]))
        case .rejectReturn:
            return .rejectReturn(note: c.note(o["note"]))
        case .approveExtension:
            let until = c.timestamp(o["until"], "until", required: false)
            return .approveExtension(until: until, note: c.note(o["note"]))
        case .rejectExtension:
            return .rejectExtension(note: c.note(o["note"]))
        case .callbackResult:
            let reached = c.bool(o["reached"], "reached", required: true)
            var resolved: Bool?
            switch reached {
            case true?:
                if isAbsent(o["resolved"]) {
                    c.add("resolved", "required", "is required when reached is true")
                } else {
                    resolved = c.bool(o["resolved"], "resolved", required: false)
                }
            case false?:
                if !isAbsent(o["resolved"]) { c.add("resolved", "format", "must be absent or null when reached is false") }
            case nil:
                resolved = c.bool(o["resolved"], "resolved", required: false)
            }
            var satisfaction: Satisfaction?
            if reached == true && isAbsent(o["satisfaction"]) {
                c.add("satisfaction", "required", "is required when reached is true")
            } else {
                satisfaction = c.enumValue(o["satisfaction"], "satisfaction", required: false)
            }
            let note = c.note(o["note"])
            guard let reached else { return nil }
            return .callbackResult(reached: reached, resolved: resolved, satisfaction: satisfaction, note: note)
        case .redispatch:
            let unit = c.identifier(o["to_unit"], "to_unit", required: true, maxLength: 64, kind: .lowercase)
            let note = c.note(o["note"])
            guard let unit else { return nil }
            return .redispatch(unit: unit, note: note)
        case .merge:
            let into = c.identifier(o["into_ticket"], "into_ticket", required: true, maxLength: 64, kind: .mixedCase)
            if let into, let ticketID, into == ticketID {
                c.add("into_ticket", "format", "must differ from ticket_id, got \(JSON.quoted(into))")
            }
            let note = c.note(o["note"])
            guard let into else { return nil }
            return .merge(into: into, note: note)
        }
    }

    /// True when `s` is a valid command id: 1-128 characters of `A-Z a-z 0-9 . _ : -`.
    public static func isCommandID(_ s: String) -> Bool {
        !s.utf8.isEmpty && s.utf8.count <= 128 && s.utf8.allSatisfy(isIDByte)
    }

    /// True when `s` is a valid ticket id: 1-64 characters of `A-Z a-z 0-9 . _ : -` (as in the intake contract).
    public static func isTicketID(_ s: String) -> Bool {
        !s.utf8.isEmpty && s.utf8.count <= 64 && s.utf8.allSatisfy(isIDByte)
    }

    /// True when `s` is a valid unit id: 1-64 characters of `a-z 0-9 . _ -` (as in the rule files).
    public static func isUnitID(_ s: String) -> Bool {
        !s.utf8.isEmpty && s.utf8.count <= 64 && s.utf8.allSatisfy(isUnitIDByte)
    }
}

extension Command {
    /// The command in its wire form (contract v1), fields in contract order.
    ///
    /// Optional fields that are nil are left out; `at` and `until` are written with
    /// `RFC3339.format` at +08:00 (whole seconds). `replyTo` is an AMQP property, not part of the body.
    /// For a command built from valid values, `CommandContract.validate(json().objectValue!)` gives it
    /// back (apart from `replyTo` and sub-second precision). No validation is done here.
    public func json() -> JSONValue {
        var o = JSONObject()
        o.set("command_id", .string(id))
        o.set("ticket_id", .string(ticketID))
        o.set("unit", .string(unit))
        o.set("type", .string(action.type.rawValue))
        o.set("at", .string(RFC3339.format(at, offsetSeconds: CommandContract.offsetSeconds)))
        func put(_ key: String, _ s: String?) {
            if let s { o.set(key, .string(s)) }
        }
        func put(_ key: String, _ date: Date?) {
            if let date { o.set(key, .string(RFC3339.format(date, offsetSeconds: CommandContract.offsetSeconds))) }
        }
        switch action {
        case .sign:
            break
        case .contact(let note):
            put("note", note)
        case .progress(let note, let milestone):
            put("note", note)
            put("milestone", milestone?.rawValue)
        case .requestReturn(let reason, let suggestedUnit, let text):
            put("reason", reason.rawValue)
            put("suggested_unit", suggestedUnit)
            put("text", text)
        case .requestExtension(let until, let reason):
            put("until", until)
            put("reason", reason)
        case .reply(let outcome, let text):
            put("outcome", outcome.rawValue)
            put("text", text)
        case .approveReturn(let unit, let note):
            put("new_unit", unit)
            put("note", note)
        case .rejectReturn(let note):
            put("note", note)
        case .approveExtension(let until, let note):
            put("until", until)
            put("note", note)
        case .rejectExtension(let note):
            put("note", note)
        case .callbackResult(let reached, let resolved, let satisfaction, let note):
            o.set("reached", .bool(reached))
            if let resolved { o.set("resolved", .bool(resolved)) }
            put("satisfaction", satisfaction?.rawValue)
            put("note", note)
        case .redispatch(let unit, let note):
            put("to_unit", unit)
            put("note", note)
        case .merge(let into, let note):
            put("into_ticket", into)
            put("note", note)
        }
        return .object(o)
    }
}

/// The `milestone` of a progress command: the clock it stops.
private enum Milestone: String, CaseIterable {
    case onsite, answer

    var clock: Clock {
        switch self {
        case .onsite: .onsite
        case .answer: .answer
        }
    }
}

@inline(__always)
private func isIDByte(_ c: UInt8) -> Bool {
    (c >= 0x30 && c <= 0x39) || (c >= 0x41 && c <= 0x5A) || (c >= 0x61 && c <= 0x7A)
        || c == 0x2E || c == 0x5F || c == 0x3A || c == 0x2D
}

@inline(__always)
private func isUnitIDByte(_ c: UInt8) -> Bool {
    (c >= 0x30 && c <= 0x39) || (c >= 0x61 && c <= 0x7A) || c == 0x2E || c == 0x5F || c == 0x2D
}

@inline(__always)
private func isAbsent(_ v: JSONValue?) -> Bool {
    switch v {
    case nil, .null?: true
    default: false
    }
}

/// The command contract's field kinds, on top of the shared checks.
extension ContractIssues {
    /// The character set of an identifier field.
    enum IdentifierKind {
        /// Command and ticket ids: `A-Z a-z 0-9 . _ : -`.
        case mixedCase
        /// Unit ids: `a-z 0-9 . _ -`.
        case lowercase
    }

    /// An id of 1-`maxLength` ASCII characters of `kind`; reports `format` (characters first) or `length`.
    mutating func identifier(
        _ v: JSONValue?, _ path: String, required: Bool, maxLength: Int, kind: IdentifierKind
    ) -> String? {
        guard let s = string(v, path, required: required) else { return nil }
        switch kind {
        case .mixedCase where !s.utf8.allSatisfy(isIDByte):
            add(path, "format", "must contain only A-Z a-z 0-9 . _ : -, got \(JSON.quoted(s))")
            return nil
        case .lowercase where !s.utf8.allSatisfy(isUnitIDByte):
            add(path, "format", "must contain only a-z 0-9 . _ -, got \(JSON.quoted(s))")
            return nil
        default:
            break
        }
        if s.utf8.isEmpty || s.utf8.count > maxLength {
            add(path, "length", "must be 1-\(maxLength) characters, got \(s.utf8.count)")
            return nil
        }
        return s
    }

    /// An RFC 3339 timestamp with offset; reports `format` when the string does not parse.
    mutating func timestamp(_ v: JSONValue?, _ path: String, required: Bool) -> Date? {
        guard let s = string(v, path, required: required) else { return nil }
        guard let parsed = RFC3339.parse(s) else {
            add(
                path, "format",
                "expected an RFC 3339 timestamp with offset like 2026-03-02T09:53:00+08:00, got \(JSON.quoted(s))")
            return nil
        }
        return parsed.date
    }

    /// A free text of `min...max` characters; with `notBlank`, one that is not only white space (`format`).
    mutating func text(
        _ v: JSONValue?, _ path: String, required: Bool, min: Int, max: Int, notBlank: Bool = false
    ) -> String? {
        guard let s = string(v, path, required: required) else { return nil }
        guard length(s, path, min: min, max: max) else { return nil }
        if notBlank && !s.unicodeScalars.contains(where: { !$0.properties.isWhitespace }) {
            add(path, "format", "must not be only whitespace")
            return nil
        }
        return s
    }

    /// An optional `note`: at most 2000 characters (empty allowed).
    mutating func note(_ v: JSONValue?) -> String? {
        text(v, "note", required: false, min: 0, max: 2000)
    }
}
