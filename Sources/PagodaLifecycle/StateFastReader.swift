import Foundation
import PagodaRules

/// Reads a stored state straight from its bytes, for states as `TicketState.encoded()` writes them.
///
/// It builds no JSON values: each member is read into its field as the bytes go by, and the holder, SLA
/// profile and escalation policy come from the `StateDecodingCache` by their bytes. Whenever anything
/// differs from what `encoded()` writes (an escape in a string, a null, an unknown or repeated member, a
/// value of another type, a missing field, a snapshot not yet in the cache that fails to read) it gives
/// up and returns nil; the caller then reads the state through the JSON tree, which decides, and names
/// the field in its error. So this reader never accepts a state the tree would refuse, and a state it
/// accepts reads the same (`StateFastReaderTests` checks both).
struct StateFastReader {
    private let bytes: [UInt8]
    private let buf: UnsafeBufferPointer<UInt8>
    private var i = 0

    private init(_ bytes: [UInt8], _ buf: UnsafeBufferPointer<UInt8>) {
        self.bytes = bytes
        self.buf = buf
    }

    static func read(_ bytes: [UInt8], cache: StateDecodingCache) -> TicketState? {
        guard bytes.count <= stateLimits.maxBytes else { return nil }
        return bytes.withUnsafeBufferPointer { buf in
            var r = StateFastReader(bytes, buf)
            return r.state(cache)
        }
    }

    // MARK: The state

    private mutating func state(_ cache: StateDecodingCache) -> TicketState? {
        var version: Int?, id: String?, received: Date?, enterprise: Bool?, phase: Phase?, assigned: Date?
        var policy: PolicySnapshot?, category: String?, holder: Holder?, co: [String]?, profile: ProfileSnapshot?
        var clocks: [ClockState]?, supervised: Bool?, remind: Date?, watch: Date?, returns: Int?, returnedBy: [String]?
        var reworks: Int?, escalations: Int?, pendingReturn: PendingReturn?, pendingExtension: PendingExtension?
        var repeatOf: String?, mergedInto: String?, commands: [String]?, next: Date?, urgency: Urgency?
        let read = object { r, key in
            switch key {
            case "v": fill(&version, r.int())
            case "id": fill(&id, r.string())
            case "received": fill(&received, r.time())
            case "enterprise": fill(&enterprise, r.bool())
            case "phase": fill(&phase, r.string().flatMap(Phase.init(rawValue:)))
            case "assigned": fill(&assigned, r.time())
            case "policy": fill(&policy, r.snapshot(cache.policy))
            case "category": fill(&category, r.string())
            case "urgency": fill(&urgency, r.string().flatMap(Urgency.init(rawValue:)))
            case "holder": fill(&holder, r.snapshot(cache.holder))
            case "co": fill(&co, r.array { $0.string() })
            case "profile": fill(&profile, r.snapshot(cache.profile))
            case "clocks": fill(&clocks, r.array { $0.clock() })
            case "supervised": fill(&supervised, r.bool())
            case "remind": fill(&remind, r.time())
            case "watch": fill(&watch, r.time())
            case "returns": fill(&returns, r.int())
            case "returned_by": fill(&returnedBy, r.array { $0.string() })
            case "reworks": fill(&reworks, r.int())
            case "escalations": fill(&escalations, r.int())
            case "return": fill(&pendingReturn, r.pendingReturn())
            case "extension": fill(&pendingExtension, r.pendingExtension())
            case "repeat_of": fill(&repeatOf, r.string())
            case "merged_into": fill(&mergedInto, r.string())
            case "commands": fill(&commands, r.array { $0.string() })
            case "next": fill(&next, r.time())
            default: false
            }
        }
        guard read, atEnd(), let version, let id, let received, let enterprise, let phase, let assigned, let policy else { return nil }
        var s = TicketState(ticketID: id, receivedAt: received, enterprise: enterprise, category: category, phase: phase, holder: holder,
                            assignedAt: assigned, profile: profile, policy: policy)
        s.version = version
        s.urgency = urgency
        s.coHandlers = co ?? []
        s.clocks = clocks ?? []
        s.supervised = supervised ?? false
        s.remindAt = remind
        s.enterpriseWatchAt = watch
        s.returns = returns ?? 0
        s.returnedBy = returnedBy ?? []
        s.reworks = reworks ?? 0
        s.escalations = escalations ?? 0
        s.pendingReturn = pendingReturn
        s.pendingExtension = pendingExtension
        s.repeatOf = repeatOf
        s.mergedInto = mergedInto
        s.handledCommands = commands ?? []
        s.nextTimer = next
        return s
    }

