import Foundation
import PagodaJSON

/// One occurrence of a phrase: its id and the positions of its first and last Unicode scalars.
public struct PhraseHit: Sendable, Hashable {
    public let id: Int32
    public let start: Int32
    public let end: Int32
    /// Where the longest occurrence from the same start ends: for a gap phrase `A…B`, the farthest `B`
    /// within the gap (`end` is the nearest); for any other phrase, `end`.
    public let reach: Int32

    public init(id: Int32, start: Int32, end: Int32, reach: Int32? = nil) {
        self.id = id
        self.start = start
        self.end = end
        self.reach = reach ?? end
    }
}

/// Finds which of a fixed set of phrases occur in a text, reading each character once.
///
/// An Aho-Corasick automaton over Unicode scalars: building it is linear in the total length of the
/// phrases, and matching is linear in the text plus the number of matches, whatever the input. There is
/// no backtracking, so no hostile ticket can make classification slow. Texts and phrases are compared
/// after ``normalize(_:)``.
public struct PhraseMatcher: Sendable {
    /// The root's transitions, by symbol (0: stay at the root): most characters of a text are read there.
    private var rootTargets: [Int32]
    /// The other nodes' transitions: open addressing over keys `node << 32 | symbol`, linear probing.
    private var keys: [UInt64]
    private var targets: [Int32]
    private var mask: Int
    /// Failure link of each node.
    private var fail: [Int32]
    /// Phrase ids recognised at each node (including those reached through failure links), flattened.
    private var outputStart: [Int32]
    private var outputs: [Int32]
    /// Dense symbol for each scalar that occurs in some phrase; 0 for all others.
    private var symbolOfBMP: [UInt16]
    private var symbolOfAstral: [UInt32: UInt32]
    /// Each phrase's length in Unicode scalars, and whether ``scan(_:offset:into:located:)`` reports where
    /// it occurs.
    private let lengths: [Int32]
    private let isLocated: [Bool]
    public var phraseCount: Int { lengths.count }

    private static let empty: UInt64 = .max

    /// Builds the automaton. `phrases` must already be normalized; duplicates are allowed and each keeps
    /// its own id (its index in the array). Scans report the positions of the phrases in `located`.
    public init(phrases: [String], located: Set<Int32> = []) {
        lengths = phrases.map { Int32($0.unicodeScalars.count) }
        isLocated = phrases.indices.map { located.contains(Int32($0)) }
        var bmp = [UInt16](repeating: 0, count: 0x10000)
        var astral: [UInt32: UInt32] = [:]
        var nextSymbol: UInt32 = 1
        func symbol(_ s: Unicode.Scalar) -> UInt32 {
            let v = s.value
            if v < 0x10000 {
                if bmp[Int(v)] == 0 {
                    precondition(nextSymbol < UInt32(UInt16.max), "too many distinct characters in phrases")
                    bmp[Int(v)] = UInt16(nextSymbol)
                    nextSymbol += 1
                }
                return UInt32(bmp[Int(v)])
            }
            if let s = astral[v] { return s }
            astral[v] = nextSymbol
            nextSymbol += 1
            return nextSymbol - 1
        }
        // Trie with dictionary children while building.
        var children: [[UInt32: Int32]] = [[:]]
        var ends: [[Int32]] = [[]]
        for (id, phrase) in phrases.enumerated() {
            var node = 0
            for scalar in phrase.unicodeScalars {
                let sym = symbol(scalar)
                if let next = children[node][sym] {
                    node = Int(next)
                } else {
                    children.append([:])
                    ends.append([])
                    let next = Int32(children.count - 1)
                    children[node][sym] = next
                    node = Int(next)
                }
            }
            ends[node].append(Int32(id))
        }
        symbolOfBMP = bmp
        symbolOfAstral = astral
        let nodeCount = children.count
        // Breadth-first failure links.
        var failLinks = [Int32](repeating: 0, count: nodeCount)
        var order: [Int] = []
        order.reserveCapacity(nodeCount)
        for (_, child) in children[0] { order.append(Int(child)) }
        var head = 0
        while head < order.count {
            let node = order[head]
            head += 1
            for (sym, child) in children[node] {
                var f = Int(failLinks[node])
                while f != 0 && children[f][sym] == nil { f = Int(failLinks[f]) }
                let target = children[f][sym].map(Int.init) ?? 0
                failLinks[Int(child)] = Int32(target == Int(child) ? 0 : target)
                order.append(Int(child))
            }
        }
        // Outputs merged along failure links (parents in BFS order are complete first).
        var merged = ends
        for node in order where failLinks[node] != 0 {
            merged[node].append(contentsOf: merged[Int(failLinks[node])])
        }
        var starts = [Int32](repeating: 0, count: nodeCount + 1)
        var flat: [Int32] = []
        for node in 0..<nodeCount {
            starts[node] = Int32(flat.count)
            flat.append(contentsOf: merged[node])
        }
        starts[nodeCount] = Int32(flat.count)
        outputStart = starts
        outputs = flat
        fail = failLinks
        // The root's transitions in a row, the others flattened into the hash table at load factor <= 0.5.
        rootTargets = [Int32](repeating: 0, count: Int(nextSymbol))
        for (sym, child) in children[0] { rootTargets[Int(sym)] = child }
        let edgeCount = nodeCount - 1 - children[0].count
        var capacity = 16
        while capacity < edgeCount * 2 { capacity <<= 1 }
        keys = [UInt64](repeating: Self.empty, count: capacity)
        targets = [Int32](repeating: 0, count: capacity)
        mask = capacity - 1
        for node in 1..<nodeCount {
            for (sym, child) in children[node] {
                let key = UInt64(node) << 32 | UInt64(sym)
                var slot = Self.hash(key) & mask
                while keys[slot] != Self.empty { slot = (slot + 1) & mask }
                keys[slot] = key
                targets[slot] = child
            }
        }
    }

