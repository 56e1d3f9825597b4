import Foundation
import PagodaJSON
import Testing

@testable import PagodaStore

/// The store's `headers_json`, read with the project's JSON parser: what Foundation's `JSONDecoder` reads
/// of the same text (a reference here, not a path of the store).
struct JSONTextTests {
    @Test(arguments: [
        #"{}"#,
        #" { "a" : "b" , "c":"" } "#,
        #"{"esc":"\" \\ \/ \b \f \n \r \t","u":"\u4f5b\u5c71 \ud83d\ude92 \u0001"}"#,
        #"{"佛山":"12345热线 🚒"}"#,
    ])
    func readsWhatJSONDecoderReads(_ text: String) throws {
        #expect(
            try JSONText.decodeStrings(text) == (try JSONDecoder().decode([String: String].self, from: Data(text.utf8)))
        )
    }

    /// Anything `encode` does not write is a `corrupt` column, named (a repeated key too, which the
    /// parser refuses).
    @Test(arguments: [
        #"{"n":1}"#, #"{"a":"b""#, #"["a"]"#, #"{"a":"b"} x"#, #"{"a":"\ud83d"}"#, "{\"a\":\"\u{01}\"}",
        #"{"dup":"first","dup":"second"}"#,
    ])
    func refusesAnythingElse(_ text: String) throws {
        #expect {
            try JSONText.decodeStrings(text)
        } throws: { error in
            (error as? StoreError)?.code == .corrupt
                && (error as? StoreError)?.message.hasPrefix("headers_json: ") == true
        }
    }

    @Test func readsWhatEncodeWrites() throws {
        let headers = [
            "quote\"key": "a \"b\" c", "lines": "1\n2\r3\t4", "control": "\u{01}\u{1F}", "unicode": "佛山 🚒", "": "",
        ]
        #expect(try JSONText.decodeStrings(JSONText.encode(headers)) == headers)
    }
}

/// The reader of `extra_routing_keys`.
struct JSONTextArrayTests {
    @Test(arguments: [[], ["unit.nanhai"], ["a\"b", "c\\d", "佛山 🚒", ""]])
    func readsWhatEncodeWrites(_ keys: [String]) throws {
        #expect(try JSONText.decodeStringArray(JSONText.encodeStrings(keys)) == keys)
    }

    @Test(arguments: [#"[1]"#, #"{"a":"b"}"#, #"["a""#, #"["a"] x"#, #"[null]"#])
    func refusesAnythingElse(_ text: String) throws {
        #expect(throws: (any Error).self) { try JSONText.decodeStringArray(text) }
    }
}
