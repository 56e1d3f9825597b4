import PagodaJSON
import Yams

/// The national administrative division code table (行政区划代码) as CSV, turned into a rule set's
/// `regions:` tree.
///
/// Each row is `code, name, level, parent code`. A first row whose code is not digits is a header and may
/// put the columns in another order (`code`, `name`, `level`, `parent` or `parent_code`). Levels are
/// 1-5 or their names: `province`/省, `city`/市, `county`/`district`/县/区, `town`/乡/镇/街道,
/// `village`/村/社区. Fields may be quoted as RFC 4180 says. The table may be the whole country's: only the
/// rows under the chosen city are used, and the rest need only be well formed.
///
/// Pure: the caller reads the files. Errors name the file, line and column, as rule diagnostics do.
public enum RegionTable {
    /// The levels of the table, province (1) to village (5).
    public enum Level: Int, Sendable, Comparable {
        case province = 1
        case city
        case county
        case town
        case village

        public static func < (a: Level, b: Level) -> Bool { a.rawValue < b.rawValue }

        init?(text: String) {
            switch text.lowercased() {
            case "1", "province", "省": self = .province
            case "2", "city", "市": self = .city
            case "3", "county", "district", "县", "区": self = .county
            case "4", "town", "street", "乡", "镇", "街道": self = .town
            case "5", "village", "community", "村", "社区": self = .village
            default: return nil
            }
        }
    }

    /// One row of the table.
    public struct Row: Sendable, Equatable {
        public var code: String
        public var name: String
        public var level: Level
        /// Empty for a row without a parent (a province).
        public var parent: String
        /// The row's line in the file (1-based).
        public var line: Int
    }

    /// A mistake in the table, with its position.
    public struct ImportError: Error, Sendable, Equatable, CustomStringConvertible {
        public var file: String
        public var line: Int
        public var column: Int
        public var message: String

        public var description: String { "\(file):\(line):\(column): error: \(message)" }
    }

    /// Reads the rows of a CSV table. Blank lines are skipped.
    public static func parse(_ text: String, file: String) throws(ImportError) -> [Row] {
        let records = try csvRecords(text, file: file)
        var columns = (code: 0, name: 1, level: 2, parent: 3)
        var rows: [Row] = []
        for (index, record) in records.enumerated() {
            let (line, fields) = record
            if index == 0, let first = fields.first, !first.isEmpty, !first.allSatisfy(\.isASCIIDigitCharacter) {
                let names = fields.map { $0.lowercased().trimmingCharacters() }
                func column(_ wanted: [String]) throws(ImportError) -> Int {
                    guard let i = names.firstIndex(where: { wanted.contains($0) }) else {
                        throw ImportError(
                            file: file, line: line, column: 1,
                            message: "the header has no column \(wanted[0]) (expected code, name, level, parent)")
                    }
                    return i
                }
                columns = (
                    try column(["code"]), try column(["name"]), try column(["level"]),
                    try column(["parent", "parent_code"])
                )
                continue
            }
            let width = max(columns.code, columns.name, columns.level, columns.parent) + 1
            guard fields.count >= width else {
                throw ImportError(
                    file: file, line: line, column: 1,
                    message: "\(fields.count) field(s); a row has \(width): code, name, level, parent code")
            }
            func field(_ i: Int) -> String { fields[i].trimmingCharacters() }
            let code = field(columns.code)
            let name = field(columns.name)
            let parent = field(columns.parent)
            guard !code.isEmpty, code.allSatisfy(\.isASCIIDigitCharacter) else {
                throw ImportError(
                    file: file, line: line, column: columnOf(columns.code, in: fields),
                    message: "code '\(code)' is not a number of digits")
            }
            guard !name.isEmpty else {
                throw ImportError(
                    file: file, line: line, column: columnOf(columns.name, in: fields), message: "empty name")
            }
            guard let level = Level(text: field(columns.level)) else {
                throw ImportError(
                    file: file, line: line, column: columnOf(columns.level, in: fields),
                    message:
                        "unknown level '\(field(columns.level))' (expected 1-5, province, city, county, town or village)"
                )
            }
            guard parent.allSatisfy(\.isASCIIDigitCharacter) else {
                throw ImportError(
                    file: file, line: line, column: columnOf(columns.parent, in: fields),
                    message: "parent code '\(parent)' is not a number of digits")
            }
            rows.append(Row(code: code, name: name, level: level, parent: parent, line: line))
        }
        return rows
    }