    @inline(__always) private static func hash(_ key: UInt64) -> Int {
        Int(truncatingIfNeeded: (key &* 0x9E37_79B9_7F4A_7C15) >> 20)
    }

    @inline(__always) private func next(_ node: Int, _ sym: UInt32) -> Int? {
        let key = UInt64(node) << 32 | UInt64(sym)
        var slot = Self.hash(key) & mask
        while true {
            let k = keys[slot]
            if k == key { return Int(targets[slot]) }
            if k == Self.empty { return nil }
            slot = (slot + 1) & mask
        }
    }

    @inline(__always) private func symbol(_ scalar: Unicode.Scalar) -> UInt32 {
        let v = PhraseMatcher.fold(scalar.value)
        if v < 0x10000 { return UInt32(symbolOfBMP[Int(v)]) }
        return symbolOfAstral[v] ?? 0
    }

    /// Adds the ids of the phrases that occur in `text` to `found` (unsorted, possibly repeated), and each
    /// occurrence of a located phrase to `located`, with positions in Unicode scalars counted from `offset`.
    public func scan(_ text: String, offset: Int = 0, into found: inout [Int32], located: inout [PhraseHit]) {
        if phraseCount == 0 { return }
        var node = 0
        var position = offset - 1
        for scalar in text.unicodeScalars {
            position += 1
            let sym = symbol(scalar)
            if sym == 0 {
                node = 0
                continue
            }
            node = advance(node, sym)
            for id in outputs[Int(outputStart[node])..<Int(outputStart[node + 1])] {
                found.append(id)
                if isLocated[Int(id)] {
                    located.append(
                        PhraseHit(id: id, start: Int32(position) - lengths[Int(id)] + 1, end: Int32(position)))
                }
            }
        }
    }

    /// The automaton's state after `sym` from `node`: the goto edge, else the failure links followed until
    /// one has it, else the root's edge (or the root).
    @inline(__always)
    private func advance(_ node: Int, _ sym: UInt32) -> Int {
        var node = node
        while node != 0 {
            if let n = next(node, sym) { return n }
            node = Int(fail[node])
        }
        return Int(rootTargets[Int(sym)])
    }

    /// The sorted, distinct ids of the phrases that occur in any of `texts`.
    public func matches(_ texts: String...) -> [Int32] {
        var found: [Int32] = []
        var located: [PhraseHit] = []
        for t in texts { scan(t, into: &found, located: &located) }
        return Self.sortedUnique(found)
    }

    static func sortedUnique(_ ids: [Int32]) -> [Int32] {
        var sorted = ids
        sortUnique(&sorted)
        return sorted
    }

    /// Sorts `ids` and removes repeats, in place.
    static func sortUnique(_ ids: inout [Int32]) {
        if ids.count < 2 { return }
        ids.sort()
        var kept = 1
        for i in 1..<ids.count where ids[i] != ids[kept - 1] {
            ids[kept] = ids[i]
            kept += 1
        }
        ids.removeLast(ids.count - kept)
    }

    /// Folds a scalar for comparison: full-width ASCII forms to ASCII, the ideographic space to a space,
    /// Latin capitals to lowercase.
    @inline(__always) static func fold(_ v: UInt32) -> UInt32 {
        var v = v
        if v >= 0xFF01 && v <= 0xFF5E { v -= 0xFEE0 } else if v == 0x3000 { v = 0x20 }
        if v >= 0x41 && v <= 0x5A { v += 0x20 }
        return v
    }

    /// The normalized form of a phrase: folded as in matching, with surrounding white space removed.
    public static func normalize(_ text: String) -> String {
        var scalars = String.UnicodeScalarView()
        for s in text.unicodeScalars { scalars.append(Unicode.Scalar(fold(s.value)) ?? s) }
        return String(scalars).trimmingCharacters(in: .whitespacesAndNewlines)
    }
}
