import Foundation
import HummingbirdBcrypt
import PagodaJSON
import PagodaRules
import PagodaStore
import Synchronization

/// Accounts, passwords, sessions and tokens: the console's rules over the store's tables.
///
/// Passwords are bcrypt hashes (`HummingbirdBcrypt`); session and API tokens are 32 random bytes, kept
/// in the store only as their SHA-256. bcrypt runs on a queue of its own, never on the concurrency pool;
/// the store is awaited.
public struct ConsoleAccounts: Sendable {
    public let store: any ConsoleStore
    public let configuration: ConsoleConfiguration
    public let clock: @Sendable () -> Date
    private let bcrypt = DispatchQueue(label: "pagoda.console.bcrypt", qos: .userInitiated, attributes: .concurrent)
    /// Password checks under way; a login beyond `ConsoleConfiguration.concurrentLogins` is answered busy.
    private let checking = Checking()
    /// A bcrypt hash of nothing anybody knows, at the accounts' cost: checked for unknown names so that they
    /// take as long as known ones.
    private let decoy: String

    public init(
        store: any ConsoleStore, configuration: ConsoleConfiguration,
        clock: @escaping @Sendable () -> Date = { Date() }
    ) {
        self.store = store
        self.configuration = configuration
        self.clock = clock
        self.decoy = Bcrypt.hash(Self.randomHex(16), cost: configuration.bcryptCost)
    }

    /// Runs bcrypt (a quarter of a second at cost 12) on the accounts' own queue.
    private func offPool<T: Sendable>(_ body: @escaping @Sendable () -> T) async -> T {
        await withCheckedContinuation { continuation in bcrypt.async { continuation.resume(returning: body()) } }
    }

    /// Why an account or password is refused. Closed set; `message` names what is wrong.
    public struct Refusal: Error, Sendable, CustomStringConvertible {
        public enum Code: String, Sendable {
            case name, password, role, unit, exists
            case unknownUser = "unknown_user"
            case unknownToken = "unknown_token"
            case lastAdmin = "last_admin"
            /// A centre user's unit that is neither triage's nor the supervision unit.
            case centreUnit = "centre_unit"
        }
        public var code: Code
        public var message: String
        /// For `unit`: the unit ids nearest to the one given.
        public var near: [String] = []
        public var description: String { message }
    }

    /// The shortest password accepted, in characters.
    public static let minimumPasswordLength = 10

    /// Checks a password: at least 10 characters, at most 72 bytes (bcrypt reads no further), no
    /// control characters.
    public static func checkPassword(_ password: String) throws(Refusal) {
        if password.count < minimumPasswordLength {
            throw Refusal(
                code: .password,
                message: "the password has \(password.count) characters; at least \(minimumPasswordLength) are needed")
        }
        if password.utf8.count > 72 {
            throw Refusal(
                code: .password, message: "the password has \(password.utf8.count) bytes; bcrypt reads at most 72")
        }
        if password.unicodeScalars.contains(where: { $0.properties.generalCategory == .control }) {
            throw Refusal(code: .password, message: "the password contains a control character")
        }
    }

    /// Checks a user name: 1-64 characters of `A-Z a-z 0-9 . _ @ -`.
    public static func checkName(_ name: String) throws(Refusal) {
        let allowed = name.unicodeScalars.allSatisfy {
            ("a"..."z").contains($0) || ("A"..."Z").contains($0) || ("0"..."9").contains($0)
                || ".-_@".unicodeScalars.contains($0)
        }
        guard (1...64).contains(name.count), allowed else {
            throw Refusal(code: .name, message: "user name \"\(name)\": use 1-64 characters of A-Z a-z 0-9 . _ @ -")
        }
    }

