import Foundation
import PagodaRules

/// The stored form of a ticket's state: compact JSON written and read by hand with the core's JSON
/// parser and serializer (Foundation's coders cost ten times as much per ticket, measured with
/// `pagoda bench lifecycle`). Instants are seconds since 2001-01-01T00:00:00Z (Foundation's reference
/// date, which is how `Date` holds them) as JSON numbers with every digit, so a state reads back exactly
/// equal.
extension TicketState {
    /// The state as compact JSON bytes.
    public func encoded() -> [UInt8] {
        var o: [(String, JSONValue)] = [
            ("v", .integer(version)), ("id", .string(ticketID)), ("received", time(receivedAt)), ("enterprise", .bool(enterprise)),
            ("phase", .string(phase.rawValue)), ("assigned", time(assignedAt)), ("policy", policy.json),
        ]
        if let category { o.append(("category", .string(category))) }
        if let holder { o.append(("holder", holder.json)) }
        if !coHandlers.isEmpty { o.append(("co", strings(coHandlers))) }
        if let profile { o.append(("profile", profile.json)) }
        if !clocks.isEmpty { o.append(("clocks", .array(clocks.map(\.json)))) }
        if supervised { o.append(("supervised", true)) }
        if let remindAt { o.append(("remind", time(remindAt))) }
        if let enterpriseWatchAt { o.append(("watch", time(enterpriseWatchAt))) }
        if returns > 0 { o.append(("returns", .integer(returns))) }
        if !returnedBy.isEmpty { o.append(("returned_by", strings(returnedBy))) }
        if reworks > 0 { o.append(("reworks", .integer(reworks))) }
        if escalations > 0 { o.append(("escalations", .integer(escalations))) }
        if let p = pendingReturn {
            var r: [(String, JSONValue)] = [("reason", .string(p.reason.rawValue)), ("at", time(p.at)), ("previous", .string(p.previous.rawValue))]
            if let s = p.suggestedUnit { r.append(("suggested", .string(s))) }
            o.append(("return", .object(JSONObject(r))))
        }
        if let p = pendingExtension {
            o.append(("extension", .object(JSONObject([("until", time(p.until)), ("reason", .string(p.reason)), ("at", time(p.at))]))))
        }
        if let repeatOf { o.append(("repeat_of", .string(repeatOf))) }
        if let mergedInto { o.append(("merged_into", .string(mergedInto))) }
        if !handledCommands.isEmpty { o.append(("commands", strings(handledCommands))) }
        if let nextTimer { o.append(("next", time(nextTimer))) }
        return JSON.serialize(.object(JSONObject(o)))
    }

    /// Reads a state written by `encoded()`; throws `StateDecodingError` naming the field that is wrong.
    public init(encoded bytes: [UInt8]) throws {
        guard case .object(let o) = try JSON.parse(bytes, limits: JSONLimits(maxBytes: 16 << 20, maxDepth: 16)) else {
            throw StateDecodingError(field: "", reason: "not an object")
        }
        let r = Reader(o, path: "")
        self.init(ticketID: try r.string("id"), receivedAt: try r.time("received"), enterprise: try r.bool("enterprise"),
                  category: try r.optionalString("category"), phase: try r.enumValue("phase"),
                  holder: try r.optionalObject("holder").map(Holder.init(reader:)), assignedAt: try r.time("assigned"),
                  profile: try r.optionalObject("profile").map(ProfileSnapshot.init(reader:)),
                  policy: try PolicySnapshot(reader: r.object("policy")))
        version = try r.int("v")
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
                                          at: try p.time("at"), previous: try p.enumValue("previous"))
        }
        if let p = try r.optionalObject("extension") {
            pendingExtension = PendingExtension(until: try p.time("until"), reason: try p.string("reason"), at: try p.time("at"))
        }
        repeatOf = try r.optionalString("repeat_of")
        mergedInto = try r.optionalString("merged_into")
        handledCommands = try r.strings("commands")
        nextTimer = try r.optionalTime("next")
    }
}

/// A stored state that cannot be read.
public struct StateDecodingError: Error, Hashable, Sendable, CustomStringConvertible {
    public let field: String
    public let reason: String
    public var description: String { "lifecycle state: \(field.isEmpty ? "(root)" : field): \(reason)" }
}

