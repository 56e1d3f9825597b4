import Foundation
import PagodaJSON
import PagodaRules

/// Writes lifecycle events as compact JSON: the body of the service's event messages and rows, and each
/// line of `pagoda simulate`'s output.
///
/// `write` gives the bytes of serializing `json(_:)`, written straight from the event's values (no JSON
/// object in between), the time text reused while consecutive events share their time. An event whose
/// fields (given as JSON) name a member of the envelope takes the general path, since such a field
/// replaces the member in `json`. Never fails.
public struct EventEncoder: Sendable {
    /// The UTC offset times are written with (the rules calendar's).
    public let offsetSeconds: Int
    /// Add each event's `queues` (the queue suffixes it is published to).
    public let verbose: Bool

    public init(offsetSeconds: Int, verbose: Bool) {
        self.offsetSeconds = offsetSeconds
        self.verbose = verbose
    }

    /// The event as a JSON object: `LifecycleEvent.json(offsetSeconds:)`, plus `queues` when verbose.
    public func json(_ event: LifecycleEvent) -> JSONObject {
        var o = event.json(offsetSeconds: offsetSeconds)
        if verbose { o.set("queues", .array(event.queues.map { .string($0) })) }
        return o
    }

    /// Appends the event's compact JSON (no newline) to `out`: the bytes of `JSON.serialize(.object(json(event)))`.
    public mutating func write(_ event: LifecycleEvent, into out: inout [UInt8]) {
        var e = event
        write(inPlace: &e, into: &out)
    }

    /// `write(_:into:)` reading the event in place (`inout`: a borrowed element of an array is copied to
    /// be passed, an inout one is not, and a copy costs a reference count per field).
    public mutating func write(inPlace e: inout LifecycleEvent, into out: inout [UInt8]) {
        if Self.namesEnvelopeMember(&e) {
            JSON.serialize(.object(json(e)), into: &out)
        } else {
            writeEnvelope(&e, into: &out)
        }
    }

    /// A field named like a member of the envelope replaces it in `json` (only fields given as JSON can be).
    static func namesEnvelopeMember(_ e: inout LifecycleEvent) -> Bool {
        guard case .fields(let fields) = e.payload else { return false }
        for (key, _) in fields where isReserved(key) { return true }
        return false
    }

    /// Whether `key` names a member of the event envelope (`event`, `event_id`, `at`, `ticket_id`, `unit`,
    /// `level`, `queues`): a field of that name replaces the member in `json`, so such an event takes the
    /// general path. Matched by length first, without hashing the key.
    static func isReserved(_ key: String) -> Bool {
        switch key.utf8.count {
        case 2: key == "at"
        case 4: key == "unit"
        case 5: key == "event" || key == "level"
        case 6: key == "queues"
        case 8: key == "event_id"
        case 9: key == "ticket_id"
        default: false
        }
    }

    private mutating func writeEnvelope(_ e: inout LifecycleEvent, into out: inout [UInt8]) {
        out.append(literal: Self.eventPrefix)
        out.append(utf8: e.type.rawValue)  // ASCII names: nothing to escape
        out.append(literal: Self.eventIDKey)
        if e.refused != nil {
            JSON.serializeString(e.id, into: &out)
            out.removeLast()
        } else {
            JSON.serializeString(e.ticketID, into: &out)
            out.removeLast()  // the closing quote: the id goes on
            out.append(0x23)
            out.append(decimal: e.version)
            out.append(0x2E)
            out.append(decimal: e.sequence)
        }
        out.append(literal: Self.atKey)
        if e.at != lastAt {
            lastAt = e.at
            lastAtText.removeAll(keepingCapacity: true)
            RFC3339.format(e.at, offsetSeconds: offsetSeconds, into: &lastAtText)
        }
        out.append(contentsOf: lastAtText)
        out.append(literal: Self.ticketIDKey)
        JSON.serializeString(e.ticketID, into: &out)
        out.append(literal: Self.unitKey)
        if let u = e.unit { JSON.serializeString(u, into: &out) } else { out.append(literal: Self.null) }
        out.append(literal: Self.levelKey)
        if let l = e.level { JSON.serializeString(l.name, into: &out) } else { out.append(literal: Self.null) }
        if !e.payload.write(into: &out), case .fields(let fields) = e.payload {
            for (k, v) in fields {
                out.append(0x2C)
                JSON.serializeString(k, into: &out)
                out.append(0x3A)
                JSON.serialize(v, into: &out)
            }
        }
        if verbose {
            out.append(literal: Self.queuesKey)
            for (i, q) in e.queues.enumerated() {
                if i > 0 { out.append(0x2C) }
                JSON.serializeString(q, into: &out)
            }
            out.append(0x5D)
        }
        out.append(0x7D)
    }

    private var lastAt: Date?
    private var lastAtText: [UInt8] = []

    static let eventPrefix: StaticString = #"{"event":""#
    static let eventIDKey: StaticString = #"","event_id":"#
    static let atKey: StaticString = #"","at":""#
    static let ticketIDKey: StaticString = #"","ticket_id":"#
    static let unitKey: StaticString = #","unit":"#
    static let levelKey: StaticString = #","level":"#
    static let queuesKey: StaticString = #","queues":["#
    static let null: StaticString = "null"
}