    /// The `regions:` file for the city whose code is `city`: its county-level children become districts,
    /// theirs towns, and theirs villages, in the table's order. `aliases` (by code) are written with their
    /// regions; ``aliases(inRegionsYAML:)`` reads them from an existing file.
    public static func regionsYAML(
        rows: [Row], city: String, aliases: [String: [String]] = [:], file: String, header: String = ""
    ) throws(ImportError) -> String {
        var byCode: [String: Row] = [:]
        var children: [String: [Row]] = [:]
        for row in rows {
            if let earlier = byCode[row.code] {
                throw ImportError(
                    file: file, line: row.line, column: 1,
                    message: "code \(row.code) is on line \(earlier.line) too")
            }
            byCode[row.code] = row
            children[row.parent, default: []].append(row)
        }
        guard let root = byCode[city] else {
            throw ImportError(file: file, line: 1, column: 1, message: "no row has the city's code \(city)")
        }
        guard root.level == .city else {
            throw ImportError(
                file: file, line: root.line, column: 1,
                message: "\(root.name) (\(root.code)) is not at city level (level \(root.level.rawValue))")
        }
        // Every row under the city: a level one below its parent's, a name unique among its siblings.
        func check(_ parent: Row) throws(ImportError) {
            var seen: [String: Int] = [:]
            for child in children[parent.code] ?? [] {
                guard child.level.rawValue == parent.level.rawValue + 1 else {
                    throw ImportError(
                        file: file, line: child.line, column: 1,
                        message:
                            "\(child.name) (\(child.code)) is at level \(child.level.rawValue) under \(parent.name), which is at level \(parent.level.rawValue)"
                    )
                }
                if let other = seen[child.name] {
                    throw ImportError(
                        file: file, line: child.line, column: 1,
                        message: "\(parent.name) has two regions named \(child.name) (lines \(other) and \(child.line))"
                    )
                }
                seen[child.name] = child.line
                try check(child)
            }
        }
        try check(root)

        // Written by hand rather than through a YAML emitter: a city has over 100,000 villages, one line each.
        var out = header + "regions:\n"
        // `first` starts the item's first line (its dash, for a district or town), `indent` the others.
        func write(_ row: Row, first: String, indent: String, childKey: String?) {
            out += "\(first)name: \(yamlScalar(row.name))\n\(indent)code: \"\(row.code)\"\n"
            if let a = aliases[row.code], !a.isEmpty { out += "\(indent)aliases: \(yamlList(a))\n" }
            guard let childKey, let kids = children[row.code], !kids.isEmpty else { return }
            out += "\(indent)\(childKey):\n"
            for kid in kids {
                if childKey == "villages" {
                    out += "\(indent)  - {name: \(yamlScalar(kid.name)), code: \"\(kid.code)\""
                    if let a = aliases[kid.code], !a.isEmpty { out += ", aliases: \(yamlList(a))" }
                    out += "}\n"
                } else {
                    write(
                        kid, first: indent + "  - ", indent: indent + "    ",
                        childKey: childKey == "districts" ? "towns" : "villages")
                }
            }
        }
        write(root, first: "  ", indent: "  ", childKey: "districts")
        return out
    }

    /// A name as a YAML scalar: plain when it is letters and digits only (Chinese names are), else quoted.
    static func yamlScalar(_ s: String) -> String {
        if let first = s.first, !first.isNumber, s.allSatisfy({ $0.isLetter || $0.isNumber || $0 == "_" }),
            !["true", "false", "null", "yes", "no", "on", "off", "y", "n", "~"].contains(s.lowercased())
        {
            return s
        }
        var q = "\""
        for c in s.unicodeScalars {
            switch c {
            case "\"": q += "\\\""
            case "\\": q += "\\\\"
            case "\n": q += "\\n"
            case "\t": q += "\\t"
            default:
                if c.value < 0x20 {
                    q += "\\x" + String(c.value, radix: 16).leftPadded(2)
                } else {
                    q.unicodeScalars.append(c)
                }
            }
        }
        return q + "\""
    }

