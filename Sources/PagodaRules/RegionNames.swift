import Foundation
import PagodaJSON

/// Region names as callers write them: with spaces, trailing punctuation and the names of the regions
/// around them (`山东省枣庄市市中区`, `枣庄薛城区`, `南海区 狮山镇。`).
extension RuleSet {
    /// Suffixes that a short form of a region's name leaves out (`枣庄市` -> `枣庄`), longest first.
    static let nameSuffixes = ["特别行政区", "街道办事处", "自治区", "自治州", "自治县", "街道", "省", "市", "区", "县", "镇", "乡", "旗"]

    /// Punctuation a caller (or a speech-to-text system) leaves at the end of a name.
    static let trailingPunctuation: Set<Character> = [
        "，", "。", "、", "；", "：", "！", "？", "…", ",", ".", ";", ":", "!", "?", "·",
    ]

    /// A caller's region name without white space (ASCII and full-width) and trailing punctuation.
    ///
    /// Aliases are compared with callers' names after this, so an alias whose cleaned form differs from
    /// it can never match (`R016`).
    public static func cleanRegionName(_ name: String) -> String {
        var out = name.filter { !$0.isWhitespace }
        while let last = out.last, trailingPunctuation.contains(last) { out.removeLast() }
        return out
    }

    /// A region's name, its aliases and the short form of its name: what a caller may write for it.
    static func spellings(name: String, aliases: [String]) -> [String] {
        var out = [name] + aliases
        if let suffix = nameSuffixes.first(where: { name.hasSuffix($0) }), name.count - suffix.count >= 2 {
            out.append(String(name.dropLast(suffix.count)))
        }
        return out
    }

    /// What a caller may write in front of a name below `node`: the province's and city's spellings, and
    /// those of `node` and its ancestors below the city; longest first.
    func prefixes(below node: Int) -> [String] {
        var extra: [String] = []
        var n: Int? = node
        while let cur = n, cur != 0 {
            extra += Self.spellings(name: regions[cur].name, aliases: regions[cur].aliases)
            n = regions[cur].parent
        }
        if extra.isEmpty { return rootPrefixes }
        return (extra + rootPrefixes).sorted { $0.count > $1.count }
    }

    /// The ways to read a caller's name, in order: as written, cleaned, then with the names of enclosing
    /// regions taken off its front, fewest first (so `枣庄市中区` is tried as written before `市中区`).
    func readings(of name: String, below node: Int) -> [String] {
        let cleaned = Self.cleanRegionName(name)
        var out = cleaned == name ? [name] : [name, cleaned]
        var seen = Set(out)
        let prefixes = prefixes(below: node)
        var head = out.count - 1
        while head < out.count, out.count < 32 {
            let s = out[head]
            head += 1
            for p in prefixes where s.hasPrefix(p) {
                let rest = String(s.dropFirst(p.count))
                if seen.insert(rest).inserted { out.append(rest) }
            }
        }
        return out
    }

    enum RegionResolution {
        case absent
        case resolved(Int)
        /// Resolved above what the ticket named: a part below was not found (the reason).
        case partial(Int, String)
        case unresolved(String)
    }

    /// Resolves a ticket's region object to the deepest node it names.
    ///
    /// Names are read as callers write them (``readings(of:below:)``). A part that is not found below a
    /// known district or town leaves the ticket at that region (`partial`); only a ticket whose district
    /// (or code) is unknown, or whose code contradicts its names, is unresolved.
    func resolveRegion(_ ref: RegionRef?) -> RegionResolution {
        guard let ref, ref.district != nil || ref.town != nil || ref.village != nil || ref.code != nil else {
            return .absent
        }
        var byCode: Int?
        if let code = ref.code {
            guard let r = regionByCode[code] else {
                return .unresolved("code \(code) is not a region of \(regions[0].name)")
            }
            if ref.district == nil && ref.town == nil && ref.village == nil { return .resolved(r) }
            byCode = r
        }
        var node = 0
        var missing: String?
        let parts: [(Level, String?)] = [(.district, ref.district), (.town, ref.town), (.village, ref.village)]
        for (level, name) in parts {
            guard let name else { continue }
            var ambiguous = false
            if let found = child(named: name, at: level, below: node, ambiguous: &ambiguous) {
                node = found
                continue
            }
            // The city's own name where the district belongs names the city: nothing more to learn.
            if level == .district, readings(of: name, below: 0).contains("") { continue }
            missing =
                ambiguous
                ? "\(level) '\(name)' is ambiguous in \(regions[node].path); give the \(level.up!)"
                : "\(level) '\(name)' is not in \(regions[node].path)"
            break
        }
        if let r = byCode {
            if r != node, !region(node, isWithin: r), !region(r, isWithin: node) {
                return .unresolved(
                    "code \(ref.code!) (\(regions[r].path)) contradicts the names (\(regions[node].path))")
            }
            // The code names a region below what the names reached: it is the deeper knowledge.
            if missing != nil, r != node, region(r, isWithin: node) { return .resolved(r) }
        }
        if let missing { return node == 0 ? .unresolved(missing) : .partial(node, missing) }
        return .resolved(node)
    }

    /// The region at `level` below `node` that a caller's `name` means, or nil.
    func child(named name: String, at level: Level, below node: Int, ambiguous: inout Bool) -> Int? {
        if regions[node].level == level.up {
            if let c = childByName[node][name] { return c }
            for reading in readings(of: name, below: node).dropFirst() {
                if let c = childByName[node][reading] { return c }
            }
            return nil
        }
        // A level was skipped (a town without its district): search below the deepest known node; the name
        // must be unique there.
        let below = descendants(of: node, at: level)
        for reading in readings(of: name, below: node) where !reading.isEmpty {
            let candidates = below.filter { regions[$0].name == reading || regions[$0].aliases.contains(reading) }
            if candidates.count == 1 { return candidates[0] }
            if candidates.count > 1 {
                ambiguous = true
                return nil
            }
        }
        return nil
    }
}
