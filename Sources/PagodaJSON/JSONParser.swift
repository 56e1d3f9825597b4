import Foundation

/// Strict RFC 8259 JSON parsing and compact serialization over UTF-8 bytes.
///
/// See `parse` for the accepted grammar and error codes, `serialize` for the output form.
public enum JSON {
    /// The index of the first byte at or after `start` (and before `end`) that a JSON string cannot hold
    /// as it is — a quote, a backslash, a control character — and with `stopAtNonASCII` also any byte
    /// beyond ASCII; `end` when there is none. Eight bytes at a time (exact tests for "any such byte"):
    /// the parser, the serializer and the byte readers of tickets and commands skip plain text with it.
    @inlinable @inline(__always)
    public static func plainStringEnd(
        _ buf: UnsafeBufferPointer<UInt8>, from start: Int, end: Int,
        stopAtNonASCII: Bool = false
    ) -> Int {
        guard let base = buf.baseAddress else { return start }
        let raw = UnsafeRawPointer(base)
        let ones: UInt64 = 0x0101_0101_0101_0101
        let highs: UInt64 = 0x8080_8080_8080_8080
        var i = start
        while i + 8 <= end {
            let v = raw.loadUnaligned(fromByteOffset: i, as: UInt64.self)
            let q = v ^ (ones &* 0x22)
            let b = v ^ (ones &* 0x5C)
            // A zero byte in q or b, a byte below 0x20 in v, and maybe one with its high bit set.
            let special = (q &- ones) & ~q | (b &- ones) & ~b | (v &- ones &* 0x20) & ~v | (stopAtNonASCII ? v : 0)
            if special & highs != 0 { break }
            i += 8
        }
        while i < end {
            let c = buf[i]
            if c == 0x22 || c == 0x5C || c < 0x20 || (stopAtNonASCII && c >= 0x80) { return i }
            i += 1
        }
        return i
    }

    /// The index of the closing quote of the string whose text starts at `start` (after its opening
    /// quote), when the text holds no escape and no control character and is well-formed UTF-8 (as the
    /// parser checks it); nil for any other string, which the parser decides.
    @inlinable
    public static func plainStringClose(_ buf: UnsafeBufferPointer<UInt8>, from start: Int, end: Int) -> Int? {
        var i = start
        while true {
            i = plainStringEnd(buf, from: i, end: end, stopAtNonASCII: true)
            guard i < end else { return nil }
            let c = buf[i]
            if c == 0x22 { return i }
            // an escape, a control character
            guard c >= 0x80, let next = utf8SequenceEnd(buf, at: i, end: end) else { return nil }
            i = next
        }
    }

    /// The index after the well-formed multi-byte UTF-8 sequence whose lead byte (>= 0x80) is at `i` in
    /// `buf` (which ends at `end`), or nil when it is not well formed: a stray continuation byte, an
    /// overlong form, an encoded surrogate, a code point above U+10FFFF, a truncated sequence. The JSON
    /// parser and the byte readers of tickets and commands check text with it.
    @inlinable
    public static func utf8SequenceEnd(_ buf: UnsafeBufferPointer<UInt8>, at i: Int, end: Int) -> Int? {
        let lead = buf[i]
        let need: Int
        var lo: UInt8 = 0x80
        var hi: UInt8 = 0xBF
        switch lead {
        case 0xC2...0xDF: need = 1
        case 0xE0:
            need = 2
            lo = 0xA0
        case 0xE1...0xEC, 0xEE...0xEF: need = 2
        case 0xED:
            need = 2
            hi = 0x9F
        case 0xF0:
            need = 3
            lo = 0x90
        case 0xF1...0xF3: need = 3
        case 0xF4:
            need = 3
            hi = 0x8F
        default: return nil
        }
        guard i + need < end, buf[i + 1] >= lo, buf[i + 1] <= hi else { return nil }
        var k = 2
        while k <= need {
            guard buf[i + k] & 0xC0 == 0x80 else { return nil }
            k += 1
        }
        return i + need + 1
    }