    private mutating func clock() -> ClockState? {
        var clock: Clock?, started: Date?, due: Date?, warn: Date?, stopped: Date?, warned: Bool?, overdue: Bool?
        var paused: Date?
        let read = object { r, key in
            switch key {
            case "clock": fill(&clock, r.string().flatMap(Clock.init(rawValue:)))
            case "started": fill(&started, r.time())
            case "due": fill(&due, r.time())
            case "warn": fill(&warn, r.time())
            case "stopped": fill(&stopped, r.time())
            case "warned": fill(&warned, r.bool())
            case "overdue": fill(&overdue, r.bool())
            case "paused": fill(&paused, r.time())
            default: false
            }
        }
        guard read, let clock, let started, let due, let warn else { return nil }
        var c = ClockState(clock: clock, started: started, due: due, warnAt: warn)
        c.stoppedAt = stopped
        c.warned = warned ?? false
        c.overdue = overdue ?? false
        c.pausedAt = paused
        return c
    }

    private mutating func pendingReturn() -> PendingReturn? {
        var reason: ReturnReason?, at: Date?, previous: Phase?, suggested: String?
        var reviewDue: Date?, reviewOverdue: Bool?
        let read = object { r, key in
            switch key {
            case "reason": fill(&reason, r.string().flatMap(ReturnReason.init(rawValue:)))
            case "at": fill(&at, r.time())
            case "previous": fill(&previous, r.string().flatMap(Phase.init(rawValue:)))
            case "suggested": fill(&suggested, r.string())
            case "review_due": fill(&reviewDue, r.time())
            case "review_overdue": fill(&reviewOverdue, r.bool())
            default: false
            }
        }
        guard read, let reason, let at, let previous else { return nil }
        return PendingReturn(reason: reason, suggestedUnit: suggested, at: at, previous: previous, reviewDue: reviewDue,
                             reviewOverdue: reviewOverdue ?? false)
    }

    private mutating func pendingExtension() -> PendingExtension? {
        var until: Date?, reason: String?, at: Date?, reviewDue: Date?, reviewOverdue: Bool?
        let read = object { r, key in
            switch key {
            case "until": fill(&until, r.time())
            case "reason": fill(&reason, r.string())
            case "at": fill(&at, r.time())
            case "review_due": fill(&reviewDue, r.time())
            case "review_overdue": fill(&reviewOverdue, r.bool())
            default: false
            }
        }
        guard read, let until, let reason, let at else { return nil }
        return PendingExtension(until: until, reason: reason, at: at, reviewDue: reviewDue,
                                reviewOverdue: reviewOverdue ?? false)
    }

    // MARK: Structure

    /// Reads a non-empty object, handing each key to `member`, which reads the value into its field and
    /// says whether it could (false for an unknown or repeated member, or a value it does not read).
    private mutating func object(_ member: (inout StateFastReader, String) -> Bool) -> Bool {
        guard open("{"), !peek(UInt8(ascii: "}")) else { return false }
        repeat {
            guard let key = key(), member(&self, key) else { return false }
        } while comma()
        return close("}")
    }

    private mutating func array<T>(_ element: (inout StateFastReader) -> T?) -> [T]? {
        guard open("[") else { return nil }
        var out: [T] = []
        if !peek(UInt8(ascii: "]")) {
            repeat {
                guard let e = element(&self) else { return nil }
                out.append(e)
            } while comma()
        }
        return close("]") ? out : nil
    }

