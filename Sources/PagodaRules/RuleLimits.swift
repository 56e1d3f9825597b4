// libyaml, as Yams builds it. Yams composes a whole document before anyone can look at it, and hashes
// mapping keys as it goes; a key that is an alias of a deep tree is hashed at its expanded size. The
// expansion check below reads libyaml's events itself so that it can stop before Yams starts.
internal import CYaml
import Foundation
import PagodaJSON

/// How much one rule file may hold, so that a hostile or mistaken file is refused with a positioned
/// error instead of taking the process's time and memory.
///
/// - `maxFileBytes`: the size of a file on disk (`R080`); a larger file is not read at all.
/// - `maxAliases`: YAML aliases (`*name`) in one file (`R081`).
/// - `maxAliasNodes`: the nodes aliases may add to one file when expanded, beyond the alias nodes
///   themselves (`R082`). A file without aliases holds as many nodes as it has written; each alias counts
///   at the size of the node it names, so a file of nested aliases ("billion laughs") is refused at the
///   alias that crosses the limit, after work linear in the file's length.
///
/// The defaults admit rule sets far larger than a city's (a regions file of 110,000 villages, each with a
/// 12-digit code, is 7.8 MB: `ops/bench/regions.sh`) and refuse a 50 MB file.
public struct RuleLimits: Sendable, Hashable {
    public var maxFileBytes: Int
    public var maxAliases: Int
    public var maxAliasNodes: Int

    public init(maxFileBytes: Int = 32 << 20, maxAliases: Int = 10_000, maxAliasNodes: Int = 200_000) {
        self.maxFileBytes = maxFileBytes
        self.maxAliases = maxAliases
        self.maxAliasNodes = maxAliasNodes
    }

    public static let standard = RuleLimits()
}

/// Asks whether the work in progress should stop (graceful shutdown during a reload). Called from the
/// thread doing the work, often: it must be cheap.
public typealias StopCheck = @Sendable () -> Bool

/// Counts one YAML file's nodes with every alias expanded, without building them, and stops at the first
/// limit crossed.
///
/// Work is linear in the file's length and memory in its anchors and nesting depth. Syntax errors are
/// left to the composer, which reports them with the same positions.
enum YAMLExpansion {
    enum Outcome: Equatable {
        case withinLimits
        /// A limit was crossed at this alias (1-based line and column, as Yams reports them).
        case tooManyAliases(line: Int, column: Int)
        case expandsTooFar(line: Int, column: Int, added: Int)
        case stopped
    }

    static func check(_ text: String, limits: RuleLimits, shouldStop: StopCheck? = nil) -> Outcome {
        // Without an alias there is nothing to expand: a file holds the nodes it writes.
        guard text.utf8.contains(UInt8(ascii: "*")) else { return .withinLimits }
        var text = text
        return text.withUTF8 { bytes in check(bytes, limits: limits, shouldStop: shouldStop) }
    }