    static func yamlList(_ items: [String]) -> String { "[" + items.map(yamlScalar).joined(separator: ", ") + "]" }

    /// The aliases of an existing regions file, by code: what `pagoda regions import` keeps when the tree
    /// is written again from the table. Regions without a code keep nothing (the table gives every region
    /// one).
    public static func aliases(inRegionsYAML text: String) -> [String: [String]] {
        guard let root = try? Yams.compose(yaml: text)?["regions"] else { return [:] }
        var out: [String: [String]] = [:]
        func walk(_ n: Node) {
            if let code = n["code"]?.string, let list = n["aliases"]?.sequence {
                out[code] = list.compactMap(\.string)
            }
            for key in ["districts", "towns", "villages"] {
                for child in n[key]?.sequence ?? [] { walk(child) }
            }
        }
        walk(root)
        return out
    }

    // MARK: CSV

    /// RFC 4180 records with their line numbers: fields separated by commas, optionally quoted with `"`
    /// (a quote inside doubled), lines ended by LF or CRLF. A byte-order mark at the start is skipped.
    /// Columns count characters.
    static func csvRecords(_ text: String, file: String) throws(ImportError) -> [(line: Int, fields: [String])] {
        var bytes = Array(text.utf8)[...]
        if bytes.starts(with: [0xEF, 0xBB, 0xBF]) { bytes = bytes.dropFirst(3) }
        let quote = UInt8(ascii: "\"")
        let comma = UInt8(ascii: ",")
        let lf = UInt8(ascii: "\n")
        let cr = UInt8(ascii: "\r")
        var records: [(Int, [String])] = []
        var fields: [String] = []
        var field: [UInt8] = []
        var line = 1
        var column = 0
        var recordLine = 1
        var quoted = false
        var wasQuoted = false
        var afterQuote = false
        func endField() {
            fields.append(String(decoding: field, as: UTF8.self))
            field.removeAll(keepingCapacity: true)
            afterQuote = false
        }
        var i = bytes.startIndex
        while i < bytes.endIndex {
            let b = bytes[i]
            i += 1
            if b & 0xC0 != 0x80 { column += 1 }
            if quoted {
                if b == quote {
                    if i < bytes.endIndex && bytes[i] == quote {
                        field.append(quote)
                        i += 1
                        column += 1
                    } else {
                        quoted = false
                        afterQuote = true
                    }
                } else {
                    if b == lf {
                        line += 1
                        column = 0
                    }
                    field.append(b)
                }
                continue
            }
            switch b {
            case quote:
                guard field.isEmpty, !afterQuote else {
                    throw ImportError(
                        file: file, line: line, column: column, message: "a quote inside an unquoted field")
                }
                quoted = true
                wasQuoted = true
            case comma:
                endField()
            case cr:
                continue
            case lf:
                endField()
                if !(fields.count == 1 && fields[0].isEmpty && !wasQuoted) { records.append((recordLine, fields)) }
                fields = []
                wasQuoted = false
                line += 1
                column = 0
                recordLine = line
            default:
                if afterQuote {
                    throw ImportError(file: file, line: line, column: column, message: "text after a closing quote")
                }
                field.append(b)
            }
        }
        if quoted {
            throw ImportError(file: file, line: recordLine, column: 1, message: "a quoted field is not closed")
        }
        if !field.isEmpty || !fields.isEmpty || wasQuoted {
            endField()
            records.append((recordLine, fields))
        }
        return records
    }

    /// The 1-based column where field `index` starts, counted in fields (commas) when the text is not at hand.
    private static func columnOf(_ index: Int, in fields: [String]) -> Int {
        fields.prefix(index).reduce(1) { $0 + $1.count + 1 }
    }
}

extension Character {
    fileprivate var isASCIIDigitCharacter: Bool { isASCII && isNumber }
}

extension String {
    fileprivate func leftPadded(_ width: Int) -> String { String(repeating: "0", count: max(0, width - count)) + self }

    fileprivate func trimmingCharacters() -> String {
        var s = Substring(self)
        while let f = s.first, f == " " || f == "\t" || f == "\u{3000}" { s.removeFirst() }
        while let l = s.last, l == " " || l == "\t" || l == "\u{3000}" { s.removeLast() }
        return String(s)
    }
}
