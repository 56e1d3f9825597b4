import Foundation
@testable import PagodaLifecycle
import PagodaRules
import Testing

/// The byte reader of stored states reads every state `encoded()` writes, exactly as the JSON tree does,
/// and gives up (nil) on anything else, leaving the tree to decide.
@Suite struct StateFastReaderTests {
    @Test(arguments: LifecycleFlowTests.stored)
    func readsWhatTheEncoderWrites(_ name: String) throws {
        let state = try LifecycleFlowTests.state(name)
        let cache = StateDecodingCache()
        for _ in 0..<2 {  // the snapshots read, then from the cache
            let fast = try #require(StateFastReader.read(state.encoded(), cache: cache), "\(name) fell back to the tree")
            #expect(fast == state)
            #expect(fast.nextTimer == state.nextTimer && fast.version == state.version)
        }
    }

    @Test func readsTextBeyondASCIIAndRefusesBrokenUTF8() throws {
        var state = try LifecycleFlowTests.state("extension-pending")
        let p = try #require(state.pendingExtension)
        state.pendingExtension = PendingExtension(until: p.until, reason: "企业需补充环评材料", at: p.at)
        let cache = StateDecodingCache()
        #expect(StateFastReader.read(state.encoded(), cache: cache) == state)
        // A byte that is not UTF-8 inside a string: the fast reader gives up, and the tree refuses it.
        var broken = state.encoded()
        let at = try #require(broken.firstIndex(of: 0xE4))  // the first byte of 企
        broken[at] = 0xFF
        #expect(StateFastReader.read(broken, cache: cache) == nil)
        #expect(throws: (any Error).self) { try TicketState(encoded: broken, cache: cache) }
    }

    @Test func givesUpOnWhatItDoesNotReadAndTheTreeDecides() throws {
        let cache = StateDecodingCache()
        for name in LifecycleFlowTests.stored {
            let state = try LifecycleFlowTests.state(name)
            let text = String(decoding: state.encoded(), as: UTF8.self)
            let variants: [String] = [
                text.replacingOccurrences(of: #""id":""#, with: #""id":"\u0041"#),          // an escape: the tree reads it
                text.replacingOccurrences(of: "{\"v\":", with: "{\"v\":1,\"v\":"),           // a repeated member: refused
                text.replacingOccurrences(of: "{\"v\":", with: "{\"x\":1,\"v\":"),           // an unknown member: ignored by the tree
                text.replacingOccurrences(of: "{\"v\":", with: "{\"category\":null,\"v\":"), // a null
                text.replacingOccurrences(of: "{\"v\":", with: "{\"v\":1.0,\"w\":"),         // a fraction where an integer goes
                text.replacingOccurrences(of: ",\"id\":", with: ",\"id\":01,\"i\":"),        // not JSON
                String(text.dropLast()),                                                      // cut short
                text + "x",                                                                   // trailing bytes
                text.replacingOccurrences(of: ",", with: " , "),                              // spaces: read the same
            ]
            #expect(StateFastReader.read(Array(variants[8].utf8), cache: cache) == state, "spaces between tokens are read")
            for v in variants[0..<8] { #expect(StateFastReader.read(Array(v.utf8), cache: cache) == nil, "\(name): \(v)") }
            for v in variants {
                let bytes = Array(v.utf8)
                let tree = Result { try TicketState(encoded: bytes) }
                if let fast = StateFastReader.read(bytes, cache: cache) {
                    #expect(try tree.get() == fast, "\(name): \(v)")
                }
                // Through the cache the outcome is the tree's, whichever reader took it.
                let cached = Result { try TicketState(encoded: bytes, cache: cache) }
                switch (tree, cached) {
                case let (.success(a), .success(b)): #expect(a == b, "\(name): \(v)")
                case let (.failure(a), .failure(b)): #expect("\(a)" == "\(b)", "\(name): \(v)")
                default: Issue.record("\(name): the tree and the cached reading disagree on \(v)")
                }
            }
        }
    }
}