    /// Checks the unit a user belongs to against the rules: a worker needs one, any unit named must be a
    /// unit of the rule files (refused with the nearest ids), and a centre user's unit is one the lifecycle
    /// takes the centre's decisions from (triage's or the supervision unit).
    public static func checkUnit(_ unit: String?, role: ConsoleRole, rules: RuleSet) throws(Refusal) {
        guard let unit else {
            if role == .worker {
                throw Refusal(code: .unit, message: "a worker belongs to a unit: give --unit UNIT_ID")
            }
            return
        }
        if rules.unit(id: unit) == nil {
            let near = Nearest.ids(to: unit, among: rules.units.map(\.id))
            throw Refusal(
                code: .unit,
                message: "no unit \"\(unit)\" in the rule files"
                    + (near.isEmpty ? "" : "; nearest: \(near.joined(separator: ", "))"), near: near)
        }
        if role == .centre {
            let centre = [rules.triageUnit] + (rules.supervisionUnit.map { [$0] } ?? [])
            let ids = centre.map { rules.units[$0].id }
            guard ids.contains(unit) else {
                throw Refusal(
                    code: .centreUnit,
                    message: "the centre's decisions are taken from \(ids.joined(separator: " or ")), not \(unit)",
                    near: ids)
            }
        }
    }

    public func hash(_ password: String) async -> String {
        await offPool { [cost = configuration.bcryptCost] in Bcrypt.hash(password, cost: cost) }
    }

    /// Adds an account after checking name, password and unit. Throws `Refusal` (`exists` for a name taken).
    public func add(name: String, role: ConsoleRole, unit: String?, password: String, rules: RuleSet, by actor: String)
        async throws -> ConsoleAccount
    {
        try Self.checkName(name)
        try Self.checkPassword(password)
        try Self.checkUnit(unit, role: role, rules: rules)
        if try await store.consoleAccount(name) != nil {
            throw Refusal(code: .exists, message: "user \"\(name)\" exists already")
        }
        let now = clock()
        let account = ConsoleAccount(
            name: name, role: role.rawValue, unitID: unit, passwordHash: await hash(password), createdAt: now)
        try await store.addConsoleAccount(
            account,
            audit: ConsoleAuditEntry(
                at: now, userName: actor, action: "user_add", outcome: "ok",
                detail: "\(name) role=\(role.rawValue) unit=\(unit ?? "-")"))
        return account
    }

    /// Sets a new password (ends the account's sessions, revokes its tokens, clears a lock).
    public func setPassword(name: String, password: String, by actor: String) async throws {
        try Self.checkPassword(password)
        let now = clock()
        let hash = await hash(password)
        guard
            try await store.setConsolePassword(
                name, hash: hash, at: now,
                audit: ConsoleAuditEntry(at: now, userName: actor, action: "user_passwd", outcome: "ok", detail: name))
        else { throw Refusal(code: .unknownUser, message: "no user \"\(name)\"") }
    }

    /// Disables an account (ends its sessions, revokes its tokens), or enables it again. The last enabled
    /// administrator is not disabled (`lastAdmin`): no one would be left to manage users on the console.
    public func setDisabled(name: String, _ disabled: Bool, by actor: String) async throws {
        if disabled {
            let admins = try await store.consoleAccounts().filter {
                $0.role == ConsoleRole.admin.rawValue && !$0.disabled
            }
            if admins.map(\.name) == [name] {
                throw Refusal(
                    code: .lastAdmin, message: "\(name) is the last enabled admin; add or enable another first")
            }
        }
        let now = clock()
        guard
            try await store.setConsoleAccountDisabled(
                name, disabled, at: now,
                audit: ConsoleAuditEntry(
                    at: now, userName: actor, action: disabled ? "user_disable" : "user_enable", outcome: "ok",
                    detail: name))
        else { throw Refusal(code: .unknownUser, message: "no user \"\(name)\"") }
    }

    /// Makes a bearer token for an account, good for `days` days: returned once, stored as its digest. The id
    /// names it in `tokens` and `revokeToken`.
    public func makeToken(name: String, days: Int = 90, by actor: String) async throws -> (
        token: String, id: String, expires: Date
    ) {
        let token = "pgd_" + Self.randomHex(32)
        let digest = Digest.sha256Hex(token.utf8)
        let now = clock()
        let expires = now.addingTimeInterval(Double(days) * 86400)
        guard
            try await store.addConsoleToken(
                tokenHash: digest, userName: name, at: now, expiresAt: expires,
                audit: ConsoleAuditEntry(
                    at: now, userName: actor, action: "token_add", outcome: "ok", detail: "\(name) days=\(days)"))
        else { throw Refusal(code: .unknownUser, message: "no user \"\(name)\"") }
        return (token, ConsoleTokenRecord.id(ofTokenHash: digest), expires)
    }

