import Foundation
import Hummingbird
import PagodaJSON
import PagodaLifecycle
import PagodaRules
import PagodaStore

/// The four kinds of people who use the console.
public enum ConsoleRole: String, Sendable, Hashable, CaseIterable, Codable {
    /// A department worker: its unit's tickets only.
    case worker
    /// The hotline centre (triage and supervision): sees everything, makes the centre's decisions.
    case centre
    /// Sees everything, changes nothing.
    case supervisor
    /// Manages users, sees the rules page.
    case admin

    /// The role's name in the interface.
    public var chinese: String {
        switch self {
        case .worker: "承办人员"
        case .centre: "热线中心"
        case .supervisor: "督查人员"
        case .admin: "系统管理员"
        }
    }

    /// Sees every ticket (the centre and supervisors; a worker sees its unit's, an administrator, who keeps
    /// users and rules, none).
    public var seesAll: Bool { self == .centre || self == .supervisor }
}

/// The person behind a request.
public struct ConsoleUser: Sendable, Hashable {
    public var name: String
    public var role: ConsoleRole
    /// A worker's unit (a unit id of the rule files); for the centre, the unit its commands are sent as
    /// (the rules' triage unit when none is given).
    public var unit: String?

    public init(name: String, role: ConsoleRole, unit: String?) {
        self.name = name
        self.role = role
        self.unit = unit
    }
}

/// The request context of every console route: who is asking (set by `ConsoleAuthMiddleware`) and the
/// session's CSRF token.
public struct ConsoleRequestContext: RequestContext {
    public var coreContext: CoreRequestContextStorage
    /// The authenticated user; nil only on the public routes (login, stylesheet).
    public var user: ConsoleUser?
    /// The session's CSRF token, which forms carry as `_csrf`; nil for bearer-token clients.
    public var csrfToken: String?
    /// The session cookie's token digest (to end the session at logout); nil for bearer-token clients.
    public var sessionTokenHash: String?
    /// The client's address, for the audit log: the peer's, or behind a proxy on loopback the one it
    /// reports (`clientAddress`).
    public var remoteAddress: String?
    /// Whether the client reached the console over TLS: a reverse proxy on loopback said so
    /// (`X-Forwarded-Proto: https`). Cookies set on such a request are `Secure`.
    public var viaHTTPS = false

    public init(source: ApplicationRequestContextSource) {
        coreContext = .init(source: source)
        remoteAddress = source.channel.remoteAddress?.ipAddress
    }

    /// The client's address: the peer's, unless the peer is on loopback (a reverse proxy on this machine,
    /// ops/nginx-console.conf) and sends `X-Forwarded-For`, whose last entry is the address that proxy saw.
    public static func clientAddress(peer: String?, forwardedFor: String?) -> String? {
        guard let peer, isLoopback(peer),
            let last = forwardedFor?.split(separator: ",").last?.trimmingCharacters(in: .whitespaces),
            !last.isEmpty, last.count <= 64
        else { return peer }
        return last
    }

    /// Whether a peer address is this machine's (a reverse proxy here is trusted for its forwarded headers).
    public static func isLoopback(_ peer: String?) -> Bool {
        guard let peer else { return false }
        return peer == "127.0.0.1" || peer == "::1" || peer.hasPrefix("::ffff:127.")
    }

    /// The authenticated user (routes behind the middleware only).
    public var requireUser: ConsoleUser {
        get throws {
            guard let user else { throw ConsoleError(.unauthenticated, "请先登录") }
            return user
        }
    }
}

/// A console failure with its HTTP status: answered as `{code, message}` JSON on `/api/v1`, as a page
/// elsewhere (a 401 on a page redirects to the login page).
public struct ConsoleError: Error, Sendable, CustomStringConvertible {
    public enum Code: String, Sendable {
        case badRequest = "bad_request"
        case unauthenticated
        case locked
        case forbidden
        case csrf = "csrf"
        case notFound = "not_found"
        case refused
        case conflict
        case unavailable
        case busy
    }

    public var code: Code
    /// For people (Chinese on pages); a refusal's own code when `code` is `refused`.
    public var message: String
    /// Overrides the code's JSON name (a command refusal's own code, `not_holder`...).
    public var wireCode: String?
    /// Extra JSON members (a refusal's events, issues).
    public var details: JSONObject?

    public init(_ code: Code, _ message: String, wireCode: String? = nil, details: JSONObject? = nil) {
        self.code = code
        self.message = message
        self.wireCode = wireCode
        self.details = details
    }

    public var status: HTTPResponse.Status {
        switch code {
        case .badRequest: .badRequest
        case .unauthenticated, .locked: .unauthorized
        case .forbidden, .csrf: .forbidden
        case .notFound: .notFound
        case .refused, .conflict: .conflict
        case .unavailable: .serviceUnavailable
        case .busy: .tooManyRequests
        }
    }

    public var description: String { "\(wireCode ?? code.rawValue): \(message)" }
}

/// What applies a command for the console: `PagodaService` implements it on the lifecycle's path.
public protocol ConsoleBackend: Sendable {
    /// The rule set in force now.
    var ruleSet: RuleSet { get }
    /// Applies one command in one transaction, as if it had come from `pagoda.commands`, with `by` (the
    /// user's name) recorded on its events. Throws when the store fails (nothing was written).
    func apply(_ command: Command, by user: String) async throws -> ConsoleCommandOutcome
}

/// What one command did.
public enum ConsoleCommandOutcome: Sendable {
    /// Applied: the events it caused, as their JSON (the timeline rows).
    case applied(events: [JSONValue])
    /// Its `command_id` was handled before: no second effect.
    case duplicate
    /// Refused (`command.rejected`): the refusal's code and reason.
    case refused(code: String, reason: String)
}
