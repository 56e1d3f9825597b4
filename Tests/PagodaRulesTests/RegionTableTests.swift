import Foundation
import PagodaJSON
import Testing
import Yams

@testable import PagodaRules

/// `pagoda regions import`: the administrative division code table (CSV) written as a regions file.
@Suite struct RegionTableTests {
    /// The golden base's region tree as a code table (towns and villages without a code get one made from
    /// their parent's), preceded by a province and followed by another city that must be left out.
    static func baseTable() throws -> (csv: String, regions: [(path: String, code: String)]) {
        let text = try Fixtures.goldenFiles(case: nil).first { $0.path == "regions.yaml" }!.text
        let root = try #require(try Yams.compose(yaml: text)?["regions"])
        var lines = ["\u{FEFF}code,name,level,parent", "990000,样例省,1,"]
        var regions: [(String, String)] = []
        func add(_ node: Node, level: Int, parent: String, path: String, index: Int) {
            let name = node["name"]?.string ?? node.string!
            let code = node["code"]?.string ?? parent + String(format: "%03d", index + 1)
            lines.append("\(code),\"\(name)\",\(level),\(parent)")
            let p = level == 2 ? name : (path.isEmpty ? name : path + "/" + name)
            regions.append((p, code))
            let key = [2: "districts", 3: "towns", 4: "villages"][level]
            for (i, child) in (key.flatMap { node[$0]?.sequence } ?? []).enumerated() {
                add(child, level: level + 1, parent: code, path: level == 2 ? "" : p, index: i)
            }
        }
        add(root, level: 2, parent: "990000", path: "", index: 0)
        lines.append("990200,别的市,2,990000")
        lines.append("990201,别的区,3,990200")
        return (lines.joined(separator: "\r\n") + "\r\n", regions)
    }

    @Test func theImportedTreeCompilesWithTheRestOfTheRulesAndKeepsAliases() throws {
        let (csv, regions) = try Self.baseTable()
        let rows = try RegionTable.parse(csv, file: "divisions.csv")
        #expect(rows.count == regions.count + 3)
        var files = try Fixtures.goldenFiles(case: nil)
        let r = files.firstIndex { $0.path == "regions.yaml" }!
        var aliases = RegionTable.aliases(inRegionsYAML: files[r].text)
        aliases["990101"] = ["东", "东片"]
        let yaml = try RegionTable.regionsYAML(
            rows: rows, city: "990100", aliases: aliases, file: "divisions.csv",
            header: "# imported\n")
        #expect(yaml.hasPrefix("# imported\nregions:\n  name: 样例市\n  code: \"990100\"\n"))
        #expect(!yaml.contains("别的"))
        files[r] = RuleFile(path: "regions.yaml", text: yaml)
        let ruleSet = try Fixtures.compile(files)
        // Every region of the table is in the tree at its path, with its code.
        for (path, code) in regions {
            let region = try #require(ruleSet.regions.first { $0.path == path }, "\(path) missing")
            #expect(region.code == code)
        }
        #expect(ruleSet.regions.count == regions.count)
        let east = try #require(ruleSet.regions.first { $0.path == "东区" })
        #expect(east.aliases == ["东", "东片"])
    }

    @Test func aQuotedFieldMayHoldCommasAndQuotes() throws {
        let rows = try RegionTable.parse("1,\"甲,\"\"乙\"\"\",2,\n\n2,丙,3,1", file: "t.csv")
        #expect(rows.map(\.name) == ["甲,\"乙\"", "丙"])
        #expect(rows.map(\.line) == [1, 3])
        #expect(rows[1].level == .county)
    }

    @Test func mistakesNameTheirLineAndColumn() {
        func error(_ csv: String, city: String = "1") -> String {
            do {
                let rows = try RegionTable.parse(csv, file: "t.csv")
                _ = try RegionTable.regionsYAML(rows: rows, city: city, file: "t.csv")
                return "no error"
            } catch {
                return error.description
            }
        }
        #expect(
            error("1,市,2,\n2,区,三,1")
                == "t.csv:2:5: error: unknown level '三' (expected 1-5, province, city, county, town or village)")
        #expect(error("1,市,2,\n2x,区,3,1") == "t.csv:2:1: error: code '2x' is not a number of digits")
        #expect(error("1,市,2,\n2,区,3") == "t.csv:2:1: error: 3 field(s); a row has 4: code, name, level, parent code")
        #expect(error("1,市,2,\n2,区,3,1\n2,县,3,1") == "t.csv:3:1: error: code 2 is on line 2 too")
        #expect(error("1,市,2,\n2,区,3,1\n3,区,3,1") == "t.csv:3:1: error: 市 has two regions named 区 (lines 2 and 3)")
        #expect(error("1,市,2,\n2,镇,4,1") == "t.csv:2:1: error: 镇 (2) is at level 4 under 市, which is at level 2")
        #expect(error("1,市,2,\n2,\"区\"x,3,1") == "t.csv:2:6: error: text after a closing quote")
        #expect(error("1,市,2,\n2,\"区,3,1") == "t.csv:2:1: error: a quoted field is not closed")
        #expect(error("1,省,1,", city: "1") == "t.csv:1:1: error: 省 (1) is not at city level (level 1)")
        #expect(error("1,市,2,", city: "9") == "t.csv:1:1: error: no row has the city's code 9")
        #expect(
            error("code,name,grade,parent\n1,市,2,")
                == "t.csv:1:1: error: the header has no column level (expected code, name, level, parent)")
    }
}