    /// An account's API tokens (ids and dates only), oldest first.
    public func tokens(name: String) async throws -> [ConsoleTokenRecord] {
        guard try await store.consoleAccount(name) != nil else {
            throw Refusal(code: .unknownUser, message: "no user \"\(name)\"")
        }
        return try await store.consoleTokens(userName: name)
    }

    /// Revokes one of an account's API tokens, named by its id (`tokens`); its other tokens and its sessions
    /// stay.
    public func revokeToken(name: String, id: String, by actor: String) async throws {
        let now = clock()
        guard
            try await store.revokeConsoleToken(
                userName: name, id: id.lowercased(),
                audit: ConsoleAuditEntry(
                    at: now, userName: actor, action: "token_revoke", outcome: "ok", detail: "\(name) \(id)"))
        else { throw Refusal(code: .unknownToken, message: "user \"\(name)\" has no token \(id)") }
    }

    // MARK: Login

    /// How a login ended.
    public enum LoginResult: Sendable {
        /// Logged in: the session's token (for the cookie) and CSRF token.
        case success(user: ConsoleUser, token: String, csrf: String)
        /// Wrong name or password, or a disabled account (not told apart).
        case refused
        /// Too many failures: refused until then, whatever the password.
        case locked(until: Date)
        /// Too many password checks under way at once: not checked, try again shortly.
        case busy
    }

    /// Checks a name and password; starts a session on success. The attempt is counted before the
    /// password is checked, so that guesses sent at once cannot outrun the lock (`maxFailedLogins` in a
    /// row lock the account for `lockout`; a success clears the count), and at most `concurrentLogins`
    /// checks run at once. Audits every attempt with the name given.
    public func login(name: String, password: String, remote: String?) async throws -> LoginResult {
        // No account's name holds U+0000 (`checkName`), which PostgreSQL refuses in text: such a name is
        // an unknown one, audited with U+FFFD in its place.
        let name = name.replacingOccurrences(of: "\u{0}", with: "\u{FFFD}")
        let admitted = checking.count.withLock { n in
            guard n < configuration.concurrentLogins else { return false }
            n += 1
            return true
        }
        guard admitted else { return .busy }
        defer { checking.count.withLock { $0 -= 1 } }
        let now = clock()
        func audit(_ outcome: String) -> ConsoleAuditEntry {
            ConsoleAuditEntry(
                at: now, userName: name, action: outcome == "ok" ? "login" : "login_failed", outcome: outcome,
                remote: remote)
        }
        guard let account = try await store.consoleAccount(name),
            let attempt = try await store.countLoginAttempt(
                name, at: now, limit: configuration.maxFailedLogins, lockFor: configuration.lockout)
        else {
            // Answered as a known name would be: the same bcrypt work, and locked after as many tries, so
            // that neither the time nor a lock tells which names exist.
            try await store.appendConsoleAudit(audit("unknown_user"))
            let unknown = checking.countUnknown(
                name, at: now, limit: configuration.maxFailedLogins, lockFor: configuration.lockout)
            if case .locked(let until) = unknown { return .locked(until: until) }
            _ = await offPool { [decoy] in Bcrypt.verify(password, hash: decoy) }
            if case .counted(_, let until?) = unknown { return .locked(until: until) }
            return .refused
        }
        let locksUntil: Date?
        switch attempt {
        case .locked(let until):
            try await store.appendConsoleAudit(audit("locked"))
            return .locked(until: until)
        case .counted(_, let until): locksUntil = until
        }
        let verified = await offPool { [hash = account.passwordHash] in Bcrypt.verify(password, hash: hash) }
        guard verified, !account.disabled, let role = ConsoleRole(rawValue: account.role) else {
            try await store.appendConsoleAudit(audit(account.disabled ? "disabled" : "bad_password"))
            return locksUntil.map { .locked(until: $0) } ?? .refused
        }
        let token = Self.randomHex(32)
        let csrf = Self.randomHex(32)
        try await store.startConsoleSession(
            tokenHash: Digest.sha256Hex(token.utf8), userName: name, csrfToken: csrf, at: now, audit: audit("ok"))
        // Sessions left idle end when next used; a login sweeps away those nobody came back to.
        _ = try await store.deleteIdleConsoleSessions(before: now.addingTimeInterval(-configuration.sessionIdle))
        return .success(user: ConsoleUser(name: name, role: role, unit: account.unitID), token: token, csrf: csrf)
    }

