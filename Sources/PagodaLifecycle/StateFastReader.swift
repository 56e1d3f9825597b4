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
/// accepts reads the same (`LifecycleFlowTests` checks both).
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
        var policy: PolicySnapshot?, category: String?, holder: Holder?, co: [String] = [], profile: ProfileSnapshot?
        var clocks: [ClockState] = [], supervised = false, remind: Date?, watch: Date?, returns = 0, returnedBy: [String] = []
        var reworks = 0, escalations = 0, pendingReturn: PendingReturn?, pendingExtension: PendingExtension?
        var repeatOf: String?, mergedInto: String?, commands: [String] = [], next: Date?
        var seen: UInt32 = 0
        guard open("{") else { return nil }
        if peek(UInt8(ascii: "}")) { return nil }
        repeat {
            guard let key = key() else { return nil }
            switch key {
            case "v":
                guard once(&seen, 0) else { return nil }
                guard let v = int() else { return nil }; version = v
            case "id":
                guard once(&seen, 1) else { return nil }
                guard let v = string() else { return nil }; id = v
            case "received":
                guard once(&seen, 2) else { return nil }
                guard let v = time() else { return nil }; received = v
            case "enterprise":
                guard once(&seen, 3) else { return nil }
                guard let v = bool() else { return nil }; enterprise = v
            case "phase":
                guard once(&seen, 4) else { return nil }
                guard let v = string().flatMap(Phase.init(rawValue:)) else { return nil }; phase = v
            case "assigned":
                guard once(&seen, 5) else { return nil }
                guard let v = time() else { return nil }; assigned = v
            case "policy":
                guard once(&seen, 6) else { return nil }
                guard let span = objectSpan(),
                      let v = try? cache.policy(bytes[span], read: { try PolicySnapshot(reader: Reader.parse(bytes[span], path: "policy.")) })
                else { return nil }
                policy = v
            case "category":
                guard once(&seen, 7) else { return nil }
                guard let v = string() else { return nil }; category = v
            case "holder":
                guard once(&seen, 8) else { return nil }
                guard let span = objectSpan(),
                      let v = try? cache.holder(bytes[span], read: { try Holder(reader: Reader.parse(bytes[span], path: "holder.")) })
                else { return nil }
                holder = v
            case "co":
                guard once(&seen, 9) else { return nil }
                guard let v = strings() else { return nil }; co = v
            case "profile":
                guard once(&seen, 10) else { return nil }
                guard let span = objectSpan(),
                      let v = try? cache.profile(bytes[span], read: { try ProfileSnapshot(reader: Reader.parse(bytes[span], path: "profile.")) })
                else { return nil }
                profile = v
            case "clocks":
                guard once(&seen, 11) else { return nil }
                guard open("[") else { return nil }
                if !peek(UInt8(ascii: "]")) {
                    repeat {
                        guard let c = clock() else { return nil }
                        clocks.append(c)
                    } while comma()
                }
                guard close("]") else { return nil }
            case "supervised":
                guard once(&seen, 12) else { return nil }
                guard let v = bool() else { return nil }; supervised = v
            case "remind":
                guard once(&seen, 13) else { return nil }
                guard let v = time() else { return nil }; remind = v
            case "watch":
                guard once(&seen, 14) else { return nil }
                guard let v = time() else { return nil }; watch = v
            case "returns":
                guard once(&seen, 15) else { return nil }
                guard let v = int() else { return nil }; returns = v
            case "returned_by":
                guard once(&seen, 16) else { return nil }
                guard let v = strings() else { return nil }; returnedBy = v
            case "reworks":
                guard once(&seen, 17) else { return nil }
                guard let v = int() else { return nil }; reworks = v
            case "escalations":
                guard once(&seen, 18) else { return nil }
                guard let v = int() else { return nil }; escalations = v
            case "return":
                guard once(&seen, 19) else { return nil }
                guard let v = pendingReturnValue() else { return nil }; pendingReturn = v
            case "extension":
                guard once(&seen, 20) else { return nil }
                guard let v = pendingExtensionValue() else { return nil }; pendingExtension = v
            case "repeat_of":
                guard once(&seen, 21) else { return nil }
                guard let v = string() else { return nil }; repeatOf = v
            case "merged_into":
                guard once(&seen, 22) else { return nil }
                guard let v = string() else { return nil }; mergedInto = v
            case "commands":
                guard once(&seen, 23) else { return nil }
                guard let v = strings() else { return nil }; commands = v
            case "next":
                guard once(&seen, 24) else { return nil }
                guard let v = time() else { return nil }; next = v
            default: return nil
            }
        } while comma()
        guard close("}"), atEnd(), let version, let id, let received, let enterprise, let phase, let assigned, let policy else { return nil }
        var s = TicketState(ticketID: id, receivedAt: received, enterprise: enterprise, category: category, phase: phase, holder: holder,
                            assignedAt: assigned, profile: profile, policy: policy)
        s.version = version
        s.coHandlers = co
        s.clocks = clocks
        s.supervised = supervised
        s.remindAt = remind
        s.enterpriseWatchAt = watch
        s.returns = returns
        s.returnedBy = returnedBy
        s.reworks = reworks
        s.escalations = escalations
        s.pendingReturn = pendingReturn
        s.pendingExtension = pendingExtension
        s.repeatOf = repeatOf
        s.mergedInto = mergedInto
        s.handledCommands = commands
        s.nextTimer = next
        return s
    }

    private mutating func clock() -> ClockState? {
        var clock: Clock?, started: Date?, due: Date?, warn: Date?, stopped: Date?, warned = false, overdue = false
        var seen: UInt32 = 0
        guard open("{"), !peek(UInt8(ascii: "}")) else { return nil }
        repeat {
            guard let key = key() else { return nil }
            switch key {
            case "clock":
                guard once(&seen, 0) else { return nil }
                guard let v = string().flatMap(Clock.init(rawValue:)) else { return nil }; clock = v
            case "started":
                guard once(&seen, 1) else { return nil }
                guard let v = time() else { return nil }; started = v
            case "due":
                guard once(&seen, 2) else { return nil }
                guard let v = time() else { return nil }; due = v
            case "warn":
                guard once(&seen, 3) else { return nil }
                guard let v = time() else { return nil }; warn = v
            case "stopped":
                guard once(&seen, 4) else { return nil }
                guard let v = time() else { return nil }; stopped = v
            case "warned":
                guard once(&seen, 5) else { return nil }
                guard let v = bool() else { return nil }; warned = v
            case "overdue":
                guard once(&seen, 6) else { return nil }
                guard let v = bool() else { return nil }; overdue = v
            default: return nil
            }
        } while comma()
        guard close("}"), let clock, let started, let due, let warn else { return nil }
        var c = ClockState(clock: clock, started: started, due: due, warnAt: warn)
        c.stoppedAt = stopped
        c.warned = warned
        c.overdue = overdue
        return c
    }

    private mutating func pendingReturnValue() -> PendingReturn? {
        var reason: ReturnReason?, at: Date?, previous: Phase?, suggested: String?
        var seen: UInt32 = 0
        guard open("{"), !peek(UInt8(ascii: "}")) else { return nil }
        repeat {
            guard let key = key() else { return nil }
            switch key {
            case "reason":
                guard once(&seen, 0) else { return nil }
                guard let v = string().flatMap(ReturnReason.init(rawValue:)) else { return nil }; reason = v
            case "at":
                guard once(&seen, 1) else { return nil }
                guard let v = time() else { return nil }; at = v
            case "previous":
                guard once(&seen, 2) else { return nil }
                guard let v = string().flatMap(Phase.init(rawValue:)) else { return nil }; previous = v
            case "suggested":
                guard once(&seen, 3) else { return nil }
                guard let v = string() else { return nil }; suggested = v
            default: return nil
            }
        } while comma()
        guard close("}"), let reason, let at, let previous else { return nil }
        return PendingReturn(reason: reason, suggestedUnit: suggested, at: at, previous: previous)
    }

    private mutating func pendingExtensionValue() -> PendingExtension? {
        var until: Date?, reason: String?, at: Date?
        var seen: UInt32 = 0
        guard open("{"), !peek(UInt8(ascii: "}")) else { return nil }
        repeat {
            guard let key = key() else { return nil }
            switch key {
            case "until":
                guard once(&seen, 0) else { return nil }
                guard let v = time() else { return nil }; until = v
            case "reason":
                guard once(&seen, 1) else { return nil }
                guard let v = string() else { return nil }; reason = v
            case "at":
                guard once(&seen, 2) else { return nil }
                guard let v = time() else { return nil }; at = v
            default: return nil
            }
        } while comma()
        guard close("}"), let until, let reason, let at else { return nil }
        return PendingExtension(until: until, reason: reason, at: at)
    }

    // MARK: Tokens

    /// Marks member `bit` of an object as read; false when it was read before (a repeated member).
    private func once(_ seen: inout UInt32, _ bit: UInt32) -> Bool {
        let mask: UInt32 = 1 << bit
        defer { seen |= mask }
        return seen & mask == 0
    }

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

    private mutating func strings() -> [String]? {
        guard open("[") else { return nil }
        var out: [String] = []
        if !peek(UInt8(ascii: "]")) {
            repeat {
                guard let s = string() else { return nil }
                out.append(s)
            } while comma()
        }
        return close("]") ? out : nil
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
