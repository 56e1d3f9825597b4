import Foundation
import PagodaJSON
import Testing

@testable import PagodaRules

/// Building the region tree: siblings are found by name and alias through an index, so a town of many
/// villages loads in linear time (`ops/bench/regions.sh`), with the same duplicates and references as a
/// scan of the siblings in order.
@Suite struct RegionTreeTests {
    /// The golden base with `villages` (YAML flow items) under 东区/东二街道 and `units` appended.
    static func compile(villages: [String], units: [String] = []) throws -> RuleSetCompiler.Result {
        var files = try Fixtures.goldenFiles(case: nil)
        let r = files.firstIndex { $0.path == "regions.yaml" }!
        let town = "        - name: 东二街道\n"
        #expect(files[r].text.contains(town))
        files[r] = RuleFile(
            path: "regions.yaml",
            text: files[r].text.replacingOccurrences(
                of: town, with: town + "          villages: [\(villages.joined(separator: ", "))]\n"))
        let u = files.firstIndex { $0.path == "units.yaml" }!
        files[u] = RuleFile(path: "units.yaml", text: files[u].text + units.map { "  - \($0)\n" }.joined())
        return RuleSetCompiler.compile(files)
    }

    @Test func anAliasThatIsASiblingsNameIsAnErrorAtTheAliasAndTheSiblingStays() throws {
        let villages = ["{name: 甲村, aliases: [乙村]}", "{name: 丙村, aliases: [乙村]}", "{name: 乙村}", "{name: 丁村}"]
        let unit = "{id: east.e2.v, name: 乙村委会, level: village, region: 东区/东二街道/乙村, function: general}"
        let result = try Self.compile(villages: villages, units: [unit])
        let errors = result.diagnostics.filter { $0.severity == .error }
        // One error per alias, each at the alias; the village named 乙村 is defined and its unit finds it.
        #expect(errors.count == 2, "\(errors)")
        #expect(errors.allSatisfy { $0.code == .duplicateId })
        #expect(
            errors.first?.message.hasPrefix("alias '乙村' of '东区/东二街道/甲村' is the name of '东区/东二街道/乙村'") == true,
            "\(errors)")
        let text = try Fixtures.goldenFiles(case: nil).first { $0.path == "regions.yaml" }!.text
        let line = text.split(separator: "\n", omittingEmptySubsequences: false).firstIndex { $0.contains("东二街道") }! + 2
        #expect(errors.first?.location.line == line)
        #expect(!result.diagnostics.contains { $0.code == .unknownRegion })
    }

    @Test func manyVillagesLoadAndResolve() throws {
        let villages = (0..<20_000).map { "{name: 村\($0), aliases: [别名\($0)]}" }
        let units = ["{id: east.e2.last, name: 末村委会, level: village, region: 东区/东二街道/别名19999, function: general}"]
        let result = try Self.compile(villages: villages, units: units)
        let rules = try #require(result.ruleSet, "\(result.diagnostics.prefix(5))")
        let unit = try #require(rules.units.first { $0.id == "east.e2.last" })
        #expect(rules.regions[unit.region].name == "村19999")
    }

    /// A town of 20,000 villages with a village template gives each village its committee, with its code,
    /// its name from the pattern and its town's unit as parent. How long 110,000 take is the benchmark's
    /// to say (`ops/bench/regions.sh`, docs/performance.md), not a timed test's.
    @Test func aLargeTownWithAVillageTemplateGivesEveryVillageItsCommittee() throws {
        let count = 20_000
        let villages = (0..<count).map { "{name: 村\($0), code: \"9901\(String(format: "%08d", $0))\"}" }
        let template = "{each: village, id: \"v{code}\", name: \"{town}{name}村委会\", function: general}"
        let result = try Self.compile(villages: villages, units: [template])
        let rules = try #require(result.ruleSet, "\(result.diagnostics.prefix(5))")
        #expect(rules.units.count { $0.fromTemplate } == count)
        let last = try #require(rules.units.last)
        #expect(last.id == "v990100019999" && last.name == "东二街道村19999村委会")
        #expect(last.parent.map { rules.units[$0].id } == "east.e2")
    }
}
