import Foundation
import PagodaJSON
import PagodaRules

/// Decoder and validator for the worker-command contract v1 (docs/contract.md, "Worker commands").
///
/// A command is one JSON object on `pagoda.commands`: five common fields (`command_id`, `ticket_id`,
/// `unit`, `type`, `at`) and the fields of its `type`. Validation is strict: a key that is neither common
/// nor a field of the type is `unknown_field`. Problems are collected, never thrown one at a time.
///
/// One reader: `decode` finds the members of a body written the plain way (keys that are command
/// fields, values that are strings without escapes, booleans or null) in one pass over its bytes,
/// building no JSON tree; any other body is parsed by `JSON.parse`, which also names what is wrong with
/// one that is not JSON. Either way the members go through the same checks (`validate`).
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
    private static let typeFields = Dictionary(
        uniqueKeysWithValues: CommandType.allCases.map { ($0, makeFields(of: $0)) })

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
        bytes.withUnsafeBytes { decode($0, replyTo: replyTo) }
    }

    /// `decode(_:replyTo:)` on bytes in place, parsed with `limits` (a scenario line's, in the simulator).
    public static func decode(
        _ bytes: UnsafeRawBufferPointer, replyTo: String? = nil, limits: JSONLimits = limits
    ) -> Result<Command, CommandValidationError> {
        if let members = CommandMembers(plain: bytes, limits: limits) { return validate(members, replyTo: replyTo) }
        let value: JSONValue
        do {
            value = try JSON.parse(bytes, limits: limits)
        } catch {
            return .failure(
                CommandValidationError(
                    issues: [ValidationIssue(path: "", code: ValidationCode(error.code), message: error.message)],
                    commandID: nil, ticketID: nil))
        }
        guard case .object(let object) = value else {
            return .failure(
                CommandValidationError(
                    issues: [
                        ValidationIssue(
                            path: "", code: .type, message: "(root): expected an object, got \(value.typeDescription)")
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
    public static func validate(_ object: JSONObject, replyTo: String? = nil) -> Result<Command, CommandValidationError>
    {
        validate(CommandMembers(object), replyTo: replyTo)
    }

    private static func validate(_ m: CommandMembers, replyTo: String?) -> Result<Command, CommandValidationError> {
        var c = ContractIssues(cap: maxIssues)

        let commandID = c.identifier(m[.commandID], "command_id", required: true, maxLength: 128, kind: .mixedCase)
        let ticketID = c.identifier(m[.ticketID], "ticket_id", required: true, maxLength: 64, kind: .mixedCase)
        let unit = c.identifier(m[.unit], "unit", required: true, maxLength: 64, kind: .lowercase)
        let type: CommandType? = c.enumValue(m[.type], "type", required: true)
        let at = c.timestamp(m[.at], "at", required: true)

        var action: Command.Action?
        if let type {
            action = validateFields(of: type, in: m, ticketID: m[.ticketID]?.stringValue, &c)
            if m.present & ~CommandField.allowed(type) != 0 || m.hasOtherKeys {
                for key in m.keys where !CommandField.isAllowed(key, in: type) {
                    c.add(key, .unknownField, "not a field of \(type.rawValue) commands")
                }
            }
        }

        guard c.list.isEmpty, let commandID, let ticketID, let unit, let at, let action else {
            return .failure(
                CommandValidationError(
                    issues: c.list, commandID: m[.commandID]?.stringValue, ticketID: m[.ticketID]?.stringValue))
        }
        return .success(
            Command(id: commandID, ticketID: ticketID, unit: unit, at: at, action: action, replyTo: replyTo))
    }

    /// Checks the fields of `type` in contract order; the action is meaningful only when no issue was added.
    private static func validateFields(
        of type: CommandType, in o: CommandMembers, ticketID: String?, _ c: inout ContractIssues
    ) -> Command.Action? {
        switch type {
        case .sign:
            return .sign
        case .contact:
            return .contact(note: c.note(o[.note]))
        case .progress:
            let note = c.text(o[.note], "note", required: true, min: 1, max: 2000, notBlank: true)
            let milestone: Milestone? = c.enumValue(o[.milestone], "milestone", required: false)
            guard let note else { return nil }
            return .progress(note: note, milestone: milestone?.clock)
        case .requestReturn:
            let reason: ReturnReason? = c.enumValue(o[.reason], "reason", required: true)
            let suggested = c.identifier(
                o[.suggestedUnit], "suggested_unit", required: false, maxLength: 64, kind: .lowercase)
            let text = c.text(o[.text], "text", required: false, min: 0, max: 2000)
            guard let reason else { return nil }
            return .requestReturn(reason: reason, suggestedUnit: suggested, text: text)
        case .requestExtension:
            let until = c.timestamp(o[.until], "until", required: true)
            let reason = c.text(o[.reason], "reason", required: true, min: 1, max: 2000)
            guard let until, let reason else { return nil }
            return .requestExtension(until: until, reason: reason)
        case .reply:
            let outcome: ReplyOutcome? = c.enumValue(o[.outcome], "outcome", required: true)
            let text = c.text(o[.text], "text", required: true, min: 1, max: 10_000)
            guard let outcome, let text else { return nil }
            return .reply(outcome: outcome, text: text)
        case .approveReturn:
            let unit = c.identifier(o[.newUnit], "new_unit", required: false, maxLength: 64, kind: .lowercase)
            return .approveReturn(unit: unit, note: c.note(o[.note]))
        case .rejectReturn:
            return .rejectReturn(note: c.note(o[.note]))
        case .approveExtension:
            let until = c.timestamp(o[.until], "until", required: false)
            return .approveExtension(until: until, note: c.note(o[.note]))
        case .rejectExtension:
            return .rejectExtension(note: c.note(o[.note]))
        case .callbackResult:
            let reached = c.bool(o[.reached], "reached", required: true)
            var resolved: Bool?
            switch reached {
            case true?:
                if isAbsent(o[.resolved]) {
                    c.add("resolved", .required, "is required when reached is true")
                } else {
                    resolved = c.bool(o[.resolved], "resolved", required: false)
                }
            case false?:
                if !isAbsent(o[.resolved]) {
                    c.add("resolved", .format, "must be absent or null when reached is false")
                }
            case nil:
                resolved = c.bool(o[.resolved], "resolved", required: false)
            }
            var satisfaction: Satisfaction?
            if reached == true && isAbsent(o[.satisfaction]) {
                c.add("satisfaction", .required, "is required when reached is true")
            } else {
                satisfaction = c.enumValue(o[.satisfaction], "satisfaction", required: false)
            }
            let note = c.note(o[.note])
            guard let reached else { return nil }
            return .callbackResult(reached: reached, resolved: resolved, satisfaction: satisfaction, note: note)
        case .redispatch:
            let unit = c.identifier(o[.toUnit], "to_unit", required: true, maxLength: 64, kind: .lowercase)
            let note = c.note(o[.note])
            guard let unit else { return nil }
            return .redispatch(unit: unit, note: note)
        case .merge:
            let into = c.identifier(o[.intoTicket], "into_ticket", required: true, maxLength: 64, kind: .mixedCase)
            if let into, let ticketID, into == ticketID {
                c.add("into_ticket", .format, "must differ from ticket_id, got \(JSON.quoted(into))")
            }
            let note = c.note(o[.note])
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
            add(path, .format, "must contain only A-Z a-z 0-9 . _ : -, got \(JSON.quoted(s))")
            return nil
        case .lowercase where !s.utf8.allSatisfy(isUnitIDByte):
            add(path, .format, "must contain only a-z 0-9 . _ -, got \(JSON.quoted(s))")
            return nil
        default:
            break
        }
        if s.utf8.isEmpty || s.utf8.count > maxLength {
            add(path, .length, "must be 1-\(maxLength) characters, got \(s.utf8.count)")
            return nil
        }
        return s
    }

    /// An RFC 3339 timestamp with offset; reports `format` when the string does not parse.
    mutating func timestamp(_ v: JSONValue?, _ path: String, required: Bool) -> Date? {
        guard let s = string(v, path, required: required) else { return nil }
        guard let parsed = RFC3339.parse(s) else {
            add(
                path, .format,
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
            add(path, .format, "must not be only whitespace")
            return nil
        }
        return s
    }

    /// An optional `note`: at most 2000 characters (empty allowed).
    mutating func note(_ v: JSONValue?) -> String? {
        text(v, "note", required: false, min: 0, max: 2000)
    }
}

/// The members a command may have: the common fields and those of every type.
enum CommandField: Int, CaseIterable {
    case commandID, ticketID, unit, type, at
    case note, milestone, reason, suggestedUnit, text, until, outcome, newUnit
    case reached, resolved, satisfaction, toUnit, intoTicket

    var bit: UInt32 { 1 << UInt32(rawValue) }

    var name: StaticString {
        switch self {
        case .commandID: "command_id"
        case .ticketID: "ticket_id"
        case .unit: "unit"
        case .type: "type"
        case .at: "at"
        case .note: "note"
        case .milestone: "milestone"
        case .reason: "reason"
        case .suggestedUnit: "suggested_unit"
        case .text: "text"
        case .until: "until"
        case .outcome: "outcome"
        case .newUnit: "new_unit"
        case .reached: "reached"
        case .resolved: "resolved"
        case .satisfaction: "satisfaction"
        case .toUnit: "to_unit"
        case .intoTicket: "into_ticket"
        }
    }

    private static let byName = Dictionary(uniqueKeysWithValues: allCases.map { ("\($0.name)", $0) })

    /// For each type, the fields a command of that type may carry (`CommandContract.commonFields` and
    /// `fields(of:)`), as a mask of `bit`s.
    private static let masks = Dictionary(
        uniqueKeysWithValues: CommandType.allCases.map { type in
            let names = Set(CommandContract.commonFields + CommandContract.fields(of: type))
            return (type, allCases.reduce(UInt32(0)) { mask, f in names.contains("\(f.name)") ? mask | f.bit : mask })
        })

    /// The field named `key`; nil for any other key.
    init?(name key: String) {
        guard let f = Self.byName[key] else { return nil }
        self = f
    }

    static func allowed(_ type: CommandType) -> UInt32 { masks[type] ?? 0 }

    /// Whether `key` is a common field or a field of `type`.
    static func isAllowed(_ key: String, in type: CommandType) -> Bool {
        guard let f = CommandField(name: key) else { return false }
        return allowed(type) & f.bit != 0
    }
}

/// A command body's members, as the contract's checks read them: the value of each command field (nil
/// when absent), and every key in received order (other keys are reported as unknown).
struct CommandMembers {
    private var values = [JSONValue?](repeating: nil, count: CommandField.allCases.count)
    /// The `bit`s of the fields present (null ones included: they count for unknown fields).
    private(set) var present: UInt32 = 0
    private var order: [Key] = []
    private(set) var hasOtherKeys = false

    private enum Key {
        case field(CommandField)
        case other(String)
    }

    subscript(_ f: CommandField) -> JSONValue? { values[f.rawValue] }

    /// Every key in received order.
    var keys: [String] {
        order.map { k in
            switch k {
            case .field(let f): "\(f.name)"
            case .other(let s): s
            }
        }
    }

    /// The members of a parsed object.
    init(_ object: JSONObject) {
        order.reserveCapacity(object.count)
        for (key, value) in object {
            if let f = CommandField(name: key) {
                set(f, value)
            } else {
                order.append(.other(key))
                hasOtherKeys = true
            }
        }
    }

    /// The members of a body written the plain way, read in one pass over its bytes: an object (within
    /// `limits`) whose keys are command fields, each once, and whose values are strings without escapes
    /// or control characters (well-formed UTF-8, as the parser checks it), booleans or null, with nothing
    /// but JSON white space around. Nil for anything else, which `JSON.parse` then reads or refuses: so
    /// the members found here are the parser's.
    init?(plain bytes: UnsafeRawBufferPointer, limits: JSONLimits) {
        guard bytes.count <= limits.maxBytes, limits.maxDepth >= 1 else { return nil }
        order.reserveCapacity(8)
        let read = bytes.withMemoryRebound(to: UInt8.self) { buf in
            var scan = PlainCommandScan(buf: buf)
            return scan.object(into: &self)
        }
        guard read else { return nil }
    }

    mutating func set(_ f: CommandField, _ value: JSONValue) {
        values[f.rawValue] = value
        present |= f.bit
        order.append(.field(f))
    }
}

/// The one pass of `CommandMembers(plain:limits:)`.
private struct PlainCommandScan {
    let buf: UnsafeBufferPointer<UInt8>
    var i = 0

    init(buf: UnsafeBufferPointer<UInt8>) { self.buf = buf }

    mutating func object(into m: inout CommandMembers) -> Bool {
        guard take(UInt8(ascii: "{")) else { return false }
        repeat {
            guard peek(UInt8(ascii: "\"")), let field = key(), m.present & field.bit == 0, take(UInt8(ascii: ":")),
                let value = value()
            else { return false }
            m.set(field, value)
        } while take(UInt8(ascii: ","))
        guard take(UInt8(ascii: "}")) else { return false }
        skipSpace()
        return i == buf.count
    }

    /// The field whose name is the key opening at `i`, read with its closing quote; nil for any other
    /// key. A name holds no quote or backslash, so a key whose first bytes are a name and a quote is
    /// exactly that name.
    mutating func key() -> CommandField? {
        let s = i + 1
        guard s < buf.count else { return nil }
        func match(_ f: CommandField) -> CommandField? {
            let n = f.name.utf8CodeUnitCount
            guard s + n < buf.count, buf[s + n] == UInt8(ascii: "\""),
                memcmp(buf.baseAddress! + s, f.name.utf8Start, n) == 0
            else {
                return nil
            }
            return f
        }
        let field: CommandField? =
            switch buf[s] {
            case UInt8(ascii: "a"): match(.at)
            case UInt8(ascii: "c"): match(.commandID)
            case UInt8(ascii: "i"): match(.intoTicket)
            case UInt8(ascii: "m"): match(.milestone)
            case UInt8(ascii: "n"): match(.note) ?? match(.newUnit)
            case UInt8(ascii: "o"): match(.outcome)
            case UInt8(ascii: "r"): match(.reason) ?? match(.reached) ?? match(.resolved)
            case UInt8(ascii: "s"): match(.satisfaction) ?? match(.suggestedUnit)
            case UInt8(ascii: "t"): match(.type) ?? match(.text) ?? match(.ticketID) ?? match(.toUnit)
            case UInt8(ascii: "u"): match(.unit) ?? match(.until)
            default: nil
            }
        guard let field else { return nil }
        i = s + field.name.utf8CodeUnitCount + 1
        return field
    }

    mutating func value() -> JSONValue? {
        skipSpace()
        guard i < buf.count else { return nil }
        switch buf[i] {
        case UInt8(ascii: "\""):
            let start = i + 1
            guard let close = JSON.plainStringClose(buf, from: start, end: buf.count) else { return nil }
            i = close + 1
            return .string(String(decoding: UnsafeBufferPointer(rebasing: buf[start..<close]), as: UTF8.self))
        case UInt8(ascii: "t"): return word("true") ? .bool(true) : nil
        case UInt8(ascii: "f"): return word("false") ? .bool(false) : nil
        case UInt8(ascii: "n"): return word("null") ? .null : nil
        default: return nil
        }
    }

    mutating func word(_ w: StaticString) -> Bool {
        let n = w.utf8CodeUnitCount
        guard i + n <= buf.count, memcmp(buf.baseAddress! + i, w.utf8Start, n) == 0 else { return false }
        i += n
        return true
    }

    mutating func skipSpace() {
        while i < buf.count, buf[i] == 0x20 || buf[i] == 0x0A || buf[i] == 0x0D || buf[i] == 0x09 { i += 1 }
    }

    mutating func peek(_ c: UInt8) -> Bool {
        skipSpace()
        return i < buf.count && buf[i] == c
    }

    mutating func take(_ c: UInt8) -> Bool {
        guard peek(c) else { return false }
        i += 1
        return true
    }
}
