import ArgumentParser
import Foundation
import PagodaJSON
import PagodaRules

struct Regions: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Work with the region tree of a rule set.", subcommands: [RegionsImport.self])
}

struct RegionsImport: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "import",
        abstract:
            "Write regions.yaml from the administrative division code table (CSV: code, name, level, parent code).",
        discussion: """
            The city's county-level children become districts, theirs towns, and theirs villages, each with its code. The \
            table may be the whole country's. Aliases are not in the table: --aliases-from takes them, by code, from an \
            existing regions.yaml (usually the one being replaced). Errors name FILE:LINE:COLUMN and nothing is written.
            """)

    @Argument(help: "The CSV table.")
    var table: String

    @Option(help: "The code of the city at the root of the tree (for example 440600).")
    var city: String

    @Option(help: "An existing regions.yaml whose aliases are kept, matched by code.")
    var aliasesFrom: String?

    @Option(
        name: .shortAndLong,
        help: "Where to write the YAML (default: standard output). Written only when the table is valid.")
    var output: String?

    func run() throws {
        guard let data = FileManager.default.contents(atPath: table), let text = String(data: data, encoding: .utf8)
        else {
            printError("pagoda regions import: cannot read \(table) as UTF-8 text\n")
            throw ExitCode.failure
        }
        var aliases: [String: [String]] = [:]
        if let aliasesFrom {
            guard let existing = try? String(contentsOfFile: aliasesFrom, encoding: .utf8) else {
                printError("pagoda regions import: cannot read \(aliasesFrom)\n")
                throw ExitCode.failure
            }
            aliases = RegionTable.aliases(inRegionsYAML: existing)
        }
        let yaml: String
        do {
            let rows = try RegionTable.parse(text, file: table)
            let header =
                "# Written by `pagoda regions import \((table as NSString).lastPathComponent) --city \(city)`"
                + (aliasesFrom == nil ? "" : ", aliases kept from \((aliasesFrom! as NSString).lastPathComponent)")
                + ".\n"
            yaml = try RegionTable.regionsYAML(rows: rows, city: city, aliases: aliases, file: table, header: header)
        } catch {
            printError("\(error)\n")
            throw ExitCode.failure
        }
        if let output {
            try Data(yaml.utf8).write(to: URL(fileURLWithPath: output), options: .atomic)
        } else {
            print(yaml, terminator: "")
        }
    }
}
