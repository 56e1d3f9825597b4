import Foundation
import PagodaConsole
import PagodaJSON
import PagodaPostgres
import PagodaRules
import PagodaStore
import Testing

/// `pagoda user` as an operator runs it: the built binary, a real database file or PostgreSQL database, the
/// repository's rules.
@Suite struct UserCommandTests {
    static var binary: String {
        let beside = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent().appendingPathComponent(
            "pagoda"
        ).path
        if FileManager.default.isExecutableFile(atPath: beside) { return beside }
        return repositoryRoot.appendingPathComponent(".build/debug/pagoda").path
    }

    /// Runs `pagoda ARGS` with `input` on standard input; returns the exit status, stdout and stderr.
    func pagoda(_ args: [String], input: String = "") throws -> (Int32, String, String) {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: Self.binary)
        p.arguments = args
        p.currentDirectoryURL = repositoryRoot
        let stdin = Pipe()
        let stdout = Pipe()
        let stderr = Pipe()
        p.standardInput = stdin
        p.standardOutput = stdout
        p.standardError = stderr
        try p.run()
        stdin.fileHandleForWriting.write(Data(input.utf8))
        try stdin.fileHandleForWriting.close()
        let out = stdout.fileHandleForReading.readDataToEndOfFile()
        let err = stderr.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        return (p.terminationStatus, String(decoding: out, as: UTF8.self), String(decoding: err, as: UTF8.self))
    }

    @Test(arguments: ConsoleFixture.Backend.allCases)
    func usersAreAddedListedDisabledAndGivenTokens(_ backend: ConsoleFixture.Backend) async throws {
        let f = try await ConsoleFixture(backend: backend)
        let db = [
            "--db", f.postgres.map { "postgres://\($0.username)@\($0.host):\($0.port)/\($0.database)" } ?? f.dbPath,
        ]
        let short = try pagoda(["user", "add", "a1", "--role", "admin", "--password-stdin"] + db, input: "short\n")
        #expect(short.0 == 1)
        #expect(short.2.contains("at least 10"))
        let typo = try pagoda(
            ["user", "add", "w1", "--role", "worker", "--unit", "nanhai.shishan.wuzhaung", "--password-stdin"] + db,
            input: "long-enough-pw\n")
        #expect(typo.0 == 1)
        #expect(typo.2.contains("nearest: nanhai.shishan.wuzhuang"), "\(typo.2)")
        let argv = try pagoda(["user", "add", "a1", "--role", "admin"] + db)
        #expect(argv.0 == 2)
        let added = try pagoda(
            ["user", "add", "w1", "--role", "worker", "--unit", "nanhai.shishan", "--password-stdin"] + db,
            input: "long-enough-pw\n")
        #expect(added.0 == 0, "\(added.2)")
        let token = try pagoda(["user", "token", "w1"] + db)
        #expect(token.0 == 0)
        let printed = token.1.trimmingCharacters(in: .whitespacesAndNewlines)
        #expect(printed.hasPrefix("pgd_") && printed.count == 68)
        let store = try await f.environment().store
        // Good for 90 days unless told otherwise.
        let digest = Digest.sha256Hex(printed.utf8)
        #expect(try await store.consoleTokenAccount(tokenHash: digest, at: Date())?.name == "w1")
        #expect(
            try await store.consoleTokenAccount(tokenHash: digest, at: Date(timeIntervalSinceNow: 89 * 86400)) != nil)
        #expect(
            try await store.consoleTokenAccount(tokenHash: digest, at: Date(timeIntervalSinceNow: 91 * 86400)) == nil)
        let brief = try pagoda(["user", "token", "w1", "--days", "2"] + db)
        #expect(brief.0 == 0 && brief.2.contains("good until"))
        let shortDigest = Digest.sha256Hex(brief.1.trimmingCharacters(in: .whitespacesAndNewlines).utf8)
        #expect(
            try await store.consoleTokenAccount(tokenHash: shortDigest, at: Date(timeIntervalSinceNow: 86400)) != nil)
        #expect(
            try await store.consoleTokenAccount(tokenHash: shortDigest, at: Date(timeIntervalSinceNow: 3 * 86400))
                == nil)
        #expect(try pagoda(["user", "token", "w1", "--days", "0"] + db).0 == 64)
        // Each token is listed by its id, and one can be revoked alone.
        let id = String(digest.prefix(12))
        #expect(token.2.contains("token \(id) of w1"), "\(token.2)")
        let tokens = try pagoda(["user", "tokens", "w1"] + db)
        #expect(tokens.0 == 0)
        #expect(tokens.1.split(separator: "\n").count == 2 && tokens.1.contains(id), "\(tokens.1)")
        #expect(!tokens.1.contains(printed) && !tokens.1.contains(digest))
        #expect(try pagoda(["user", "revoke-token", "w1", "000000000000"] + db).0 == 1)
        #expect(try pagoda(["user", "tokens", "nobody"] + db).0 == 1)
        #expect(try pagoda(["user", "revoke-token", "w1", id.uppercased()] + db).0 == 0)
        #expect(try await store.consoleTokenAccount(tokenHash: digest, at: Date()) == nil)
        #expect(try await store.consoleTokenAccount(tokenHash: shortDigest, at: Date())?.name == "w1")
        let account = try #require(try await store.consoleAccount("w1"))
        #expect(account.passwordHash.hasPrefix("$2") && !account.passwordHash.contains("long-enough-pw"))
        #expect(try pagoda(["user", "passwd", "w1", "--password-stdin"] + db, input: "another-password\n").0 == 0)
        #expect(try await store.consoleAccount("w1")?.passwordHash != account.passwordHash)
        let issued = try pagoda(["user", "token", "w1"] + db)
        let latest = Digest.sha256Hex(issued.1.trimmingCharacters(in: .whitespacesAndNewlines).utf8)
        #expect(try await store.consoleTokenAccount(tokenHash: latest, at: Date())?.name == "w1")
        #expect(try pagoda(["user", "disable", "w1"] + db).0 == 0)
        #expect(try await store.consoleTokenAccount(tokenHash: latest, at: Date()) == nil)
        let list = try pagoda(["user", "list"] + db)
        #expect(list.1.contains("w1") && list.1.contains("nanhai.shishan") && list.1.contains("disabled"))
        #expect(try pagoda(["user", "disable", "nobody"] + db).0 == 1)
        #expect(try pagoda(["user", "enable", "w1"] + db).0 == 0)
        #expect(try await store.consoleAccount("w1")?.disabled == false)
        #expect(try pagoda(["user", "disable", "w1"] + db).0 == 0)
        if backend == .sqlite {
            let mode = try FileManager.default.attributesOfItem(atPath: f.dbPath)[.posixPermissions] as? Int
            #expect(mode == 0o600)
        }
    }
}
