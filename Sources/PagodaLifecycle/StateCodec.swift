import Foundation
import PagodaJSON
import PagodaRules
import Synchronization

/// The stored form of a ticket's state: compact JSON written and read by hand (one writer, one reader:
/// `StateBytes`) (Foundation's coders cost ten times as much per ticket, measured with
/// `pagoda bench lifecycle`). Instants are seconds since 2001-01-01T00:00:00Z (Foundation's reference
/// date, which is how `Date` holds them) as JSON numbers with every digit, so a state reads back exactly
/// equal.
extension TicketState {
    /// The state as compact JSON bytes, written straight into one buffer (no JSON values in between).
    /// `JSON.serialize(JSON.parse(encoded()))` gives the same bytes: members in this order, times as
    /// numbers with every digit.
    public func encoded() -> [UInt8] {
        var w = StateWriter()
        w.out.reserveCapacity(1024)
        w.int("v", version, first: true)
        w.string("id", ticketID)
        w.time("received", receivedAt)
        w.bool("enterprise", enterprise)
        w.string("phase", phase.rawValue)
        w.time("assigned", assignedAt)
        w.key("policy")
        policy.write(&w)
        if let category { w.string("category", category) }
        if let urgency { w.string("urgency", urgency.rawValue) }
        if let holder {
            w.key("holder")
            holder.write(&w)
        }
        if !coHandlers.isEmpty { w.strings("co", coHandlers) }
        if let profile {
            w.key("profile")
            profile.write(&w)
        }
        if !clocks.isEmpty {
            w.key("clocks")
            w.array(clocks) { w, c in c.write(&w) }
        }
        if supervised { w.bool("supervised", true) }
        if let remindAt { w.time("remind", remindAt) }
        if let enterpriseWatchAt { w.time("watch", enterpriseWatchAt) }
        if returns > 0 { w.int("returns", returns) }
        if !returnedBy.isEmpty { w.strings("returned_by", returnedBy) }
        if reworks > 0 { w.int("reworks", reworks) }
        if escalations > 0 { w.int("escalations", escalations) }
        if let p = pendingReturn {
            w.key("return")
            w.object { w in
                w.string("reason", p.reason.rawValue, first: true)
                w.time("at", p.at)
                w.string("previous", p.previous.rawValue)
                if let s = p.suggestedUnit { w.string("suggested", s) }
                if let d = p.reviewDue { w.time("review_due", d) }
                if p.reviewOverdue { w.bool("review_overdue", true) }
            }
        }
        if let p = pendingExtension {
            w.key("extension")
            w.object { w in
                w.time("until", p.until, first: true)
                w.string("reason", p.reason)
                w.time("at", p.at)
                if let d = p.reviewDue { w.time("review_due", d) }
                if p.reviewOverdue { w.bool("review_overdue", true) }
            }
        }
        if let repeatOf { w.string("repeat_of", repeatOf) }
        if let mergedInto { w.string("merged_into", mergedInto) }
        if !handledCommands.isEmpty { w.strings("commands", handledCommands) }
        if let nextTimer { w.time("next", nextTimer) }
        w.out.append(0x7D)
        return w.out
    }
}

let stateLimits = JSONLimits(maxBytes: 16 << 20, maxDepth: 16)

/// The holders, SLA profiles and escalation policies of stored states already read, by their stored
/// bytes (`TicketState(encoded:cache:)`). Safe to share between threads; it forgets everything when one
/// kind passes `capacity` entries, so it stays small whatever the rules.
public final class StateDecodingCache: Sendable {
    /// Stored bytes as a dictionary key, hashed as one block (an array of bytes hashes them one by one).
    private struct Key: Hashable, Sendable {
        let bytes: [UInt8]
        func hash(into hasher: inout Hasher) {
            bytes.withUnsafeBytes { hasher.combine(bytes: $0) }
        }
    }
    private struct Memo {
        var holders: [Key: Holder] = [:]
        var profiles: [Key: ProfileSnapshot] = [:]
        var policies: [Key: PolicySnapshot] = [:]
    }
    private let memo = Mutex(Memo())
    public let capacity: Int

    public init(capacity: Int = 4096) {
        self.capacity = capacity
    }

    /// How many values of each kind are kept (for tests).
    public var counts: (holders: Int, profiles: Int, policies: Int) {
        memo.withLock { ($0.holders.count, $0.profiles.count, $0.policies.count) }
    }