    /// Parses exactly one JSON value from UTF-8 `bytes` (strict RFC 8259).
    ///
    /// Accepts one top-level value of any type surrounded only by JSON whitespace (space, tab, LF, CR).
    /// Rejects trailing commas, comments, NaN/Infinity, single quotes, leading zeros, a byte-order mark,
    /// unescaped control characters in strings and lone surrogate escapes (`syntax`); invalid UTF-8
    /// anywhere, including overlong forms, encoded surrogates, code points above U+10FFFF and truncated
    /// sequences (`invalid_utf8`, checked over the whole input first, so it wins over any other error
    /// except `too_large`); input longer than `limits.maxBytes`, checked before parsing
    /// (`too_large`); more than `limits.maxDepth` open containers (`too_deep`); a key repeated within
    /// one object, compared as Swift strings (`duplicate_key`); empty or whitespace-only input
    /// (`empty`). Otherwise the first problem in document order is reported, with its byte offset. The parser
    /// is iterative, so no input or depth limit can overflow its stack; note that `serialize` and the
    /// release of a parsed value recurse once per nesting level, so keep `maxDepth` modest (default 32).
    public static func parse(_ bytes: [UInt8], limits: JSONLimits = .init()) throws(JSONParseError) -> JSONValue {
        if bytes.count > limits.maxBytes { throw tooLarge(bytes.count, limits) }
        let result = bytes.withUnsafeBufferPointer { buf in parseResult(buf, limits) }
        return try result.get()
    }

    /// Parses from raw memory holding UTF-8 bytes; same rules as `parse(_: [UInt8], limits:)`.
    public static func parse(_ bytes: UnsafeRawBufferPointer, limits: JSONLimits = .init()) throws(JSONParseError)
        -> JSONValue
    {
        if bytes.count > limits.maxBytes { throw tooLarge(bytes.count, limits) }
        let result = bytes.withMemoryRebound(to: UInt8.self) { buf in parseResult(buf, limits) }
        return try result.get()
    }

    /// Parses any byte collection (e.g. `Data`, `ArraySlice<UInt8>`, `String.UTF8View`); contiguous
    /// storage is used in place, anything else is copied once. Same rules as `parse(_: [UInt8], limits:)`.
    public static func parse(_ bytes: some Collection<UInt8>, limits: JSONLimits = .init()) throws(JSONParseError)
        -> JSONValue
    {
        let n = bytes.count
        if n > limits.maxBytes { throw tooLarge(n, limits) }
        if let result = bytes.withContiguousStorageIfAvailable({ buf in parseResult(buf, limits) }) {
            return try result.get()
        }
        return try parse(Array(bytes), limits: limits)
    }

    /// True when `lexeme` matches the RFC 8259 number grammar exactly (no surrounding whitespace).
    public static func isValidNumberLexeme(_ lexeme: String) -> Bool {
        var s = lexeme
        return s.withUTF8 { buf -> Bool in
            guard !buf.isEmpty else { return false }
            var p = JSONByteParser(buf: buf, maxDepth: 1)
            guard (try? p.parseNumberLexemeEnd()) != nil else { return false }
            return p.pos == buf.count
        }
    }

    /// Checks `bytes` without building any value and, when `parse` with the same limits would certainly
    /// accept them as an object, returns the byte ranges of its members in order.
    ///
    /// Nil means "not decided here": the input may be invalid or not an object, or it uses something this
    /// scan leaves to `parse`: a key with an escape or a byte outside ASCII (duplicate keys are compared as
    /// Swift strings, with canonical equivalence), or an object with more than 64 keys. Callers then run
    /// `parse` for the answer and its message. A non-nil answer is never wrong: strings, escapes, numbers,
    /// literals, nesting depth, size, UTF-8 and duplicate keys are all checked as `parse` checks them.
    public static func scanObject(_ bytes: UnsafeRawBufferPointer, limits: JSONLimits = .init()) -> [JSONMemberSpan]? {
        var scanner = JSONObjectScanner()
        return scanner.scan(bytes, limits: limits) ? scanner.members : nil
    }

    private static func tooLarge(_ n: Int, _ limits: JSONLimits) -> JSONParseError {
        JSONParseError(
            code: .tooLarge,
            message: "input is \(n) bytes, over the limit of \(limits.maxBytes) bytes at byte \(limits.maxBytes)",
            offset: limits.maxBytes)
    }

