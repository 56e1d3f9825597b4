import Foundation
import PagodaJSON
import PagodaLifecycle
import PagodaRules
import PagodaStore

/// Who may see and do what.
public enum ConsoleAccess {
    /// Whether `user` may see the ticket: everyone but a worker sees every ticket; a worker sees the
    /// tickets its unit holds, co-handles (after an escalation), returned, or held before (any timeline
    /// event naming its unit as holder or as the unit a ticket came from).
    public static func canSee(ticketID: String, user: ConsoleUser, store: any ConsoleStore) async throws -> Bool {
        if user.role.seesAll { return true }
        guard let unit = user.unit else { return false }
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

    /// The ticket as received, for this user: `caller.phone` masked unless the user is the centre.
    public static func ticketJSON(_ body: [UInt8], for user: ConsoleUser) -> JSONValue? {
        guard case .object(var o)? = try? JSON.parse(body) else { return nil }
        if user.role != .centre, case .object(var caller)? = o["caller"], let phone = caller["phone"]?.stringValue {
            caller.set("phone", .string(PhoneMask.mask(phone)))
            o.set("caller", .object(caller))
        }
        return .object(o)
    }
}