    /// A holder, profile or policy: the object's bytes, read by the cache (nil when they do not read).
    private mutating func snapshot<T>(_ read: (ArraySlice<UInt8>) throws -> T) -> T? {
        guard let span = objectSpan() else { return nil }
        return try? read(bytes[span])
    }

    // MARK: Tokens

    private mutating func skipSpace() {
        while i < buf.count, buf[i] == 0x20 || buf[i] == 0x0A || buf[i] == 0x0D || buf[i] == 0x09 { i += 1 }
    }

    private mutating func peek(_ c: UInt8) -> Bool {
        skipSpace()
        return i < buf.count && buf[i] == c
    }

    private mutating func open(_ c: Unicode.Scalar) -> Bool {
        guard peek(UInt8(ascii: c)) else { return false }
        i += 1
        return true
    }

    private mutating func close(_ c: Unicode.Scalar) -> Bool { open(c) }

    private mutating func comma() -> Bool { open(",") }

    private mutating func atEnd() -> Bool {
        skipSpace()
        return i == buf.count
    }

    /// The bytes of a string without escapes, after its opening quote; nil for an escape or a control
    /// character (the tree decides those).
    private mutating func rawString() -> Range<Int>? {
        guard open("\"") else { return nil }
        let start = i
        while i < buf.count {
            let c = buf[i]
            if c == 0x22 {
                i += 1
                return start..<(i - 1)
            }
            if c == 0x5C || c < 0x20 { return nil }
            i += 1
        }
        return nil
    }

    private mutating func string() -> String? {
        guard let r = rawString() else { return nil }
        let text = UnsafeBufferPointer(rebasing: buf[r])
        // Ids, units, phases are ASCII: no validation to do (the generic one looks up type metadata).
        if text.allSatisfy({ $0 < 0x80 }) { return String(decoding: text, as: UTF8.self) }
        return String(validating: text, as: UTF8.self)
    }

    private mutating func key() -> String? {
        guard let k = string(), open(":") else { return nil }
        return k
    }

    private mutating func bool() -> Bool? {
        skipSpace()
        if match("true") { return true }
        if match("false") { return false }
        return nil
    }

    private mutating func match(_ word: StaticString) -> Bool {
        let n = word.utf8CodeUnitCount
        guard i + n <= buf.count else { return false }
        for k in 0..<n where buf[i + k] != word.utf8Start[k] { return false }
        i += n
        return true
    }

    /// A JSON number's text, checked against JSON's grammar.
    private mutating func numberText() -> String? {
        skipSpace()
        let start = i
        while i < buf.count, (0x30...0x39).contains(buf[i]) || buf[i] == 0x2D || buf[i] == 0x2B || buf[i] == 0x2E || buf[i] == 0x65 || buf[i] == 0x45 {
            i += 1
        }
        guard i > start else { return nil }
        let text = String(decoding: UnsafeBufferPointer(rebasing: buf[start..<i]), as: UTF8.self)
        return JSON.isValidNumberLexeme(text) ? text : nil
    }

    private mutating func int() -> Int? { numberText().flatMap { Int($0) } }

    private mutating func time() -> Date? {
        numberText().flatMap { Double($0) }.map { Date(timeIntervalSinceReferenceDate: $0) }
    }

    /// Where the object starting here ends (strings and nesting followed), without reading it.
    private mutating func objectSpan() -> Range<Int>? {
        guard peek(UInt8(ascii: "{")) else { return nil }
        let start = i
        var depth = 0
        var inString = false
        while i < buf.count {
            let c = buf[i]
            i += 1
            if inString {
                if c == 0x5C { i += 1 } else if c == 0x22 { inString = false }
            } else if c == 0x22 {
                inString = true
            } else if c == 0x7B || c == 0x5B {
                depth += 1
            } else if c == 0x7D || c == 0x5D {
                depth -= 1
                if depth == 0 { return start..<i }
            }
        }
        return nil
    }
}

/// Sets a field not set yet; false when it was set (the member came twice) or `value` is nil (not read).
private func fill<T>(_ field: inout T?, _ value: T?) -> Bool {
    guard field == nil, let value else { return false }
    field = value
    return true
}