private func time(_ d: Date) -> JSONValue { .number("\(d.timeIntervalSinceReferenceDate)") }
private func strings(_ s: [String]) -> JSONValue { .array(s.map { .string($0) }) }

extension Holder {
    var json: JSONValue {
        .object(JSONObject([
            ("unit", .string(unit)), ("level", .string(level.name)), ("queue", .string(queue)),
            ("parents", .array(parents.map { .object(JSONObject([("unit", .string($0.unit)), ("level", .string($0.level.name)), ("queue", .string($0.queue))])) })),
        ]))
    }

    init(reader r: Reader) throws {
        self.init(unit: try r.string("unit"), level: try r.level("level"), queue: try r.string("queue"),
                  parents: try r.objects("parents").map { p in
                      return Link(unit: try p.string("unit"), level: try p.level("level"), queue: try p.string("queue"))
                  })
    }
}

extension ProfileSnapshot {
    var json: JSONValue {
        var o: [(String, JSONValue)] = [
            ("name", .string(name)),
            ("limits", .array(limits.map { .object(JSONObject([("clock", .string($0.clock.rawValue)), ("duration", .string($0.duration))])) })),
        ]
        if let warnPercent { o.append(("warn_percent", .integer(warnPercent))) }
        if let warnBeforeSeconds { o.append(("warn_before", .integer(warnBeforeSeconds))) }
        return .object(JSONObject(o))
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
    var json: JSONValue {
        var o: [(String, JSONValue)] = [
            ("name", .string(name)), ("clocks", .array(clocks.map { .string($0.rawValue) })), ("to_parent", .bool(toParent)),
            ("max_returns", .integer(maxReturns)),
        ]
        if let remindEvery { o.append(("remind_every", .string(remindEvery))) }
        if let afterEscalation { o.append(("after_escalation", afterEscalation.json)) }
        return .object(JSONObject(o))
    }

    init(reader r: Reader) throws {
        self.init(name: try r.string("name"), clocks: try r.strings("clocks").map { c in
                      guard let clock = Clock(rawValue: c) else { throw StateDecodingError(field: r.path + "clocks", reason: "unknown clock \(c)") }
                      return clock
                  },
                  toParent: try r.bool("to_parent"), remindEvery: try r.optionalString("remind_every"), maxReturns: try r.int("max_returns"))
        afterEscalation = try r.optionalObject("after_escalation").map(ProfileSnapshot.init(reader:))
    }
}

extension ClockState {
    var json: JSONValue {
        var o: [(String, JSONValue)] = [
            ("clock", .string(clock.rawValue)), ("started", time(started)), ("due", time(due)), ("warn", time(warnAt)),
        ]
        if let stoppedAt { o.append(("stopped", time(stoppedAt))) }
        if warned { o.append(("warned", true)) }
        if overdue { o.append(("overdue", true)) }
        return .object(JSONObject(o))
    }

    init(reader r: Reader) throws {
        self.init(clock: try r.enumValue("clock"), started: try r.time("started"), due: try r.time("due"), warnAt: try r.time("warn"))
        stoppedAt = try r.optionalTime("stopped")
        warned = try r.optionalBool("warned") ?? false
        overdue = try r.optionalBool("overdue") ?? false
    }
}

/// Typed access to one object of a stored state, naming the field in its errors.
struct Reader {
    let object: JSONObject
    let path: String

    init(_ object: JSONObject, path: String) {
        self.object = object
        self.path = path
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
        try optional(key, "expected an object") { $0.objectValue }.map { Reader($0, path: path + key + ".") }
    }
    func object(_ key: String) throws -> Reader { try required(key, optionalObject) }

    func objects(_ key: String) throws -> [Reader] {
        guard let v = object[key], !v.isNull else { return [] }
        guard let a = v.arrayValue else { throw fail(key, "expected an array") }
        return try a.enumerated().map { i, e in
            guard let o = e.objectValue else { throw fail("\(key)[\(i)]", "expected an object") }
            return Reader(o, path: "\(path)\(key)[\(i)].")
        }
    }
}