    func holder(_ bytes: ArraySlice<UInt8>) throws -> Holder {
        try value(bytes, \.holders) { try Holder(bytes: bytes) }
    }

    func profile(_ bytes: ArraySlice<UInt8>) throws -> ProfileSnapshot {
        try value(bytes, \.profiles) { try ProfileSnapshot(bytes: bytes, path: "profile.") }
    }

    func policy(_ bytes: ArraySlice<UInt8>) throws -> PolicySnapshot {
        try value(bytes, \.policies) { try PolicySnapshot(bytes: bytes) }
    }

    /// The value of these bytes, read by `read` (outside the lock) the first time. A value that fails to
    /// read is not kept.
    private func value<T: Sendable>(
        _ bytes: ArraySlice<UInt8>, _ kind: WritableKeyPath<Memo, [Key: T]>, _ read: () throws -> T
    ) throws -> T {
        let key = Key(bytes: Array(bytes))
        if let known = memo.withLock({ $0[keyPath: kind][key] }) { return known }
        let value = try read()
        memo.withLock { m in
            if m[keyPath: kind].count >= capacity { m[keyPath: kind].removeAll() }
            m[keyPath: kind][key] = value
        }
        return value
    }
}

/// A stored state that cannot be read.
public struct StateDecodingError: Error, Hashable, Sendable, CustomStringConvertible {
    public let field: String
    public let reason: String
    public var description: String { "lifecycle state: \(field.isEmpty ? "(root)" : field): \(reason)" }
}

/// Writes a stored state's compact JSON: each member call writes `,"key":value` (no comma when `first`);
/// keys are ASCII names without escapes.
struct StateWriter {
    var out: [UInt8] = [0x7B]

    mutating func key(_ k: StaticString, first: Bool = false) {
        if !first { out.append(0x2C) }
        out.append(0x22)
        out.append(contentsOf: UnsafeBufferPointer(start: k.utf8Start, count: k.utf8CodeUnitCount))
        out.append(0x22)
        out.append(0x3A)
    }

    mutating func string(_ k: StaticString, _ v: String, first: Bool = false) {
        key(k, first: first)
        JSON.serializeString(v, into: &out)
    }

    mutating func int(_ k: StaticString, _ v: Int, first: Bool = false) {
        key(k, first: first)
        out.append(contentsOf: String(v).utf8)
    }

    mutating func bool(_ k: StaticString, _ v: Bool, first: Bool = false) {
        key(k, first: first)
        out.append(contentsOf: v ? StateWriter.trueBytes : StateWriter.falseBytes)
    }

    /// An instant as seconds since 2001-01-01T00:00:00Z, with every digit (`Double`'s description).
    mutating func time(_ k: StaticString, _ d: Date, first: Bool = false) {
        key(k, first: first)
        out.append(contentsOf: d.timeIntervalSinceReferenceDate.description.utf8)
    }

    mutating func strings(_ k: StaticString, _ v: [String]) {
        key(k)
        array(v) { w, s in JSON.serializeString(s, into: &w.out) }
    }

    mutating func object(_ members: (inout StateWriter) -> Void) {
        out.append(0x7B)
        members(&self)
        out.append(0x7D)
    }

    mutating func array<T>(_ elements: [T], _ write: (inout StateWriter, T) -> Void) {
        out.append(0x5B)
        for (i, e) in elements.enumerated() {
            if i > 0 { out.append(0x2C) }
            write(&self, e)
        }
        out.append(0x5D)
    }

    static let trueBytes = Array("true".utf8)
    static let falseBytes = Array("false".utf8)
}

extension Holder {
    func write(_ w: inout StateWriter) {
        w.object { w in
            w.string("unit", unit, first: true)
            w.string("level", level.name)
            w.string("queue", queue)
            w.key("parents")
            w.array(parents) { w, p in
                w.object { w in
                    w.string("unit", p.unit, first: true)
                    w.string("level", p.level.name)
                    w.string("queue", p.queue)
                }
            }
        }
    }

}

extension ProfileSnapshot {
    func write(_ w: inout StateWriter) {
        w.object { w in
            w.string("name", name, first: true)
            w.key("limits")
            w.array(limits) { w, l in
                w.object { w in
                    w.string("clock", l.clock.rawValue, first: true)
                    w.string("duration", l.duration)
                }
            }
            if let warnPercent { w.int("warn_percent", warnPercent) }
            if let warnBeforeSeconds { w.int("warn_before", warnBeforeSeconds) }
        }
    }

}

