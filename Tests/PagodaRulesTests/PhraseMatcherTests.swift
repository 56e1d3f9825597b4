import Foundation
import PagodaJSON
import Testing

@testable import PagodaRules

@Suite struct PhraseMatcherTests {
    static let phrases = ["燃气", "燃气泄漏", "气泄", "起火", "abc", "bc", "火灾隐患", "😀火"]

    @Test(arguments: [
        ("厨房燃气泄漏了", ["燃气", "燃气泄漏", "气泄"]),
        ("村口燃气工程施工", ["燃气"]),
        ("仓库起火", ["起火"]),
        ("存在火灾隐患", ["火灾隐患"]),
        ("ABC", ["abc", "bc"]),
        ("ＡＢＣ全角", ["abc", "bc"]),
        ("xbcx", ["bc"]),
        ("表情😀火了", ["😀火"]),
        ("", []),
        ("毫不相干的内容", []),
    ])
    func findsEveryOccurringPhrase(text: String, expected: [String]) {
        let m = PhraseMatcher(phrases: Self.phrases)
        let found = m.matches(text).map { Self.phrases[Int($0)] }
        #expect(Set(found) == Set(expected))
    }

    @Test func agreesWithNaiveSearchOnRandomTexts() {
        var rng = SystemRandomNumberGenerator()
        let alphabet = Array("燃气泄漏起火灾隐患abc")
        let phrases = (0..<60).map { _ in
            String((0..<Int.random(in: 1...4, using: &rng)).map { _ in alphabet.randomElement(using: &rng)! })
        }
        let m = PhraseMatcher(phrases: phrases)
        for _ in 0..<500 {
            let text = String(
                (0..<Int.random(in: 0...40, using: &rng)).map { _ in alphabet.randomElement(using: &rng)! })
            let expected = Set(phrases.indices.filter { text.contains(phrases[$0]) }.map { Int32($0) })
            #expect(Set(m.matches(text)) == expected, "text \(text)")
        }
    }

    @Test func hostileInputStaysLinear() {
        // Patterns that make backtracking matchers explode are ordinary input here: the automaton reads
        // each character once. The assertion is on the result; the bound is structural, not timed.
        let m = PhraseMatcher(phrases: ["aaaaaaaaab", "aaaa", "ab"])
        let text = String(repeating: "a", count: 100_000) + "b"
        let found = Set(m.matches(text))
        #expect(found == [0, 1, 2])
    }

    @Test func normalizeFoldsWidthAndCase() {
        #expect(PhraseMatcher.normalize("  ＡＢＣ１２３ ") == "abc123")
        #expect(PhraseMatcher.normalize("燃气　泄漏") == "燃气 泄漏")
    }
}

@Suite struct SHA256Tests {
    @Test(arguments: [
        ("", "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"),
        ("abc", "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"),
        (
            "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq",
            "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1"
        ),
    ])
    func knownVectors(input: String, digest: String) {
        #expect(SHA256.hex(Array(input.utf8)) == digest)
    }

    @Test func millionA() {
        #expect(
            SHA256.hex([UInt8](repeating: 0x61, count: 1_000_000))
                == "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0")
    }
}

@Suite struct SuggestionTests {
    @Test(
        arguments: [
            ("untis", ["units", "routes", "regions"], "units"),
            ("categroy", ["category", "kind", "region"], "category"),
            ("enviroment.water", ["environment.water", "environment"], "environment.water"),
            ("zzz", ["units", "routes"], nil),
        ] as [(String, [String], String?)])
    func didYouMean(word: String, candidates: [String], expected: String?) {
        #expect(YAMLReader.suggestion(for: word, among: candidates) == expected)
    }
}
