import Foundation
import PagodaJSON
import Testing

@testable import PagodaRules

/// Region names as callers write them (issue 22, part 1): the province's, city's and district's names in
/// front, spaces, trailing punctuation; aliases that begin with the parent's name; a known district with an
/// unknown town; and what `check` says about aliases.
@Suite struct RegionNameTests {
    /// The golden base with a province, the district 市中区 (alias 样例市中区: it begins with the city's
    /// name) and the given extra regions lines appended under `districts`.
    static func files(extraDistricts: String = "", extraUnits: [String] = []) throws -> [RuleFile] {
        var files = try Fixtures.goldenFiles(case: nil)
        let r = files.firstIndex { $0.path == "regions.yaml" }!
        var text = files[r].text.replacingOccurrences(
            of: "  code: \"990100\"\n", with: "  code: \"990100\"\n  province: 样例省\n")
        text += "    - {name: 市中区, aliases: [样例市中区], towns: [中一街道]}\n" + extraDistricts
        files[r] = RuleFile(path: "regions.yaml", text: text)
        let u = files.firstIndex { $0.path == "units.yaml" }!
        let units =
            [
                "{id: mid, name: 市中区政府, level: district, region: 市中区, function: general}",
                "{id: mid.z1, name: 中一街道办, level: town, region: 市中区/中一街道, function: general}",
            ] + extraUnits
        files[u] = RuleFile(path: "units.yaml", text: files[u].text + units.map { "  - \($0)\n" }.joined())
        return files
    }

    let rules: RuleSet
    init() throws { rules = try Fixtures.compile(Self.files()) }

    func route(_ region: JSONValue, category: String = "city") throws -> Decision {
        rules.route(try Fixtures.ticket(["category": .string(category), "region": region]))
    }

    @Test(arguments: [
        // (district, town, expected unit of {level: town, function: general})
        ("样例省样例市东区", "东一镇", "east.e1"),  // province and city in front
        ("样例东区", "东一镇", "east.e1"),  // the city's short form
        ("样例省 样例市　东区", "东一镇。", "east.e1"),  // ASCII and full-width spaces, trailing punctuation
        ("东区", "东区东一镇", "east.e1"),  // the district again in front of the town
        ("东区", "东 一 镇，", "east.e1"),
        ("样例市中区", "中一街道", "mid.z1"),  // an alias that begins with the city's name
        ("样例省样例市市中区", "中一街道", "mid.z1"),  // the name itself, behind province and city
        ("市中区", "市中中一街道", "mid.z1"),  // the district's short form in front of the town
    ])
    func callersSpellingsResolve(district: String, town: String, unit: String) throws {
        let d = try route(Fixtures.region(district, town))
        #expect(d.rule.id == "city")
        #expect(d.unit?.id == unit, "\(d.explanation)")
        #expect(d.warnings.isEmpty, "\(d.warnings)")
    }

    @Test func aKnownDistrictWithAnUnknownTownIsTheDistrictsTicket() throws {
        let d = try route(Fixtures.region("东区", "东九镇"))
        #expect(d.type == .unit)
        #expect(d.rule.id == "city")
        // {level: town, function: general} at a ticket that stops at the district: the district's office.
        #expect(d.unit?.id == "east")
        #expect(d.region == "东区")
        #expect(d.warnings == ["region_partial: town '东九镇' is not in 东区; routed at 东区"])
        #expect(d.explanation.contains(.regionPartial("东区", "town '东九镇' is not in 东区")))
        // A district-level destination resolves as usual.
        let env = try route(Fixtures.region("东区", "东九镇"), category: "environment")
        #expect(env.unit?.id == "east.env")
    }

    @Test func anUnknownVillageGoesToItsTown() throws {
        let d = try route(Fixtures.region("东区", "东一镇", "东九村"))
        #expect(d.unit?.id == "east.e1")
        #expect(d.region == "东区/东一镇")
        #expect(d.warnings == ["region_partial: village '东九村' is not in 东区/东一镇; routed at 东区/东一镇"])
    }

    @Test func onlyATicketWithNoUsableRegionGoesToTriage() throws {
        for region in [
            Fixtures.region("北区", "东一镇"), Fixtures.region(nil, "东九镇"),
            .object(JSONObject([("code", .string("123456"))])),
        ] {
            let d = try route(region)
            #expect(d.type == .triage, "\(region)")
            #expect(d.explanation.contains { if case .regionUnresolved = $0 { true } else { false } })
        }
    }

    @Test func theCitysOwnNameAsTheDistrictResolvesAtTheCity() throws {
        let d = try route(Fixtures.region("样例市", "西一镇"))
        #expect(d.unit?.id == "west.w1")
    }

    @Test func cleaningKeepsWhatIsNotSpaceOrTrailingPunctuation() {
        #expect(RuleSet.cleanRegionName(" 南海 区。，") == "南海区")
        #expect(RuleSet.cleanRegionName("南海区") == "南海区")
        #expect(RuleSet.cleanRegionName("。") == "")
    }

    // MARK: check

    static func diagnostics(_ districts: String) throws -> [Diagnostic] {
        RuleSetCompiler.compile(try files(extraDistricts: districts)).diagnostics.filter {
            $0.code != .uncoveredCombination
        }
    }

    @Test func anAliasThatCanNeverMatchIsAWarning() throws {
        let d = try Self.diagnostics("    - {name: 北区, aliases: [北区, \"北 区\", 北区。]}\n")
        #expect(d.map(\.code) == [.deadAlias, .deadAlias, .deadAlias], "\(d)")
        #expect(d.allSatisfy { $0.severity == .warning })
        #expect(d[1].message.contains("write '北区'"))
    }

    @Test func theSameAliasOnTwoSiblingsIsOneErrorNamingBoth() throws {
        let d = try Self.diagnostics("    - {name: 北区, aliases: [北边]}\n    - {name: 南区, aliases: [北边]}\n")
        let errors = d.filter { $0.severity == .error }
        #expect(errors.count == 1, "\(errors)")
        #expect(errors.first?.code == .duplicateId)
        #expect(errors.first?.message.contains("'北区' at regions.yaml:") == true, "\(errors)")
        #expect(errors.first?.message.contains("and '南区' at regions.yaml:") == true, "\(errors)")
    }

    @Test func anAliasEqualToASiblingsNameIsOneErrorAndTheSiblingStays() throws {
        let units = ["{id: north, name: 北区政府, level: district, region: 北区, function: general}"]
        let files = try Self.files(
            extraDistricts: "    - {name: 南区, aliases: [北区]}\n    - {name: 北区}\n", extraUnits: units)
        let result = RuleSetCompiler.compile(files)
        let errors = result.diagnostics.filter { $0.severity == .error }
        #expect(errors.count == 1, "\(errors)")
        #expect(errors.first?.message.hasPrefix("alias '北区' of '南区' is the name of '北区'") == true, "\(errors)")
    }
}