extension PolicySnapshot {
    func write(_ w: inout StateWriter) {
        w.object { w in
            w.string("name", name, first: true)
            w.key("clocks")
            w.array(clocks) { w, c in JSON.serializeString(c.rawValue, into: &w.out) }
            w.bool("to_parent", toParent)
            w.int("max_returns", maxReturns)
            if let remindEvery { w.string("remind_every", remindEvery) }
            if let afterEscalation {
                w.key("after_escalation")
                afterEscalation.write(&w)
            }
            if let returnReview { w.string("return_review", returnReview) }
            if let extensionReview { w.string("extension_review", extensionReview) }
            // The defaults are left out: a state stored before these fields existed reads the same.
            if requestPauses != EscalationPolicy.defaultRequestPauses {
                w.key("request_pauses")
                w.array(requestPauses) { w, c in JSON.serializeString(c.rawValue, into: &w.out) }
            }
            if remindAnyTime != EscalationPolicy.defaultRemindAnyTime {
                w.key("remind_any_time")
                w.array(remindAnyTime) { w, u in JSON.serializeString(u.rawValue, into: &w.out) }
            }
        }
    }

}

extension ClockState {
    func write(_ w: inout StateWriter) {
        w.object { w in
            w.string("clock", clock.rawValue, first: true)
            w.time("started", started)
            w.time("due", due)
            w.time("warn", warnAt)
            if let stoppedAt { w.time("stopped", stoppedAt) }
            if warned { w.bool("warned", true) }
            if overdue { w.bool("overdue", true) }
            if let pausedAt { w.time("paused", pausedAt) }
        }
    }

}

// MARK: - Reading

/// The one reader of stored states: one pass over the bytes, no JSON tree.
///
/// Each member is read into its field as the bytes go by; strings may hold escapes, a null reads as an
/// absent member, white space may sit between tokens and a member it does not know is skipped (its value
/// checked as JSON), so a state reads as JSON says it holds. What is wrong is named: bytes that are not
/// JSON (or a repeated key) by the parser's error (`JSONParseError`, with its byte offset); a member of
/// the wrong type, a value out of its set or a missing member by `StateDecodingError` with the field's
/// path (`holder.parents[0].level`), the first one in the bytes.
struct StateBytes {
    /// The bytes of the object being read (a snapshot's alone, when the cache reads one).
    private let document: ArraySlice<UInt8>
    private let buf: UnsafeBufferPointer<UInt8>
    private var i = 0

    private init(_ document: ArraySlice<UInt8>, _ buf: UnsafeBufferPointer<UInt8>) {
        self.document = document
        self.buf = buf
    }

    /// Reads `bytes` (one JSON object and nothing else) with `body`.
    static func read<T>(_ bytes: ArraySlice<UInt8>, _ body: (inout StateBytes) throws -> T) throws -> T {
        guard bytes.count <= stateLimits.maxBytes else {
            throw jsonParseError(bytes) ?? StateDecodingError(field: "", reason: "too large")
        }
        return try bytes.withUnsafeBufferPointer { buf in
            var r = StateBytes(bytes, buf)
            let value = try body(&r)
            guard r.atEnd() else { throw r.malformed() }
            return value
        }
    }

    // MARK: Errors

    /// The parser's error when the bytes are not JSON; else a state that is not as `encoded()` writes it.
    func malformed() -> any Error {
        jsonParseError(document) ?? StateDecodingError(field: "", reason: "not a stored state")
    }

    /// `field` is wrong for `reason`, unless the bytes are not JSON (the parser's error comes first).
    func wrong(_ field: String, _ reason: String) -> any Error {
        jsonParseError(document) ?? StateDecodingError(field: field, reason: reason)
    }

    /// A snapshot read apart (from the cache) failed: the parser's error on the whole state comes first.
    func rethrow(_ error: any Error) -> any Error { jsonParseError(document) ?? error }

    // MARK: Objects