    static func parseResult(_ buf: UnsafeBufferPointer<UInt8>, _ limits: JSONLimits) -> Result<
        JSONValue, JSONParseError
    > {
        var parser = JSONByteParser(buf: buf, maxDepth: limits.maxDepth)
        do {
            return .success(try parser.parseDocument())
        } catch {
            return .failure(error)
        }
    }
}

/// `JSON.scanObject` with buffers kept from one call to the next: a caller scanning many lines (a
/// scenario's first pass) allocates nothing per line once the buffers have grown.
public struct JSONObjectScanner: Sendable {
    /// The members of the object last scanned, when `scan` returned true.
    public private(set) var members: [JSONMemberSpan] = []
    private var open: [Int] = []
    private var keys: [Range<Int>] = []

    public init() {}

    /// `JSON.scanObject(bytes, limits:)`: true, with `members`, when `parse` would certainly accept the
    /// bytes as an object; false when not decided here.
    public mutating func scan(_ bytes: UnsafeRawBufferPointer, limits: JSONLimits = .init()) -> Bool {
        members.removeAll(keepingCapacity: true)
        open.removeAll(keepingCapacity: true)
        keys.removeAll(keepingCapacity: true)
        if bytes.count > limits.maxBytes || bytes.isEmpty { return false }
        return bytes.withMemoryRebound(to: UInt8.self) { buf in
            var scanner = JSONByteParser(buf: buf, maxDepth: limits.maxDepth)
            return scanner.scanObjectDocument(members: &members, open: &open, keys: &keys)
        }
    }
}

/// Where one member of an object lies in the input: its key's bytes between the quotes, and its value.
public struct JSONMemberSpan: Sendable, Hashable {
    /// The key's UTF-8 bytes, without the quotes (the scan only decides keys without escapes).
    public var key: Range<Int>
    /// The value's bytes, from its first to its last byte.
    public var value: Range<Int>

    public init(key: Range<Int>, value: Range<Int>) {
        self.key = key
        self.value = value
    }
}

// MARK: - Parser

private let kQuote: UInt8 = 0x22
private let kBackslash: UInt8 = 0x5C
private let kSlash: UInt8 = 0x2F
private let kComma: UInt8 = 0x2C
private let kColon: UInt8 = 0x3A
private let kLBrace: UInt8 = 0x7B
private let kRBrace: UInt8 = 0x7D
private let kLBracket: UInt8 = 0x5B
private let kRBracket: UInt8 = 0x5D
private let kMinus: UInt8 = 0x2D
private let kPlus: UInt8 = 0x2B
private let kDot: UInt8 = 0x2E
private let kZero: UInt8 = 0x30
private let kNine: UInt8 = 0x39

/// One open container on the parser's explicit stack.
private struct JSONParseFrame {
    var isObject: Bool
    /// An object's members so far; its next member's key waits in `key` for the value.
    var members: [(String, JSONValue)] = []
    var key = ""
    /// An array's elements so far.
    var values: [JSONValue] = []
    var index: [String: Int]? = nil

    init(isObject: Bool) {
        self.isObject = isObject
        if isObject { members.reserveCapacity(8) } else { values.reserveCapacity(8) }
    }

    /// Takes `key` as the next member's key; false when it is already present.
    mutating func addKey(_ key: String) -> Bool {
        if index != nil {
            // One hash lookup: on a duplicate the parse fails, so the overwritten slot does not matter.
            if index!.updateValue(members.count, forKey: key) != nil { return false }
        } else {
            if members.contains(where: { $0.0 == key }) { return false }
            if members.count >= JSONObject.indexThreshold {
                var idx = [String: Int](minimumCapacity: 64)
                for (i, m) in members.enumerated() { idx[m.0] = i }
                idx[key] = members.count
                index = idx
            }
        }
        self.key = key
        return true
    }

    /// Adds a finished value: the member of the key taken last, or the next element.
    mutating func add(_ value: JSONValue) {
        if isObject { members.append((key, value)) } else { values.append(value) }
    }
}

