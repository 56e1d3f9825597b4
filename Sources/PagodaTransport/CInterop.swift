import CAMQP
import Foundation

/// Owns malloc'ed memory handed to rabbitmq-c for one call (strings, tables, properties).
/// Thread-confined: used only by the connection thread that created it.
final class CArena {
    private var allocations: [UnsafeMutableRawPointer] = []

    deinit {
        for p in allocations { free(p) }
    }

    func raw(_ size: Int) -> UnsafeMutableRawPointer {
        let p = malloc(max(size, 1))!
        allocations.append(p)
        return p
    }

    func bytes<C: Collection>(_ data: C) -> amqp_bytes_t where C.Element == UInt8 {
        let n = data.count
        if n == 0 { return amqp_bytes_t(len: 0, bytes: nil) }
        let p = raw(n)
        let buf = UnsafeMutableRawBufferPointer(start: p, count: n)
        buf.copyBytes(from: data)
        return amqp_bytes_t(len: n, bytes: p)
    }

    func bytes(_ s: String) -> amqp_bytes_t { bytes(Array(s.utf8)) }

    func cString(_ s: String) -> UnsafePointer<CChar> {
        let utf8 = Array(s.utf8)
        let p = raw(utf8.count + 1).bindMemory(to: CChar.self, capacity: utf8.count + 1)
        for (i, b) in utf8.enumerated() { p[i] = CChar(bitPattern: b) }
        p[utf8.count] = 0
        return UnsafePointer(p)
    }

    func table(_ dict: [String: HeaderValue]) -> amqp_table_t {
        if dict.isEmpty { return amqp_table_t(num_entries: 0, entries: nil) }
        let n = dict.count
        let entries = raw(MemoryLayout<amqp_table_entry_t>.stride * n).bindMemory(
            to: amqp_table_entry_t.self, capacity: n)
        for (i, (k, v)) in dict.sorted(by: { $0.key < $1.key }).enumerated() {
            (entries + i).initialize(to: amqp_table_entry_t(key: bytes(k), value: field(v)))
        }
        return amqp_table_t(num_entries: Int32(n), entries: entries)
    }

    func field(_ v: HeaderValue) -> amqp_field_value_t {
        var f = amqp_field_value_t()
        switch v {
        case .string(let s):
            f.kind = FieldKind.utf8
            f.value.bytes = bytes(s)
        case .int(let i):
            f.kind = FieldKind.i64
            f.value.i64 = i
        case .bool(let b):
            f.kind = FieldKind.boolean
            f.value.boolean = b ? 1 : 0
        case .double(let d):
            f.kind = FieldKind.f64
            f.value.f64 = d
        case .bytes(let b):
            f.kind = FieldKind.bytes
            f.value.bytes = bytes(b)
        case .table(let t):
            f.kind = FieldKind.table
            f.value.table = table(t)
        case .array(let a):
            f.kind = FieldKind.array
            if a.isEmpty {
                f.value.array = amqp_array_t(num_entries: 0, entries: nil)
            } else {
                let p = raw(MemoryLayout<amqp_field_value_t>.stride * a.count).bindMemory(
                    to: amqp_field_value_t.self, capacity: a.count)
                for (i, e) in a.enumerated() { (p + i).initialize(to: field(e)) }
                f.value.array = amqp_array_t(num_entries: Int32(a.count), entries: p)
            }
        case .null:
            f.kind = FieldKind.void
        }
        return f
    }

    func properties(_ p: MessageProperties) -> amqp_basic_properties_t {
        var props = amqp_basic_properties_t()
        var flags: UInt32 = 0
        if let v = p.contentType {
            flags |= PropertyFlag.contentType
            props.content_type = bytes(v)
        }
        if let v = p.contentEncoding {
            flags |= PropertyFlag.contentEncoding
            props.content_encoding = bytes(v)
        }
        if !p.headers.isEmpty {
            flags |= PropertyFlag.headers
            props.headers = table(p.headers)
        }
        if let v = p.deliveryMode {
            flags |= PropertyFlag.deliveryMode
            props.delivery_mode = v
        }
        if let v = p.priority {
            flags |= PropertyFlag.priority
            props.priority = v
        }
        if let v = p.correlationId {
            flags |= PropertyFlag.correlationId
            props.correlation_id = bytes(v)
        }
        if let v = p.replyTo {
            flags |= PropertyFlag.replyTo
            props.reply_to = bytes(v)
        }
        if let v = p.expiration {
            flags |= PropertyFlag.expiration
            props.expiration = bytes(v)
        }
        if let v = p.messageId {
            flags |= PropertyFlag.messageId
            props.message_id = bytes(v)
        }
        if let v = p.timestamp {
            flags |= PropertyFlag.timestamp
            props.timestamp = UInt64(max(0, v.timeIntervalSince1970.rounded(.down)))
        }
        if let v = p.type {
            flags |= PropertyFlag.type
            props.type = bytes(v)
        }
        if let v = p.userId {
            flags |= PropertyFlag.userId
            props.user_id = bytes(v)
        }
        if let v = p.appId {
            flags |= PropertyFlag.appId
            props.app_id = bytes(v)
        }
        props._flags = flags
        return props
    }
}

