import Foundation
import PagodaJSON
import Yams

/// Reads composed YAML nodes into typed values, reporting every problem with its file position.
///
/// Each accessor returns `nil` after recording a diagnostic when the node has the wrong shape, so a
/// loader can keep going and collect all problems in one pass.
struct YAMLReader {
    let file: String
    var diagnostics = DiagnosticBag()
    let limits: RuleLimits
    let shouldStop: StopCheck?
    /// Set when `compose` gave up because `shouldStop` said so.
    private(set) var stopped = false

    init(file: String, limits: RuleLimits = .standard, shouldStop: StopCheck? = nil) {
        self.file = file
        self.limits = limits
        self.shouldStop = shouldStop
    }

    func location(_ node: Node) -> RulePosition {
        let mark = node.mark
        return RulePosition(file: file, line: mark?.line ?? 1, column: mark?.column ?? 1)
    }

    /// Parses one rule file after checking it against the limits (`R080`-`R082`: one error, and no
    /// node); syntax errors are reported with the position libyaml gives.
    mutating func compose(_ file: RuleFile) -> Node? {
        if let bad = file.invalidByte {
            diagnostics.error(
                .yamlSyntax,
                "the file is not UTF-8 text (byte 0x\(String(bad.byte, radix: 16, uppercase: true)) here): "
                    + "save it as UTF-8, as rule files are read",
                at: RulePosition(file: self.file, line: bad.line, column: bad.column))
            return nil
        }
        let size = file.unreadSize ?? file.text.utf8.count
        if size > limits.maxFileBytes {
            diagnostics.error(
                .fileTooLarge,
                "the file is \(Self.bytes(size)); a rule file may hold at most \(Self.bytes(limits.maxFileBytes))",
                at: RulePosition(file: self.file, line: 1, column: 1))
            return nil
        }
        switch YAMLExpansion.check(file.text, limits: limits, shouldStop: shouldStop) {
        case .withinLimits:
            break
        case .stopped:
            stopped = true
            return nil
        case .tooManyAliases(let line, let column):
            diagnostics.error(
                .tooManyAliases, "more than \(limits.maxAliases) aliases in one file; this is the first one over",
                at: RulePosition(file: self.file, line: line, column: column))
            return nil
        case .expandsTooFar(let line, let column, let added):
            diagnostics.error(
                .aliasExpansion,
                "aliases would expand this file by more than \(limits.maxAliasNodes) nodes; "
                    + "this alias alone adds \(added)",
                at: RulePosition(file: self.file, line: line, column: column))
            return nil
        }
        return compose(text: file.text)
    }

    /// A size for people: bytes below 1 MiB, else MiB with one decimal.
    static func bytes(_ n: Int) -> String {
        n < 1 << 20 ? "\(n) bytes" : String(format: "%.1f MiB", Double(n) / Double(1 << 20))
    }

    /// Parses one file's text; syntax errors are reported with the position libyaml gives.
    private mutating func compose(text: String) -> Node? {
        do {
            return try Yams.compose(yaml: text)
        } catch let error as YamlError {
            switch error {
            case .scanner(let context, let problem, let mark, _), .parser(let context, let problem, let mark, _),
                .composer(let context, let problem, let mark, _):
                let ctx = context.map { "\($0.text) " } ?? ""
                if let tab = Self.indentationTab(in: text, near: mark.line) {
                    let message = "a tab in the indentation: YAML indents with spaces only; replace the tab with spaces"
                    let location = RulePosition(file: file, line: tab.line, column: tab.column)
                    diagnostics.error(.yamlSyntax, message, at: location)
                } else {
                    diagnostics.error(.yamlSyntax, "YAML syntax: \(ctx)\(problem)", at: at(mark))
                }
            case .duplicatedKeysInMapping(let duplicates, let context):
                // At the key written again, where the mistake is (Yams gives the first one).
                let names = Set(duplicates)
                let again = YAMLDuplicates.repeatedKey(in: text, among: names)
                diagnostics.error(
                    .duplicateKey,
                    "duplicate key \(duplicates.map { "'\($0)'" }.joined(separator: ", ")) in one mapping",
                    at: again.map { RulePosition(file: file, line: $0.line, column: $0.column) } ?? at(context.mark))
            case .reader(let problem, let offset, _, let yaml):
                let (line, column) = Self.lineColumn(ofUTF8Offset: offset ?? 0, in: yaml)
                diagnostics.error(
                    .yamlSyntax, "cannot read file: \(problem)",
                    at: RulePosition(file: file, line: line, column: column))
            default:
                diagnostics.error(.yamlSyntax, "YAML error: \(error)", at: RulePosition(file: file, line: 1, column: 1))
            }
            return nil
        } catch {
            diagnostics.error(.yamlSyntax, "YAML error: \(error)", at: RulePosition(file: file, line: 1, column: 1))
            return nil
        }
    }

