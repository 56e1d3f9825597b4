import Foundation
import PagodaJSON
import PagodaLifecycle
import PagodaRules
import PagodaStore

/// Who may see and do what.
public enum ConsoleAccess {
    /// Whether `user` may see the ticket: the centre and supervisors see every ticket; a worker sees the
    /// tickets its unit holds, co-handles (after an escalation), returned, or held before (any timeline
    /// event naming its unit as holder or as the unit a ticket came from); an administrator none.
    public static func canSee(ticketID: String, user: ConsoleUser, store: any ConsoleStore) async throws -> Bool {
        if user.role.seesAll { return true }
        guard user.role == .worker, let unit = user.unit else { return false }
        return try await store.ticketConcernsUnit(ticketID, unit: unit)
    }

    /// Whether the user may act for a unit on tickets (workers), make the centre's decisions (centre), or
    /// nothing (supervisor, admin).
    public static func mayCommand(_ user: ConsoleUser, _ type: CommandType) -> Bool {
        switch user.role {
        case .worker: workerCommands.contains(type)
        case .centre: true
        case .supervisor, .admin: false
        }
    }

    /// The commands of the unit holding a ticket.
    public static let workerCommands: Set<CommandType> = [
        .sign, .contact, .progress, .requestReturn, .requestExtension, .reply,
    ]

    /// A caller's phone as this user may see it: whole for the centre, masked (`PhoneMask`) for everyone else.
    public static func phone(_ phone: String, for user: ConsoleUser) -> String {
        user.role == .centre ? phone : PhoneMask.mask(phone)
    }

    /// The ticket as received, for this user: unless the user is the centre, every `phone` masked
    /// (`PhoneMask.mask`, a number too) and the mobile numbers written anywhere else (title, text, address,
    /// a caller given as one string, extra fields, keys; `PhoneMask.maskNumbers`), a number becoming a
    /// string.
    /// A degraded ticket is dispatched with what it holds, whatever the type.
    public static func ticketJSON(_ body: [UInt8], for user: ConsoleUser) -> JSONValue? {
        guard let ticket = try? JSON.parse(body), case .object = ticket else { return nil }
        return user.role == .centre ? ticket : masked(ticket)
    }

    /// A timeline event's payload for this user: unless the user is the centre, without the ticket it may
    /// carry and with the numbers of its free text (a callback's note, a reply's text) masked as in
    /// `ticketJSON`.
    public static func eventJSON(_ payload: JSONValue, for user: ConsoleUser?) -> JSONValue {
        guard user?.role != .centre, case .object(var o) = payload else { return payload }
        o["ticket"] = nil
        return masked(.object(o))
    }

    private static func masked(_ value: JSONValue, phone: Bool = false) -> JSONValue {
        switch value {
        case .string(let s) where phone: return .string(PhoneMask.mask(s))
        case .number(let n) where phone: return .string(PhoneMask.mask(n))
        case .string(let s): return .string(PhoneMask.maskNumbers(in: Array(s.utf8)))
        case .number(let n):
            // A number holding a mobile number becomes the masked string; any other stays a number.
            let m = PhoneMask.maskNumbers(in: Array(n.utf8))
            return m == n ? value : .string(m)
        case .array(let items): return .array(items.map { masked($0, phone: phone) })
        case .object(let o):
            return .object(
                JSONObject(
                    o.map { key, v in
                        (PhoneMask.maskNumbers(in: Array(key.utf8)), masked(v, phone: phone || key == "phone"))
                    }))
        case .bool, .null: return value
        }
    }

    /// A list row's summary (the title, or the text's first 80 characters) as every list shows it: mobile
    /// numbers masked, and a run of digits at a cut end (perhaps a number cut short) masked but for its
    /// first three. The ticket page shows the centre what was written.
    public static func summary(_ summary: String) -> String {
        let masked = PhoneMask.maskNumbers(in: Array(summary.utf8))
        guard summary.unicodeScalars.count >= 80 else { return masked }
        var scalars = Array(masked.unicodeScalars)
        var start = scalars.count
        while start > 0, ("0"..."9").contains(scalars[start - 1]) { start -= 1 }
        guard scalars.count - start >= 4 else { return masked }
        for i in (start + 3)..<scalars.count { scalars[i] = "*" }
        var out = String.UnicodeScalarView()
        out.append(contentsOf: scalars)
        return String(out)
    }

    /// Where this user's inbox search looks besides ticket ids: the whole ticket for the centre, which
    /// reads callers' details; for anyone else the ticket without its caller, or ids alone when the term
    /// has a digit (digits in a ticket's text may be a caller's number, which only the centre reads).
    public static func searchScope(_ term: String?, for user: ConsoleUser) -> ConsoleSearchScope {
        if user.role == .centre { return .wholeTicket }
        return term?.utf8.contains(where: { $0 >= 0x30 && $0 <= 0x39 }) == true ? .idOnly : .withoutCaller
    }
}