    /// Reads an object: each key goes to `member`, which reads its value and returns a number for the
    /// key (below 64, distinct per key), or nil for a key it does not know, whose value is skipped.
    mutating func object(_ field: @autoclosure () -> String, _ member: (inout StateBytes, String) throws -> Int?) throws
    {
        skipSpace()
        guard i < buf.count, buf[i] == 0x7B else {
            let name = field()
            throw wrong(name, name.isEmpty ? "not an object" : "expected an object")
        }
        i += 1
        if take(0x7D) { return }
        var seen: UInt64 = 0
        var unknown: [String] = []
        repeat {
            skipSpace()
            guard i < buf.count, buf[i] == 0x22 else { throw malformed() }
            let key = try stringToken()
            guard take(0x3A) else { throw malformed() }
            if let n = try member(&self, key) {
                guard seen & (1 << n) == 0 else { throw malformed() }  // a repeated key: the parser's error
                seen |= 1 << n
            } else {
                guard !unknown.contains(key) else { throw malformed() }
                unknown.append(key)
                try skipValue()
            }
        } while take(0x2C)
        guard take(0x7D) else { throw malformed() }
    }

    /// An array of `element`s; nil (empty) when null. `field` names it in errors.
    mutating func array<T>(_ field: @autoclosure () -> String, _ element: (inout StateBytes, Int) throws -> T) throws
        -> [T]
    {
        if null() { return [] }
        guard take(0x5B) else { throw wrong(field(), "expected an array") }
        var out: [T] = []
        if take(0x5D) { return out }
        repeat {
            out.append(try element(&self, out.count))
        } while take(0x2C)
        guard take(0x5D) else { throw malformed() }
        return out
    }

    /// An array of strings (`[]` when absent or null).
    mutating func strings(_ field: @autoclosure () -> String) throws -> [String] {
        try array(field()) { r, _ in
            r.skipSpace()
            guard r.i < r.buf.count, r.buf[r.i] == 0x22 else { throw r.wrong(field(), "expected strings") }
            return try r.stringToken()
        }
    }

    /// A nested object read by `body`, or nil when null.
    mutating func optionalObject<T>(_ field: @autoclosure () -> String, _ body: (inout StateBytes) throws -> T) throws
        -> T?
    {
        if null() { return nil }
        return try body(&self)
    }

    /// A holder, profile or policy: its bytes read by `read` (the cache, or a reader of their own); nil when null.
    mutating func snapshot<T>(_ field: @autoclosure () -> String, _ read: (ArraySlice<UInt8>) throws -> T) throws -> T?
    {
        if null() { return nil }
        skipSpace()
        guard i < buf.count, buf[i] == 0x7B else { throw wrong(field(), "expected an object") }
        let span = try valueSpan()
        let start = document.startIndex
        do {
            return try read(document[(start + span.lowerBound)..<(start + span.upperBound)])
        } catch {
            throw rethrow(error)
        }
    }

    // MARK: Values

    /// A string; nil when null.
    mutating func string(_ field: @autoclosure () -> String) throws -> String? {
        if null() { return nil }
        skipSpace()
        guard i < buf.count, buf[i] == 0x22 else { throw wrong(field(), "expected a string") }
        return try stringToken()
    }

    mutating func bool(_ field: @autoclosure () -> String) throws -> Bool? {
        if null() { return nil }
        if word("true") { return true }
        if word("false") { return false }
        throw wrong(field(), "expected a boolean")
    }

    mutating func int(_ field: @autoclosure () -> String) throws -> Int? {
        if null() { return nil }
        guard let n = numberText().flatMap({ Int($0) }) else { throw wrong(field(), "expected an integer") }
        return n
    }

    /// An instant as seconds since 2001-01-01T00:00:00Z.
    mutating func time(_ field: @autoclosure () -> String) throws -> Date? {
        if null() { return nil }
        guard let t = numberText().flatMap({ Double($0) }) else { throw wrong(field(), "expected seconds since 2001") }
        return Date(timeIntervalSinceReferenceDate: t)
    }

    mutating func enumValue<E: RawRepresentable>(_ field: @autoclosure () -> String) throws -> E?
    where E.RawValue == String {
        guard let s = try string(field()) else { return nil }
        guard let e = E(rawValue: s) else { throw wrong(field(), "unknown value \(s)") }
        return e
    }

    mutating func level(_ field: @autoclosure () -> String) throws -> Level? {
        guard let s = try string(field()) else { return nil }
        guard let l = Level(name: s) else { throw wrong(field(), "unknown level \(s)") }
        return l
    }

    /// A required member: `value`, or `field` missing.
    func required<T>(_ value: T?, _ field: @autoclosure () -> String) throws -> T {
        guard let value else { throw wrong(field(), "missing") }
        return value
    }

    // MARK: Tokens

