import Foundation
import PagodaJSON
import Testing

@testable import PagodaRules

/// Test helpers shared by the rule tests.
enum Fixtures {
    static let testsDirectory = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
    static let goldenDirectory = testsDirectory.appendingPathComponent("Golden")
    static let repositoryRoot = testsDirectory.deletingLastPathComponent().deletingLastPathComponent()

    /// The files of a directory as rule files named by their file name only.
    static func files(in directory: URL) throws -> [RuleFile] {
        let names = try FileManager.default.contentsOfDirectory(atPath: directory.path)
            .filter { $0.hasSuffix(".yaml") }.sorted()
        return try names.map {
            RuleFile(path: $0, text: try String(contentsOf: directory.appendingPathComponent($0), encoding: .utf8))
        }
    }

    /// The golden base rule set with a case's files laid over it (same name replaces, new names add).
    static func goldenFiles(case name: String?) throws -> [RuleFile] {
        var byName: [String: RuleFile] = [:]
        for f in try files(in: goldenDirectory.appendingPathComponent("base")) { byName[f.path] = f }
        if let name {
            for f in try files(in: goldenDirectory.appendingPathComponent("cases/\(name)")) { byName[f.path] = f }
        }
        return byName.keys.sorted().map { byName[$0]! }
    }

    static func compile(_ files: [RuleFile], sourceLocation: Testing.SourceLocation = #_sourceLocation) throws
        -> RuleSet
    {
        let result = RuleSetCompiler.compile(files)
        let errors = result.diagnostics.filter { $0.severity == .error }
        #expect(
            errors.isEmpty, "unexpected errors:\n\(DiagnosticRenderer.text(errors, limit: 10))",
            sourceLocation: sourceLocation)
        return try #require(result.ruleSet, sourceLocation: sourceLocation)
    }

    static var baseRuleSet: RuleSet {
        get throws { try compile(goldenFiles(case: nil)) }
    }

    /// A valid ticket with the given fields laid over a default complaint.
    static func ticket(_ fields: [String: JSONValue], sourceLocation: Testing.SourceLocation = #_sourceLocation) throws
        -> Ticket
    {
        var object = JSONObject([
            ("id", .string("T-1")), ("received_at", .string("2026-03-02T09:00:00+08:00")),
            ("channel", .string("hotline")),
            ("kind", .string("complaint")), ("text", .string("有问题需要处理")),
        ])
        for key in fields.keys.sorted() { object.set(key, fields[key]!) }
        switch TicketContract.validate(.object(object)) {
        case .success(let t): return t
        case .failure(let e):
            Issue.record("invalid test ticket: \(e.issues)", sourceLocation: sourceLocation)
            throw e
        }
    }

    static func region(_ district: String?, _ town: String? = nil, _ village: String? = nil) -> JSONValue {
        var pairs: [(String, JSONValue)] = []
        if let district { pairs.append(("district", .string(district))) }
        if let town { pairs.append(("town", .string(town))) }
        if let village { pairs.append(("village", .string(village))) }
        return .object(JSONObject(pairs))
    }
}