    /// The first tab in the indentation of line `line` (1-based) or the line above it, where libyaml's
    /// error about a tab points; nil when neither line is indented with a tab.
    static func indentationTab(in text: String, near line: Int) -> (line: Int, column: Int)? {
        let lines = text.split(separator: "\n", omittingEmptySubsequences: false)
        for n in [line - 1, line] where n >= 1 && n <= lines.count {
            let indent = lines[n - 1].prefix { $0 == " " || $0 == "\t" }
            if let i = indent.firstIndex(of: "\t") { return (n, indent.distance(from: indent.startIndex, to: i) + 1) }
        }
        return nil
    }

    private func at(_ mark: Mark) -> RulePosition {
        RulePosition(file: file, line: max(mark.line, 1), column: max(mark.column, 1))
    }

    static func lineColumn(ofUTF8Offset offset: Int, in text: String) -> (Int, Int) {
        var line = 1
        var column = 1
        var seen = 0
        for scalar in text.unicodeScalars {
            if seen >= offset { break }
            seen += String(scalar).utf8.count
            if scalar == "\n" {
                line += 1
                column = 1
            } else {
                column += 1
            }
        }
        return (line, column)
    }

    // MARK: Shapes

    /// A mapping's entries keyed by name, after checking that every key is allowed and every required
    /// key is present. Unknown keys get a did-you-mean suggestion.
    mutating func mapping(
        _ node: Node, what: String, allowed: [String], required: [String] = []
    ) -> Entries? {
        guard case .mapping(let mapping) = node else {
            diagnostics.error(.wrongType, "\(what) must be a mapping, got \(Self.describe(node))", at: location(node))
            return nil
        }
        var entries = Entries(node: node)
        for (keyNode, value) in pairs(mapping) {
            guard let key = keyNode.scalar?.string else {
                diagnostics.error(.wrongType, "keys of \(what) must be plain names", at: location(keyNode))
                continue
            }
            if !allowed.contains(key) {
                let hint = Self.suggestion(for: key, among: allowed).map { " (did you mean '\($0)'?)" } ?? ""
                diagnostics.error(.unknownKey, "unknown key '\(key)' in \(what)\(hint)", at: location(keyNode))
                continue
            }
            entries.values[key] = value
            entries.keys[key] = keyNode
        }
        for key in required where entries.values[key] == nil {
            diagnostics.error(.missingKey, "\(what) is missing required key '\(key)'", at: location(node))
        }
        return entries
    }

    /// A mapping's pairs with YAML merge keys expanded (`<<: *base`, or `<<: [*a, *b]`): the merged mappings'
    /// pairs (of an earlier one before a later one's) and then the mapping's own, which override them. Each
    /// value keeps its position, where the anchor's mapping wrote it.
    mutating func pairs(_ mapping: Node.Mapping, report: Bool = true) -> [(Node, Node)] {
        var own: [(Node, Node)] = []
        var merged: [(Node, Node)] = []
        var mergedKeys: Set<String> = []
        for (keyNode, value) in mapping {
            guard keyNode.scalar?.string == "<<" else {
                own.append((keyNode, value))
                continue
            }
            let sources: [Node]
            if case .sequence(let list) = value { sources = Array(list) } else { sources = [value] }
            for source in sources {
                guard case .mapping(let m) = source else {
                    guard report else { continue }
                    diagnostics.error(
                        .wrongType,
                        "a merge key '<<' takes a mapping or a list of them (an alias such as *base), "
                            + "got \(Self.describe(source))", at: location(source))
                    continue
                }
                for (k, v) in pairs(m, report: report) where mergedKeys.insert(k.scalar?.string ?? "").inserted {
                    merged.append((k, v))
                }
            }
        }
        if merged.isEmpty { return own }
        let ownKeys = Set(own.compactMap { $0.0.scalar?.string })
        return merged.filter { !ownKeys.contains($0.0.scalar?.string ?? "") } + own
    }

    /// The pairs of a mapping whose keys are names chosen by the author (profiles, categories, years).
    mutating func namedMapping(_ node: Node, what: String) -> [(key: String, keyNode: Node, value: Node)]? {
        guard case .mapping(let mapping) = node else {
            diagnostics.error(.wrongType, "\(what) must be a mapping, got \(Self.describe(node))", at: location(node))
            return nil
        }
        var result: [(String, Node, Node)] = []
        for (keyNode, value) in pairs(mapping) {
            guard let key = keyNode.scalar?.string else {
                diagnostics.error(.wrongType, "keys of \(what) must be plain names", at: location(keyNode))
                continue
            }
            result.append((key, keyNode, value))
        }
        return result.map { (key: $0.0, keyNode: $0.1, value: $0.2) }
    }

