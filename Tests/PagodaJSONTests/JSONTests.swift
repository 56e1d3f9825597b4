import Foundation
import Testing

@testable import PagodaJSON

private func bytes(_ s: String) -> [UInt8] { Array(s.utf8) }

private func parse(_ s: String, limits: JSONLimits = .init()) throws(JSONParseError) -> JSONValue {
    try JSON.parse(bytes(s), limits: limits)
}

private func parseError(_ b: [UInt8], limits: JSONLimits = .init()) -> JSONParseError? {
    do {
        _ = try JSON.parse(b, limits: limits)
        return nil
    } catch {
        return error
    }
}

private func compact(_ v: JSONValue) -> String { JSON.serializeToString(v) }

@Suite("JSON parse and serialize")
struct JSONTests {
    // MARK: valid documents

    @Test(arguments: [
        ("null", "null"),
        ("true", "true"),
        (" false ", "false"),
        ("0", "0"),
        ("-0", "-0"),
        ("-0.0e+0", "-0.0e+0"),
        ("1E400", "1E400"),
        ("12345678901234567890123456789012345678901234567890", "12345678901234567890123456789012345678901234567890"),
        ("-9223372036854775809", "-9223372036854775809"),
        ("3.141592653589793238462643383279", "3.141592653589793238462643383279"),
        ("2.5e-3", "2.5e-3"),
        ("\"\"", "\"\""),
        ("[]", "[]"),
        ("{}", "{}"),
        (" \t\r\n[ 1 , 2 ,\n3 ] \n", "[1,2,3]"),
        ("{ \"b\" : 1 , \"a\" : [ true , null , { } , [ ] ] }", "{\"b\":1,\"a\":[true,null,{},[]]}"),
        ("{\"z\":1,\"y\":2,\"x\":3}", "{\"z\":1,\"y\":2,\"x\":3}"),
        ("\"\\\"\\\\\\/\\b\\f\\n\\r\\t\"", "\"\\\"\\\\/\\b\\f\\n\\r\\t\""),
        ("\"\\u0041\\u00e9\\u4E2D\"", "\"Aé中\""),
        ("\"\\ud83d\\ude00\"", "\"😀\""),
        ("\"\\uD83D\\uDE00x\"", "\"😀x\""),
        ("\"\\u0000\\u001f\\u007f\"", "\"\\u0000\\u001f\u{7F}\""),
        ("\"南海区 狮山镇\"", "\"南海区 狮山镇\""),
        ("\"\u{2028}\u{2029}\"", "\"\u{2028}\u{2029}\""),
        ("[\"a\\nb\",\"中\\t文\"]", "[\"a\\nb\",\"中\\t文\"]"),
    ])
    func validDocumentSerializesCompactly(input: String, expected: String) throws {
        let v = try parse(input)
        #expect(compact(v) == expected)
        // And the output parses back to the same value.
        #expect(try parse(expected) == v)
    }

    @Test func numbersKeepTheirExactLexeme() throws {
        let v = try parse("[12345678901234567890, 1.10, 1e5, -0]")
        #expect(v == .array([.number("12345678901234567890"), .number("1.10"), .number("1e5"), .number("-0")]))
    }

    @Test func decodedStringValues() throws {
        #expect(try parse("\"\\ud83d\\ude00\"") == .string("😀"))
        #expect(try parse("\"a\\u0000b\"") == .string("a\u{0}b"))
        #expect(try parse("\"\\/\"") == .string("/"))
        #expect(try parse("\"务庄社区\"") == .string("务庄社区"))
        #expect(try parse("\"\\u00e9\"") == .string("é"))
    }

    @Test func objectsKeepOrderAndLookup() throws {
        let v = try parse("{\"b\":1,\"a\":2,\"c\":{\"x\":null}}")
        let o = try #require(v.objectValue)
        #expect(o.keys == ["b", "a", "c"])
        #expect(o["a"] == .number("2"))
        #expect(o["missing"] == nil)
        #expect(o["c"]?.objectValue?["x"] == .null)
        #expect(Array(o).map(\.key) == ["b", "a", "c"])
    }

