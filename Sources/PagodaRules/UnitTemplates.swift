/// A pattern of a unit template (`{code}-vc`, `{name}村民委员会`): literal text and placeholders that a
/// region fills in.
struct UnitPattern: Sendable, Hashable {
    /// What a placeholder stands for.
    enum Placeholder: String, Sendable, Hashable, CaseIterable {
        /// The region's administrative code.
        case code
        /// The region's name.
        case name
        /// The name of the region's parent (a village's town, a town's district).
        case parent
        /// The name of the district the region lies in (the region itself for a district).
        case district
        /// The name of the town the region lies in (the region itself for a town).
        case town
        /// The administrative code of the region's parent (a village's town, a town's district): only in a
        /// queue pattern, where it makes one queue that the template's units of one parent share.
        case parentCode = "parent_code"
    }

    enum Piece: Sendable, Hashable {
        case literal(String)
        case placeholder(Placeholder)
    }

    let pieces: [Piece]

    /// The placeholders written, in order.
    var placeholders: [Placeholder] {
        pieces.compactMap {
            if case .placeholder(let p) = $0 { return p }
            return nil
        }
    }

    /// The literal text, without placeholders.
    var literalText: String {
        pieces.map {
            if case .literal(let s) = $0 { return s }
            return ""
        }.joined()
    }

    /// Parses `text`; the error names what is wrong (an unknown placeholder, an unclosed `{`, a stray `}`).
    static func parse(_ text: String) -> Result<UnitPattern, PatternError> {
        var pieces: [Piece] = []
        var literal = ""
        var index = text.startIndex
        while index < text.endIndex {
            let c = text[index]
            if c == "}" { return .failure(PatternError(message: "a '}' without its '{'")) }
            guard c == "{" else {
                literal.append(c)
                index = text.index(after: index)
                continue
            }
            guard let close = text[index...].firstIndex(of: "}") else {
                return .failure(PatternError(message: "a '{' without its '}'"))
            }
            let word = String(text[text.index(after: index)..<close])
            guard let placeholder = Placeholder(rawValue: word) else {
                let known = Placeholder.allCases.map { "{\($0.rawValue)}" }.joined(separator: ", ")
                let hint =
                    YAMLReader.suggestion(for: word, among: Placeholder.allCases.map(\.rawValue)).map {
                        " (did you mean '{\($0)}'?)"
                    } ?? ""
                return .failure(PatternError(message: "unknown placeholder '{\(word)}'\(hint); use \(known)"))
            }
            if !literal.isEmpty { pieces.append(.literal(literal)) }
            literal = ""
            pieces.append(.placeholder(placeholder))
            index = text.index(after: close)
        }
        if !literal.isEmpty { pieces.append(.literal(literal)) }
        return .success(UnitPattern(pieces: pieces))
    }

    struct PatternError: Error, Sendable {
        let message: String
    }

    /// The text for one region; nil when a placeholder has no value there (a region without a code).
    func render(_ value: (Placeholder) -> String?) -> String? {
        var out = ""
        for piece in pieces {
            switch piece {
            case .literal(let s): out += s
            case .placeholder(let p):
                guard let v = value(p) else { return nil }
                out += v
            }
        }
        return out
    }
}

/// A unit template as written: one unit per region of `level` (`each: village`).
struct UnitTemplateSpec: Sendable {
    var level: Level
    var id: Located<String>
    var idPattern: UnitPattern
    var name: Located<String>
    var namePattern: UnitPattern
    var function: Located<String>
    var queue: Located<String>?
    var queuePattern: UnitPattern?
    var location: RulePosition
}
