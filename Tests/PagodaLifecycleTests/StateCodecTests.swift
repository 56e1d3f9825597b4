import Foundation
import PagodaJSON
import PagodaRules
import Testing

@testable import PagodaLifecycle

/// The one reader of stored states reads every state `encoded()` writes, reads what JSON says the bytes
/// hold when they are spelled otherwise, and names what is wrong.
@Suite struct StateCodecTests {
    @Test(arguments: LifecycleFlowTests.stored)
    func readsWhatTheEncoderWrites(_ name: String) throws {
        let state = try LifecycleFlowTests.state(name)
        let cache = StateDecodingCache()
        #expect(try TicketState(encoded: state.encoded()) == state)
        for _ in 0..<2 {  // the snapshots read, then from the cache
            let read = try TicketState(encoded: state.encoded(), cache: cache)
            #expect(read == state)
            #expect(read.nextTimer == state.nextTimer && read.version == state.version)
        }
    }

    @Test func readsTextBeyondASCIIAndRefusesBrokenUTF8() throws {
        var state = try LifecycleFlowTests.state("extension-pending")
        let p = try #require(state.pendingExtension)
        state.pendingExtension = PendingExtension(until: p.until, reason: "企业需补充环评材料", at: p.at)
        let cache = StateDecodingCache()
        #expect(try TicketState(encoded: state.encoded(), cache: cache) == state)
        // A byte that is not UTF-8 inside a string: the parser's error.
        var broken = state.encoded()
        let at = try #require(broken.firstIndex(of: 0xE4))  // the first byte of 企
        broken[at] = 0xFF
        #expect(throws: JSONParseError.self) { try TicketState(encoded: broken, cache: cache) }
        #expect(throws: JSONParseError.self) { try TicketState(encoded: broken) }
    }

    /// Spelled otherwise, a state reads as JSON says; what is not JSON is the parser's error, a value of
    /// the wrong type names its field; with or without the cache.
    @Test func readsOtherSpellingsAndNamesWhatIsWrong() throws {
        let cache = StateDecodingCache()
        for name in LifecycleFlowTests.stored {
            let state = try LifecycleFlowTests.state(name)
            let text = String(decoding: state.encoded(), as: UTF8.self)
            let escaped = try TicketState(
                encoded: Array(text.replacingOccurrences(of: #""id":""#, with: #""id":"\u0041"#).utf8))
            #expect(escaped.ticketID == "A" + state.ticketID, "an escape is read")
            let same: [String] = [
                // white space
                text.replacingOccurrences(of: ",", with: " , ").replacingOccurrences(of: "\":", with: "\" :\n\t"),
                text.replacingOccurrences(of: "{\"v\":", with: "{\"x\":[1,{\"y\":\"}\"}],\"v\":"),  // an unknown member
                text.replacingOccurrences(of: "{\"v\":", with: "{\"category\":null,\"v\":"),  // a null: absent
                text.replacingOccurrences(of: "\"phase\":", with: "\"p\\u0068ase\":"),  // an escaped key
            ]
            for v in same where !(v.contains("\"category\":null") && state.category != nil) {
                #expect(try TicketState(encoded: Array(v.utf8)) == state, "\(name): \(v)")
                #expect(try TicketState(encoded: Array(v.utf8), cache: cache) == state, "\(name): \(v)")
            }
            let notJSON: [String] = [
                text.replacingOccurrences(of: "{\"v\":", with: "{\"v\":1,\"v\":"),  // a repeated member
                text.replacingOccurrences(of: "{\"v\":", with: "{\"x\":1,\"x\":2,\"v\":"),  // a repeated unknown member
                text.replacingOccurrences(of: ",\"id\":", with: ",\"id\":01,\"i\":"),  // not JSON
                text.replacingOccurrences(of: "{\"v\":", with: "{\"x\":[1,},\"v\":"),  // an unknown member not JSON
                String(text.dropLast()),  // cut short
                text + "x",  // trailing bytes
            ]
            for v in notJSON {
                var failure: JSONParseError?
                do { _ = try JSON.parse(Array(v.utf8)) } catch { failure = error }
                guard let expected = failure else {
                    Issue.record("\(name): JSON accepts \(v)")
                    continue
                }
                for decode in [
                    { try TicketState(encoded: Array(v.utf8)) },
                    { try TicketState(encoded: Array(v.utf8), cache: cache) },
                ] {
                    #expect { try decode() } throws: { ($0 as? JSONParseError) == expected }
                }
            }
            let wrong: [(String, String, String)] = [
                (text.replacingOccurrences(of: "{\"v\":", with: "{\"v\":1.0,\"w\":"), "v", "expected an integer"),
                (text.replacingOccurrences(of: "\"id\":\"", with: "\"id\":5,\"i\":\""), "id", "expected a string"),
                (
                    text.replacingOccurrences(of: "\"phase\":\"", with: "\"phase\":\"x"), "phase",
                    "unknown value x" + state.phase.rawValue
                ),
                (
                    text.replacingOccurrences(
                        of: #""to_parent":(true|false)"#, with: #""to_parent":1"#, options: .regularExpression),
                    "policy.to_parent", "expected a boolean"
                ),
            ]
            for (v, field, reason) in wrong {
                for decode in [
                    { try TicketState(encoded: Array(v.utf8)) },
                    { try TicketState(encoded: Array(v.utf8), cache: cache) },
                ] {
                    #expect { try decode() } throws: { e in
                        (e as? StateDecodingError).map { $0.field == field && $0.reason == reason } ?? false
                    }
                }
            }
        }
        #expect(throws: StateDecodingError(field: "", reason: "not an object")) {
            try TicketState(encoded: Array("[1]".utf8))
        }
        #expect(throws: StateDecodingError(field: "id", reason: "missing")) {
            try TicketState(encoded: Array("{}".utf8))
        }
    }
}
