import Foundation
import PagodaRules

/// Reads a command straight from its bytes, for commands written the plain way (contract v1).
///
/// It builds no JSON values: each member's value is found in the bytes and the command is made from
/// them with the contract's rules (`CommandContract.validate`). Whenever the bytes hold something it does
/// not read (an escape in a string, a number, an array or object, a key that is not a command field, a
/// repeated key, a byte that is not JSON or not UTF-8) or something the contract refuses, it gives up and
/// returns nil; the caller then parses the JSON tree and validates it, which decides and names the
/// problems. So a command it returns is exactly the one `JSON.parse` (with the same limits) and
/// `validate` give; `CommandFastReaderTests` checks both ways, over every byte of damaged bodies too.
enum CommandFastReader {
    /// The command in `bytes` (one JSON object in UTF-8, as parsed with `limits`), with `replyTo`; nil
    /// to leave the bytes to `JSON.parse` and `CommandContract.validate`.
    static func read(_ bytes: UnsafeRawBufferPointer, replyTo: String?, limits: JSONLimits = ScenarioLine.limits) -> Command? {
        guard bytes.count <= limits.maxBytes, limits.maxDepth >= 1 else { return nil }
        return bytes.withMemoryRebound(to: UInt8.self) { buf in
            withUnsafeTemporaryAllocation(of: Value.self, capacity: Field.count) { slots in
                slots.initialize(repeating: .absent)
                var reader = CommandBytes(buf: buf, values: slots)
                return try? reader.command(replyTo: replyTo)
            }
        }
    }
}

/// The bytes are not read here: the JSON tree and the contract decide.
private struct NotRead: Error {}

/// A member's value as found in the bytes.
private enum Value {
    case absent, null
    case bool(Bool)
    /// The bytes between the quotes (no escapes, well-formed UTF-8).
    case string(Range<Int>)
}

/// The members a command may have: the common fields and those of every type.
private enum Field: Int, CaseIterable {
    case commandID, ticketID, unit, type, at
    case note, milestone, reason, suggestedUnit, text, until, outcome, newUnit
    case reached, resolved, satisfaction, toUnit, intoTicket

    static let count = allCases.count

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
}

private let commandTypes = WireNames<CommandType>()
private let returnReasons = WireNames<ReturnReason>()
private let replyOutcomes = WireNames<ReplyOutcome>()
private let satisfactions = WireNames<Satisfaction>()
private let milestones = WireNames<Milestone>()

/// For each of `commandTypes.cases`, the fields a command of that type may carry
/// (`CommandContract.commonFields` and `fields(of:)`), as a mask of `Field.bit`s.
private let allowedFields: [UInt32] = commandTypes.cases.map { type in
    let names = Set(CommandContract.commonFields + CommandContract.fields(of: type))
    return Field.allCases.reduce(0) { mask, f in names.contains("\(f.name)") ? mask | f.bit : mask }
}

/// The reading of one command's bytes: the members into `values`, then the command from them.
private struct CommandBytes {
    let buf: UnsafeBufferPointer<UInt8>
    /// One value per `Field`, by raw value; `.absent` for a member not present.
    let values: UnsafeMutableBufferPointer<Value>
    var i = 0
    /// The `bit`s of the members present (null ones included: they count for unknown fields).
    var present: UInt32 = 0

    // MARK: The command

