import Foundation

/// Reads an intake ticket (contract v1) straight from its bytes, for tickets written the plain way.
///
/// It builds no JSON values: each member is read into its field as the bytes go by, every string is
/// checked as strict UTF-8 on the way, and each field is checked as `TicketContract.validate` checks it,
/// mostly with the contract's own functions on the same strings (lengths in Characters, text not only
/// whitespace, enum names, phone digits, credit codes, category paths, RFC 3339 times).
///
/// Whenever the bytes hold something it does not read (an escape in a string, a key that is not a
/// contract field, which `validate` would keep in `Ticket.extra`, a key outside ASCII) or something JSON
/// or the contract refuses (a repeated key, a value of another type, a byte that is not UTF-8, trailing
/// bytes, a field out of range), it gives up and returns nil; the caller then parses the JSON tree and
/// validates it, which decides and names the problems. So a ticket it returns is exactly the one
/// `JSON.parse` (with the same limits) and `TicketContract.validate` give, except that its `json` and
/// `extra` are empty: it is for callers that do not forward the ticket's JSON (the simulator, which
/// keeps neither). A ticket the contract accepts with warnings (a malformed optional field, left out) is
/// never read here either: any field out of range makes it give up, and the contract, which leaves the
/// field out and names it, decides. `TicketFastReaderTests` checks both ways, over every byte of damaged
/// tickets too.
public enum TicketFastReader {
    /// The ticket in `bytes` (one JSON object in UTF-8, as parsed with `limits`), with empty `json` and
    /// `extra`; nil to leave the bytes to `JSON.parse` and `TicketContract.validate`. `isKnownCategory`
    /// is called, as by `validate`, only for a well-formed category.
    public static func read(
        _ bytes: UnsafeRawBufferPointer, limits: JSONLimits = .init(), isKnownCategory: (String) -> Bool
    ) -> Ticket? {
        // Depth 2 is the most a ticket read here uses (the root, and a region, caller, enterprise or
        // attachments inside it).
        guard bytes.count <= limits.maxBytes, limits.maxDepth >= 2 else { return nil }
        return bytes.withMemoryRebound(to: UInt8.self) { buf in
            var reader = TicketBytes(buf: buf)
            return try? reader.ticket(isKnownCategory: isKnownCategory)
        }
    }
}

/// The bytes are not read here: the JSON tree and the contract decide.
private struct NotRead: Error {}

/// The top-level fields of the contract (`TicketContract.fields`).
private enum Field: Int {
    case id, receivedAt, channel, kind, text, category, urgency, enterprise, caller, region, address, title, attachments

    var bit: UInt16 { 1 << UInt16(rawValue) }

    /// The field named by the key's bytes; nil for any other key.
    static func named(_ key: UnsafeBufferPointer<UInt8>) -> Field? {
        guard let first = key.first else { return nil }
        let candidate: (Field, StaticString)? =
            switch (key.count, first) {
            case (2, UInt8(ascii: "i")): (.id, "id")
            case (4, UInt8(ascii: "k")): (.kind, "kind")
            case (4, UInt8(ascii: "t")): (.text, "text")
            case (5, UInt8(ascii: "t")): (.title, "title")
            case (6, UInt8(ascii: "c")): (.caller, "caller")
            case (6, UInt8(ascii: "r")): (.region, "region")
            case (7, UInt8(ascii: "c")): (.channel, "channel")
            case (7, UInt8(ascii: "u")): (.urgency, "urgency")
            case (7, UInt8(ascii: "a")): (.address, "address")
            case (8, UInt8(ascii: "c")): (.category, "category")
            case (10, UInt8(ascii: "e")): (.enterprise, "enterprise")
            case (11, UInt8(ascii: "r")): (.receivedAt, "received_at")
            case (11, UInt8(ascii: "a")): (.attachments, "attachments")
            default: nil
            }
        guard let (field, name) = candidate, key.equals(name) else { return nil }
        return field
    }
}

/// The reading of one ticket's bytes.
private struct TicketBytes {
    let buf: UnsafeBufferPointer<UInt8>
    var i = 0

    init(buf: UnsafeBufferPointer<UInt8>) { self.buf = buf }

    // MARK: The ticket