    private mutating func skipSpace() {
        while i < buf.count, buf[i] == 0x20 || buf[i] == 0x0A || buf[i] == 0x0D || buf[i] == 0x09 { i += 1 }
    }

    private mutating func take(_ c: UInt8) -> Bool {
        skipSpace()
        guard i < buf.count, buf[i] == c else { return false }
        i += 1
        return true
    }

    mutating func atEnd() -> Bool {
        skipSpace()
        return i == buf.count
    }

    /// Reads a null if one is next.
    mutating func isNull() -> Bool { null() }

    private mutating func null() -> Bool {
        skipSpace()
        return word("null")
    }

    private mutating func word(_ w: StaticString) -> Bool {
        let n = w.utf8CodeUnitCount
        guard i + n <= buf.count, memcmp(buf.baseAddress! + i, w.utf8Start, n) == 0 else { return false }
        i += n
        return true
    }

    /// The string whose opening quote is at `i`: read in place when it holds no escape (its UTF-8 checked
    /// as the parser checks it), else by the parser.
    private mutating func stringToken() throws -> String {
        let start = i + 1
        if let close = JSON.plainStringClose(buf, from: start, end: buf.count) {
            i = close + 1
            let text = UnsafeBufferPointer(rebasing: buf[start..<close])
            return String(decoding: text, as: UTF8.self)
        }
        let span = try valueSpan()
        guard case .string(let s)? = try? JSON.parse(raw(span)) else { throw malformed() }
        return s
    }

    /// A JSON number's text, checked against JSON's grammar; nil (nothing read) for anything else.
    private mutating func numberText() -> String? {
        skipSpace()
        let start = i
        var end = i
        while end < buf.count,
            (0x30...0x39).contains(buf[end]) || buf[end] == 0x2D || buf[end] == 0x2B || buf[end] == 0x2E
                || buf[end] == 0x65 || buf[end] == 0x45
        {
            end += 1
        }
        guard end > start else { return nil }
        let text = String(decoding: UnsafeBufferPointer(rebasing: buf[start..<end]), as: UTF8.self)
        guard JSON.isValidNumberLexeme(text) else { return nil }
        i = end
        return text
    }

    /// Skips a member's value, checked by the parser.
    private mutating func skipValue() throws {
        let span = try valueSpan()
        guard (try? JSON.parse(raw(span), limits: stateLimits)) != nil else { throw malformed() }
    }

    /// Where the value starting here ends (strings and nesting followed), without checking it.
    private mutating func valueSpan() throws -> Range<Int> {
        skipSpace()
        let start = i
        guard i < buf.count else { throw malformed() }
        switch buf[i] {
        case 0x22, 0x7B, 0x5B:
            var depth = 0
            var inString = false
            while i < buf.count {
                let c = buf[i]
                i += 1
                if inString {
                    if c == 0x5C {
                        i += 1
                    } else if c == 0x22 {
                        inString = false
                        if depth == 0 { return start..<i }
                    }
                } else if c == 0x22 {
                    inString = true
                } else if c == 0x7B || c == 0x5B {
                    depth += 1
                } else if c == 0x7D || c == 0x5D {
                    depth -= 1
                    if depth == 0 { return start..<i }
                }
            }
            throw malformed()
        default:
            while i < buf.count,
                !(buf[i] == 0x2C || buf[i] == 0x7D || buf[i] == 0x5D || buf[i] == 0x20 || buf[i] == 0x0A
                    || buf[i] == 0x0D || buf[i] == 0x09)
            {
                i += 1
            }
            guard i > start else { throw malformed() }
            return start..<i
        }
    }

    private func raw(_ span: Range<Int>) -> UnsafeRawBufferPointer {
        UnsafeRawBufferPointer(UnsafeBufferPointer(rebasing: buf[span]))
    }
}

/// The parser's error for `bytes` when they are not JSON (as a stored state is parsed); nil when they are.
private func jsonParseError(_ bytes: ArraySlice<UInt8>) -> JSONParseError? {
    do {
        _ = try JSON.parse(bytes, limits: stateLimits)
        return nil
    } catch {
        return error
    }
}

extension TicketState {
    /// Reads a state written by `encoded()` (`StateBytes`): throws `StateDecodingError` naming the field
    /// that is wrong, or the parser's error when the bytes are not JSON.
    public init(encoded bytes: [UInt8]) throws {
        self = try StateBytes.read(bytes[...]) { r in try TicketState(reading: &r, cache: nil) }
    }