    @Test func objectEqualityIsOrderSensitive() throws {
        let a = try parse("{\"a\":1,\"b\":2}")
        let b = try parse("{\"b\":2,\"a\":1}")
        #expect(a != b)
        #expect(a == (try parse(" { \"a\" : 1 , \"b\" : 2 } ")))
    }

    @Test func largeObjectsUseIndexAndDetectDuplicates() throws {
        let n = 40
        let members = (0..<n).map { "\"k\($0)\":\($0)" }.joined(separator: ",")
        let o = try #require(try parse("{\(members)}").objectValue)
        #expect(o.count == n)
        for i in 0..<n { #expect(o["k\(i)"] == .integer(i)) }
        #expect(o.keys == (0..<n).map { "k\($0)" })

        let dup = "{\(members),\"k17\":0}"
        let err = try #require(parseError(bytes(dup)))
        #expect(err.code == .duplicateKey)
        #expect(err.offset == dup.utf8.count - 8)
    }

    @Test func jsonObjectMutation() {
        var o = JSONObject([("a", 1), ("b", 2), ("a", 3)])
        #expect(o.keys == ["a", "b"])
        #expect(o["a"] == 3)
        o.set("b", "x")
        o.set("c", true)
        #expect(o.keys == ["a", "b", "c"])
        #expect(o["b"] == "x")
        o["a"] = nil
        #expect(o.keys == ["b", "c"])
        #expect(o.removeValue(forKey: "zz") == nil)
        for i in 0..<30 { o.set("n\(i)", .integer(i)) }
        #expect(o.count == 32)
        #expect(o["n29"] == .integer(29))
        o.removeValue(forKey: "n0")
        #expect(o.position(of: "n1") == 2)
        #expect(o["n1"] == .integer(1))
        let literal: JSONObject = ["x": 1, "y": [nil, "s"]]
        #expect(JSON.serializeToString(.object(literal)) == "{\"x\":1,\"y\":[null,\"s\"]}")
    }

    /// Objects are equal, and hash alike, exactly when their members are equal in order, however they
    /// were made: from pairs (adopted as they are, or with a repeated key), by `set`, or by the parser.
    @Test func jsonObjectEqualityFollowsTheMembersInOrder() throws {
        let pairs = JSONObject([("a", 1), ("b", "x")])
        let repeated = JSONObject([("a", 0), ("b", "x"), ("a", 1)])
        var built = JSONObject()
        built.set("a", 1)
        built.set("b", "x")
        let parsed = try #require(try JSON.parse(Array(#"{"a":1,"b":"x"}"#.utf8)).objectValue)
        for o in [repeated, built, parsed] {
            #expect(o == pairs)
            #expect(o.hashValue == pairs.hashValue)
        }
        #expect(JSONObject([("b", "x"), ("a", 1)]) != pairs)
        #expect(JSONObject([("a", 1)]) != pairs)
        #expect(JSONObject([("a", 1), ("b", "y")]) != pairs)
        #expect(Set([pairs, repeated, built, parsed]).count == 1)
    }

    @Test func serializeEscapesEveryControlCharacter() {
        var s = ""
        for c in 0..<0x20 { s.unicodeScalars.append(Unicode.Scalar(UInt8(c))) }
        s += "\"\\/\u{7F}é😀"
        let out = JSON.serializeToString(.string(s))
        let expected =
            "\"\\u0000\\u0001\\u0002\\u0003\\u0004\\u0005\\u0006\\u0007\\b\\t\\n\\u000b\\f\\r\\u000e\\u000f"
            + "\\u0010\\u0011\\u0012\\u0013\\u0014\\u0015\\u0016\\u0017\\u0018\\u0019\\u001a\\u001b\\u001c\\u001d\\u001e\\u001f"
            + "\\\"\\\\/\u{7F}é😀\""
        #expect(out == expected)
        #expect((try? JSON.parse(Array(out.utf8))) == .string(s))
    }

    @Test func serializeIntoAppends() {
        var out = Array("x=".utf8)
        JSON.serialize(["k": ["a", 1, true, nil]], into: &out)
        #expect(String(decoding: out, as: UTF8.self) == "x={\"k\":[\"a\",1,true,null]}")
        #expect(JSON.serialize(.string("中")) == [0x22, 0xE4, 0xB8, 0xAD, 0x22])
    }

    @Test func parseOverloadsAgree() throws {
        let text = "{\"a\":[1,\"中\",{\"b\":null}]}"
        let expected = try parse(text)
        #expect(try JSON.parse(Data(text.utf8)) == expected)
        #expect(try JSON.parse(text.utf8) == expected)
        #expect(try JSON.parse(Array(("  " + text).utf8)[2...]) == expected)
        let viaRaw = try Array(text.utf8).withUnsafeBytes { raw throws(JSONParseError) in try JSON.parse(raw) }
        #expect(viaRaw == expected)
        // A non-contiguous collection is copied once.
        #expect(try JSON.parse(Array(text.utf8).lazy.map { $0 }) == expected)
    }

    @Test(arguments: [
        ("0", true), ("-0", true), ("1.5e+10", true), ("10E-2", true), ("123", true),
        ("", false), ("01", false), ("+1", false), ("1.", false), (".5", false), ("1e", false),
        ("NaN", false), ("Infinity", false), ("1 ", false), ("0x10", false), ("-", false),
    ])
    func numberLexemeValidation(lexeme: String, valid: Bool) {
        #expect(JSON.isValidNumberLexeme(lexeme) == valid)
    }

    // MARK: errors

    @Test(arguments: [
        // (input, code, offset)
        ("", "empty", 0),
        ("   \n\t", "empty", 5),
        ("[1,]", "syntax", 3),
        ("{\"a\":1,}", "syntax", 7),
        ("[1 2]", "syntax", 3),
        ("[1", "syntax", 2),
        ("[", "syntax", 1),
        ("{", "syntax", 1),
        ("]", "syntax", 0),
        ("{\"a\" 1}", "syntax", 5),
        ("{\"a\":}", "syntax", 5),
        ("{'a':1}", "syntax", 1),
        ("{a:1}", "syntax", 1),
        ("{\"a\":1 \"b\":2}", "syntax", 7),
        ("01", "syntax", 1),
        ("-01", "syntax", 2),
        ("-", "syntax", 1),
        ("+1", "syntax", 0),
        (".5", "syntax", 0),
        ("1.", "syntax", 2),
        ("1.e3", "syntax", 2),
        ("1e", "syntax", 2),
        ("1e+", "syntax", 3),
        ("NaN", "syntax", 0),
        ("[Infinity]", "syntax", 1),
        ("-Infinity", "syntax", 1),
        ("tru", "syntax", 3),
        ("nulL", "syntax", 3),
        ("True", "syntax", 0),
        ("1 2", "syntax", 2),
        ("{}x", "syntax", 2),
        ("// c\n1", "syntax", 0),
        ("/* c */ 1", "syntax", 0),
        ("[1]//", "syntax", 3),
        ("\"abc", "syntax", 4),
        ("\"a\\", "syntax", 3),
        ("\"a\u{1}b\"", "syntax", 2),
        ("\"tab\there\"", "syntax", 4),
        ("\"\\x\"", "syntax", 2),
        ("\"\\'\"", "syntax", 2),
        ("\"\\u12G4\"", "syntax", 5),
        ("\"\\u12\"", "syntax", 5),
        ("\"\\ud800\"", "syntax", 1),
        ("\"\\udc00\"", "syntax", 1),
        ("\"\\ud800\\u0041\"", "syntax", 7),
        ("\"\\ud800\\n\"", "syntax", 1),
        ("\"\\ude00\\ud83d\"", "syntax", 1),
        ("{\"a\":1,\"a\":2}", "duplicate_key", 7),
        ("[{\"x\":{\"k\":1,\"k\":1}}]", "duplicate_key", 13),
        ("{\"\\u0061\":1,\"a\":2}", "duplicate_key", 12),
        ("\u{FEFF}1", "syntax", 0),
        ("é", "syntax", 0),
        ("[1,\u{3000}2]", "syntax", 3),
    ])
    func errorCodesAndOffsets(input: String, code: String, offset: Int) throws {
        let err = try #require(parseError(bytes(input)))
        #expect(err.code.rawValue == code, "\(err.message)")
        #expect(err.offset == offset, "\(err.message)")
        #expect(err.message.hasSuffix("at byte \(offset)"), "\(err.message)")
    }

    @Test func syntaxMessagesNameWhatWasExpected() throws {
        #expect(parseError(bytes("[1 2]"))?.message == "expected ',' or ']' after array element, found '2' at byte 3")
        #expect(
            parseError(bytes("{\"a\":1,}"))?.message
                == "expected '\"' to start an object key after ',', found '}' at byte 7")
        #expect(parseError(bytes("[1,"))?.message == "expected a value, found end of input at byte 3")
        #expect(parseError(bytes("é"))?.message == "expected a value, found U+00E9 at byte 0")
        #expect(parseError(bytes("01"))?.message == "leading zeros are not allowed in numbers at byte 1")
        #expect(parseError(bytes("{\"id\":1,\"id\":2}"))?.message == "duplicate key \"id\" in object at byte 8")
    }