    mutating func ticket(isKnownCategory: (String) -> Bool) throws(NotRead) -> Ticket {
        var id: String?, received: (date: Date, offsetSeconds: Int)?, channel: Channel?, kind: TicketKind?, text: String?
        var category: String?, urgency: Urgency?, enterprise: Enterprise?, caller: Caller?, region: RegionRef?
        var address: String?, title: String?, attachments: [String] = []
        var seen: UInt16 = 0
        try expect(UInt8(ascii: "{"))
        repeat {
            guard let field = Field.named(bytes(try key())), seen & field.bit == 0 else { throw NotRead() }
            seen |= field.bit
            switch field {
            case .id:
                let r = try string()
                guard r.count >= 1, r.count <= 64, bytes(r).allSatisfy(isIDByte) else { throw NotRead() }
                id = makeString(r)
            case .receivedAt:
                guard let t = RFC3339.parse(bytes: bytes(try string())) else { throw NotRead() }
                received = t
            case .channel:
                channel = try choice(string(), channels)
            case .kind:
                kind = try choice(string(), kinds)
            case .text:
                let r = try string()
                let s = makeString(r)
                guard fits(s, r, min: 1, max: 10_000), notBlank(s, r) else { throw NotRead() }
                text = s
            case .category:
                if let r = try optionalString() {
                    let s = makeString(r)
                    guard TicketContract.isCategoryPath(s), isKnownCategory(s) else { throw NotRead() }
                    category = s
                }
            case .urgency:
                if let r = try optionalString() { urgency = try choice(r, urgencies) }
            case .enterprise:
                enterprise = try readEnterprise()
            case .caller:
                caller = try readCaller()
            case .region:
                region = try readRegion()
            case .address:
                address = try optionalText(min: 0, max: 500)
            case .title:
                title = try optionalText(min: 0, max: 200)
            case .attachments:
                attachments = try readAttachments()
            }
        } while take(UInt8(ascii: ","))
        try expect(UInt8(ascii: "}"))
        skipSpace()
        guard i == buf.count, let id, let received, let channel, let kind, let text else { throw NotRead() }
        return Ticket(
            id: id, receivedAt: received.date, receivedAtOffsetSeconds: received.offsetSeconds, channel: channel, kind: kind,
            text: text, category: category, urgency: urgency, enterprise: enterprise, caller: caller, region: region,
            address: address, title: title, attachments: attachments)
    }

    /// `enterprise`: null, or an object with at least one of name (1-200 characters) and credit_code.
    mutating func readEnterprise() throws(NotRead) -> Enterprise? {
        if null() { return nil }
        var name: String?, code: String?
        var seen: UInt8 = 0
        try expect(UInt8(ascii: "{"))
        repeat {
            let k = bytes(try key())
            if k.equals("name") {
                try once(&seen, 1)
                name = try optionalText(min: 1, max: 200)
            } else if k.equals("credit_code") {
                try once(&seen, 2)
                if let r = try optionalString() {
                    let s = makeString(r)
                    guard TicketContract.isCreditCode(s) else { throw NotRead() }
                    code = s
                }
            } else {
                throw NotRead()
            }
        } while take(UInt8(ascii: ","))
        try expect(UInt8(ascii: "}"))
        guard name != nil || code != nil else { throw NotRead() }
        return Enterprise(name: name, creditCode: code)
    }

    /// `caller`: null, or an object of name (0-100 characters) and phone (3-20 digits with an optional
    /// leading "+", spaces and hyphens); nil when both are absent or null.
    mutating func readCaller() throws(NotRead) -> Caller? {
        if null() { return nil }
        try expect(UInt8(ascii: "{"))
        if take(UInt8(ascii: "}")) { return nil }
        var name: String?, phone: String?
        var seen: UInt8 = 0
        repeat {
            let k = bytes(try key())
            if k.equals("name") {
                try once(&seen, 1)
                name = try optionalText(min: 0, max: 100)
            } else if k.equals("phone") {
                try once(&seen, 2)
                if let r = try optionalString() {
                    let s = makeString(r)
                    guard let n = TicketContract.phoneDigitCount(s), n >= 3, n <= 20 else { throw NotRead() }
                    phone = s
                }
            } else {
                throw NotRead()
            }
        } while take(UInt8(ascii: ","))
        try expect(UInt8(ascii: "}"))
        return name != nil || phone != nil ? Caller(name: name, phone: phone) : nil
    }