    /// `init(encoded:)`, with the holder, SLA profile and escalation policy (over half of a stored state,
    /// and the same for many tickets) taken from `cache` by their bytes.
    public init(encoded bytes: [UInt8], cache: StateDecodingCache) throws {
        self = try StateBytes.read(bytes[...]) { r in try TicketState(reading: &r, cache: cache) }
    }

    private init(reading r: inout StateBytes, cache: StateDecodingCache?) throws {
        var version: Int?
        var id: String?
        var received: Date?
        var enterprise: Bool?
        var phase: Phase?
        var assigned: Date?
        var policy: PolicySnapshot?
        var category: String?
        var holder: Holder?
        var co: [String] = []
        var profile: ProfileSnapshot?
        var clocks: [ClockState] = []
        var supervised: Bool?
        var remind: Date?
        var watch: Date?
        var returns: Int?
        var returnedBy: [String] = []
        var reworks: Int?
        var escalations: Int?
        var pendingReturn: PendingReturn?
        var pendingExtension: PendingExtension?
        var repeatOf: String?
        var mergedInto: String?
        var commands: [String] = []
        var next: Date?
        var urgency: Urgency?
        try r.object("") { r, key in
            switch key {
            case "v":
                version = try r.int(key)
                return 0
            case "id":
                id = try r.string(key)
                return 1
            case "received":
                received = try r.time(key)
                return 2
            case "enterprise":
                enterprise = try r.bool(key)
                return 3
            case "phase":
                phase = try r.enumValue(key)
                return 4
            case "assigned":
                assigned = try r.time(key)
                return 5
            case "policy":
                policy = try r.snapshot(key) { b in try cache?.policy(b) ?? PolicySnapshot(bytes: b) }
                return 6
            case "category":
                category = try r.string(key)
                return 7
            case "urgency":
                urgency = try r.enumValue(key)
                return 8
            case "holder":
                holder = try r.snapshot(key) { b in try cache?.holder(b) ?? Holder(bytes: b) }
                return 9
            case "co":
                co = try r.strings(key)
                return 10
            case "profile":
                profile = try r.snapshot(key) { b in
                    try cache?.profile(b) ?? ProfileSnapshot(bytes: b, path: "profile.")
                }
                return 11
            case "clocks":
                clocks = try r.array(key) { r, n in try ClockState(reading: &r, path: "clocks[\(n)].") }
                return 12
            case "supervised":
                supervised = try r.bool(key)
                return 13
            case "remind":
                remind = try r.time(key)
                return 14
            case "watch":
                watch = try r.time(key)
                return 15
            case "returns":
                returns = try r.int(key)
                return 16
            case "returned_by":
                returnedBy = try r.strings(key)
                return 17
            case "reworks":
                reworks = try r.int(key)
                return 18
            case "escalations":
                escalations = try r.int(key)
                return 19
            case "return":
                pendingReturn = try r.optionalObject(key) { r in try PendingReturn(reading: &r, path: "return.") }
                return 20
            case "extension":
                pendingExtension = try r.optionalObject(key) { r in
                    try PendingExtension(reading: &r, path: "extension.")
                }
                return 21
            case "repeat_of":
                repeatOf = try r.string(key)
                return 22
            case "merged_into":
                mergedInto = try r.string(key)
                return 23
            case "commands":
                commands = try r.strings(key)
                return 24
            case "next":
                next = try r.time(key)
                return 25
            default: return nil
            }
        }
        self.init(
            ticketID: try r.required(id, "id"), receivedAt: try r.required(received, "received"),
            enterprise: try r.required(enterprise, "enterprise"), category: category,
            phase: try r.required(phase, "phase"),
            holder: holder, assignedAt: try r.required(assigned, "assigned"), profile: profile,
            policy: try r.required(policy, "policy"))
        self.version = try r.required(version, "v")
        self.urgency = urgency
        coHandlers = co
        self.clocks = clocks
        self.supervised = supervised ?? false
        remindAt = remind
        enterpriseWatchAt = watch
        self.returns = returns ?? 0
        self.returnedBy = returnedBy
        self.reworks = reworks ?? 0
        self.escalations = escalations ?? 0
        self.pendingReturn = pendingReturn
        self.pendingExtension = pendingExtension
        self.repeatOf = repeatOf
        self.mergedInto = mergedInto
        handledCommands = commands
        nextTimer = next
    }
}