    /// The password checks under way, and the attempts at names that have no account (kept in memory, at
    /// most `unknownNames` of them), shared by the copies of the accounts.
    private final class Checking: Sendable {
        let count = Mutex(0)
        private let unknown = Mutex<[String: (attempts: Int, lockedUntil: Date?)]>([:])
        static let unknownNames = 10_000

        /// Counts an attempt at a name without an account as `ConsoleStore.countLoginAttempt` counts one
        /// at an account.
        func countUnknown(_ name: String, at now: Date, limit: Int, lockFor: TimeInterval) -> LoginAttempt {
            unknown.withLock { names in
                if let until = names[name]?.lockedUntil, until > now { return .locked(until: until) }
                if names[name] == nil, names.count >= Self.unknownNames {
                    names = names.filter { $0.value.lockedUntil.map { $0 > now } ?? false }
                    if names.count >= Self.unknownNames { names.removeAll() }
                }
                let attempts = (names[name]?.attempts ?? 0) + 1
                let until = attempts >= limit ? now.addingTimeInterval(lockFor) : nil
                names[name] = (until == nil ? attempts : 0, until)
                return .counted(attempts: attempts, locksUntil: until)
            }
        }
    }

    /// The user and CSRF token of a session cookie's token; nil when there is no such session, it was idle
    /// longer than `sessionIdle` or is older than `sessionMaxAge` (it is then deleted) or its account is
    /// disabled. Marks it used (at most
    /// once a minute, to spare writes).
    public func session(token: String) async throws -> (user: ConsoleUser, csrf: String, tokenHash: String)? {
        let digest = Digest.sha256Hex(token.utf8)
        guard let (session, account) = try await store.consoleSession(tokenHash: digest) else { return nil }
        let now = clock()
        if now.timeIntervalSince(session.lastSeen) > configuration.sessionIdle
            || now.timeIntervalSince(session.createdAt) > configuration.sessionMaxAge
        {
            try await store.endConsoleSession(tokenHash: digest, audit: nil)
            return nil
        }
        guard !account.disabled, let role = ConsoleRole(rawValue: account.role) else { return nil }
        if now.timeIntervalSince(session.lastSeen) > 60 {
            try await store.touchConsoleSession(tokenHash: digest, at: now)
        }
        return (ConsoleUser(name: account.name, role: role, unit: account.unitID), session.csrfToken, digest)
    }

    /// The user of a bearer token; nil when unknown, expired, or the account is disabled.
    public func tokenUser(_ token: String) async throws -> ConsoleUser? {
        guard let account = try await store.consoleTokenAccount(tokenHash: Digest.sha256Hex(token.utf8), at: clock()),
            !account.disabled,
            let role = ConsoleRole(rawValue: account.role)
        else { return nil }
        return ConsoleUser(name: account.name, role: role, unit: account.unitID)
    }

    /// Ends a session (logout), auditing it.
    public func logout(tokenHash: String, user: String, remote: String?) async throws {
        try await store.endConsoleSession(
            tokenHash: tokenHash,
            audit: ConsoleAuditEntry(
                at: clock(), userName: user, action: "logout",
                outcome: "ok", remote: remote))
    }

    /// `count` random bytes (the system's CSPRNG) as hex.
    public static func randomHex(_ count: Int) -> String {
        var g = SystemRandomNumberGenerator()
        return (0..<count).map { _ in String(format: "%02x", UInt8.random(in: 0...255, using: &g)) }.joined()
    }
}

/// The ids nearest to a misspelt one, for "did you mean" messages.
enum Nearest {
    /// Up to three ids within a small edit distance (or sharing the input as a prefix or suffix), nearest first.
    static func ids(to word: String, among candidates: [String], limit: Int = 3) -> [String] {
        let scored = candidates.map { ($0, Spelling.editDistance(word, $0)) }
        let bound = max(2, word.count / 3)
        return scored.filter { $0.1 <= bound || $0.0.hasPrefix(word) || $0.0.hasSuffix(word) }
            .sorted { ($0.1, $0.0) < ($1.1, $1.0) }.prefix(limit).map(\.0)
    }
}