enum FieldKind {
    static let boolean = UInt8(ascii: "t")
    static let i8 = UInt8(ascii: "b")
    static let u8 = UInt8(ascii: "B")
    static let i16 = UInt8(ascii: "s")
    static let u16 = UInt8(ascii: "u")
    static let i32 = UInt8(ascii: "I")
    static let u32 = UInt8(ascii: "i")
    static let i64 = UInt8(ascii: "l")
    static let u64 = UInt8(ascii: "L")
    static let f32 = UInt8(ascii: "f")
    static let f64 = UInt8(ascii: "d")
    static let decimal = UInt8(ascii: "D")
    static let utf8 = UInt8(ascii: "S")
    static let array = UInt8(ascii: "A")
    static let timestamp = UInt8(ascii: "T")
    static let table = UInt8(ascii: "F")
    static let void = UInt8(ascii: "V")
    static let bytes = UInt8(ascii: "x")
}

enum PropertyFlag {
    static let contentType: UInt32 = 1 << 15
    static let contentEncoding: UInt32 = 1 << 14
    static let headers: UInt32 = 1 << 13
    static let deliveryMode: UInt32 = 1 << 12
    static let priority: UInt32 = 1 << 11
    static let correlationId: UInt32 = 1 << 10
    static let replyTo: UInt32 = 1 << 9
    static let expiration: UInt32 = 1 << 8
    static let messageId: UInt32 = 1 << 7
    static let timestamp: UInt32 = 1 << 6
    static let type: UInt32 = 1 << 5
    static let userId: UInt32 = 1 << 4
    static let appId: UInt32 = 1 << 3
}

enum Decode {
    static func bytes(_ b: amqp_bytes_t) -> [UInt8] {
        guard b.len > 0, let p = b.bytes else { return [] }
        return Array(UnsafeRawBufferPointer(start: p, count: b.len))
    }

    /// A short string (a property, a header's key or value) as text. Invalid UTF-8 and NUL become U+FFFD:
    /// PostgreSQL's text cannot hold a NUL, so a message id or reply-to carrying one could never be stored,
    /// and its delivery would come back for ever.
    static func string(_ b: amqp_bytes_t) -> String {
        guard b.len > 0, let p = b.bytes else { return "" }
        let raw = UnsafeRawBufferPointer(start: p, count: b.len)
        let text = String(decoding: raw, as: UTF8.self)
        return raw.contains(0) ? text.replacingOccurrences(of: "\u{0}", with: "\u{FFFD}") : text
    }

    static func table(_ t: amqp_table_t) -> [String: HeaderValue] {
        guard t.num_entries > 0, let entries = t.entries else { return [:] }
        var out: [String: HeaderValue] = [:]
        for i in 0..<Int(t.num_entries) {
            let e = entries[i]
            out[string(e.key)] = field(e.value)
        }
        return out
    }

    static func field(_ f: amqp_field_value_t) -> HeaderValue {
        switch f.kind {
        case FieldKind.boolean: return .bool(f.value.boolean != 0)
        case FieldKind.i8: return .int(Int64(f.value.i8))
        case FieldKind.u8: return .int(Int64(f.value.u8))
        case FieldKind.i16: return .int(Int64(f.value.i16))
        case FieldKind.u16: return .int(Int64(f.value.u16))
        case FieldKind.i32: return .int(Int64(f.value.i32))
        case FieldKind.u32: return .int(Int64(f.value.u32))
        case FieldKind.i64: return .int(f.value.i64)
        case FieldKind.u64, FieldKind.timestamp: return .int(Int64(truncatingIfNeeded: f.value.u64))
        case FieldKind.f32: return .double(Double(f.value.f32))
        case FieldKind.f64: return .double(f.value.f64)
        case FieldKind.decimal:
            let d = f.value.decimal
            return .double(Double(d.value) / pow(10, Double(d.decimals)))
        case FieldKind.utf8: return .string(string(f.value.bytes))
        case FieldKind.bytes: return .bytes(bytes(f.value.bytes))
        case FieldKind.table: return .table(table(f.value.table))
        case FieldKind.array:
            let a = f.value.array
            guard a.num_entries > 0, let p = a.entries else { return .array([]) }
            return .array((0..<Int(a.num_entries)).map { field(p[$0]) })
        default: return .null
        }
    }

    static func properties(_ p: amqp_basic_properties_t) -> MessageProperties {
        let f = p._flags
        var out = MessageProperties()
        if f & PropertyFlag.contentType != 0 { out.contentType = string(p.content_type) }
        if f & PropertyFlag.contentEncoding != 0 { out.contentEncoding = string(p.content_encoding) }
        if f & PropertyFlag.headers != 0 { out.headers = table(p.headers) }
        if f & PropertyFlag.deliveryMode != 0 { out.deliveryMode = p.delivery_mode }
        if f & PropertyFlag.priority != 0 { out.priority = p.priority }
        if f & PropertyFlag.correlationId != 0 { out.correlationId = string(p.correlation_id) }
        if f & PropertyFlag.replyTo != 0 { out.replyTo = string(p.reply_to) }
        if f & PropertyFlag.expiration != 0 { out.expiration = string(p.expiration) }
        if f & PropertyFlag.messageId != 0 { out.messageId = string(p.message_id) }
        if f & PropertyFlag.timestamp != 0 { out.timestamp = Date(timeIntervalSince1970: TimeInterval(p.timestamp)) }
        if f & PropertyFlag.type != 0 { out.type = string(p.type) }
        if f & PropertyFlag.userId != 0 { out.userId = string(p.user_id) }
        if f & PropertyFlag.appId != 0 { out.appId = string(p.app_id) }
        return out
    }
}

func makeTimeval(_ d: Duration) -> timeval {
    let c = d.components
    let usec = c.attoseconds / 1_000_000_000_000
    return timeval(tv_sec: Int(c.seconds), tv_usec: Int(usec))
}
