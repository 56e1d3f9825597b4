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
    /// it can never match (`R016`). A name with nothing to clean is returned as it is, without a copy.
    public static func cleanRegionName(_ name: String) -> String {
        let spaced = name.unicodeScalars.contains(where: isWhiteSpace)
        guard spaced || name.last.map(trailingPunctuation.contains) == true else { return name }
        var out = spaced ? String(String.UnicodeScalarView(name.unicodeScalars.filter { !isWhiteSpace($0) })) : name
        while let last = out.last, trailingPunctuation.contains(last) { out.removeLast() }
        return out
    }

    /// Unicode's White_Space property (ASCII spaces and controls, NEL, no-break and ideographic spaces),
    /// by value: the property table lookup costs more than the rest of a name's cleaning.
    static func isWhiteSpace(_ u: Unicode.Scalar) -> Bool {
        switch u.value {
        case 0x09...0x0D, 0x20, 0x85, 0xA0, 0x1680, 0x2000...0x200A, 0x2028, 0x2029, 0x202F, 0x205F, 0x3000:
            return true
        default:
            return false
        }
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
        // Names are compared byte for byte, not as graphemes: hashing or comparing a CJK string as a Swift
        // String normalizes it first, which costs more than the rest of the reading. Cleaning only removes
        // characters, so a cleaned name of the same length is the name.
        let cleaned = Self.cleanRegionName(name)
        var out = cleaned.utf8.count == name.utf8.count ? [name] : [name, cleaned]
        let prefixes = prefixes(below: node)
        var head = out.count - 1
        while head < out.count, out.count < 32 {
            let s = out[head]
            head += 1
            for p in prefixes where s.utf8.starts(with: p.utf8) {
                let rest = String(decoding: s.utf8.dropFirst(p.utf8.count), as: UTF8.self)
                if !out.contains(where: { $0.utf8.elementsEqual(rest.utf8) }) { out.append(rest) }
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
            // The name as written, first: what most tickets carry.
            if regions[node].level == level.up, let found = childByName[node][name] {
                node = found
                continue
            }
            let names = readings(of: name, below: node)
            var ambiguous = false
            let untried = regions[node].level == level.up ? names.dropFirst() : names[...]
            if let found = child(readings: untried, at: level, below: node, ambiguous: &ambiguous) {
                node = found
                continue
            }
            // The city's own name where the district belongs names the city: nothing more to learn. (The
            // district is the first part, so `node` is the city and `names` its readings.)
            if level == .district, names.contains("") { continue }
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
            // The code names a region below what the names reached (all of them, or up to one not found): it
            // is the deeper knowledge.
            if r != node, region(r, isWithin: node) { return .resolved(r) }
        }
        if let missing { return node == 0 ? .unresolved(missing) : .partial(node, missing) }
        return .resolved(node)
    }

    /// The region at `level` below `node` that one of a caller's `readings` of a name means, or nil.
    func child(readings: ArraySlice<String>, at level: Level, below node: Int, ambiguous: inout Bool) -> Int? {
        if regions[node].level == level.up {
            return readings.lazy.compactMap { self.childByName[node][$0] }.first
        }
        // A level was skipped (a town without its district): search below the deepest known node; the name
        // must be unique there.
        let below = descendants(of: node, at: level)
        for reading in readings where !reading.isEmpty {
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
