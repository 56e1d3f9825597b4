import Foundation
import PagodaJSON
import PagodaRules

/// The keys under which a ticket is compared with earlier ones to find repeat complaints (重复件).
///
/// Two tickets repeat each other when they share a key: the same caller phone, or the same enterprise
/// (unified social credit code), about the same category. A ticket without a category has no keys (there
/// is no "same matter" to compare).
public enum RepeatKeys {
    /// Phones are compared on their last 11 digits, so "+86 138-0000-0000" and "13800000000" match.
    public static let phoneDigits = 11

    /// `phone:<digits, last 11>|<category>` for the caller's phone and `credit:<code>|<category>` for the
    /// enterprise credit code, in that order; empty when `category` is nil. A phone with no digits gives
    /// no key.
    public static func keys(for ticket: Ticket, category: String?) -> [String] {
        guard let category else { return [] }
        var keys: [String] = []
        if let phone = phoneKey(ticket.caller?.phone) { keys.append("phone:\(phone)|\(category)") }
        if let code = ticket.enterprise?.creditCode, !code.isEmpty { keys.append(creditPrefix + code + "|" + category) }
        return keys
    }

    static let creditPrefix = "credit:"

    /// The digits of `phone`, the last `phoneDigits` of them; nil when there are none.
    static func phoneKey(_ phone: String?) -> String? {
        guard let phone else { return nil }
        var count = 0
        for c in phone.utf8 where c >= 0x30 && c <= 0x39 { count += 1 }
        guard count > 0 else { return nil }
        var skip = max(count - phoneDigits, 0)
        return String(unsafeUninitializedCapacity: min(count, phoneDigits)) { out in
            var n = 0
            for c in phone.utf8 where c >= 0x30 && c <= 0x39 {
                if skip > 0 {
                    skip -= 1
                    continue
                }
                out[n] = c
                n += 1
            }
            return n
        }
    }
}

/// An in-memory index of recent tickets by repeat key (`RepeatKeys`), for the simulator and tests.
///
/// `check` finds the most recent earlier ticket sharing a key within `window` of the new ticket's
/// receipt, then records the new ticket under its keys. Memory stays bounded on long runs: entries older
/// than `window` before the latest receipt seen are evicted in insertion order, amortised O(1) per check.
/// Receipts may arrive slightly out of order; a ticket received *after* the one being checked is never
/// reported as the earlier one, and eviction then waits for the out-of-order entry to age (it only delays
/// freeing memory).
public struct RepeatIndex: Sendable {
    /// How far back a repeat is looked for (domain: 7 days, inclusive).
    public var window: TimeInterval

    struct Seen: Sendable {
        var at: TimeInterval
        var ticketID: String
    }

    /// The latest ticket per key.
    private var latest: [String: Seen] = [:]
    /// Keys in the order they were recorded, with the receipt time recorded, for eviction.
    private var order: [(key: String, at: TimeInterval)] = []
    private var head = 0
    /// The latest receipt seen: eviction is relative to it.
    private var horizon = -Double.infinity

    public init(window: TimeInterval = 7 * 86_400) {
        self.window = window
    }

    /// Makes room for `keys` keys, which otherwise grow (and are rehashed) step by step.
    public mutating func reserveCapacity(_ keys: Int) {
        latest.reserveCapacity(keys)
        order.reserveCapacity(keys)
    }

    /// Number of keys held (for tests and memory accounting).
    public var count: Int { latest.count }

    /// Finds the most recent earlier ticket with a key of `ticket` received within `window` before
    /// `receivedAt`, then records `ticketID` under those keys. `enterpriseRepeat` is true when an earlier
    /// ticket in the window shares the enterprise credit key, even when the latest match came through the
    /// phone. A ticket without keys (no category) is neither matched nor recorded.
    public mutating func check(ticket: Ticket, category: String?, receivedAt: Date, ticketID: String)
        -> (repeatOf: String?, enterpriseRepeat: Bool)
    {
        check(keys: RepeatKeys.keys(for: ticket, category: category), receivedAt: receivedAt, ticketID: ticketID)
    }

    /// `check(ticket:category:receivedAt:ticketID:)` with the ticket's `RepeatKeys` worked out beforehand.
    public mutating func check(keys: [String], receivedAt: Date, ticketID: String) -> (
        repeatOf: String?, enterpriseRepeat: Bool
    ) {
        guard !keys.isEmpty else { return (nil, false) }
        let t = receivedAt.timeIntervalSince1970
        var best: Seen?
        var credit = false
        // One look-up per key (recording the ticket returns what the key held): the keys differ, so
        // recording a key does not change what another finds.
        for key in keys {
            if let seen = latest.updateValue(Seen(at: t, ticketID: ticketID), forKey: key) {
                if seen.ticketID != ticketID, seen.at <= t, t - seen.at <= window {
                    let byCredit = key.hasPrefix(RepeatKeys.creditPrefix)
                    credit = credit || byCredit
                    if best == nil || best!.at < seen.at || (best!.at == seen.at && byCredit) {
                        best = seen
                    }
                }
                // Keep the latest receipt per key: an out-of-order older ticket does not hide a newer one.
                if seen.at > t {
                    latest[key] = seen
                    continue
                }
            }
            order.append((key, t))
        }
        if t > horizon { horizon = t }
        evict()
        return (best?.ticketID, credit)
    }

    /// Drops entries recorded more than `window` before the horizon.
    private mutating func evict() {
        let limit = horizon - window
        while head < order.count, order[head].at < limit {
            let (key, at) = order[head]
            if let seen = latest[key], seen.at == at { latest[key] = nil }
            head += 1
        }
        if head > 4096, head * 2 > order.count {
            order.removeFirst(head)
            head = 0
        }
    }
}
