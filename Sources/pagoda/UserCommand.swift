import ArgumentParser
import Foundation
import Logging
import PagodaConsole
import PagodaJSON
import PagodaPostgres
import PagodaRules
import PagodaStore

/// `pagoda user`: the console's accounts in the service's database.
struct User: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Manage the web console's users: add, list, disable, enable, passwd, token, tokens, revoke-token.",
        discussion:
            "Passwords are read from standard input (--password-stdin), never from the command line; they need at least 10 characters and are stored as bcrypt hashes. A worker belongs to one unit of the rule files.",
        subcommands: [
            UserAdd.self, UserList.self, UserDisable.self, UserEnable.self, UserPasswd.self, UserToken.self,
            UserTokens.self, UserRevokeToken.self,
        ])
}

/// The options every `pagoda user` command takes.
struct UserStoreOptions: ParsableArguments {
    @Option(
        help: ArgumentHelp(
            "The SQLite database file, or postgres://USER@HOST:PORT/DB. Default: $PAGODA_DB, else pagoda.sqlite.",
            valueName: "file-or-url"))
    var db: String = ProcessInfo.processInfo.environment["PAGODA_DB"] ?? "pagoda.sqlite"

    /// Runs `body` on the accounts of the database (a SQLite file is made when missing), closed afterwards.
    func with<T>(_ body: (ConsoleAccounts) async throws -> T) async throws -> T {
        guard PostgresStoreConfiguration.isURL(db) else {
            let store = try DispatchStore(StoreConfiguration(path: db))
            return try await body(ConsoleAccounts(store: store, configuration: ConsoleConfiguration()))
        }
        let store = try await PostgresStore.open(
            try PostgresStoreConfiguration(url: db), logger: Logger(label: "pagoda.user"))
        do {
            let result = try await body(ConsoleAccounts(store: store, configuration: ConsoleConfiguration()))
            await store.close()
            return result
        } catch {
            await store.close()
            throw error
        }
    }

    /// Who the audit log names for changes made with the CLI.
    var actor: String { "cli:" + (ProcessInfo.processInfo.environment["USER"] ?? "unknown") }
}

/// Reads the password: the first line of standard input, without its line end.
func readPassword(_ given: Bool, command: String) throws -> String {
    guard given else {
        printError(
            "pagoda user \(command): give the password on standard input with --password-stdin (never on the command line)\n"
        )
        throw ExitCode(2)
    }
    guard let line = readLine(strippingNewline: true) else {
        printError("pagoda user \(command): no password on standard input\n")
        throw ExitCode(2)
    }
    return line.hasSuffix("\r") ? String(line.dropLast()) : line
}

/// Runs an account change, printing a refusal as `pagoda user CMD: MESSAGE` with exit status 1.
func refusing<T>(_ command: String, _ body: () async throws -> T) async throws -> T {
    do {
        return try await body()
    } catch let refusal as ConsoleAccounts.Refusal {
        printError("pagoda user \(command): \(refusal.message)\n")
        throw ExitCode.failure
    }
}

extension ConsoleRole: ExpressibleByArgument {}

struct UserAdd: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "add", abstract: "Add a user (password on standard input).")

    @Argument(help: "The user name (1-64 characters of A-Z a-z 0-9 . _ @ -).")
    var name: String

    @Option(help: "worker, centre, supervisor or admin.")
    var role: ConsoleRole

    @Option(
        help:
            "The user's unit id from the rule files: required for a worker; for the centre, the unit its commands are sent as (default: the rules' triage unit)."
    )
    var unit: String?

    @Flag(help: "Read the password from the first line of standard input.")
    var passwordStdin = false

    @Option(help: "The rule directory the unit is checked against. Default: $PAGODA_RULES, else rules.")
    var rules: String = ProcessInfo.processInfo.environment["PAGODA_RULES"] ?? "rules"

    @OptionGroup var store: UserStoreOptions

    func run() async throws {
        let password = try readPassword(passwordStdin, command: "add")
        let ruleSet = try loadRuleSet(rules)
        let account = try await store.with { accounts in
            try await refusing("add") {
                try await accounts.add(
                    name: name, role: role, unit: unit, password: password, rules: ruleSet, by: store.actor)
            }
        }
        print("added \(account.name) (\(account.role)\(account.unitID.map { ", unit \($0)" } ?? ""))")
    }
}