private struct JSONByteParser {
    let buf: UnsafeBufferPointer<UInt8>
    let end: Int
    let maxDepth: Int
    var pos = 0
    var scratch: [UInt8] = []

    init(buf: UnsafeBufferPointer<UInt8>, maxDepth: Int) {
        self.buf = buf
        self.end = buf.count
        self.maxDepth = maxDepth
    }

    @inline(__always)
    mutating func skipWhitespace() {
        while pos < end {
            let c = buf[pos]
            if c == 0x20 || c == 0x0A || c == 0x0D || c == 0x09 { pos += 1 } else { return }
        }
    }

    /// Validates the whole input as UTF-8 (8 bytes at a time through ASCII runs).
    func validateAllUTF8() throws(JSONParseError) {
        guard let base = buf.baseAddress else { return }
        let raw = UnsafeRawPointer(base)
        var i = 0
        while i < end {
            if i + 8 <= end && raw.loadUnaligned(fromByteOffset: i, as: UInt64.self) & 0x8080_8080_8080_8080 == 0 {
                i += 8
            } else if buf[i] < 0x80 {
                i += 1
            } else {
                i = try validateUTF8Sequence(at: i)
            }
        }
    }

    mutating func parseDocument() throws(JSONParseError) -> JSONValue {
        // Invalid UTF-8 anywhere wins over every other error (the body is not text at all); after this
        // pass strings can be sliced without further checks.
        try validateAllUTF8()
        skipWhitespace()
        if pos == end {
            throw JSONParseError(
                code: .empty,
                message: end == 0 ? "empty input at byte 0" : "input contains only whitespace at byte \(end)",
                offset: end)
        }
        var stack: [JSONParseFrame] = []
        stack.reserveCapacity(min(maxDepth, 8))
        var value: JSONValue

        outer: while true {
            // A value starts at `pos` (whitespace already skipped).
            guard pos < end else { throw unexpected("expected a value") }
            switch buf[pos] {
            case kLBrace:
                if stack.count >= maxDepth { throw tooDeep() }
                pos += 1
                skipWhitespace()
                if pos < end && buf[pos] == kRBrace {
                    pos += 1
                    value = .object(JSONObject())
                } else {
                    var frame = JSONParseFrame(isObject: true)
                    try parseMemberKey(into: &frame, afterComma: false)
                    stack.append(frame)
                    continue outer
                }
            case kLBracket:
                if stack.count >= maxDepth { throw tooDeep() }
                pos += 1
                skipWhitespace()
                if pos < end && buf[pos] == kRBracket {
                    pos += 1
                    value = .array([])
                } else {
                    stack.append(JSONParseFrame(isObject: false))
                    continue outer
                }
            case kQuote:
                value = .string(try parseString())
            case 0x74:  // t
                try literal("true")
                value = .bool(true)
            case 0x66:  // f
                try literal("false")
                value = .bool(false)
            case 0x6E:  // n
                try literal("null")
                value = .null
            case kMinus, kZero...kNine:
                let start = pos
                try parseNumberLexemeEnd()
                value = .number(makeString(start, pos))
            default:
                throw unexpected("expected a value")
            }

            // Attach the finished value to the enclosing containers, closing as many as end here.
            while let top = stack.indices.last {
                stack[top].add(value)
                skipWhitespace()
                guard pos < end else {
                    throw unexpected(
                        stack[top].isObject
                            ? "expected ',' or '}' after object member" : "expected ',' or ']' after array element")
                }
                let c = buf[pos]
                if c == kComma {
                    pos += 1
                    skipWhitespace()
                    if stack[top].isObject { try parseMemberKey(into: &stack[top], afterComma: true) }
                    continue outer
                }
                if stack[top].isObject {
                    guard c == kRBrace else { throw unexpected("expected ',' or '}' after object member") }
                    pos += 1
                    let f = stack.removeLast()
                    value = .object(JSONObject(uniqueMembers: f.members, index: f.index))
                } else {
                    guard c == kRBracket else { throw unexpected("expected ',' or ']' after array element") }
                    pos += 1
                    let f = stack.removeLast()
                    value = .array(f.values)
                }
            }
            break outer
        }

        skipWhitespace()
        if pos != end { throw unexpected("expected end of input after the top-level value") }
        return value
    }