extension Holder {
    /// A holder stored on its own (`StateDecodingCache` keeps them by these bytes).
    init(bytes: ArraySlice<UInt8>) throws {
        self = try StateBytes.read(bytes) { r in try Holder(reading: &r, path: "holder.") }
    }

    init(reading r: inout StateBytes, path: String) throws {
        var unit: String?
        var level: Level?
        var queue: String?
        var parents: [Link] = []
        try r.object(String(path.dropLast())) { r, key in
            switch key {
            case "unit":
                unit = try r.string(path + key)
                return 0
            case "level":
                level = try r.level(path + key)
                return 1
            case "queue":
                queue = try r.string(path + key)
                return 2
            case "parents":
                parents = try r.array(path + key) { r, n in
                    let p = "\(path)parents[\(n)]."
                    var unit: String?
                    var level: Level?
                    var queue: String?
                    try r.object(String(p.dropLast())) { r, key in
                        switch key {
                        case "unit":
                            unit = try r.string(p + key)
                            return 0
                        case "level":
                            level = try r.level(p + key)
                            return 1
                        case "queue":
                            queue = try r.string(p + key)
                            return 2
                        default: return nil
                        }
                    }
                    return Link(
                        unit: try r.required(unit, p + "unit"), level: try r.required(level, p + "level"),
                        queue: try r.required(queue, p + "queue"))
                }
                return 3
            default: return nil
            }
        }
        self.init(
            unit: try r.required(unit, path + "unit"), level: try r.required(level, path + "level"),
            queue: try r.required(queue, path + "queue"), parents: parents)
    }
}

extension ProfileSnapshot {
    /// A profile stored on its own, at `path` (`profile.`).
    init(bytes: ArraySlice<UInt8>, path: String) throws {
        self = try StateBytes.read(bytes) { r in try ProfileSnapshot(reading: &r, path: path) }
    }

    init(reading r: inout StateBytes, path: String) throws {
        var name: String?
        var limits: [Limit] = []
        var warnPercent: Int?
        var warnBefore: Int?
        try r.object(String(path.dropLast())) { r, key in
            switch key {
            case "name":
                name = try r.string(path + key)
                return 0
            case "limits":
                limits = try r.array(path + key) { r, n in
                    let p = "\(path)limits[\(n)]."
                    var clock: Clock?
                    var duration: String?
                    try r.object(String(p.dropLast())) { r, key in
                        switch key {
                        case "clock":
                            clock = try r.enumValue(p + key)
                            return 0
                        case "duration":
                            duration = try r.string(p + key)
                            return 1
                        default: return nil
                        }
                    }
                    return Limit(
                        clock: try r.required(clock, p + "clock"), duration: try r.required(duration, p + "duration"))
                }
                return 1
            case "warn_percent":
                warnPercent = try r.int(path + key)
                return 2
            case "warn_before":
                warnBefore = try r.int(path + key)
                return 3
            default: return nil
            }
        }
        self.name = try r.required(name, path + "name")
        self.limits = limits
        self.warnPercent = warnPercent
        warnBeforeSeconds = warnBefore
    }
}

extension PolicySnapshot {
    /// A policy stored on its own (`StateDecodingCache` keeps them by these bytes).
    init(bytes: ArraySlice<UInt8>) throws {
        self = try StateBytes.read(bytes) { r in try PolicySnapshot(reading: &r, path: "policy.") }
    }

