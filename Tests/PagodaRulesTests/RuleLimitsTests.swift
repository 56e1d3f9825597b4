import Foundation
import PagodaJSON
import Testing

@testable import PagodaRules

/// Hostile and huge rule files, written to disk and read the way `pagoda check` and a reload read them:
/// each is refused with one positioned error, after work linear in the file's length.
@Suite struct RuleLimitsTests {
    /// A "billion laughs" categories file: level k is a category whose ten children are each an alias of
    /// level k-1. Fully expanded it is about 52 million nodes (`expandedNodes`) in under 1 KB.
    struct Laughs {
        let text: String
        /// The line and column of each `*aK` alias, by level and child.
        let aliasAt: [[(line: Int, column: Int)]]
        let expandedNodes: Int

        init(levels: Int = 8, width: Int = 10) {
            var lines = ["# Each level names the one below it \(width) times.", "categories:", "  l0: &a0 {name: 笑}"]
            var aliasAt: [[(Int, Int)]] = [[]]
            var size = 3  // a mapping, its key and its value
            var total = 1 + 1 + size  // the categories mapping, its key l0 and level 0
            for level in 1..<levels {
                var line = "  l\(level): &a\(level) {name: 笑, children: {"
                var at: [(Int, Int)] = []
                for child in 0..<width {
                    line += child == 0 ? "" : ", "
                    line += "c\(child): "
                    at.append((lines.count + 1, line.unicodeScalars.count + 1))
                    line += "*a\(level - 1)"
                }
                lines.append(line + "}}")
                aliasAt.append(at)
                // The mapping, its name pair, the children key and mapping, each child's key and tree.
                size = 5 + width * (1 + size)
                total += 1 + size
            }
            text = lines.joined(separator: "\n") + "\n"
            self.aliasAt = aliasAt
            expandedNodes = total
        }
    }

    /// The golden base rule set in a directory of the test's own, with `files` written over it.
    static func ruleDirectory(_ files: [String: Data]) throws -> URL {
        let dir = FileManager.default.temporaryDirectory
            .appendingPathComponent("pagoda-limits-\(UUID().uuidString.prefix(8))")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        let base = Fixtures.goldenDirectory.appendingPathComponent("base")
        for name in try FileManager.default.contentsOfDirectory(atPath: base.path) where name.hasSuffix(".yaml") {
            try FileManager.default.copyItem(
                at: base.appendingPathComponent(name),
                to: dir.appendingPathComponent(name))
        }
        for (name, data) in files {
            try? FileManager.default.removeItem(at: dir.appendingPathComponent(name))
            try data.write(to: dir.appendingPathComponent(name))
        }
        return dir
    }

    static func errors(_ dir: URL, limits: RuleLimits = .standard) throws -> [Diagnostic] {
        let files = try RuleSetCompiler.readFiles(in: dir.path, limits: limits)
        let result = RuleSetCompiler.compile(files, limits: limits)
        #expect(result.ruleSet == nil && !result.stopped)
        return result.diagnostics.filter { $0.severity == .error }
    }