    // MARK: Scanning without values

    /// `JSON.scanObject`: true, with the members of a top-level object in `members`, when certainly valid.
    /// `members`, `open` and `keys` come in empty (they are the caller's buffers, reused). `open` holds the
    /// open containers: for an object, where its keys start in `keys`; for an array, -1.
    mutating func scanObjectDocument(members: inout [JSONMemberSpan], open: inout [Int], keys: inout [Range<Int>])
        -> Bool
    {
        do { try validateAllUTF8() } catch { return false }
        skipWhitespace()
        guard pos < end, buf[pos] == kLBrace else { return false }

        outer: while true {
            guard pos < end else { return false }
            switch buf[pos] {
            case kLBrace, kLBracket:
                let isObject = buf[pos] == kLBrace
                if open.count >= maxDepth { return false }
                pos += 1
                skipWhitespace()
                if pos < end && buf[pos] == (isObject ? kRBrace : kRBracket) {
                    pos += 1
                } else {
                    open.append(isObject ? keys.count : -1)
                    if isObject {
                        guard scanMemberKey(keys: &keys, from: keys.count, members: &members, top: open.count == 1)
                        else { return false }
                    }
                    continue outer
                }
            case kQuote:
                let i = skipPlainStringBytes(from: pos + 1)
                if i < end && buf[i] == kQuote {
                    pos = i + 1
                } else {
                    // An escape (or an error): the full string parser decides.
                    guard (try? parseString()) != nil else { return false }
                }
            case 0x74:
                guard (try? literal("true")) != nil else { return false }
            case 0x66:
                guard (try? literal("false")) != nil else { return false }
            case 0x6E:
                guard (try? literal("null")) != nil else { return false }
            case kMinus, kZero...kNine:
                guard (try? parseNumberLexemeEnd()) != nil else { return false }
            default:
                return false
            }

            // A value ended at `pos`: close the containers that end here.
            while let top = open.last {
                if open.count == 1 {
                    members[members.count - 1].value = members[members.count - 1].value.lowerBound..<pos
                }
                skipWhitespace()
                guard pos < end else { return false }
                let c = buf[pos]
                if c == kComma {
                    pos += 1
                    skipWhitespace()
                    if top >= 0 {
                        guard scanMemberKey(keys: &keys, from: top, members: &members, top: open.count == 1) else {
                            return false
                        }
                    }
                    continue outer
                }
                guard c == (top >= 0 ? kRBrace : kRBracket) else { return false }
                pos += 1
                if top >= 0 { keys.removeSubrange(top...) }
                open.removeLast()
            }
            break outer
        }
        skipWhitespace()
        return pos == end
    }

    /// Scans `"key"` `:` at `pos` for the object whose keys start at `from` in `keys`: an ASCII key without
    /// escapes, not repeated (bytes compared); leaves `pos` at the value. False when not decided here.
    mutating func scanMemberKey(keys: inout [Range<Int>], from: Int, members: inout [JSONMemberSpan], top: Bool) -> Bool
    {
        guard pos < end, buf[pos] == kQuote else { return false }
        let start = pos + 1
        var i = start
        while i < end {
            let c = buf[i]
            if c == kQuote { break }
            if c == kBackslash || c < 0x20 || c >= 0x80 { return false }
            i += 1
        }
        guard i < end, keys.count - from < 64 else { return false }
        let key = start..<i
        for k in keys[from...] where k.count == key.count {
            if memcmp(buf.baseAddress! + k.lowerBound, buf.baseAddress! + key.lowerBound, key.count) == 0 {
                return false
            }
        }
        keys.append(key)
        pos = i + 1
        skipWhitespace()
        guard pos < end, buf[pos] == kColon else { return false }
        pos += 1
        skipWhitespace()
        if top { members.append(JSONMemberSpan(key: key, value: pos..<pos)) }
        return true
    }

