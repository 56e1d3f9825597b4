import Foundation
import PagodaJSON
import PagodaRules
import PagodaTesting
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// Hostile and huge rule files given to the real `pagoda check` and to a running `pagoda serve` (no broker
/// needed: the files are refused before the broker would be asked for anything).
@Suite struct HostileRulesTests {
    /// A "billion laughs" categories file (under 1 KB; about 52 million nodes expanded) and the line and column
    /// of the alias the limit refuses: the fourth child of level 5 (levels 1-4 add 51,740 nodes, each alias
    /// of level 4 another 46,664, and aliases may add at most 200,000).
    static func laughs() -> (text: String, line: Int, column: Int) {
        var lines = ["categories:", "  l0: &a0 {name: 笑}"]
        var at = (0, 0)
        for level in 1..<8 {
            var line = "  l\(level): &a\(level) {name: 笑, children: {"
            for child in 0..<10 {
                line += (child == 0 ? "" : ", ") + "c\(child): "
                if level == 5 && child == 3 { at = (lines.count + 1, line.unicodeScalars.count + 1) }
                line += "*a\(level - 1)"
            }
            lines.append(line + "}}")
        }
        return (lines.joined(separator: "\n") + "\n", at.0, at.1)
    }

    /// About 50 MB of plausible categories.
    static func hugeCategories() -> Data {
        var text = "categories:\n"
        var n = 0
        while text.utf8.count < 50_000_000 {
            var chunk = ""
            for _ in 0..<10_000 {
                chunk += "  c\(n): {name: 一个很长的分类名称用来把文件撑大到五十兆字节}\n"
                n += 1
            }
            text += chunk
        }
        return Data(text.utf8)
    }

    /// A copy of the Foshan rules in a directory of the test's own.
    static func rulesCopy(in dir: URL) throws -> URL {
        let rules = dir.appendingPathComponent("rules")
        try FileManager.default.createDirectory(at: rules, withIntermediateDirectories: true)
        let source = repositoryRoot.appendingPathComponent("rules")
        for name in try FileManager.default.contentsOfDirectory(atPath: source.path) where name.hasSuffix(".yaml") {
            try FileManager.default.copyItem(
                at: source.appendingPathComponent(name),
                to: rules.appendingPathComponent(name))
        }
        return rules
    }

    @Test func checkRefusesABillionLaughsAndA50MBFileQuickly() async throws {
        let dir = try StatusTextTests.scratchDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let rules = try Self.rulesCopy(in: dir)
        let laughs = Self.laughs()
        try laughs.text.write(to: rules.appendingPathComponent("categories.yaml"), atomically: true, encoding: .utf8)
        let hostile = try await runProcess([ServeProcess.binary, "check", rules.path], separateStderr: true)
        #expect(hostile.status == 1)
        let refusal =
            "\(rules.path)/categories.yaml:\(laughs.line):\(laughs.column): error[R082]: "
            + "aliases would expand this file by more than 200000 nodes"
        #expect(hostile.stderr.contains(refusal), "\(hostile.stderr.prefix(3000))")

        try Self.hugeCategories().write(to: rules.appendingPathComponent("categories.yaml"))
        let huge = try await runProcess(
            [ServeProcess.binary, "check", "--format", "json", rules.path],
            separateStderr: true)
        #expect(huge.status == 1)
        let json = #"{"file":"\#(rules.path)/categories.yaml","line":1,"column":1,"severity":"error","code":"R080""#
        #expect(huge.stdout.contains(json), "\(huge.stdout.prefix(3000))")
    }

    /// SIGHUP with a hostile file in place: the reload is refused with the positioned error, the process
    /// stays small and the rules in force stay. Then SIGTERM in the middle of a slow reload (a directory of
    /// many large files, each within the limits) stops the process promptly, without the reload finishing.
    @Test func aReloadRefusesHostileFilesAndShutdownStopsASlowOne() async throws {
        let dir = try StatusTextTests.scratchDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let rules = try Self.rulesCopy(in: dir)
        let serve = ServeProcess(
            arguments: [
                "serve", "--rules", rules.path, "--amqp-url", "amqp://guest:guest@127.0.0.1:1/",
                "--db", dir.appendingPathComponent("p.sqlite").path, "--status-address", "127.0.0.1:0",
            ],
            logPath: dir.appendingPathComponent("serve.log").path)
        func count(_ text: String) -> Int { serve.log.components(separatedBy: text).count - 1 }
        try serve.start()
        defer { serve.signal(SIGKILL) }
        #expect(await eventually { serve.log.contains("status endpoint listening") }, "\(serve.log.suffix(2000))")
        let before = try #require(serve.memory)

        let laughs = Self.laughs()
        try laughs.text.write(to: rules.appendingPathComponent("categories.yaml"), atomically: true, encoding: .utf8)
        serve.signal(SIGHUP)
        #expect(await eventually { serve.log.contains("rules reload failed") }, "\(serve.log.suffix(2000))")
        let refusal = "categories.yaml:\(laughs.line):\(laughs.column): error[R082]"
        #expect(serve.log.contains(refusal), "\(serve.log.suffix(2000))")

        try Self.hugeCategories().write(to: rules.appendingPathComponent("categories.yaml"))
        serve.signal(SIGHUP)
        #expect(await eventually { count("rules reload failed") == 2 }, "\(serve.log.suffix(2000))")
        #expect(serve.log.contains("categories.yaml:1:1: error[R080]"), "\(serve.log.suffix(2000))")
        // Before the limits, the first reload grew by 50 MB/s to 5.4 GB; now neither costs more than a
        // little parsing (the 50 MB file is not even read).
        let after = try #require(serve.memory)
        #expect(
            after.peak < before.peak + 200 << 20,
            "peak resident memory \(before.peak >> 20) MiB before, \(after.peak >> 20) MiB after")

        // A slow reload: 40 files of 1 MB each. They would all be read and parsed before the compiler found
        // that they define the same section; shutdown stops it between files.
        try FileManager.default.removeItem(at: rules.appendingPathComponent("categories.yaml"))
        try FileManager.default.copyItem(
            at: repositoryRoot.appendingPathComponent("rules/categories.yaml"),
            to: rules.appendingPathComponent("categories.yaml"))
        var big = "escalation:\n"
        for n in 0..<12_000 { big += "  policy_\(n): {clocks: [resolve], to_parent: true, max_returns: 2}\n" }
        for n in 0..<40 {
            try big.write(to: rules.appendingPathComponent("zz-\(n).yaml"), atomically: true, encoding: .utf8)
        }
        serve.signal(SIGHUP)
        #expect(await eventually { count("SIGHUP: reloading the rules") == 3 }, "\(serve.log.suffix(2000))")
        serve.signal(SIGTERM)
        let status = await serve.wait(timeout: .seconds(60))
        #expect(status == 0, "\(serve.log.suffix(2000))")
        #expect(count("rules reload stopped for shutdown; the rules in force stay") == 1, "\(serve.log.suffix(3000))")
        #expect(count("rules reload failed") == 2, "\(serve.log.suffix(3000))")
    }
}
