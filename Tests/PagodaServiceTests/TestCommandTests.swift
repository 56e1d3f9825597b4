import Foundation
import PagodaTesting
import Testing

/// `pagoda test` as an administrator's gate runs it: the built binary on a copy of the repository's rules.
@Suite struct TestCommandTests {
    /// A copy of `rules/` (with its tests) in a folder of its own.
    static func rulesCopy() throws -> URL {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("pagoda-test-\(UUID().uuidString)")
        try FileManager.default.copyItem(at: repositoryRoot.appendingPathComponent("rules"), to: dir)
        return dir
    }

    func test(_ dir: URL) async throws -> (status: Int32, stdout: String, stderr: String) {
        try await runProcess([ServeProcess.binary, "test", dir.path], separateStderr: true)
    }

    @Test func theRepositorysRulesPass() async throws {
        let dir = try Self.rulesCopy()
        defer { try? FileManager.default.removeItem(at: dir) }
        let run = try await test(dir)
        #expect(run.status == 0 && run.stdout.contains(" passed, 0 failed"), "\(run)")
    }

    @Test func nothingTestedIsNotAPass() async throws {
        let dir = try Self.rulesCopy()
        defer { try? FileManager.default.removeItem(at: dir) }
        try FileManager.default.removeItem(at: dir.appendingPathComponent("tests"))
        let run = try await test(dir)
        #expect(run.status == 1 && run.stdout.contains("0 passed, 0 failed"), "\(run)")
        #expect(run.stderr.contains("no test files"))
    }

    /// A test file saved in GBK is a failure at its first byte that is not UTF-8; the other files still run.
    @Test func aTestFileNotInUTF8FailsTheRun() async throws {
        let dir = try Self.rulesCopy()
        defer { try? FileManager.default.removeItem(at: dir) }
        let gbk = Data("cases:\n  # ".utf8) + Data([0xC4, 0xCF, 0xBA, 0xA3]) + Data("\n".utf8)
        try gbk.write(to: dir.appendingPathComponent("tests/zz-gbk.yaml"))
        let run = try await test(dir)
        #expect(run.status == 1, "\(run)")
        #expect(run.stdout.contains("tests/zz-gbk.yaml:2:5: error[R001]: the file is not UTF-8 text"), "\(run.stdout)")
        #expect(!run.stdout.contains(" 0 passed"), "the other files ran: \(run.stdout.suffix(200))")
    }
}

/// `pagoda route` on what an administrator pastes: a pretty-printed ticket, or JSON Lines.
@Suite struct RouteCommandTests {
    func route(_ input: String) async throws -> (status: Int32, stdout: String, stderr: String) {
        let file = FileManager.default.temporaryDirectory.appendingPathComponent("pagoda-route-\(UUID().uuidString)")
        try Data(input.utf8).write(to: file)
        defer { try? FileManager.default.removeItem(at: file) }
        let rules = repositoryRoot.appendingPathComponent("rules").path
        return try await runProcess(
            [ServeProcess.binary, "route", file.path, "--rules", rules, "--json"], separateStderr: true)
    }

    static let ticket =
        #"{"id": "R-1", "received_at": "2026-03-02T09:53:00+08:00", "channel": "wechat", "kind": "complaint", "text": "河涌受到污染"}"#

    /// A broken pretty-printed ticket is one invalid document whose error names the stray comma, not seven
    /// invalid lines.
    @Test func aBrokenPrettyPrintedTicketIsOneError() async throws {
        let pretty = """
            {
              "id": "R-1",
              "received_at": "2026-03-02T09:53:00+08:00",
              "channel": "wechat",
              "kind": "complaint",
              "text": "河涌受到污染",
            }
            """
        let run = try await route(pretty)
        #expect(run.status == 1)
        let lines = run.stdout.split(separator: "\n")
        #expect(lines.count == 1 && lines[0].contains(#""code":"syntax""#), "\(run.stdout)")
        #expect(lines[0].contains("at byte"), "\(run.stdout)")
    }

    @Test func anEmptyFileIsAnEmptyTicket() async throws {
        let run = try await route("")
        #expect(run.status == 1 && run.stdout.contains(#""code":"empty""#), "\(run)")
    }

    @Test func jsonLinesAreReadLineByLine() async throws {
        let run = try await route(
            Self.ticket + "\n{\"id\": \"R-2\"}\n" + Self.ticket.replacingOccurrences(of: "R-1", with: "R-3"))
        #expect(run.status == 1)
        let lines = run.stdout.split(separator: "\n")
        #expect(lines.count == 3, "\(run.stdout)")
        #expect(lines[1].contains(#""ticket_id":"R-2""#) && lines[1].contains(#""line":2"#), "\(lines[1])")
        #expect(lines[0].contains(#""ticket_id":"R-1""#) && !lines[0].contains("issues"))
    }
}