    /// Parses `"key"` `:` at `pos` and leaves `pos` at the start of the member value.
    mutating func parseMemberKey(into frame: inout JSONParseFrame, afterComma: Bool) throws(JSONParseError) {
        guard pos < end, buf[pos] == kQuote else {
            throw unexpected(
                afterComma
                    ? "expected '\"' to start an object key after ','" : "expected '\"' to start an object key or '}'")
        }
        let keyStart = pos
        let key = try parseString()
        if !frame.addKey(key) {
            throw JSONParseError(
                code: .duplicateKey,
                message: "duplicate key \(JSON.quoted(key, limit: 64)) in object at byte \(keyStart)",
                offset: keyStart)
        }
        skipWhitespace()
        guard pos < end, buf[pos] == kColon else { throw unexpected("expected ':' after object key") }
        pos += 1
        skipWhitespace()
    }

    func tooDeep() -> JSONParseError {
        JSONParseError(
            code: .tooDeep,
            message: "nesting deeper than \(maxDepth) containers at byte \(pos)",
            offset: pos)
    }

    mutating func literal(_ word: StaticString) throws(JSONParseError) {
        let n = word.utf8CodeUnitCount
        let w = word.utf8Start
        var i = 0
        while i < n {
            guard pos + i < end, buf[pos + i] == w[i] else {
                let at = pos + i
                pos = at
                throw unexpected("expected '\(word)'")
            }
            i += 1
        }
        pos += n
    }

    @inline(__always)
    func makeString(_ start: Int, _ stop: Int) -> String {
        String(decoding: UnsafeBufferPointer(rebasing: buf[start..<stop]), as: UTF8.self)
    }

    @inline(__always)
    static func isDigit(_ c: UInt8) -> Bool { c >= kZero && c <= kNine }

    /// Advances `pos` over a number lexeme following the RFC 8259 grammar.
    mutating func parseNumberLexemeEnd() throws(JSONParseError) {
        var i = pos
        if buf[i] == kMinus { i += 1 }
        guard i < end, Self.isDigit(buf[i]) else {
            pos = i
            throw unexpected("expected a digit after '-'")
        }
        if buf[i] == kZero {
            i += 1
            if i < end && Self.isDigit(buf[i]) {
                pos = i
                throw JSONParseError(
                    code: .syntax, message: "leading zeros are not allowed in numbers at byte \(i)", offset: i)
            }
        } else {
            while i < end && Self.isDigit(buf[i]) { i += 1 }
        }
        if i < end && buf[i] == kDot {
            i += 1
            guard i < end, Self.isDigit(buf[i]) else {
                pos = i
                throw unexpected("expected a digit after '.'")
            }
            while i < end && Self.isDigit(buf[i]) { i += 1 }
        }
        if i < end && (buf[i] == 0x65 || buf[i] == 0x45) {
            i += 1
            if i < end && (buf[i] == kPlus || buf[i] == kMinus) { i += 1 }
            guard i < end, Self.isDigit(buf[i]) else {
                pos = i
                throw unexpected("expected a digit in the exponent")
            }
            while i < end && Self.isDigit(buf[i]) { i += 1 }
        }
        pos = i
    }

    /// Parses a string starting at the opening quote at `pos`; leaves `pos` after the closing quote.
    mutating func parseString() throws(JSONParseError) -> String {
        let open = pos
        let start = pos + 1
        var i = skipPlainStringBytes(from: start)
        // Fast path: no escapes (the input is already known to be valid UTF-8).
        while i < end {
            let c = buf[i]
            if c == kQuote {
                pos = i + 1
                return makeString(start, i)
            }
            if c == kBackslash { break }
            if c < 0x20 { throw controlInString(c, at: i) }
            i += 1
        }
        if i >= end { throw unterminated(open) }

        // Slow path: copy segments and decoded escapes into scratch.
        scratch.removeAll(keepingCapacity: true)
        scratch.append(contentsOf: UnsafeBufferPointer(rebasing: buf[start..<i]))
        while i < end {
            let c = buf[i]
            if c == kQuote {
                pos = i + 1
                return String(decoding: scratch, as: UTF8.self)
            }
            if c == kBackslash {
                i = try parseEscape(at: i)
                continue
            }
            if c < 0x20 { throw controlInString(c, at: i) }
            // Copy the run up to the next quote, backslash or control byte in one go.
            var j = i + 1
            while j < end {
                let d = buf[j]
                if d == kQuote || d == kBackslash || d < 0x20 { break }
                j += 1
            }
            scratch.append(contentsOf: UnsafeBufferPointer(rebasing: buf[i..<j]))
            i = j
        }
        throw unterminated(open)
    }