    @Test(
        arguments: [
            // (bytes, offset, message fragment)
            ([0x22, 0xC0, 0xAF, 0x22], 1, "overlong"),  // overlong '/'
            ([0x22, 0xC1, 0xBF, 0x22], 1, "overlong"),
            ([0x22, 0xE0, 0x80, 0xAF, 0x22], 1, "overlong"),  // 3-byte overlong
            ([0x22, 0xF0, 0x80, 0x80, 0xAF, 0x22], 1, "overlong"),  // 4-byte overlong
            ([0x22, 0xED, 0xA0, 0x80, 0x22], 1, "surrogate"),  // U+D800 encoded
            ([0x22, 0xED, 0xBF, 0xBF, 0x22], 1, "surrogate"),  // U+DFFF encoded
            ([0x22, 0xF4, 0x90, 0x80, 0x80, 0x22], 1, "above U+10FFFF"),
            ([0x22, 0xF5, 0x80, 0x80, 0x80, 0x22], 1, "never appears"),
            ([0x22, 0xFF, 0x22], 1, "never appears"),
            ([0x22, 0x80, 0x22], 1, "continuation"),  // lone continuation byte
            ([0x22, 0xE4, 0xB8, 0x22], 1, "truncated"),  // 中 missing last byte
            ([0x22, 0xE4, 0xB8], 1, "truncated"),  // truncated at end of input
            ([0x22, 0xF0, 0x9F, 0x98], 1, "truncated"),
            ([0x22, 0x61, 0x5C, 0x6E, 0xC3, 0x22], 4, "truncated"),  // after an escape (slow path)
            ([0x7B, 0x22, 0xC3, 0x28, 0x22, 0x3A, 0x31, 0x7D], 2, "truncated"),  // in a key
            ([0x5B, 0x31, 0x2C, 0xFF, 0x5D], 3, "never appears"),  // outside strings
            ([0x20, 0xC0, 0x80], 1, "overlong"),
            // Invalid UTF-8 wins over earlier syntax errors and duplicate keys.
            ([0x5B, 0x31, 0x2C, 0x2C, 0xFF, 0x5D], 4, "never appears"),
            (Array("{\"a\":1,\"a\":\"".utf8) + [0xED, 0xA0, 0x80, 0x22, 0x7D], 12, "surrogate"),
            (Array("x".utf8) + [0xC3], 1, "truncated"),
        ] as [([UInt8], Int, String)])
    func invalidUTF8(input: [UInt8], offset: Int, fragment: String) throws {
        let err = try #require(parseError(input))
        #expect(err.code == .invalidUTF8)
        #expect(err.offset == offset)
        #expect(err.message.contains(fragment), "\(err.message)")
    }

