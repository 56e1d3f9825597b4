import Foundation
import PagodaRules
import Synchronization

/// The stored form of a ticket's state: compact JSON written and read by hand with the core's JSON
/// parser and serializer (Foundation's coders cost ten times as much per ticket, measured with
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

    /// Reads a state written by `encoded()`; throws `StateDecodingError` naming the field that is wrong.
    public init(encoded bytes: [UInt8]) throws {
        guard case .object(let o) = try JSON.parse(bytes, limits: stateLimits) else {
            throw StateDecodingError(field: "", reason: "not an object")
        }
        let r = Reader(o)
        self.init(ticketID: try r.string("id"), receivedAt: try r.time("received"), enterprise: try r.bool("enterprise"),
                  category: try r.optionalString("category"), phase: try r.enumValue("phase"),
                  holder: try r.optionalObject("holder").map(Holder.init(reader:)), assignedAt: try r.time("assigned"),
                  profile: try r.optionalObject("profile").map(ProfileSnapshot.init(reader:)),
                  policy: try PolicySnapshot(reader: r.object("policy")))
        version = try r.int("v")
        urgency = try r.optionalEnumValue("urgency")
        coHandlers = try r.strings("co")
        clocks = try r.objects("clocks").map(ClockState.init(reader:))
        supervised = try r.optionalBool("supervised") ?? false
        remindAt = try r.optionalTime("remind")
        enterpriseWatchAt = try r.optionalTime("watch")
        returns = try r.optionalInt("returns") ?? 0
        returnedBy = try r.strings("returned_by")
        reworks = try r.optionalInt("reworks") ?? 0
        escalations = try r.optionalInt("escalations") ?? 0
        if let p = try r.optionalObject("return") {
            pendingReturn = PendingReturn(reason: try p.enumValue("reason"), suggestedUnit: try p.optionalString("suggested"),
                                          at: try p.time("at"), previous: try p.enumValue("previous"),
                                          reviewDue: try p.optionalTime("review_due"),
                                          reviewOverdue: try p.optionalBool("review_overdue") ?? false)
        }
        if let p = try r.optionalObject("extension") {
            pendingExtension = PendingExtension(until: try p.time("until"), reason: try p.string("reason"),
                                                at: try p.time("at"), reviewDue: try p.optionalTime("review_due"),
                                                reviewOverdue: try p.optionalBool("review_overdue") ?? false)
        }
        repeatOf = try r.optionalString("repeat_of")
        mergedInto = try r.optionalString("merged_into")
        handledCommands = try r.strings("commands")
        nextTimer = try r.optionalTime("next")
    }

    /// `init(encoded:)`, faster: a state as `encoded()` writes it is read straight from its bytes
    /// (`StateFastReader`), with the holder, SLA profile and escalation policy (over half of a stored
    /// state, and the same for many tickets) taken from `cache` by their bytes. Anything else goes
    /// through `init(encoded:)`, so the state read and the errors are the same.
    public init(encoded bytes: [UInt8], cache: StateDecodingCache) throws {
        if let state = StateFastReader.read(bytes, cache: cache) {
            self = state
        } else {
            try self.init(encoded: bytes)
        }
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
        try value(bytes, \.holders) { try Holder(reader: Reader.parse(bytes, path: "holder.")) }
    }

    func profile(_ bytes: ArraySlice<UInt8>) throws -> ProfileSnapshot {
        try value(bytes, \.profiles) { try ProfileSnapshot(reader: Reader.parse(bytes, path: "profile.")) }
    }

    func policy(_ bytes: ArraySlice<UInt8>) throws -> PolicySnapshot {
        try value(bytes, \.policies) { try PolicySnapshot(reader: Reader.parse(bytes, path: "policy.")) }
    }

    /// The value of these bytes, read by `read` (outside the lock) the first time. A value that fails to
    /// read is not kept.
    private func value<T: Sendable>(_ bytes: ArraySlice<UInt8>, _ kind: WritableKeyPath<Memo, [Key: T]>, _ read: () throws -> T) throws -> T {
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

    init(reader r: Reader) throws {
        self.init(unit: try r.string("unit"), level: try r.level("level"), queue: try r.string("queue"),
                  parents: try r.objects("parents").map { p in
                      return Link(unit: try p.string("unit"), level: try p.level("level"), queue: try p.string("queue"))
                  })
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

    init(reader r: Reader) throws {
        name = try r.string("name")
        limits = try r.objects("limits").map { l in
            return Limit(clock: try l.enumValue("clock"), duration: try l.string("duration"))
        }
        warnPercent = try r.optionalInt("warn_percent")
        warnBeforeSeconds = try r.optionalInt("warn_before")
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

    init(reader r: Reader) throws {
        self.init(name: try r.string("name"), clocks: try r.strings("clocks").map { c in
                      guard let clock = Clock(rawValue: c) else { throw StateDecodingError(field: r.path + "clocks", reason: "unknown clock \(c)") }
                      return clock
                  },
                  toParent: try r.bool("to_parent"), remindEvery: try r.optionalString("remind_every"), maxReturns: try r.int("max_returns"))
        afterEscalation = try r.optionalObject("after_escalation").map(ProfileSnapshot.init(reader:))
        returnReview = try r.optionalString("return_review")
        extensionReview = try r.optionalString("extension_review")
        if let v = r.object["request_pauses"], !v.isNull {
            requestPauses = try r.strings("request_pauses").map { c in
                guard let clock = Clock(rawValue: c) else {
                    throw StateDecodingError(field: r.path + "request_pauses", reason: "unknown clock \(c)")
                }
                return clock
            }
        }
        if let v = r.object["remind_any_time"], !v.isNull {
            remindAnyTime = try r.strings("remind_any_time").map { u in
                guard let urgency = Urgency(rawValue: u) else {
                    throw StateDecodingError(field: r.path + "remind_any_time", reason: "unknown urgency \(u)")
                }
                return urgency
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

    init(reader r: Reader) throws {
        self.init(clock: try r.enumValue("clock"), started: try r.time("started"), due: try r.time("due"), warnAt: try r.time("warn"))
        stoppedAt = try r.optionalTime("stopped")
        warned = try r.optionalBool("warned") ?? false
        overdue = try r.optionalBool("overdue") ?? false
        pausedAt = try r.optionalTime("paused")
    }
}

/// Typed access to one object of a stored state, naming the field in its errors.
struct Reader {
    let object: JSONObject
    /// Where the object lies, worked out only for an error message: the parent's path, the member's key,
    /// and its index when it is an array's element.
    private let base: String
    private let member: String
    private let index: Int

    init(_ object: JSONObject, path: String = "") {
        self.init(object, base: path, member: "", index: -1)
    }

    private init(_ object: JSONObject, base: String, member: String, index: Int) {
        self.object = object
        self.base = base
        self.member = member
        self.index = index
    }

    /// The field path of this object, ending in a dot (empty at the root).
    var path: String {
        if member.isEmpty { return base }
        return index < 0 ? "\(base)\(member)." : "\(base)\(member)[\(index)]."
    }

    /// A reader of `bytes`, which must hold an object, at `path`.
    static func parse(_ bytes: ArraySlice<UInt8>, path: String) throws -> Reader {
        guard case .object(let o) = try JSON.parse(bytes, limits: stateLimits) else {
            throw StateDecodingError(field: String(path.dropLast()), reason: "expected an object")
        }
        return Reader(o, path: path)
    }

    func fail(_ key: String, _ reason: String) -> StateDecodingError { StateDecodingError(field: path + key, reason: reason) }

    /// The value at `key` converted by `convert`; nil when absent or null, and an error saying what was
    /// `expected` when it does not convert.
    private func optional<T>(_ key: String, _ expected: String, _ convert: (JSONValue) -> T?) throws -> T? {
        guard let v = object[key], !v.isNull else { return nil }
        guard let t = convert(v) else { throw fail(key, expected) }
        return t
    }

    /// `read(key)`, with absence an error.
    private func required<T>(_ key: String, _ read: (String) throws -> T?) throws -> T {
        guard let t = try read(key) else { throw fail(key, "missing") }
        return t
    }

    func optionalString(_ key: String) throws -> String? { try optional(key, "expected a string") { $0.stringValue } }
    func string(_ key: String) throws -> String { try required(key, optionalString) }

    func optionalBool(_ key: String) throws -> Bool? { try optional(key, "expected a boolean") { $0.boolValue } }
    func bool(_ key: String) throws -> Bool { try required(key, optionalBool) }

    func optionalInt(_ key: String) throws -> Int? { try optional(key, "expected an integer") { $0.numberLexeme.flatMap { Int($0) } } }
    func int(_ key: String) throws -> Int { try required(key, optionalInt) }

    func optionalTime(_ key: String) throws -> Date? {
        try optional(key, "expected seconds since 2001") { $0.numberLexeme.flatMap { Double($0) }.map { Date(timeIntervalSinceReferenceDate: $0) } }
    }
    func time(_ key: String) throws -> Date { try required(key, optionalTime) }

    func enumValue<E: RawRepresentable>(_ key: String) throws -> E where E.RawValue == String {
        let s = try string(key)
        guard let e = E(rawValue: s) else { throw fail(key, "unknown value \(s)") }
        return e
    }

    func optionalEnumValue<E: RawRepresentable>(_ key: String) throws -> E? where E.RawValue == String {
        guard let s = try optionalString(key) else { return nil }
        guard let e = E(rawValue: s) else { throw fail(key, "unknown value \(s)") }
        return e
    }

    func level(_ key: String) throws -> Level {
        let s = try string(key)
        guard let l = Level(name: s) else { throw fail(key, "unknown level \(s)") }
        return l
    }

    func strings(_ key: String) throws -> [String] {
        guard let v = object[key], !v.isNull else { return [] }
        guard let a = v.arrayValue else { throw fail(key, "expected an array") }
        return try a.map { e in
            guard let s = e.stringValue else { throw fail(key, "expected strings") }
            return s
        }
    }

    func optionalObject(_ key: String) throws -> Reader? {
        try optional(key, "expected an object") { $0.objectValue }.map { Reader($0, base: path, member: key, index: -1) }
    }
    func object(_ key: String) throws -> Reader { try required(key, optionalObject) }

    func objects(_ key: String) throws -> [Reader] {
        guard let v = object[key], !v.isNull else { return [] }
        guard let a = v.arrayValue else { throw fail(key, "expected an array") }
        return try a.enumerated().map { i, e in
            guard let o = e.objectValue else { throw fail("\(key)[\(i)]", "expected an object") }
            return Reader(o, base: path, member: key, index: i)
        }
    }
}