    @Test func aBillionLaughsIsRefusedAtTheAliasThatCrossesTheLimit() throws {
        let laughs = Laughs()
        #expect(laughs.expandedNodes > 40_000_000 && laughs.text.utf8.count < 1_024)
        let dir = try Self.ruleDirectory(["categories.yaml": Data(laughs.text.utf8)])
        defer { try? FileManager.default.removeItem(at: dir) }
        let errors = try Self.errors(dir)
        let limit = RuleLimits.standard.maxAliasNodes
        // Levels 1-4 add 10·2 + 10·44 + 10·464 + 10·4,664 = 51,740 nodes; each alias of level 4 adds 46,664
        // more, so the fourth child of level 5 is the first over 200,000.
        #expect(limit == 200_000)
        let at = laughs.aliasAt[5][3]
        let refusal = try #require(errors.first { $0.code == .aliasExpansion }, "\(errors)")
        #expect(
            refusal.location
                == RulePosition(
                    file: dir.path + "/categories.yaml", line: at.line,
                    column: at.column))
        #expect(
            refusal.description.hasSuffix(
                "error[R082]: aliases would expand this file by more than 200000 nodes; this alias alone adds 46664"))
        // One error for the file: nothing of it is read, so what needs the categories fails on its own.
        #expect(errors.count { $0.location.file.hasSuffix("categories.yaml") } == 1)
    }

    /// An alias used as a mapping key: Yams hashes keys while it composes, at their expanded size, so the
    /// count must come before the composer sees the file, and count keys too.
    @Test func anAliasAsAKeyIsCountedBeforeTheFileIsComposed() throws {
        let laughs = Laughs(levels: 5)  // 51,740 nodes added: within the limit below
        let text = laughs.text + "  ? *a4\n  : {name: key}\n"
        let limits = RuleLimits(maxAliasNodes: 60_000)
        let dir = try Self.ruleDirectory(["categories.yaml": Data(text.utf8)])
        defer { try? FileManager.default.removeItem(at: dir) }
        let refusal = try #require(try Self.errors(dir, limits: limits).first { $0.code == .aliasExpansion })
        let key = laughs.aliasAt[4][9].line + 1
        #expect(refusal.location == RulePosition(file: dir.path + "/categories.yaml", line: key, column: 5))
    }

    @Test func tooManyAliasesAreRefusedAtTheFirstOneOver() throws {
        let limits = RuleLimits(maxAliases: 100)
        var text = "categories:\n  shared: &s {name: 共用}\n"
        for n in 0..<150 { text += "  c\(n): *s\n" }
        let dir = try Self.ruleDirectory(["categories.yaml": Data(text.utf8)])
        defer { try? FileManager.default.removeItem(at: dir) }
        let errors = try Self.errors(dir, limits: limits)
        let refusal = try #require(errors.first { $0.code == .tooManyAliases }, "\(errors)")
        #expect(refusal.location == RulePosition(file: dir.path + "/categories.yaml", line: 103, column: 9))
        #expect(refusal.message == "more than 100 aliases in one file; this is the first one over")
    }

    /// 50 MB of otherwise plausible categories: refused from its size, without reading it.
    @Test func aFileOverTheSizeLimitIsNotRead() throws {
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
        let dir = try Self.ruleDirectory(["categories.yaml": Data(text.utf8)])
        defer { try? FileManager.default.removeItem(at: dir) }
        let files = try RuleSetCompiler.readFiles(in: dir.path)
        let big = try #require(files.first { $0.path.hasSuffix("categories.yaml") })
        #expect(big.text.isEmpty && big.unreadSize == text.utf8.count)
        let errors = RuleSetCompiler.compile(files).diagnostics.filter { $0.severity == .error }
        let refusal = try #require(errors.first { $0.code == .fileTooLarge }, "\(errors)")
        #expect(refusal.location == RulePosition(file: dir.path + "/categories.yaml", line: 1, column: 1))
        let mib = String(format: "%.1f", Double(text.utf8.count) / Double(1 << 20))
        #expect(refusal.message == "the file is \(mib) MiB; a rule file may hold at most 32.0 MiB")
    }

    /// A file saved in GBK, as editors on Chinese Windows often do: `R001` at its first byte that is not UTF-8,
    /// in the rule directory and among the test files, where it counts as a failure.
    @Test func aFileThatIsNotUTF8IsAnErrorAtItsFirstBadByte() throws {
        // "# 南海" in GBK on the second line: 0xC4 0xCF 0xBA 0xA3, after two characters.
        let gbk = Data("categories:\n  # ".utf8) + Data([0xC4, 0xCF, 0xBA, 0xA3]) + Data("\n  a: {name: 甲}\n".utf8)
        let dir = try Self.ruleDirectory(["zz.yaml": gbk])
        defer { try? FileManager.default.removeItem(at: dir) }
        let errors = try Self.errors(dir)
        let refusal = try #require(errors.first { $0.code == .yamlSyntax }, "\(errors)")
        #expect(refusal.location == RulePosition(file: dir.path + "/zz.yaml", line: 2, column: 5))
        #expect(refusal.message.hasPrefix("the file is not UTF-8 text (byte 0xC4 here)"), "\(refusal.message)")
        let rules = try #require(RuleSetCompiler.compile(try Fixtures.goldenFiles(case: nil)).ruleSet)
        let report = RuleTestRunner(ruleSet: rules).run([RuleFile(path: "tests/gbk.yaml", data: gbk)])
        #expect(report.failed == 1 && report.diagnostics.first?.location.line == 2)
    }

    @Test func aFileOfExactlyTheLimitIsReadAndOneByteMoreIsNot() throws {
        let dir = try Self.ruleDirectory([:])
        defer { try? FileManager.default.removeItem(at: dir) }
        let largest = try RuleSetCompiler.readFiles(in: dir.path).max { $0.text.utf8.count < $1.text.utf8.count }!
        let limits = RuleLimits(maxFileBytes: largest.text.utf8.count)
        let files = try RuleSetCompiler.readFiles(in: dir.path, limits: limits)
        #expect(RuleSetCompiler.compile(files, limits: limits).ruleSet != nil)
        let errors = try Self.errors(dir, limits: RuleLimits(maxFileBytes: largest.text.utf8.count - 1))
        let start = RulePosition(file: largest.path, line: 1, column: 1)
        #expect(errors.contains { $0.code == .fileTooLarge && $0.location == start }, "\(errors)")
    }

    /// Aliases are not banned: a file that shares a subtree a few times compiles as before.
    @Test func aFewAliasesWithinTheLimitsStillCompile() throws {
        let base = try String(
            contentsOf: Fixtures.goldenDirectory.appendingPathComponent("base/categories.yaml"),
            encoding: .utf8)
        let text =
            base + "  shared_a: &shared {name: 共用, children: {x: {name: 甲}, y: {name: 乙}}}\n"
            + "  shared_b: *shared\n"
        let dir = try Self.ruleDirectory(["categories.yaml": Data(text.utf8)])
        defer { try? FileManager.default.removeItem(at: dir) }
        let result = RuleSetCompiler.compile(try RuleSetCompiler.readFiles(in: dir.path))
        let rules = try #require(result.ruleSet, "\(result.diagnostics)")
        #expect(rules.categories.contains { $0.code == "shared_b.y" })
    }

    /// Asked to stop (graceful shutdown during a reload), compiling gives up without a rule set.
    @Test func compilingStopsWhenAsked() throws {
        let dir = try Self.ruleDirectory([:])
        defer { try? FileManager.default.removeItem(at: dir) }
        let files = try RuleSetCompiler.readFiles(in: dir.path)
        let stopped = RuleSetCompiler.compile(files, shouldStop: { true })
        #expect(stopped.stopped && stopped.ruleSet == nil)
        // The expansion count looks at the flag as it goes: a file of many aliases stops inside it.
        var text = "categories:\n  s: &s {name: 共用}\n"
        for n in 0..<9_000 { text += "  c\(n): *s\n" }
        let calls = CallCount()
        let result = RuleSetCompiler.compile([RuleFile(path: "c.yaml", text: text)], shouldStop: { calls.next() > 1 })
        #expect(result.stopped && calls.value == 2)
        #expect(RuleSetCompiler.compile(files).ruleSet != nil)
    }

    final class CallCount: @unchecked Sendable {  // used from the one thread that compiles
        var value = 0
        func next() -> Int {
            value += 1
            return value
        }
    }
}