    /// The index of the first byte at or after `start` that is a quote, a backslash or a control byte
    /// (or `end`).
    @inline(__always)
    func skipPlainStringBytes(from start: Int) -> Int { JSON.plainStringEnd(buf, from: start, end: end) }

    func unterminated(_ open: Int) -> JSONParseError {
        JSONParseError(
            code: .syntax,
            message: "unterminated string starting at byte \(open): expected '\"' before end of input at byte \(end)",
            offset: end)
    }

    func controlInString(_ c: UInt8, at i: Int) -> JSONParseError {
        JSONParseError(
            code: .syntax,
            message: "unescaped control character \(Self.hexByte(c)) in string, expected it escaped at byte \(i)",
            offset: i)
    }

    /// Decodes the escape at `i` (pointing at the backslash) into `scratch`; returns the index after it.
    mutating func parseEscape(at i: Int) throws(JSONParseError) -> Int {
        guard i + 1 < end else {
            throw JSONParseError(
                code: .syntax, message: "expected an escape character after '\\' at byte \(i + 1)", offset: i + 1)
        }
        let e = buf[i + 1]
        switch e {
        case kQuote: scratch.append(kQuote)
        case kBackslash: scratch.append(kBackslash)
        case kSlash: scratch.append(kSlash)
        case 0x62: scratch.append(0x08)  // b
        case 0x66: scratch.append(0x0C)  // f
        case 0x6E: scratch.append(0x0A)  // n
        case 0x72: scratch.append(0x0D)  // r
        case 0x74: scratch.append(0x09)  // t
        case 0x75:  // u
            var scalar = try hex4(at: i + 2)
            var next = i + 6
            if scalar >= 0xD800 && scalar <= 0xDBFF {
                guard next + 1 < end, buf[next] == kBackslash, buf[next + 1] == 0x75 else {
                    throw JSONParseError(
                        code: .syntax,
                        message:
                            "unpaired high surrogate \\u\(Self.hex4String(scalar)): expected a \\uDC00-\\uDFFF escape to follow at byte \(i)",
                        offset: i)
                }
                let low = try hex4(at: next + 2)
                guard low >= 0xDC00 && low <= 0xDFFF else {
                    throw JSONParseError(
                        code: .syntax,
                        message:
                            "unpaired high surrogate \\u\(Self.hex4String(scalar)), expected \\uDC00-\\uDFFF at byte \(next)",
                        offset: next)
                }
                scalar = 0x10000 + ((scalar - 0xD800) << 10) + (low - 0xDC00)
                next += 6
            } else if scalar >= 0xDC00 && scalar <= 0xDFFF {
                throw JSONParseError(
                    code: .syntax,
                    message: "unpaired low surrogate \\u\(Self.hex4String(scalar)) at byte \(i)",
                    offset: i)
            }
            appendUTF8(scalar)
            return next
        default:
            throw JSONParseError(
                code: .syntax,
                message: "invalid escape, expected one of \\\" \\\\ \\/ \\b \\f \\n \\r \\t \\u at byte \(i + 1)",
                offset: i + 1)
        }
        return i + 2
    }

    func hex4(at i: Int) throws(JSONParseError) -> UInt32 {
        var v: UInt32 = 0
        for k in 0..<4 {
            let p = i + k
            guard p < end else {
                throw JSONParseError(code: .syntax, message: "expected 4 hex digits after \\u at byte \(p)", offset: p)
            }
            let c = buf[p]
            let d: UInt32
            switch c {
            case kZero...kNine: d = UInt32(c - kZero)
            case 0x61...0x66: d = UInt32(c - 0x61 + 10)
            case 0x41...0x46: d = UInt32(c - 0x41 + 10)
            default:
                throw JSONParseError(code: .syntax, message: "expected 4 hex digits after \\u at byte \(p)", offset: p)
            }
            v = v << 4 | d
        }
        return v
    }