    /// `region`: null, or an object with at least one of district, town, village (1-100 characters
    /// each) and code (6-12 digits).
    mutating func readRegion() throws(NotRead) -> RegionRef? {
        if null() { return nil }
        var region = RegionRef()
        var seen: UInt8 = 0
        try expect(UInt8(ascii: "{"))
        repeat {
            let k = bytes(try key())
            if k.equals("district") {
                try once(&seen, 1)
                region.district = try optionalText(min: 1, max: 100)
            } else if k.equals("town") {
                try once(&seen, 2)
                region.town = try optionalText(min: 1, max: 100)
            } else if k.equals("village") {
                try once(&seen, 4)
                region.village = try optionalText(min: 1, max: 100)
            } else if k.equals("code") {
                try once(&seen, 8)
                if let r = try optionalString() {
                    guard r.count >= 6, r.count <= 12, bytes(r).allSatisfy({ $0 >= 0x30 && $0 <= 0x39 }) else { throw NotRead() }
                    region.code = makeString(r)
                }
            } else {
                throw NotRead()
            }
        } while take(UInt8(ascii: ","))
        try expect(UInt8(ascii: "}"))
        guard region.district != nil || region.town != nil || region.village != nil || region.code != nil else { throw NotRead() }
        return region
    }

    /// `attachments`: null (none), or an array of at most 50 strings of 1-2048 characters.
    mutating func readAttachments() throws(NotRead) -> [String] {
        if null() { return [] }
        try expect(UInt8(ascii: "["))
        if take(UInt8(ascii: "]")) { return [] }
        var out: [String] = []
        repeat {
            guard out.count < 50 else { throw NotRead() }
            let r = try string()
            let s = makeString(r)
            guard fits(s, r, min: 1, max: 2048) else { throw NotRead() }
            out.append(s)
        } while take(UInt8(ascii: ","))
        try expect(UInt8(ascii: "]"))
        return out
    }

    // MARK: Values

    /// A string of `min...max` Characters, or nil for null.
    mutating func optionalText(min: Int, max: Int) throws(NotRead) -> String? {
        guard let r = try optionalString() else { return nil }
        let s = makeString(r)
        guard fits(s, r, min: min, max: max) else { throw NotRead() }
        return s
    }

    /// `ContractIssues.length`: `s` (the bytes `r`) has `min...max` Characters (`min` is 0 or 1).
    func fits(_ s: String, _ r: Range<Int>, min: Int, max: Int) -> Bool {
        // Characters <= bytes, and a non-empty string has at least one Character: count only when needed.
        if r.count <= max && min <= 1 && (min == 0 || r.count > 0) { return true }
        let n = s.count
        return n >= min && n <= max
    }

    /// `s` (the bytes `r`) has a scalar that is not whitespace, as `validate` requires of the text.
    func notBlank(_ s: String, _ r: Range<Int>) -> Bool {
        // Decided by the first byte when it starts such a scalar: printable ASCII other than the space,
        // or the lead byte of U+4000-U+9FFF (CJK ideographs; no whitespace there). Else the full test.
        if let first = bytes(r).first, (first > 0x20 && first < 0x80) || (first >= 0xE4 && first <= 0xE9) { return true }
        return s.unicodeScalars.contains(where: { !$0.properties.isWhitespace })
    }

    /// The enumeration case whose name is exactly the bytes `r`. Names are ASCII, and ASCII strings are
    /// equal exactly when their bytes are, so this is `init(rawValue:)` for ASCII text; other text gives up.
    func choice<E>(_ r: Range<Int>, _ names: WireNames<E>) throws(NotRead) -> E {
        guard let e = names.named(bytes(r)) else { throw NotRead() }
        return e
    }

    func bytes(_ r: Range<Int>) -> UnsafeBufferPointer<UInt8> { UnsafeBufferPointer(rebasing: buf[r]) }