    mutating func sequence(_ node: Node, what: String) -> [Node]? {
        switch node {
        case .sequence(let seq): return Array(seq)
        default:
            diagnostics.error(.wrongType, "\(what) must be a list, got \(Self.describe(node))", at: location(node))
            return nil
        }
    }

    /// A list of scalars; a single scalar is accepted as a list of one.
    mutating func stringList(_ node: Node, what: String) -> [(value: String, node: Node)]? {
        if case .scalar(let scalar) = node { return [(scalar.string, node)] }
        guard let items = sequence(node, what: what) else { return nil }
        var out: [(String, Node)] = []
        for item in items {
            if let s = string(item, what: "an entry of \(what)") { out.append((s, item)) }
        }
        return out.map { (value: $0.0, node: $0.1) }
    }

    mutating func string(_ node: Node, what: String) -> String? {
        guard case .scalar(let scalar) = node else {
            diagnostics.error(
                .wrongType, "\(what) must be a single value, got \(Self.describe(node))", at: location(node))
            return nil
        }
        return scalar.string
    }

    mutating func nonEmptyString(_ node: Node, what: String) -> String? {
        guard let s = string(node, what: what) else { return nil }
        if s.trimmingCharacters(in: .whitespaces).isEmpty {
            diagnostics.error(.invalidValue, "\(what) must not be empty", at: location(node))
            return nil
        }
        return s
    }

    mutating func bool(_ node: Node, what: String) -> Bool? {
        guard let s = string(node, what: what) else { return nil }
        switch s {
        case "true": return true
        case "false": return false
        default:
            diagnostics.error(.wrongType, "\(what) must be true or false, got '\(s)'", at: location(node))
            return nil
        }
    }

    mutating func int(_ node: Node, what: String, range: ClosedRange<Int>) -> Int? {
        guard let s = string(node, what: what) else { return nil }
        guard let v = Int(s), range.contains(v) else {
            diagnostics.error(
                .invalidValue,
                "\(what) must be a whole number from \(range.lowerBound) to \(range.upperBound), got '\(s)'",
                at: location(node))
            return nil
        }
        return v
    }

    /// A value from a closed set, with a did-you-mean when it is close to one of them.
    mutating func oneOf<T>(_ node: Node, what: String, _ values: [(String, T)]) -> T? {
        guard let s = string(node, what: what) else { return nil }
        if let hit = values.first(where: { $0.0 == s }) { return hit.1 }
        let names = values.map(\.0)
        let hint = Self.suggestion(for: s, among: names).map { " (did you mean '\($0)'?)" } ?? ""
        diagnostics.error(
            .invalidValue, "\(what) must be one of \(names.joined(separator: ", ")); got '\(s)'\(hint)",
            at: location(node))
        return nil
    }

    static func describe(_ node: Node) -> String {
        switch node {
        case .scalar(let s): return s.string.isEmpty ? "an empty value" : "a single value"
        case .mapping: return "a mapping"
        case .sequence: return "a list"
        case .alias: return "an alias"
        }
    }

    // MARK: Did you mean

    /// The closest candidate within a small edit distance, for "did you mean" hints.
    static func suggestion(for word: String, among candidates: [String]) -> String? {
        let limit = max(1, min(3, word.count / 3))
        var best: (String, Int)?
        for c in candidates {
            let d = Spelling.editDistance(word, c)
            if d <= limit, best == nil || d < best!.1 { best = (c, d) }
        }
        return best?.0
    }
}

/// The checked entries of a mapping node.
struct Entries {
    let node: Node
    var values: [String: Node] = [:]
    var keys: [String: Node] = [:]

    init(node: Node) { self.node = node }

    subscript(key: String) -> Node? { values[key] }
}

/// Spelling distance for "did you mean" hints, shared by the rule diagnostics and the console.
public enum Spelling {
    /// Edits (insert, delete, replace, or swap two neighbours) between two strings, by Unicode scalar.
    public static func editDistance(_ a: String, _ b: String) -> Int {
        let a = Array(a.unicodeScalars)
        let b = Array(b.unicodeScalars)
        if a.isEmpty { return b.count }
        if b.isEmpty { return a.count }
        var prev = Array(0...b.count)
        var cur = [Int](repeating: 0, count: b.count + 1)
        for i in 1...a.count {
            cur[0] = i
            for j in 1...b.count {
                let cost = a[i - 1] == b[j - 1] ? 0 : 1
                cur[j] = min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + cost)
                // Transposition of neighbours counts as one edit.
                if i > 1, j > 1, a[i - 1] == b[j - 2], a[i - 2] == b[j - 1] { cur[j] = min(cur[j], prev[j - 1]) }
            }
            swap(&prev, &cur)
        }
        return prev[b.count]
    }
}