    mutating func command(replyTo: String?) throws(NotRead) -> Command {
        try members()
        let commandID = try identifier(string(.commandID), max: 128, lowercase: false)
        let ticketID = try identifier(string(.ticketID), max: 64, lowercase: false)
        let unit = try identifier(string(.unit), max: 64, lowercase: true)
        guard let typeIndex = commandTypes.index(bytes(try string(.type))) else { throw NotRead() }
        let type = commandTypes.cases[typeIndex]
        let at = try timestamp(string(.at))
        guard present & ~allowedFields[typeIndex] == 0 else { throw NotRead() }
        let action: Command.Action
        switch type {
        case .sign:
            action = .sign
        case .contact:
            action = .contact(note: try note())
        case .progress:
            let note = try text(string(.note), min: 1, max: 2000, notBlank: true)
            let milestone: Clock? =
                switch try optionalString(.milestone).map({ r throws(NotRead) in try choice(r, milestones) }) {
                case .onsite?: .onsite
                case .answer?: .answer
                case nil: nil
                }
            action = .progress(note: note, milestone: milestone)
        case .requestReturn:
            let reason = try choice(string(.reason), returnReasons)
            let suggested = try optionalString(.suggestedUnit).map { r throws(NotRead) in try identifier(r, max: 64, lowercase: true) }
            let explanation = try optionalString(.text).map { r throws(NotRead) in try text(r, min: 0, max: 2000) }
            action = .requestReturn(reason: reason, suggestedUnit: suggested, text: explanation)
        case .requestExtension:
            let until = try timestamp(string(.until))
            let reason = try text(string(.reason), min: 1, max: 2000)
            action = .requestExtension(until: until, reason: reason)
        case .reply:
            let outcome = try choice(string(.outcome), replyOutcomes)
            action = .reply(outcome: outcome, text: try text(string(.text), min: 1, max: 10_000))
        case .approveReturn:
            let unit = try optionalString(.newUnit).map { r throws(NotRead) in try identifier(r, max: 64, lowercase: true) }
            action = .approveReturn(unit: unit, note: try note())
        case .rejectReturn:
            action = .rejectReturn(note: try note())
        case .approveExtension:
            let until = try optionalString(.until).map { r throws(NotRead) in try timestamp(r) }
            action = .approveExtension(until: until, note: try note())
        case .rejectExtension:
            action = .rejectExtension(note: try note())
        case .callbackResult:
            // When reached, `resolved` and `satisfaction` are required; when not, `resolved` is absent.
            guard case .bool(let reached) = values[Field.reached.rawValue] else { throw NotRead() }
            let resolved: Bool?
            switch values[Field.resolved.rawValue] {
            case .bool(let b) where reached: resolved = b
            case .absent, .null: if reached { throw NotRead() } else { resolved = nil }
            default: throw NotRead()
            }
            let satisfaction: Satisfaction? =
                if reached {
                    try choice(string(.satisfaction), satisfactions)
                } else {
                    try optionalString(.satisfaction).map { r throws(NotRead) in try choice(r, satisfactions) }
                }
            action = .callbackResult(reached: reached, resolved: resolved, satisfaction: satisfaction, note: try note())
        case .redispatch:
            let unit = try identifier(string(.toUnit), max: 64, lowercase: true)
            action = .redispatch(unit: unit, note: try note())
        case .merge:
            let into = try identifier(string(.intoTicket), max: 64, lowercase: false)
            guard into != ticketID else { throw NotRead() }
            action = .merge(into: into, note: try note())
        }
        return Command(id: commandID, ticketID: ticketID, unit: unit, at: at, action: action, replyTo: replyTo)
    }

    // MARK: Fields

    /// The string of a required field (absent, null or another type: refused).
    func string(_ f: Field) throws(NotRead) -> Range<Int> {
        guard case .string(let r) = values[f.rawValue] else { throw NotRead() }
        return r
    }

    /// The string of an optional field; nil when absent or null (another type: refused).
    func optionalString(_ f: Field) throws(NotRead) -> Range<Int>? {
        switch values[f.rawValue] {
        case .absent, .null: nil
        case .string(let r): r
        case .bool: throw NotRead()
        }
    }

    /// An id of 1-`max` bytes of `A-Z a-z 0-9 . _ : -`, or with `lowercase` of `a-z 0-9 . _ -`.
    func identifier(_ r: Range<Int>, max: Int, lowercase: Bool) throws(NotRead) -> String {
        let bytes = bytes(r)
        guard !bytes.isEmpty, bytes.count <= max else { throw NotRead() }
        for c in bytes {
            let ok =
                (c >= 0x30 && c <= 0x39) || (c >= 0x61 && c <= 0x7A) || c == 0x2E || c == 0x5F || c == 0x2D
                || (!lowercase && ((c >= 0x41 && c <= 0x5A) || c == 0x3A))
            guard ok else { throw NotRead() }
        }
        return String(decoding: bytes, as: UTF8.self)
    }

