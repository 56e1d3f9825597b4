import Foundation

/// A JSON value (RFC 8259) as produced by `JSON.parse` and consumed by `JSON.serialize`.
///
/// Numbers are kept as their exact source lexeme (`.number("12345678901234567890")`), so large
/// integers and decimals pass through parse → serialize unchanged; nothing is converted to
/// `Double`. When you build a `.number` yourself the lexeme must follow the JSON number grammar
/// (`JSON.isValidNumberLexeme`); the serializer emits it verbatim and does not re-check it.
/// Equality is structural and, for objects, order-sensitive (see `JSONObject`).
public enum JSONValue: Hashable, Sendable {
    /// JSON `null`.
    case null
    /// JSON `true` / `false`.
    case bool(Bool)
    /// The exact number lexeme, e.g. `"-0.5e3"`.
    case number(String)
    /// A string (any Unicode, including U+0000).
    case string(String)
    /// An array, in order.
    case array([JSONValue])
    /// An object with ordered, unique keys.
    case object(JSONObject)

    /// A number value holding the decimal lexeme of `value`.
    public static func integer(_ value: Int) -> JSONValue { .number(String(value)) }

    /// The string payload, or nil when this is not `.string`.
    public var stringValue: String? { if case .string(let s) = self { return s } else { return nil } }

    /// The object payload, or nil when this is not `.object`.
    public var objectValue: JSONObject? { if case .object(let o) = self { return o } else { return nil } }

    /// The array payload, or nil when this is not `.array`.
    public var arrayValue: [JSONValue]? { if case .array(let a) = self { return a } else { return nil } }

    /// The boolean payload, or nil when this is not `.bool`.
    public var boolValue: Bool? { if case .bool(let b) = self { return b } else { return nil } }

    /// The number lexeme, or nil when this is not `.number`.
    public var numberLexeme: String? { if case .number(let n) = self { return n } else { return nil } }

    /// True only for `.null`.
    public var isNull: Bool { if case .null = self { return true } else { return false } }

    /// The JSON type with an article, for messages: "null", "a boolean", "a number", "a string", "an array", "an object".
    public var typeDescription: String {
        switch self {
        case .null: return "null"
        case .bool: return "a boolean"
        case .number: return "a number"
        case .string: return "a string"
        case .array: return "an array"
        case .object: return "an object"
        }
    }
}

extension JSONValue: ExpressibleByStringLiteral, ExpressibleByIntegerLiteral, ExpressibleByBooleanLiteral,
    ExpressibleByNilLiteral, ExpressibleByArrayLiteral, ExpressibleByDictionaryLiteral
{
    /// `.string(value)`.
    public init(stringLiteral value: String) { self = .string(value) }
    /// `.number` with the decimal lexeme of `value`.
    public init(integerLiteral value: Int) { self = .number(String(value)) }
    /// `.bool(value)`.
    public init(booleanLiteral value: Bool) { self = .bool(value) }
    /// `.null`.
    public init(nilLiteral: ()) { self = .null }
    /// `.array(elements)`.
    public init(arrayLiteral elements: JSONValue...) { self = .array(elements) }
    /// `.object` with the pairs in literal order; a repeated key replaces the earlier value in place.
    public init(dictionaryLiteral elements: (String, JSONValue)...) { self = .object(JSONObject(elements)) }
}

/// An ordered JSON object: (key, value) pairs in insertion order with unique keys.
///
/// Lookup is a linear scan for small objects and hashed once an object has more than
/// `JSONObject.indexThreshold` members. Keys are compared with Swift `String` equality (Unicode
/// canonical equivalence), so "é" and "e\u{301}" are the same key (and `duplicate_key` when both
/// occur in one parsed object). Equality and hashing are order-sensitive:
/// `{"a":1,"b":2}` != `{"b":2,"a":1}` (they also serialize differently).
public struct JSONObject: Hashable, Sendable, Sequence, ExpressibleByDictionaryLiteral {
    /// Objects with more members than this get a hash index for lookups.
    public static let indexThreshold = 16

    /// The members in order, keys unique.
    @usableFromInline internal var _members: [(String, JSONValue)]
    @usableFromInline internal var _index: [String: Int]?

    /// An empty object.
    public init() {
        _members = []
        _index = nil
    }

    /// An object with `pairs` in order; when a key repeats, the later value replaces the earlier one in place.
    /// Pairs with unique keys (the usual case) become the object's storage as they are, without a copy.
    public init(_ pairs: [(String, JSONValue)]) {
        if pairs.count <= Self.indexThreshold && Self.keysAreUnique(pairs) {
            self.init(uniqueMembers: pairs, index: nil)
            return
        }
        self.init()
        _members.reserveCapacity(pairs.count)
        for (k, v) in pairs { set(k, v) }
    }

    /// Same as `init(_:)` for literals: `["a": 1, "b": "x"]`.
    public init(dictionaryLiteral elements: (String, JSONValue)...) { self.init(elements) }

    /// Fast path for the package's readers: the caller guarantees the keys are unique and `index` (if
    /// any) matches.
    package init(uniqueMembers: [(String, JSONValue)], index: [String: Int]?) {
        _members = uniqueMembers
        _index = index
        if _index == nil && _members.count > Self.indexThreshold { rebuildIndex() }
    }