    /// The text of already checked bytes, made as the JSON parser makes it.
    func makeString(_ r: Range<Int>) -> String { String(decoding: bytes(r), as: UTF8.self) }

    // MARK: Tokens

    @inline(__always)
    mutating func skipSpace() {
        while i < buf.count {
            let c = buf[i]
            guard c == 0x20 || c == 0x0A || c == 0x0D || c == 0x09 else { return }
            i += 1
        }
    }

    /// Takes `c` (after whitespace) when it comes next.
    @inline(__always)
    mutating func take(_ c: UInt8) -> Bool {
        skipSpace()
        guard i < buf.count, buf[i] == c else { return false }
        i += 1
        return true
    }

    @inline(__always)
    mutating func expect(_ c: UInt8) throws(NotRead) {
        guard take(c) else { throw NotRead() }
    }

    /// Takes `null` (after whitespace) when it comes next.
    mutating func null() -> Bool {
        skipSpace()
        guard i + 4 <= buf.count, buf[i] == 0x6E, buf[i + 1] == 0x75, buf[i + 2] == 0x6C, buf[i + 3] == 0x6C else { return false }
        i += 4
        return true
    }

    /// Marks a member of a nested object as seen; a second time is a repeated key.
    func once(_ seen: inout UInt8, _ bit: UInt8) throws(NotRead) {
        guard seen & bit == 0 else { throw NotRead() }
        seen |= bit
    }

    /// A key of printable ASCII without escapes, and its colon: the bytes between the quotes.
    mutating func key() throws(NotRead) -> Range<Int> {
        try expect(0x22)
        let start = i
        while i < buf.count {
            let c = buf[i]
            if c == 0x22 { break }
            guard c >= 0x20, c < 0x80, c != 0x5C else { throw NotRead() }
            i += 1
        }
        guard i < buf.count else { throw NotRead() }
        let r = start..<i
        i += 1
        try expect(UInt8(ascii: ":"))
        return r
    }

    /// A string or null: the string's bytes, nil for null.
    mutating func optionalString() throws(NotRead) -> Range<Int>? {
        if null() { return nil }
        return try string()
    }

    /// A string without escapes or control characters, in strict UTF-8: the bytes between the quotes.
    mutating func string() throws(NotRead) -> Range<Int> {
        try expect(0x22)
        guard let close = JSON.plainStringClose(buf, from: i, end: buf.count) else { throw NotRead() }
        defer { i = close + 1 }
        return i..<close
    }
}

/// The wire names of an enumeration's cases, matched against bytes without making strings (the byte
/// readers of tickets and commands).
public struct WireNames<E: RawRepresentable & CaseIterable & Sendable>: Sendable where E.RawValue == String {
    /// The cases, in `allCases` order.
    public let cases: [E]
    private let names: [[UInt8]]

    public init() {
        cases = Array(E.allCases)
        names = cases.map { Array($0.rawValue.utf8) }
    }

    /// The index in `cases` of the case named by exactly these bytes.
    public func index(_ key: UnsafeBufferPointer<UInt8>) -> Int? {
        guard let k = key.baseAddress else { return nil }
        for (n, name) in names.enumerated() where name.count == key.count {
            if name.withUnsafeBufferPointer({ memcmp($0.baseAddress!, k, key.count) == 0 }) { return n }
        }
        return nil
    }

    /// The case named by exactly these bytes.
    public func named(_ key: UnsafeBufferPointer<UInt8>) -> E? { index(key).map { cases[$0] } }
}

private let channels = WireNames<Channel>()
private let kinds = WireNames<TicketKind>()
private let urgencies = WireNames<Urgency>()

extension UnsafeBufferPointer<UInt8> {
    /// The bytes are exactly `name`'s.
    fileprivate func equals(_ name: StaticString) -> Bool {
        count == name.utf8CodeUnitCount && (count == 0 || memcmp(baseAddress!, name.utf8Start, count) == 0)
    }
}

@inline(__always)
private func isIDByte(_ c: UInt8) -> Bool {
    (c >= 0x30 && c <= 0x39) || (c >= 0x41 && c <= 0x5A) || (c >= 0x61 && c <= 0x7A)
        || c == 0x2E || c == 0x5F || c == 0x3A || c == 0x2D
}