    @Test func validUTF8EdgesAccepted() throws {
        // U+0080, U+07FF, U+0800, U+FFFF, U+10000, U+10FFFF and U+E000 (just past the surrogates).
        let scalars: [UInt32] = [0x80, 0x7FF, 0x800, 0xD7FF, 0xE000, 0xFFFF, 0x10000, 0x10FFFF]
        for v in scalars {
            let s = String(Unicode.Scalar(v)!)
            let doc = Array("\"\(s)\"".utf8)
            #expect(try JSON.parse(doc) == .string(s))
        }
    }

    // MARK: limits

    @Test func depth32IsAcceptedAnd33Rejected() throws {
        let ok = String(repeating: "[", count: 32) + String(repeating: "]", count: 32)
        #expect(throws: Never.self) { try parse(ok) }
        let deep = String(repeating: "[", count: 33) + String(repeating: "]", count: 33)
        let err = try #require(parseError(bytes(deep)))
        #expect(err.code == .tooDeep)
        #expect(err.offset == 32)

        let objOK = String(repeating: "{\"a\":", count: 32) + "1" + String(repeating: "}", count: 32)
        #expect(throws: Never.self) { try parse(objOK) }
        let objDeep = String(repeating: "{\"a\":", count: 33) + "1" + String(repeating: "}", count: 33)
        #expect(parseError(bytes(objDeep))?.code == .tooDeep)
        #expect(parseError(bytes(objDeep))?.offset == 32 * 5)

        // Empty containers count too.
        let emptyDeep = String(repeating: "[", count: 32) + "{}" + String(repeating: "]", count: 32)
        #expect(parseError(bytes(emptyDeep))?.code == .tooDeep)
    }