    /// An RFC 3339 timestamp with offset (`RFC3339.parse`).
    func timestamp(_ r: Range<Int>) throws(NotRead) -> Date {
        guard let parsed = RFC3339.parse(bytes: bytes(r)) else { throw NotRead() }
        return parsed.date
    }

    /// The case of `E` whose raw value the string's bytes are (the tree compares strings as Unicode does,
    /// so a text equal to a raw value only in that sense is left to it).
    func choice<E>(_ r: Range<Int>, _ names: WireNames<E>) throws(NotRead) -> E {
        guard let k = names.index(bytes(r)) else { throw NotRead() }
        return names.cases[k]
    }

    /// A free text of `min...max` Characters (`ContractIssues.length`); with `notBlank`, not only white space.
    func text(_ r: Range<Int>, min: Int, max: Int, notBlank: Bool = false) throws(NotRead) -> String {
        let text = String(decoding: bytes(r), as: UTF8.self)
        let bytes = r.count
        // A Character has at least one byte: within `max` bytes it is within `max` Characters.
        if !(bytes <= max && (min == 0 || bytes > 0)) {
            let n = text.count
            guard n >= min && n <= max else { throw NotRead() }
        }
        if notBlank && !text.unicodeScalars.contains(where: { !$0.properties.isWhitespace }) { throw NotRead() }
        return text
    }

    /// An optional `note`: at most 2000 Characters.
    func note() throws(NotRead) -> String? {
        guard let r = try optionalString(.note) else { return nil }
        return try text(r, min: 0, max: 2000)
    }

    func bytes(_ r: Range<Int>) -> UnsafeBufferPointer<UInt8> { UnsafeBufferPointer(rebasing: buf[r]) }

    // MARK: Structure

    /// Reads the object: each member's key must name a `Field` not seen yet, and its value be a string,
    /// a boolean or null; nothing but JSON white space may follow it.
    mutating func members() throws(NotRead) {
        guard take(UInt8(ascii: "{")) else { throw NotRead() }
        repeat {
            guard peek(UInt8(ascii: "\"")), let field = key(), present & field.bit == 0, take(UInt8(ascii: ":")) else {
                throw NotRead()
            }
            values[field.rawValue] = try value()
            present |= field.bit
        } while take(UInt8(ascii: ","))
        guard take(UInt8(ascii: "}")) else { throw NotRead() }
        skipSpace()
        guard i == buf.count else { throw NotRead() }
    }

    /// The field whose name is the key opening at `i`, read with its closing quote; nil for any other
    /// key. A name holds no quote or backslash, so a key whose first bytes are a name and a quote is
    /// exactly that name.
    mutating func key() -> Field? {
        let s = i + 1
        guard s < buf.count else { return nil }
        func match(_ f: Field) -> Field? {
            let n = f.name.utf8CodeUnitCount
            guard s + n < buf.count, buf[s + n] == UInt8(ascii: "\""), memcmp(buf.baseAddress! + s, f.name.utf8Start, n) == 0 else {
                return nil
            }
            return f
        }
        let field: Field? =
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

    mutating func value() throws(NotRead) -> Value {
        skipSpace()
        guard i < buf.count else { throw NotRead() }
        switch buf[i] {
        case UInt8(ascii: "\""): return try quoted()
        case UInt8(ascii: "t"): try word("true"); return .bool(true)
        case UInt8(ascii: "f"): try word("false"); return .bool(false)
        case UInt8(ascii: "n"): try word("null"); return .null
        default: throw NotRead()
        }
    }

    /// The string whose opening quote is at `i`, without escapes or control characters, its bytes
    /// well-formed UTF-8 (as the JSON parser checks them).
    mutating func quoted() throws(NotRead) -> Value {
        let start = i + 1
        guard let close = JSON.plainStringClose(buf, from: start, end: buf.count) else { throw NotRead() }
        i = close + 1
        return .string(start..<close)
    }

    mutating func word(_ w: StaticString) throws(NotRead) {
        let n = w.utf8CodeUnitCount
        guard i + n <= buf.count, memcmp(buf.baseAddress! + i, w.utf8Start, n) == 0 else { throw NotRead() }
        i += n
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

/// The `milestone` of a progress command (`CommandContract`'s own is private to it).
private enum Milestone: String, CaseIterable {
    case onsite, answer
}