struct UserList: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "list", abstract: "List the users: name, role, unit, state.")

    @OptionGroup var store: UserStoreOptions

    func run() async throws {
        let now = Date()
        let rows = try await store.with { try await $0.store.consoleAccounts() }
        if rows.isEmpty {
            print("no users")
            return
        }
        for a in rows {
            var state = a.disabled ? "disabled" : "active"
            if let until = a.lockedUntil, until > now {
                state += ", locked until \(RFC3339.format(until, offsetSeconds: 8 * 3600))"
            }
            if a.failedLogins > 0 { state += ", \(a.failedLogins) failed logins" }
            let name = a.name.padding(toLength: max(16, a.name.count), withPad: " ", startingAt: 0)
            let role = a.role.padding(toLength: 11, withPad: " ", startingAt: 0)
            let unit = (a.unitID ?? "-").padding(
                toLength: max(24, (a.unitID ?? "-").count), withPad: " ", startingAt: 0)
            print("\(name) \(role) \(unit) \(state)")
        }
    }
}

struct UserDisable: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "disable", abstract: "Disable a user: ends its sessions and revokes its API tokens.")

    @Argument(help: "The user name.")
    var name: String

    @OptionGroup var store: UserStoreOptions

    func run() async throws {
        try await store.with { accounts in
            try await refusing("disable") { try await accounts.setDisabled(name: name, true, by: store.actor) }
        }
        print("disabled \(name)")
    }
}

struct UserEnable: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "enable", abstract: "Enable a disabled user again (it logs in with its password as before).")

    @Argument(help: "The user name.")
    var name: String

    @OptionGroup var store: UserStoreOptions

    func run() async throws {
        try await store.with { accounts in
            try await refusing("enable") { try await accounts.setDisabled(name: name, false, by: store.actor) }
        }
        print("enabled \(name)")
    }
}

struct UserPasswd: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "passwd",
        abstract: "Set a user's password (on standard input); ends its sessions, revokes its tokens, clears a lock.")

    @Argument(help: "The user name.")
    var name: String

    @Flag(help: "Read the password from the first line of standard input.")
    var passwordStdin = false

    @OptionGroup var store: UserStoreOptions

    func run() async throws {
        let password = try readPassword(passwordStdin, command: "passwd")
        try await store.with { accounts in
            try await refusing("passwd") {
                try await accounts.setPassword(name: name, password: password, by: store.actor)
            }
        }
        print("password of \(name) changed")
    }
}

struct UserToken: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "token",
        abstract: "Make an API bearer token for a user, good for --days, and print it once (only its digest is stored)."
    )

    @Argument(help: "The user name.")
    var name: String

    @Option(help: "Days the token is good for (1-3650).")
    var days = 90

    @OptionGroup var store: UserStoreOptions

    func validate() throws {
        guard (1...3650).contains(days) else { throw ValidationError("--days must be from 1 to 3650, got \(days)") }
    }

    func run() async throws {
        let made = try await store.with { accounts in
            try await refusing("token") { try await accounts.makeToken(name: name, days: days, by: store.actor) }
        }
        print(made.token)
        FileHandle.standardError.write(
            Data(
                "token \(made.id) of \(name) good until \(RFC3339.format(made.expires, offsetSeconds: 8 * 3600))\n"
                    .utf8))
    }
}

struct UserTokens: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "tokens",
        abstract: "List a user's API tokens: id, made, good until, last used (marked at most hourly).")

    @Argument(help: "The user name.")
    var name: String

    @OptionGroup var store: UserStoreOptions

    func run() async throws {
        let tokens = try await store.with { accounts in
            try await refusing("tokens") { try await accounts.tokens(name: name) }
        }
        if tokens.isEmpty {
            print("no tokens")
            return
        }
        let now = Date()
        func time(_ date: Date?) -> String { date.map { RFC3339.format($0, offsetSeconds: 8 * 3600) } ?? "-" }
        for t in tokens {
            let expired = t.expiresAt.map { $0 <= now } ?? false
            let until = time(t.expiresAt) + (expired ? " (expired)" : "")
            print("\(t.id) made \(time(t.createdAt)) until \(until) used \(time(t.lastUsed))")
        }
    }
}

struct UserRevokeToken: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "revoke-token",
        abstract: "Revoke one of a user's API tokens by its id (see tokens); the others and the sessions stay.")

    @Argument(help: "The user name.")
    var name: String

    @Argument(help: "The token's id: the 12 hex digits `pagoda user tokens` and `pagoda user token` print.")
    var id: String

    @OptionGroup var store: UserStoreOptions

    func run() async throws {
        try await store.with { accounts in
            try await refusing("revoke-token") { try await accounts.revokeToken(name: name, id: id, by: store.actor) }
        }
        print("token \(id) of \(name) revoked")
    }
}