    init(reading r: inout StateBytes, path: String) throws {
        var name: String?
        var clocks: [Clock] = []
        var toParent: Bool?
        var remindEvery: String?
        var maxReturns: Int?
        var after: ProfileSnapshot?
        var returnReview: String?
        var extensionReview: String?
        var pauses: [Clock]?
        var anyTime: [Urgency]?
        func clockList(_ r: inout StateBytes, _ field: String) throws -> [Clock] {
            try r.strings(field).map { c in
                guard let clock = Clock(rawValue: c) else { throw r.wrong(field, "unknown clock \(c)") }
                return clock
            }
        }
        try r.object(String(path.dropLast())) { r, key in
            switch key {
            case "name":
                name = try r.string(path + key)
                return 0
            case "clocks":
                clocks = try clockList(&r, path + key)
                return 1
            case "to_parent":
                toParent = try r.bool(path + key)
                return 2
            case "remind_every":
                remindEvery = try r.string(path + key)
                return 3
            case "max_returns":
                maxReturns = try r.int(path + key)
                return 4
            case "after_escalation":
                after = try r.optionalObject(path + key) { r in
                    try ProfileSnapshot(reading: &r, path: path + "after_escalation.")
                }
                return 5
            case "return_review":
                returnReview = try r.string(path + key)
                return 6
            case "extension_review":
                extensionReview = try r.string(path + key)
                return 7
            case "request_pauses":
                pauses = r.isNull() ? nil : try clockList(&r, path + key)
                return 8
            case "remind_any_time":
                if r.isNull() { return 9 }
                anyTime = try r.strings(path + key).map { u in
                    guard let urgency = Urgency(rawValue: u) else { throw r.wrong(path + key, "unknown urgency \(u)") }
                    return urgency
                }
                return 9
            default: return nil
            }
        }
        self.init(
            name: try r.required(name, path + "name"), clocks: clocks,
            toParent: try r.required(toParent, path + "to_parent"),
            remindEvery: remindEvery, maxReturns: try r.required(maxReturns, path + "max_returns"))
        afterEscalation = after
        self.returnReview = returnReview
        self.extensionReview = extensionReview
        if let pauses { requestPauses = pauses }
        if let anyTime { remindAnyTime = anyTime }
    }
}

extension ClockState {
    init(reading r: inout StateBytes, path: String) throws {
        var clock: Clock?
        var started: Date?
        var due: Date?
        var warn: Date?
        var stopped: Date?
        var warned: Bool?
        var overdue: Bool?
        var paused: Date?
        try r.object(String(path.dropLast())) { r, key in
            switch key {
            case "clock":
                clock = try r.enumValue(path + key)
                return 0
            case "started":
                started = try r.time(path + key)
                return 1
            case "due":
                due = try r.time(path + key)
                return 2
            case "warn":
                warn = try r.time(path + key)
                return 3
            case "stopped":
                stopped = try r.time(path + key)
                return 4
            case "warned":
                warned = try r.bool(path + key)
                return 5
            case "overdue":
                overdue = try r.bool(path + key)
                return 6
            case "paused":
                paused = try r.time(path + key)
                return 7
            default: return nil
            }
        }
        self.init(
            clock: try r.required(clock, path + "clock"), started: try r.required(started, path + "started"),
            due: try r.required(due, path + "due"), warnAt: try r.required(warn, path + "warn"))
        stoppedAt = stopped
        self.warned = warned ?? false
        self.overdue = overdue ?? false
        pausedAt = paused
    }
}

extension PendingReturn {
    init(reading r: inout StateBytes, path: String) throws {
        var reason: ReturnReason?
        var suggested: String?
        var at: Date?
        var previous: Phase?
        var reviewDue: Date?
        var reviewOverdue: Bool?
        try r.object(String(path.dropLast())) { r, key in
            switch key {
            case "reason":
                reason = try r.enumValue(path + key)
                return 0
            case "suggested":
                suggested = try r.string(path + key)
                return 1
            case "at":
                at = try r.time(path + key)
                return 2
            case "previous":
                previous = try r.enumValue(path + key)
                return 3
            case "review_due":
                reviewDue = try r.time(path + key)
                return 4
            case "review_overdue":
                reviewOverdue = try r.bool(path + key)
                return 5
            default: return nil
            }
        }
        self.init(
            reason: try r.required(reason, path + "reason"), suggestedUnit: suggested,
            at: try r.required(at, path + "at"),
            previous: try r.required(previous, path + "previous"), reviewDue: reviewDue,
            reviewOverdue: reviewOverdue ?? false)
    }
}

extension PendingExtension {
    init(reading r: inout StateBytes, path: String) throws {
        var until: Date?
        var reason: String?
        var at: Date?
        var reviewDue: Date?
        var reviewOverdue: Bool?
        try r.object(String(path.dropLast())) { r, key in
            switch key {
            case "until":
                until = try r.time(path + key)
                return 0
            case "reason":
                reason = try r.string(path + key)
                return 1
            case "at":
                at = try r.time(path + key)
                return 2
            case "review_due":
                reviewDue = try r.time(path + key)
                return 3
            case "review_overdue":
                reviewOverdue = try r.bool(path + key)
                return 4
            default: return nil
            }
        }
        self.init(
            until: try r.required(until, path + "until"), reason: try r.required(reason, path + "reason"),
            at: try r.required(at, path + "at"), reviewDue: reviewDue, reviewOverdue: reviewOverdue ?? false)
    }
}