    mutating func appendUTF8(_ s: UInt32) {
        switch s {
        case 0..<0x80:
            scratch.append(UInt8(s))
        case 0x80..<0x800:
            scratch.append(UInt8(0xC0 | (s >> 6)))
            scratch.append(UInt8(0x80 | (s & 0x3F)))
        case 0x800..<0x10000:
            scratch.append(UInt8(0xE0 | (s >> 12)))
            scratch.append(UInt8(0x80 | ((s >> 6) & 0x3F)))
            scratch.append(UInt8(0x80 | (s & 0x3F)))
        default:
            scratch.append(UInt8(0xF0 | (s >> 18)))
            scratch.append(UInt8(0x80 | ((s >> 12) & 0x3F)))
            scratch.append(UInt8(0x80 | ((s >> 6) & 0x3F)))
            scratch.append(UInt8(0x80 | (s & 0x3F)))
        }
    }

    /// Validates the multi-byte UTF-8 sequence whose lead byte (>= 0x80) is at `i`; returns the index after it.
    func validateUTF8Sequence(at i: Int) throws(JSONParseError) -> Int {
        if let next = JSON.utf8SequenceEnd(buf, at: i, end: end) { return next }
        throw invalidUTF8(Self.utf8Problem(buf, at: i, end: end), at: i)
    }

    /// What is wrong with the sequence at `i`, which `JSON.utf8SequenceEnd` refused.
    static func utf8Problem(_ buf: UnsafeBufferPointer<UInt8>, at i: Int, end: Int) -> String {
        let lead = buf[i]
        let need: Int
        switch lead {
        case 0xC2...0xDF: need = 1
        case 0xE0...0xEF: need = 2
        case 0xF0...0xF4: need = 3
        case 0x80...0xBF: return "unexpected continuation byte \(hexByte(lead))"
        case 0xC0, 0xC1: return "overlong encoding (lead byte \(hexByte(lead)))"
        default: return "byte \(hexByte(lead)) never appears in UTF-8"
        }
        for k in 1...need {
            guard i + k < end, buf[i + k] & 0xC0 == 0x80 else { return "truncated sequence" }
            if k == 1 {
                let c = buf[i + 1]
                if (lead == 0xE0 && c < 0xA0) || (lead == 0xF0 && c < 0x90) { return "overlong encoding" }
                if lead == 0xED && c > 0x9F { return "encoded surrogate code point" }
                if lead == 0xF4 && c > 0x8F { return "code point above U+10FFFF" }
            }
        }
        return "truncated sequence"
    }

    func invalidUTF8(_ what: String, at i: Int) -> JSONParseError {
        JSONParseError(code: .invalidUTF8, message: "invalid UTF-8: \(what) at byte \(i)", offset: i)
    }

    /// A syntax error at `pos` naming what was expected and what was found; invalid UTF-8 at `pos`
    /// is reported as `invalid_utf8` instead.
    func unexpected(_ expected: String) -> JSONParseError {
        let found: String
        if pos >= end {
            found = "end of input"
        } else {
            let c = buf[pos]
            if c >= 0x80 {
                do {
                    let j = try validateUTF8Sequence(at: pos)
                    let s = makeString(pos, j)
                    let v = s.unicodeScalars.first!.value
                    found = "U+\(String(v, radix: 16, uppercase: true).leftPadded(4))"
                } catch {
                    return error
                }
            } else if c >= 0x20 && c < 0x7F {
                found = "'\(Character(Unicode.Scalar(c)))'"
            } else {
                found = "byte \(Self.hexByte(c))"
            }
        }
        return JSONParseError(code: .syntax, message: "\(expected), found \(found) at byte \(pos)", offset: pos)
    }

    static func hexByte(_ c: UInt8) -> String {
        "0x" + String(c, radix: 16, uppercase: true).leftPadded(2)
    }

    static func hex4String(_ v: UInt32) -> String {
        String(v, radix: 16, uppercase: true).leftPadded(4)
    }
}

extension String {
    fileprivate func leftPadded(_ width: Int) -> String {
        count >= width ? self : String(repeating: "0", count: width - count) + self
    }
}