    private static func keysAreUnique(_ pairs: [(String, JSONValue)]) -> Bool {
        for i in pairs.indices {
            for j in pairs.indices[..<i] where pairs[j].0 == pairs[i].0 { return false }
        }
        return true
    }

    /// The keys in stored order (a new array).
    public var keys: [String] { _members.map(\.0) }

    /// The values in stored order, parallel to `keys` (a new array).
    public var values: [JSONValue] { _members.map(\.1) }

    /// Number of members.
    public var count: Int { _members.count }

    /// True when there are no members.
    public var isEmpty: Bool { _members.isEmpty }

    /// Position of `key` in stored order, or nil when absent.
    public func position(of key: String) -> Int? {
        if let index = _index { return index[key] }
        return _members.firstIndex { $0.0 == key }
    }

    /// The value for `key`, or nil when absent; setting nil removes the key, setting a value calls `set`.
    public subscript(key: String) -> JSONValue? {
        get {
            guard let i = position(of: key) else { return nil }
            return _members[i].1
        }
        set {
            if let v = newValue { set(key, v) } else { removeValue(forKey: key) }
        }
    }

    /// Replaces the value of `key` in place, or appends (key, value) at the end when the key is new.
    public mutating func set(_ key: String, _ value: JSONValue) {
        if let i = position(of: key) {
            _members[i].1 = value
            return
        }
        _members.append((key, value))
        if _index != nil {
            _index![key] = _members.count - 1
        } else if _members.count > Self.indexThreshold {
            rebuildIndex()
        }
    }

    /// Removes `key` (keeping the order of the others) and returns its value, or nil when absent.
    @discardableResult
    public mutating func removeValue(forKey key: String) -> JSONValue? {
        guard let i = position(of: key) else { return nil }
        let v = _members.remove(at: i).1
        if _index != nil {
            if _members.count > Self.indexThreshold { rebuildIndex() } else { _index = nil }
        }
        return v
    }

    private mutating func rebuildIndex() {
        var idx = [String: Int](minimumCapacity: _members.count)
        for (i, m) in _members.enumerated() { idx[m.0] = i }
        _index = idx
    }

    /// Order-sensitive equality of the (key, value) pairs.
    public static func == (lhs: JSONObject, rhs: JSONObject) -> Bool {
        guard lhs._members.count == rhs._members.count else { return false }
        for i in lhs._members.indices
        where lhs._members[i].0 != rhs._members[i].0 || lhs._members[i].1 != rhs._members[i].1 {
            return false
        }
        return true
    }

    /// Hashes the pairs in order.
    public func hash(into hasher: inout Hasher) {
        hasher.combine(_members.count)
        for (k, v) in _members {
            hasher.combine(k)
            hasher.combine(v)
        }
    }

    /// Iterates (key, value) pairs in stored order.
    public struct Iterator: IteratorProtocol, Sendable {
        @usableFromInline let object: JSONObject
        @usableFromInline var i = 0
        @usableFromInline init(object: JSONObject) { self.object = object }

        /// The next pair, or nil at the end.
        @inlinable
        public mutating func next() -> (key: String, value: JSONValue)? {
            guard i < object._members.count else { return nil }
            defer { i += 1 }
            let m = object._members[i]
            return (m.0, m.1)
        }
    }

    /// An iterator over the pairs in stored order.
    public func makeIterator() -> Iterator { Iterator(object: self) }

    /// Exact member count (lets `Array(object)` reserve once).
    public var underestimatedCount: Int { _members.count }
}

/// Size limits applied by `JSON.parse` before and during parsing.
public struct JSONLimits: Sendable, Hashable {
    /// Maximum input size in bytes; larger input fails with `too_large` without being parsed.
    public var maxBytes = 262_144
    /// Maximum number of simultaneously open containers; 32 nested arrays pass, 33 fail with `too_deep`.
    public var maxDepth = 32

    /// Limits with the given values (defaults: 256 KiB, depth 32).
    public init(maxBytes: Int = 262_144, maxDepth: Int = 32) {
        self.maxBytes = maxBytes
        self.maxDepth = maxDepth
    }
}

/// A JSON parse failure with a stable code, a human-readable message and the byte offset.
///
/// Codes: `too_large`, `invalid_utf8`, `too_deep`, `empty`, `syntax`, `duplicate_key`.
/// `offset` is the 0-based byte offset of the offending byte (for `too_large`: `maxBytes`, the first
/// byte over the limit; for `empty`: the input length). The message ends with "at byte N".
public struct JSONParseError: Error, Hashable, Sendable, CustomStringConvertible {
    /// What went wrong, as a stable machine-readable code.
    public enum Code: String, Sendable, Hashable, CaseIterable, CustomStringConvertible {
        case tooLarge = "too_large"
        case invalidUTF8 = "invalid_utf8"
        case tooDeep = "too_deep"
        case empty
        case syntax
        case duplicateKey = "duplicate_key"

        /// The raw value, as messages and the wire write it.
        public var description: String { rawValue }
    }

    /// Stable machine-readable code.
    public let code: Code
    /// Human-readable reason including "at byte N".
    public let message: String
    /// 0-based byte offset of the problem.
    public let offset: Int

    /// An error with the given fields (the message is used as given).
    public init(code: Code, message: String, offset: Int) {
        self.code = code
        self.message = message
        self.offset = offset
    }

    /// "code: message".
    public var description: String { "\(code.rawValue): \(message)" }
}
