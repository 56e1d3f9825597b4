import Foundation
import PagodaJSON
import PagodaRules

/// Generates large, valid rule sets for benchmarks and scale tests.
///
/// The region tree has 10 districts x 10 towns x 10 villages; there are 10 top-level categories with 10
/// children each; every route matches a distinct (category, village) pair (some through the
/// village's town and one kind), so none shadows another, and every tenth route also has a text condition (a
/// plain phrase, a gap phrase or all_of groups). Tickets are drawn from the same space with a fixed seed.
public enum SyntheticRules {
    /// The rule files of a set of `count` routes; `plainPhrases` makes every text condition a plain phrase.
    public static func files(routes count: Int, plainPhrases: Bool = false) -> [RuleFile] {
        var regions = "regions:\n  name: 合成市\n  code: \"990000\"\n  districts:\n"
        var units =
            "units:\n  - {id: platform, name: 平台, level: city, function: platform}\n  - {id: triage, name: 人工派单, level: city, function: triage}\n  - {id: city.general, name: 市督查室, level: city, function: general}\n"
        for f in 0..<10 { units += "  - {id: city.f\(f), name: 市局\(f), level: city, function: f\(f)}\n" }
        for d in 0..<10 {
            regions += "    - name: 区\(d)\n      towns:\n"
            units += "  - {id: d\(d), name: 区政府\(d), level: district, region: 区\(d), function: general}\n"
            for f in 0..<10 {
                units += "  - {id: d\(d).f\(f), name: 区局\(d)-\(f), level: district, region: 区\(d), function: f\(f)}\n"
            }
            for t in 0..<10 {
                regions += "        - name: 镇\(d)-\(t)\n          villages: ["
                regions += (0..<10).map { "村\(d)-\(t)-\($0)" }.joined(separator: ", ") + "]\n"
                units +=
                    "  - {id: d\(d).t\(t), name: 镇\(d)-\(t)政府, level: town, region: 区\(d)/镇\(d)-\(t), function: general}\n"
            }
        }
        var categories = "categories:\n"
        for c in 0..<10 {
            categories += "  c\(c):\n    children: {" + (0..<10).map { "s\($0): {}" }.joined(separator: ", ") + "}\n"
        }
        let common = """
            calendar:
              time_zone: Asia/Shanghai
              years:
                2026:
                  holidays:
                    - {from: 2026-02-15, to: 2026-02-23, name: 春节}
                  workdays: [2026-02-14, 2026-02-28]
            sla_profiles:
              standard: {clocks: {sign: 2h, resolve: 3wd}}
              urgent: {clocks: {contact: 1h, resolve: 1wd}}
            defaults:
              sla: {default: standard, urgent: urgent}

            """
        var routes = "routes:\n"
        for i in 0..<count {
            let (cat, d, t, v) = coordinates(i)
            // Half the routes name a village, half its town, so both kinds of region condition are
            // exercised; (category, village) pairs are distinct, so no route shadows another.
            let townLevel = i % 2 == 1 && v < 5
            let region = townLevel ? "区\(d)/镇\(d)-\(t)" : "区\(d)/镇\(d)-\(t)/村\(d)-\(t)-\(v)"
            var when = "{category: [c\(cat / 10).s\(cat % 10)], region: [\(region)]"
            if townLevel { when += ", kind: [\(["complaint", "help", "report", "consultation", "suggestion"][v % 5])]" }
            if i % 10 == 9 {
                // A third of the text conditions are a plain phrase, a third a gap phrase, a third all_of
                // groups, each matching the same tickets: those that carry "XYZ的UV", where XYZ is the route's
                // phrase and UV its second word (conditions "XYZ", "XYZ…UV" and [[XYZ], [UV]]). Each phrase
                // occurs only in its own route's tickets.
                let p = phrase(i)
                switch plainPhrases ? 0 : (i / 10) % 3 {
                case 0: when += ", text: {any: [\(p)]}"
                case 1: when += ", text: {any: [\"\(p)…\(word(i))\"]}"
                default: when += ", text: {all_of: [[\(p)], [\(word(i))]]}"
                }
            }
            when += "}"
            let to =
                i % 3 == 0
                ? "{level: district, function: f\(cat % 10)}"
                : (i % 3 == 1 ? "{level: town, function: general}" : "{unit: city.f\(cat % 10)}")
            routes += "  - {id: r\(i), when: \(when), to: \(to)}\n"
        }
        return [
            RuleFile(path: "synthetic/rules.yaml", text: regions + units + categories + common),
            RuleFile(path: "synthetic/routes.yaml", text: routes),
        ]
    }

    /// Route `i`'s category (0-99) and village (district, town, village), distinct for i < 100,000.
    static func coordinates(_ i: Int) -> (Int, Int, Int, Int) {
        let place = (i / 100) % 1000
        return (i % 100, place / 100, (place / 10) % 10, place % 10)
    }

    /// A short Chinese phrase unique to route `i`.
    static func phrase(_ i: Int) -> String {
        var s = ""
        var v = i + 1
        for _ in 0..<3 {
            s.unicodeScalars.append(Unicode.Scalar(0x4E00 + UInt32(v % 2000) * 7)!)
            v /= 2000
            v += 17
        }
        return s
    }

    /// A second two-character word unique to route `i` (for i < 3,000,000), from characters no phrase uses.
    static func word(_ i: Int) -> String {
        String(Unicode.Scalar(0x3400 + UInt32(i % 6000))!) + String(Unicode.Scalar(0x4B70 + UInt32(i / 6000 % 500))!)
    }

    /// Deterministic tickets spread over the synthetic set's regions, categories and phrases; half of them
    /// carry the phrase of the route they are drawn for (and, unless `plainPhrases`, its second word).
    public static func tickets(count: Int, routes: Int, seed: UInt64 = 42, plainPhrases: Bool = false) throws
        -> [Ticket]
    {
        var rng = seed
        func next() -> Int {
            rng = rng &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
            return Int(truncatingIfNeeded: rng >> 33)
        }
        let filler = "小区附近最近一段时间一直存在这个问题，影响居民正常生活，多次反映没有解决，希望有关部门尽快处理。"
        let start = Date(timeIntervalSince1970: 1_772_416_800)  // 2026-03-02T10:00:00+08:00
        return try (0..<count).map { n in
            let i = next() % max(routes, 1)
            let (cat, d, t, v) = coordinates(i)
            let carried = plainPhrases ? phrase(i) : phrase(i) + "的" + word(i)
            let text = (n % 2 == 0 ? carried : "") + filler
            let object = JSONObject([
                ("id", .string("T\(n)")),
                (
                    "received_at",
                    .string(RFC3339.format(start.addingTimeInterval(Double(n % 5000) * 37), offsetSeconds: 28_800))
                ),
                ("channel", .string(n % 4 == 0 ? "web" : "hotline")),
                ("kind", .string(["complaint", "help", "report", "consultation", "suggestion"][n % 5])),
                ("text", .string(text)), ("category", .string("c\(cat / 10).s\(cat % 10)")),
                (
                    "region",
                    .object(
                        JSONObject([
                            ("district", .string("区\(d)")), ("town", .string("镇\(d)-\(t)")),
                            ("village", .string("村\(d)-\(t)-\(n % 3 == 0 ? (v + 1) % 10 : v)")),
                        ]))
                ),
            ])
            return try TicketContract.validate(.object(object)).get()
        }
    }
}