    private static func check(
        _ bytes: UnsafeBufferPointer<UInt8>, limits: RuleLimits, shouldStop: StopCheck?
    ) -> Outcome {
        var parser = yaml_parser_t()
        guard yaml_parser_initialize(&parser) == 1 else { return .withinLimits }
        defer { yaml_parser_delete(&parser) }
        yaml_parser_set_encoding(&parser, YAML_UTF8_ENCODING)
        yaml_parser_set_input_string(&parser, bytes.baseAddress, bytes.count)

        /// An open sequence or mapping: its anchor and the nodes it holds so far, itself included.
        struct Open {
            var anchor: String?
            var nodes: Int
        }
        var open: [Open] = []
        var sizes: [String: Int] = [:]
        var aliases = 0
        var added = 0
        var events = 0
        func anchor(_ p: UnsafeMutablePointer<yaml_char_t>?) -> String? { p.map { String(cString: $0) } }
        func close(_ nodes: Int, anchor: String?) {
            if let anchor { sizes[anchor] = nodes }
            if !open.isEmpty { open[open.count - 1].nodes += nodes }
        }

        var event = yaml_event_t()
        while true {
            events += 1
            if events & 4095 == 0, shouldStop?() == true { return .stopped }
            guard yaml_parser_parse(&parser, &event) == 1 else { return .withinLimits }
            defer { yaml_event_delete(&event) }
            let line = Int(event.start_mark.line) + 1
            let column = Int(event.start_mark.column) + 1
            switch event.type {
            case YAML_STREAM_END_EVENT:
                return .withinLimits
            case YAML_SCALAR_EVENT:
                close(1, anchor: anchor(event.data.scalar.anchor))
            case YAML_SEQUENCE_START_EVENT:
                open.append(Open(anchor: anchor(event.data.sequence_start.anchor), nodes: 1))
            case YAML_MAPPING_START_EVENT:
                open.append(Open(anchor: anchor(event.data.mapping_start.anchor), nodes: 1))
            case YAML_SEQUENCE_END_EVENT, YAML_MAPPING_END_EVENT:
                if let done = open.popLast() { close(done.nodes, anchor: done.anchor) }
            case YAML_ALIAS_EVENT:
                aliases += 1
                if aliases > limits.maxAliases { return .tooManyAliases(line: line, column: column) }
                // An undefined alias is the composer's error to report; count it as one node.
                let nodes = anchor(event.data.alias.anchor).flatMap { sizes[$0] } ?? 1
                added += nodes - 1
                if added > limits.maxAliasNodes { return .expandsTooFar(line: line, column: column, added: nodes - 1) }
                close(nodes, anchor: nil)
            default:
                break
            }
        }
    }
}

/// Where a key is written a second time in one mapping, for the duplicate-key error: one pass over the
/// parser's events, as `YAMLExpansion` makes.
enum YAMLDuplicates {
    /// The position (1-based line and column) of the first key of `names` written again in a mapping that
    /// holds it already; nil when there is none (or the text does not parse that far).
    static func repeatedKey(in text: String, among names: Set<String>) -> (line: Int, column: Int)? {
        var text = text
        return text.withUTF8 { bytes in
            var parser = yaml_parser_t()
            guard yaml_parser_initialize(&parser) == 1 else { return nil }
            defer { yaml_parser_delete(&parser) }
            yaml_parser_set_encoding(&parser, YAML_UTF8_ENCODING)
            yaml_parser_set_input_string(&parser, bytes.baseAddress, bytes.count)
            /// An open node: for a mapping, whether its next child is a key, and the keys it has.
            struct Open {
                var isMapping: Bool
                var atKey = true
                var keys: Set<String> = []
            }
            var open: [Open] = []
            /// A child node is complete: in a mapping, a key is followed by its value and the reverse.
            func completed() {
                if let last = open.indices.last, open[last].isMapping { open[last].atKey.toggle() }
            }
            var event = yaml_event_t()
            while true {
                guard yaml_parser_parse(&parser, &event) == 1 else { return nil }
                defer { yaml_event_delete(&event) }
                switch event.type {
                case YAML_STREAM_END_EVENT:
                    return nil
                case YAML_SCALAR_EVENT:
                    if let last = open.indices.last, open[last].isMapping, open[last].atKey {
                        let key = String(
                            decoding: UnsafeBufferPointer(
                                start: event.data.scalar.value, count: Int(event.data.scalar.length)),
                            as: UTF8.self)
                        if names.contains(key), !open[last].keys.insert(key).inserted {
                            return (Int(event.start_mark.line) + 1, Int(event.start_mark.column) + 1)
                        }
                    }
                    completed()
                case YAML_ALIAS_EVENT:
                    completed()
                case YAML_SEQUENCE_START_EVENT:
                    open.append(Open(isMapping: false))
                case YAML_MAPPING_START_EVENT:
                    open.append(Open(isMapping: true))
                case YAML_SEQUENCE_END_EVENT, YAML_MAPPING_END_EVENT:
                    open.removeLast()
                    completed()
                default:
                    break
                }
            }
        }
    }
}
