import Foundation

extension JSON {
    /// Serializes `value` as compact JSON UTF-8 (no whitespace), object keys in stored order.
    ///
    /// Strings escape `"` and `\` as `\"` and `\\`, U+0008/0009/000A/000C/000D as `\b \t \n \f \r`,
    /// other C0 controls as `\u00XX`; everything else, including `/`, DEL and all non-ASCII, is
    /// emitted as raw UTF-8. Numbers are emitted as their stored lexeme, unchanged. Never fails.
    public static func serialize(_ value: JSONValue) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(256)
        serialize(value, into: &out)
        return out
    }

    /// Appends the compact serialization of `value` to `out` (same output as `serialize(_:)`).
    public static func serialize(_ value: JSONValue, into out: inout [UInt8]) {
        switch value {
        case .null:
            out.append(contentsOf: [0x6E, 0x75, 0x6C, 0x6C])
        case .bool(let b):
            if b {
                out.append(contentsOf: [0x74, 0x72, 0x75, 0x65])
            } else {
                out.append(contentsOf: [0x66, 0x61, 0x6C, 0x73, 0x65])
            }
        case .number(let n):
            out.append(contentsOf: n.utf8)
        case .string(let s):
            serializeString(s, into: &out)
        case .array(let a):
            out.append(0x5B)
            var first = true
            for v in a {
                if !first { out.append(0x2C) }
                first = false
                serialize(v, into: &out)
            }
            out.append(0x5D)
        case .object(let o):
            out.append(0x7B)
            for i in o._members.indices {
                if i > 0 { out.append(0x2C) }
                serializeString(o._members[i].0, into: &out)
                out.append(0x3A)
                serialize(o._members[i].1, into: &out)
            }
            out.append(0x7D)
        }
    }

    /// The compact serialization of `value` as a `String` (same bytes as `serialize(_:)`).
    public static func serializeToString(_ value: JSONValue) -> String {
        String(decoding: serialize(value), as: UTF8.self)
    }

    /// Appends `s` as a quoted, escaped JSON string to `out`.
    public static func serializeString(_ s: String, into out: inout [UInt8]) {
        // Read in place when the text is stored contiguously (always, for native strings): no copy.
        if s.utf8.withContiguousStorageIfAvailable({ serializeString(utf8: $0, into: &out) }) != nil { return }
        var s = s
        s.withUTF8 { serializeString(utf8: $0, into: &out) }
    }

    private static func serializeString(utf8 u: UnsafeBufferPointer<UInt8>, into out: inout [UInt8]) {
        out.append(0x22)
        var run = 0
        // The text up to the first byte that needs escaping is taken as it is.
        let plain = JSON.plainStringEnd(u, from: 0, end: u.count)
        for i in plain..<u.count {
            let c = u[i]
            if c >= 0x20 && c != 0x22 && c != 0x5C { continue }
            if run < i { out.append(contentsOf: UnsafeBufferPointer(rebasing: u[run..<i])) }
            run = i + 1
            out.append(0x5C)
            switch c {
            case 0x22: out.append(0x22)
            case 0x5C: out.append(0x5C)
            case 0x08: out.append(0x62)
            case 0x09: out.append(0x74)
            case 0x0A: out.append(0x6E)
            case 0x0C: out.append(0x66)
            case 0x0D: out.append(0x72)
            default:
                let hex: [UInt8] = Array("0123456789abcdef".utf8)
                out.append(contentsOf: [0x75, 0x30, 0x30, hex[Int(c >> 4)], hex[Int(c & 0xF)]])
            }
        }
        if run < u.count { out.append(contentsOf: UnsafeBufferPointer(rebasing: u[run..<u.count])) }
        out.append(0x22)
    }

    /// `s` as a JSON string literal for messages, cut to `limit` characters with "…" when longer.
    public static func quoted(_ s: String, limit: Int = 64) -> String {
        var t = s
        if s.utf8.count > limit, s.count > limit { t = String(s.prefix(limit)) + "…" }
        var out: [UInt8] = []
        serializeString(t, into: &out)
        return String(decoding: out, as: UTF8.self)
    }
}