    @Test func customDepthLimit() throws {
        let limits = JSONLimits(maxDepth: 1)
        #expect(try parse("[1,2]", limits: limits) == [1, 2])
        #expect(try parse("7", limits: JSONLimits(maxDepth: 0)) == 7)
        #expect(parseError(bytes("[[1]]"), limits: limits)?.code == .tooDeep)
        #expect(parseError(bytes("[]"), limits: JSONLimits(maxDepth: 0))?.code == .tooDeep)
    }

    @Test func deepInputCannotOverflowTheStack() throws {
        // The parser is iterative: 50k unclosed brackets under a huge depth limit fail cleanly.
        let huge = [UInt8](repeating: 0x5B, count: 50_000)
        let err = try #require(parseError(huge, limits: JSONLimits(maxBytes: 1 << 20, maxDepth: 1 << 30)))
        #expect(err.code == .syntax)
        #expect(err.offset == 50_000)
        // And with the default limits it stops at depth 33.
        #expect(parseError(huge)?.code == .tooDeep)
    }

    @Test func sizeLimitBoundary() throws {
        let limit = JSONLimits().maxBytes
        #expect(limit == 262_144)
        // A string document of exactly 256 KiB parses.
        var exact = [UInt8](repeating: 0x61, count: limit)
        exact[0] = 0x22
        exact[limit - 1] = 0x22
        let v = try JSON.parse(exact)
        #expect(v.stringValue?.utf8.count == limit - 2)
        // One byte more fails before parsing, even when the content is garbage.
        var over = exact
        over.append(0x20)
        #expect(parseError(over)?.code == .tooLarge)
        #expect(parseError(over)?.offset == limit)
        let garbage = [UInt8](repeating: 0xFF, count: limit + 1)
        #expect(parseError(garbage)?.code == .tooLarge)
        #expect(parseError([0x31, 0x32], limits: JSONLimits(maxBytes: 1))?.code == .tooLarge)
        #expect((try? JSON.parse(Data(over))) == nil)
    }

    // MARK: scanning without values

