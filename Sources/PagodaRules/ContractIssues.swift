import Foundation
import PagodaJSON

/// Collects the issues of a message being validated (tickets, worker commands), capped, with the
/// contracts' shared messages: `path: reason`, or `(root): reason` for the document itself.
public struct ContractIssues: Sendable {
    public private(set) var list: [ValidationIssue] = []
    /// No more issues are kept once this many were found.
    public let cap: Int

    public init(cap: Int) { self.cap = cap }

    public var isFull: Bool { list.count >= cap }

    /// Adds an issue. Its path may hold a sender's key (an unknown field's), and its reason may quote a value;
    /// both go into headers, logs and operators' screens, so the path is cut after `maxPathCharacters` and
    /// mobile numbers in either are masked (`PhoneMask.maskNumbers`).
    public mutating func add(_ path: String, _ code: ValidationCode, _ reason: String) {
        guard !isFull else { return }
        var path = path
        if path.utf8.count > Self.maxPathCharacters, path.count > Self.maxPathCharacters {
            path = String(path.prefix(Self.maxPathCharacters)) + "…"
        }
        path = PhoneMask.maskNumbers(in: Array(path.utf8))
        let message = PhoneMask.maskNumbers(in: Array((path.isEmpty ? "(root): \(reason)" : "\(path): \(reason)").utf8))
        list.append(ValidationIssue(path: path, code: code, message: message))
    }

    /// The longest path an issue keeps, in characters; a longer one (a sender's long key) ends in "…".
    public static let maxPathCharacters = 64

    /// The string in `v`; nil (with `required` or `type` reported as appropriate) otherwise.
    public mutating func string(_ v: JSONValue?, _ path: String, required: Bool) -> String? {
        typed(v, path, required: required, "a string", \.stringValue)
    }

    /// The boolean in `v`; nil (with `required` or `type` reported as appropriate) otherwise.
    public mutating func bool(_ v: JSONValue?, _ path: String, required: Bool) -> Bool? {
        typed(v, path, required: required, "a boolean", \.boolValue)
    }

    /// The value `extract` finds in `v`: `required` when absent or null, `type` when it finds none.
    private mutating func typed<T>(
        _ v: JSONValue?, _ path: String, required: Bool, _ expected: String,
        _ extract: (JSONValue) -> T?
    ) -> T? {
        switch v {
        case nil:
            if required { add(path, .required, "is required") }
            return nil
        case .null?:
            if required { add(path, .required, "is required, got null") }
            return nil
        case let value?:
            if let t = extract(value) { return t }
            add(path, .type, "expected \(expected), got \(value.typeDescription)")
            return nil
        }
    }

    /// The object in `v` (nil for absent/null, or after reporting `type`).
    public mutating func object(_ v: JSONValue?, _ path: String) -> JSONObject? {
        switch v {
        case .object(let o)?: return o
        case nil, .null?: return nil
        case let other?:
            add(path, .type, "expected an object, got \(other.typeDescription)")
            return nil
        }
    }

    /// The enum case named by the string in `v`; reports `required`, `type` or `enum` otherwise.
    public mutating func enumValue<E: RawRepresentable & CaseIterable>(_ v: JSONValue?, _ path: String, required: Bool)
        -> E?
    where E.RawValue == String {
        guard let s = string(v, path, required: required) else { return nil }
        if let e = E(rawValue: s) { return e }
        let allowed = E.allCases.map(\.rawValue).joined(separator: ", ")
        add(path, .enumeration, "expected one of \(allowed); got \(JSON.quoted(s))")
        return nil
    }

    /// Checks `min...max` Characters; reports `length` and returns false when outside.
    public mutating func length(_ s: String, _ path: String, min: Int, max: Int) -> Bool {
        let bytes = s.utf8.count
        // Characters <= bytes, and a non-empty string has >= 1 Character: skip counting when possible.
        if bytes <= max && min <= 1 && (min == 0 || bytes > 0) { return true }
        let n = s.count
        if n >= min && n <= max { return true }
        if min == 0 {
            add(path, .length, "must be at most \(max) characters, got \(n)")
        } else {
            add(path, .length, "must be \(min)-\(max) characters, got \(n)")
        }
        return false
    }

    public mutating func unknownFields(_ keys: [String], in parent: String, allowed: String) {
        for k in keys { add("\(parent).\(k)", .unknownField, "unknown field (allowed: \(allowed))") }
    }
}