    /// Objects the scan decides: its members must be exactly what `parse` builds.
    @Test(arguments: [
        #"{}"#,
        #" { "a" : 1 } "#,
        #"{"at":"2026-03-02T09:00:00+08:00","ticket":{"id":"A-1","text":"南海区 \"狮山\" 镇\n","n":[1,-0.5e3,true,false,null,{},[]]}}"#,
        #"{"a":{"a":{"a":1}},"b":[{"a":1},{"a":2}],"c":"\ud83d\ude00"}"#,
        #"{"k":"\u0000\u001f","l":"\#u{2028}","m":"12345678abcdefgh\"ijklmnop"}"#,
        #"{"x":[[[[[]]]]],"y":{"x":{"x":{}}}}"#,
    ])
    func scanAgreesWithParse(input: String) throws {
        let data = bytes(input)
        let spans = try #require(data.withUnsafeBytes { JSON.scanObject($0) }, "the scan left \(input) undecided")
        let parsed = try #require(try parse(input).objectValue)
        #expect(spans.map { String(decoding: data[$0.key], as: UTF8.self) } == parsed.keys)
        for (span, value) in zip(spans, parsed.values) {
            #expect(try JSON.parse(Array(data[span.value])) == value)
        }
    }

    /// Whatever the scan decides, `parse` accepts with the same members; nothing `parse` refuses is decided.
    @Test func scanNeverAcceptsWhatParseRefuses() throws {
        var inputs: [[UInt8]] = [
            #"[1,]"#, #"{"a":1,}"#, #"{"a" 1}"#, #"{"a":}"#, #"{'a':1}"#, #"{a:1}"#, #"{"a":1 "b":2}"#, #"{"a":01}"#,
            #"{"a":-}"#, #"{"a":1.}"#, #"{"a":1e}"#, #"{"a":NaN}"#, #"{"a":tru}"#, #"{"a":nulL}"#, #"{}x"#,
            #"{"a":1}//"#,
            #"{"a":"abc}"#, "{\"a\":\"a\u{1}b\"}", #"{"a":"\x"}"#, #"{"a":"\u12G4"}"#, #"{"a":"\ud800"}"#,
            #"{"a":1,"a":2}"#, #"{"x":{"k":1,"k":1}}"#, #"{"\u0061":1,"a":2}"#, "{\"e\u{301}\":1,\"é\":2}",
            "\u{FEFF}{}", "{\"a\":[1,\u{3000}2]}", "{", #"{"a":[1}"#, #"{"a":{]}"#, #"{"a":""#, "", "  ", "1", "[{}]",
            #""{}""#,
        ].map(bytes)
        inputs += [
            [0x7B, 0x22, 0x61, 0x22, 0x3A, 0x22, 0xC0, 0xAF, 0x22, 0x7D],
            [0x7B, 0x22, 0xC3, 0x28, 0x22, 0x3A, 0x31, 0x7D],
            [0x7B, 0x22, 0x61, 0x22, 0x3A, 0x22, 0xED, 0xA0, 0x80, 0x22, 0x7D],
        ]
        inputs.append(bytes(String(repeating: #"{"a":"#, count: 33) + "1" + String(repeating: "}", count: 33)))
        inputs.append(bytes(#"{"a":"# + String(repeating: "[", count: 32) + String(repeating: "]", count: 32) + "}"))
        inputs.append(bytes("{" + (0..<70).map { "\"k\($0)\":\($0)" }.joined(separator: ",") + "}"))
        // Every prefix of a valid line, too.
        let line = bytes(#"{"at":"2026-03-02T09:00:00+08:00","ticket":{"id":"A-1","n":[1,2.5,true,null],"t":"中\"文"}}"#)
        inputs += (0..<line.count).map { Array(line[..<$0]) }
        var decided = 0
        for input in inputs {
            guard let spans = input.withUnsafeBytes({ JSON.scanObject($0) }) else { continue }
            decided += 1
            let object = try #require(
                try? JSON.parse(input).objectValue, "scan accepted \(String(decoding: input, as: UTF8.self))")
            #expect(spans.count == object.count)
        }
        #expect(decided == 0)
        // Limits are the caller's: a size or depth over them is never decided.
        let small = bytes(#"{"a":[[1]]}"#)
        #expect(small.withUnsafeBytes { JSON.scanObject($0, limits: JSONLimits(maxBytes: 10)) } == nil)
        #expect(small.withUnsafeBytes { JSON.scanObject($0, limits: JSONLimits(maxDepth: 2)) } == nil)
        #expect(small.withUnsafeBytes { JSON.scanObject($0, limits: JSONLimits(maxDepth: 3)) } != nil)
    }
}
