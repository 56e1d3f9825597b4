import Foundation
import PagodaJSON
import PagodaRules
import Testing

@testable import PagodaLifecycle
@testable import PagodaSimulation

/// `CommandContract.decode` reads a body's bytes as the contract reads its JSON: the same command, or
/// the same issues (`validate` of the parsed object, or the parser's error), whether the body is written
/// the plain way (read in one pass) or not (read through the JSON tree).
@Suite struct CommandDecodeTests {
    /// The common fields, as written inside a body.
    static let common =
        #""command_id":"cmd-0001","ticket_id":"FS-20260302-0001","unit":"nanhai.shishan","at":"2026-03-02T09:53:00+08:00""#

    /// A body of `type` with `fields` (written after the common fields).
    static func body(_ type: String, _ fields: String = "") -> String {
        #"{\#(common),"type":"\#(type)"\#(fields.isEmpty ? "" : ",")\#(fields)}"#
    }

    /// Valid bodies of every type, with and without optional fields and nulls, beyond ASCII too.
    static let valid: [String] = [
        body("sign"),
        body("contact"),
        body("contact", #""note":"已电话联系市民""#),
        body("contact", #""note":null"#),
        body("contact", #""note":"""#),
        body("progress", #""note":"已派人核查""#),
        body("progress", #""note":"已到现场","milestone":"onsite""#),
        body("progress", #""note":"已答复","milestone":"answer""#),
        body("progress", #""note":"x","milestone":null"#),
        body("progress", #""note":" 已到现场 ""#),
        body("request_return", #""reason":"not_our_duty""#),
        body("request_return", #""reason":"wrong_area","suggested_unit":"nanhai.dali","text":"该地址属大沥镇""#),
        body("request_return", #""reason":"incomplete_information","suggested_unit":null,"text":"""#),
        body("request_return", #""reason":"unclear_ownership","text":null"#),
        body("request_extension", #""until":"2026-03-09T18:00:00+08:00","reason":"需协调多个部门""#),
        body("request_extension", #""until":"2026-03-09T10:00:00Z","reason":"r""#),
        body("request_extension", #""until":"2026-03-09t10:00:00.123456789123-05:30","reason":"r""#),
        body("reply", #""outcome":"resolved","text":"已处理并答复市民。""#),
        body("reply", #""outcome":"partially_resolved","text":"部分解决""#),
        body("reply", #""outcome":"unresolvable","text":"无法解决，已向市民解释 👍""#),
        body("reply", #""outcome":"answered","text":"Answered: policy explained.""#),
        body("approve_return"),
        body("approve_return", #""new_unit":"nanhai.dali","note":"改派大沥""#),
        body("approve_return", #""new_unit":null,"note":null"#),
        body("reject_return", #""note":"属本辖区""#),
        body("reject_return"),
        body("approve_extension"),
        body("approve_extension", #""until":"2026-03-09T18:00:00+08:00","note":"同意""#),
        body("approve_extension", #""until":null"#),
        body("reject_extension"),
        body("reject_extension", #""note":"理由不足""#),
        body("callback_result", #""reached":true,"resolved":true,"satisfaction":"satisfied""#),
        body("callback_result", #""reached":true,"resolved":false,"satisfaction":"unsatisfied","note":"市民称问题仍在""#),
        body("callback_result", #""reached":true,"resolved":true,"satisfaction":"basically_satisfied","note":null"#),
        body("callback_result", #""reached":false"#),
        body("callback_result", #""reached":false,"resolved":null,"satisfaction":null"#),
        body("callback_result", #""reached":false,"satisfaction":"satisfied","note":"无人接听""#),
        body("redispatch", #""to_unit":"foshan.city""#),
        body("redispatch", #""to_unit":"nanhai.dali","note":"重派""#),
        body("merge", #""into_ticket":"FS-20260302-0002","note":"重复工单""#),
        body("merge", #""into_ticket":"FS-2""#),
        // The type first, members in another order, white space between tokens.
        #"{"type":"sign","at":"2026-03-02T09:53:00+08:00","unit":"u","ticket_id":"T","command_id":"c"}"#,
        " {\n\t\"command_id\" : \"A-Za-z0-9._:-\" ,\r\n \"ticket_id\":\"T:1\", \"unit\":\"a-z0-9._\",\"type\":\"reply\",\"at\":\"2026-03-02T09:53:00+08:00\",\"outcome\":\"resolved\",\"text\":\"已处理\"\t} \n",
    ]

    /// Lengths at their bounds, in bytes and in Characters: valid, and read.
    static let longValid: [String] = [
        body("reply", #""outcome":"resolved","text":"\#(String(repeating: "字", count: 10_000))""#),
        body("progress", #""note":"\#(String(repeating: "👨‍👩‍👧", count: 2000))""#),
        body("contact", #""note":"\#(String(repeating: "a", count: 2000))""#),
        #"{"command_id":"\#(String(repeating: "c", count: 128))","ticket_id":"\#(String(repeating: "T", count: 64))","unit":"\#(String(repeating: "u", count: 64))","type":"sign","at":"2026-03-02T09:53:00+08:00"}"#,
    ]

    /// Lengths one past their bounds: refused.
    static let longRefused: [String] = [
        #"{"command_id":"\#(String(repeating: "c", count: 129))","ticket_id":"T","unit":"u","type":"sign","at":"2026-03-02T09:53:00+08:00"}"#,
        #"{"command_id":"c","ticket_id":"\#(String(repeating: "T", count: 65))","unit":"u","type":"sign","at":"2026-03-02T09:53:00+08:00"}"#,
        #"{"command_id":"c","ticket_id":"T","unit":"\#(String(repeating: "u", count: 65))","type":"sign","at":"2026-03-02T09:53:00+08:00"}"#,
        body("redispatch", #""to_unit":"\#(String(repeating: "u", count: 65))""#),
        body("merge", #""into_ticket":"\#(String(repeating: "F", count: 65))""#),
        body("contact", #""note":"\#(String(repeating: "a", count: 2001))""#),
        body("contact", #""note":"\#(String(repeating: "字", count: 2001))""#),
        body("progress", #""note":"\#(String(repeating: "👨‍👩‍👧", count: 2001))""#),
        body("request_return", #""reason":"wrong_area","text":"\#(String(repeating: "a", count: 2001))""#),
        body("reply", #""outcome":"resolved","text":"\#(String(repeating: "a", count: 10_001))""#),
        body("reply", #""outcome":"resolved","text":"\#(String(repeating: "字", count: 10_001))""#),
        body("approve_return", #""note":"\#(String(repeating: "a", count: 2001))""#),
    ]

    /// What the contract makes of `bytes` as JSON: the parser's error, or `validate` of the parsed object.
    static func expected(_ bytes: [UInt8], replyTo: String? = nil, limits: JSONLimits = ScenarioLine.limits)
        -> Result<Command, CommandValidationError>
    {
        let value: JSONValue
        do {
            value = try JSON.parse(bytes, limits: limits)
        } catch {
            return .failure(
                .init(
                    issues: [.init(path: "", code: ValidationCode(error.code), message: error.message)], commandID: nil,
                    ticketID: nil))
        }
        guard case .object(let o) = value else {
            let issue = ValidationIssue(
                path: "", code: .type, message: "(root): expected an object, got \(value.typeDescription)")
            return .failure(.init(issues: [issue], commandID: nil, ticketID: nil))
        }
        return CommandContract.validate(o, replyTo: replyTo)
    }

    /// What `decode` makes of `bytes`, with a scenario line's limits (as `PreparedLine` reads a command line).
    static func decoded(_ bytes: [UInt8], replyTo: String? = nil) -> Result<Command, CommandValidationError> {
        bytes.withUnsafeBytes { CommandContract.decode($0, replyTo: replyTo, limits: ScenarioLine.limits) }
    }

    static func slow(_ bytes: [UInt8], replyTo: String? = nil) -> Command? {
        try? expected(bytes, replyTo: replyTo).get()
    }

    static func fast(_ bytes: [UInt8], replyTo: String? = nil) -> Command? {
        try? decoded(bytes, replyTo: replyTo).get()
    }

    @Test(arguments: valid)
    func readsValidBodiesAsTheContractDoes(_ body: String) throws {
        let bytes = Array(body.utf8)
        let slow = try #require(Self.slow(bytes, replyTo: "amq.gen-1"), "the contract refuses \(body.prefix(200))")
        let fast = try #require(Self.fast(bytes, replyTo: "amq.gen-1"), "refused: \(body.prefix(200))")
        #expect(fast == slow)
        #expect(fast.replyTo == "amq.gen-1")
    }

    @Test func readsTheBenchmarkShapes() throws {
        let shapes = [
            Self.body("sign"),
            Self.body("reply", #""outcome":"resolved","text":"已处理并答复市民。""#),
            Self.body("callback_result", #""reached":true,"resolved":true,"satisfaction":"satisfied""#),
        ]
        for s in shapes {
            let fast = try #require(Self.fast(Array(s.utf8)), "refused: \(s)")
            #expect(fast == Self.slow(Array(s.utf8)))
        }
        let reply = try #require(Self.fast(Array(shapes[1].utf8)))
        #expect(reply.action == .reply(outcome: .resolved, text: "已处理并答复市民。"))
        #expect(reply.at == RFC3339.parse("2026-03-02T09:53:00+08:00")!.date)
    }

    /// Every command `json()` writes is read, the same as the contract reads it.
    @Test func readsWhatCommandsWrite() throws {
        let at = RFC3339.parse("2026-03-02T09:53:00+08:00")!.date
        let actions: [Command.Action] = [
            .sign, .contact(note: "已联系"), .progress(note: "到场", milestone: .onsite),
            .requestReturn(reason: .incompleteInformation, suggestedUnit: "nanhai.dali", text: "缺少地址"),
            .requestExtension(until: at.addingTimeInterval(86_400), reason: "需协调"),
            .reply(outcome: .answered, text: "已答复政策"),
            .approveReturn(unit: "nanhai.dali", note: "改派"), .rejectReturn(note: nil),
            .approveExtension(until: at, note: "同意"),
            .rejectExtension(note: "理由不足"),
            .callbackResult(reached: true, resolved: true, satisfaction: .basicallySatisfied, note: "满意"),
            .redispatch(unit: "foshan.city", note: nil), .merge(into: "FS-2", note: "重复"),
        ]
        #expect(Set(actions.map(\.type)) == Set(CommandType.allCases))
        for a in actions {
            let command = Command(id: "cmd:1", ticketID: "FS-1", unit: "nanhai.shishan", at: at, action: a)
            let bytes = JSON.serialize(command.json())
            #expect(Self.fast(bytes) == command, "\(a)")
            #expect(Self.slow(bytes) == command, "\(a)")
        }
    }

    /// Bodies the contract (or the parser) refuses.
    static let refused: [String] = [
        // Not JSON, or not the object alone.
        "", " ", "{}", "[]", "null", #""sign""#,
        String(body("sign").dropLast()),
        body("sign") + "x",
        body("sign") + "}",
        body("sign") + ",{}",
        body("sign").replacingOccurrences(of: #","type""#, with: #",,"type""#),
        body("sign").replacingOccurrences(of: "}", with: ",}"),
        body("sign").replacingOccurrences(of: #""type":"#, with: #""type" "#),
        body("contact", #""note":"a"#),
        body("contact", #""note":"a\#u{01}b""#),  // an unescaped control character
        body("callback_result", #""reached":tru"#),
        body("callback_result", #""reached":truee"#),
        body("callback_result", #""reached":True"#),
        // Repeated, unknown and misplaced keys.
        body("sign", #""command_id":"cmd-0002""#),
        body("sign", #""type":"sign""#),
        body("contact", #""note":"a","note":"b""#),
        body("contact", #""note":null,"note":"b""#),
        body("sign", #""extra":1"#),
        body("sign", #""Note":"x""#),
        body("sign", #""note":"x""#),
        body("sign", #""note":null"#),
        body("reply", #""outcome":"resolved","text":"x","note":"y""#),
        body("merge", #""into_ticket":"FS-2","to_unit":"nanhai.dali""#),
        body("contact", #""milestone":"onsite""#),
        // Wrong types and missing required fields.
        #"{"ticket_id":"T","unit":"u","type":"sign","at":"2026-03-02T09:53:00+08:00"}"#,
        #"{"command_id":"c","unit":"u","type":"sign","at":"2026-03-02T09:53:00+08:00"}"#,
        #"{"command_id":"c","ticket_id":"T","type":"sign","at":"2026-03-02T09:53:00+08:00"}"#,
        #"{"command_id":"c","ticket_id":"T","unit":"u","at":"2026-03-02T09:53:00+08:00"}"#,
        #"{"command_id":"c","ticket_id":"T","unit":"u","type":"sign"}"#,
        #"{"command_id":null,"ticket_id":"T","unit":"u","type":"sign","at":"2026-03-02T09:53:00+08:00"}"#,
        #"{"command_id":1,"ticket_id":"T","unit":"u","type":"sign","at":"2026-03-02T09:53:00+08:00"}"#,
        #"{"command_id":"c","ticket_id":["T"],"unit":"u","type":"sign","at":"2026-03-02T09:53:00+08:00"}"#,
        #"{"command_id":"c","ticket_id":"T","unit":{"id":"u"},"type":"sign","at":"2026-03-02T09:53:00+08:00"}"#,
        #"{"command_id":"c","ticket_id":"T","unit":"u","type":true,"at":"2026-03-02T09:53:00+08:00"}"#,
        #"{"command_id":"c","ticket_id":"T","unit":"u","type":"sign","at":1772416380}"#,
        body("contact", #""note":1"#),
        body("contact", #""note":true"#),
        body("progress"),
        body("progress", #""note":null"#),
        body("progress", #""note":false"#),
        body("progress", #""note":"x","milestone":1"#),
        body("request_return"),
        body("request_return", #""reason":["wrong_area"]"#),
        body("request_return", #""reason":"wrong_area","suggested_unit":3"#),
        body("request_extension", #""reason":"r""#),
        body("request_extension", #""until":"2026-03-09T18:00:00+08:00""#),
        body("reply", #""text":"x""#),
        body("reply", #""outcome":"resolved""#),
        body("reply", #""outcome":"resolved","text":null"#),
        body("approve_extension", #""until":1"#),
        body("reject_return", #""note":0"#),
        body("redispatch"),
        body("redispatch", #""to_unit":null"#),
        body("merge"),
        // Ids: characters and lengths.
        #"{"command_id":"cmd 1","ticket_id":"T","unit":"u","type":"sign","at":"2026-03-02T09:53:00+08:00"}"#,
        #"{"command_id":"指令1","ticket_id":"T","unit":"u","type":"sign","at":"2026-03-02T09:53:00+08:00"}"#,
        #"{"command_id":"","ticket_id":"T","unit":"u","type":"sign","at":"2026-03-02T09:53:00+08:00"}"#,
        #"{"command_id":"c","ticket_id":"FS/1","unit":"u","type":"sign","at":"2026-03-02T09:53:00+08:00"}"#,
        #"{"command_id":"c","ticket_id":"","unit":"u","type":"sign","at":"2026-03-02T09:53:00+08:00"}"#,
        #"{"command_id":"c","ticket_id":"T","unit":"Nanhai","type":"sign","at":"2026-03-02T09:53:00+08:00"}"#,
        #"{"command_id":"c","ticket_id":"T","unit":"nanhai:shishan","type":"sign","at":"2026-03-02T09:53:00+08:00"}"#,
        #"{"command_id":"c","ticket_id":"T","unit":"","type":"sign","at":"2026-03-02T09:53:00+08:00"}"#,
        body("request_return", #""reason":"wrong_area","suggested_unit":"Nanhai Dali""#),
        body("request_return", #""reason":"wrong_area","suggested_unit":"""#),
        body("approve_return", #""new_unit":"DALI""#),
        body("redispatch", #""to_unit":"南海""#),
        body("merge", #""into_ticket":"FS 2""#),
        body("merge", #""into_ticket":"FS-20260302-0001""#),  // into itself
        // Enumerations.
        body("Sign"), body("approve"), body("sign "), body(""),
        body("progress", #""note":"x","milestone":"sign""#),
        body("progress", #""note":"x","milestone":"resolve""#),
        body("request_return", #""reason":"busy""#),
        body("reply", #""outcome":"done","text":"x""#),
        body("callback_result", #""reached":true,"resolved":true,"satisfaction":"very_satisfied""#),
        // Timestamps.
        #"{"command_id":"c","ticket_id":"T","unit":"u","type":"sign","at":"2026-03-02T09:53:00"}"#,
        #"{"command_id":"c","ticket_id":"T","unit":"u","type":"sign","at":"2026-02-30T09:53:00+08:00"}"#,
        #"{"command_id":"c","ticket_id":"T","unit":"u","type":"sign","at":"2026-03-02 09:53:00+08:00"}"#,
        #"{"command_id":"c","ticket_id":"T","unit":"u","type":"sign","at":"yesterday"}"#,
        #"{"command_id":"c","ticket_id":"T","unit":"u","type":"sign","at":"2026-03-02T09:53:60+08:00"}"#,
        #"{"command_id":"c","ticket_id":"T","unit":"u","type":"sign","at":" 2026-03-02T09:53:00+08:00"}"#,
        body("request_extension", #""until":"2026-03-09","reason":"r""#),
        body("request_extension", #""until":"2026-03-09T24:00:00+08:00","reason":"r""#),
        body("approve_extension", #""until":"next week""#),
        // Texts: lengths and blanks.
        body("progress", #""note":"""#),
        body("progress", #""note":"   ""#),
        body("progress", "\"note\":\" \u{3000}\u{2003}\""),
        body("request_extension", #""until":"2026-03-09T18:00:00+08:00","reason":"""#),
        body("reply", #""outcome":"resolved","text":"""#),
        // callback_result's rules.
        body("callback_result"),
        body("callback_result", #""reached":null"#),
        body("callback_result", #""reached":"yes""#),
        body("callback_result", #""reached":true"#),
        body("callback_result", #""reached":true,"resolved":true"#),
        body("callback_result", #""reached":true,"satisfaction":"satisfied""#),
        body("callback_result", #""reached":true,"resolved":null,"satisfaction":"satisfied""#),
        body("callback_result", #""reached":true,"resolved":true,"satisfaction":null"#),
        body("callback_result", #""reached":true,"resolved":"true","satisfaction":"satisfied""#),
        body("callback_result", #""reached":false,"resolved":false"#),
        body("callback_result", #""reached":false,"resolved":true,"satisfaction":"satisfied""#),
        body("callback_result", #""reached":false,"satisfaction":"meh""#),
    ]

    @Test func readsLengthsAtTheirBoundsAndRefusesThemOnePast() throws {
        for body in Self.longValid {
            let bytes = Array(body.utf8)
            let slow = try #require(Self.slow(bytes), "the contract refuses \(body.prefix(200))")
            #expect(Self.fast(bytes) == slow, "\(body.prefix(200))")
        }
        for body in Self.longRefused {
            let bytes = Array(body.utf8)
            #expect(Self.slow(bytes) == nil, "the contract accepts \(body.prefix(200))")
            #expect(Self.decoded(bytes) == Self.expected(bytes), "\(body.prefix(200))")
        }
    }

    @Test(arguments: refused)
    func refusesWhatTheContractRefuses(_ body: String) {
        let bytes = Array(body.utf8)
        #expect(Self.slow(bytes) == nil, "the contract accepts \(body.prefix(200))")
        #expect(Self.decoded(bytes) == Self.expected(bytes), "the same issues: \(body.prefix(200))")
    }

    @Test func refusesBytesThatAreNotUTF8() {
        let reply = Array(Self.body("reply", #""outcome":"resolved","text":"已处理""#).utf8)
        let first = reply.firstIndex(of: 0xE5)!  // 已 is E5 B7 B2
        let damaged: [[UInt8]] = [
            {
                var b = reply
                b[first] = 0xFF
                return b
            }(),
            {
                var b = reply
                b[first + 1] = 0x41
                return b
            }(),  // a lead byte without its continuation
            {
                var b = reply
                b.remove(at: first + 2)
                return b
            }(),  // a sequence cut short before the quote
            {
                var b = reply
                b[first] = 0xC0
                b[first + 1] = 0x80
                return b
            }(),  // overlong
            {
                var b = reply
                b[first] = 0xED
                b[first + 1] = 0xA0
                b[first + 2] = 0x80
                return b
            }(),  // a surrogate
            {
                var b = reply
                b.insert(contentsOf: [0xF4, 0x90, 0x80, 0x80], at: first)
                return b
            }(),  // above U+10FFFF
            {
                var b = reply
                b.insert(contentsOf: [0xE0, 0x80, 0x80], at: first)
                return b
            }(),  // overlong, 3 bytes
            {
                var b = reply
                b.insert(contentsOf: [0xF0, 0x80, 0x80, 0x80], at: first)
                return b
            }(),  // overlong, 4 bytes
            {
                var b = reply
                b.insert(0x80, at: first)
                return b
            }(),  // a lone continuation byte
            {
                var b = reply
                b.insert(contentsOf: [0xC3], at: reply.count - 1)
                return b
            }(),  // outside any string
            [0xEF, 0xBB, 0xBF] + reply,  // a byte-order mark
        ]
        for b in damaged {
            #expect(Self.slow(b) == nil)
            #expect(Self.decoded(b) == Self.expected(b), "\(b)")
        }
        // Four-byte and two-byte sequences that are well formed are read.
        var ok = reply
        ok.insert(contentsOf: [0xF0, 0x9F, 0x91, 0x8D, 0xC3, 0xA9, 0xF4, 0x8F, 0xBF, 0xBF], at: first)
        #expect(Self.fast(ok) != nil)
        #expect(Self.fast(ok) == Self.slow(ok))
    }

    /// Valid bodies not written the plain way (escapes, even in keys and enum values) are read too.
    @Test func readsEscapes() throws {
        let escaped = [
            Self.body("contact", #""note":"第一行\n第二行""#),
            Self.body("contact", #""note":"\u5df2""#),
            Self.body("reply", #""outcome":"resolved","text":"say \"done\"""#),
            #"{"command_\u0069d":"c","ticket_id":"T","unit":"u","type":"sign","at":"2026-03-02T09:53:00+08:00"}"#,
            #"{"command_id":"c","ticket_id":"T","unit":"u","type":"s\u0069gn","at":"2026-03-02T09:53:00+08:00"}"#,
        ]
        for body in escaped {
            let bytes = Array(body.utf8)
            #expect(Self.slow(bytes) != nil, "\(body)")
            #expect(Self.fast(bytes) == Self.slow(bytes), "\(body)")
        }
    }

    /// A command line is prepared as the contract reads it: the command, or a rejection with its issues.
    @Test func preparedLinesTakeEitherPath() throws {
        let at = RFC3339.parse("2026-03-02T10:00:00+08:00")!.date
        let rules = try LC.rules()
        for body in Self.valid.prefix(12) + Self.refused.prefix(40) {
            let bytes = Array(body.utf8)
            let prepared = bytes.withUnsafeBytes { PreparedLine(payload: $0, at: at, isTicket: false, rules: rules) }
            guard case .object(let o)? = try? JSON.parse(bytes, limits: ScenarioLine.limits) else {
                #expect(prepared == nil, "\(body)")
                continue
            }
            let line = try #require(prepared, "\(body)")
            #expect(line.at == at)
            switch (line.input, CommandContract.validate(o, replyTo: nil)) {
            case (.command(let a), .success(let b)): #expect(a == b)
            case (.invalidCommand(let a, _), .failure(let b)): #expect(a == b)
            default: Issue.record("prepared differently: \(body)")
            }
        }
    }

    /// For the valid bodies, every byte deleted or replaced by a few others: `decode` gives the command or
    /// the issues the contract gives for the JSON (the parser's error when it is not JSON).
    @Test func damagedBodiesReadAsTheContractReadsThem() {
        let sources =
            Self.valid + [
                Self.longValid[3],  // ids at their length limits
                Self.body("callback_result", #""reached":false,"resolved":null"#),
                Self.body("progress", #""note":"已到现场","milestone":"onsite""#),
                Self.body("merge", #""into_ticket":"FS-20260302-0002""#),
                Self.body("request_extension", #""until":"2026-03-09T18:00:00+08:00","reason":"需协调""#),
            ]
        let replacements: [UInt8] = [0x22, 0x7D, 0x78, 0xFF, 0x20, 0x2C, 0x5C, 0x00, 0x41, 0x80, 0x3A, 0x7B]
        var read = 0
        var differ = 0
        var variants = 0
        for source in sources {
            let body = Array(source.utf8)
            for p in body.indices {
                var mutants: [[UInt8]] = []
                var deleted = body
                deleted.remove(at: p)
                mutants.append(deleted)
                for r in replacements where body[p] != r {
                    var m = body
                    m[p] = r
                    mutants.append(m)
                }
                var doubled = body
                doubled.insert(body[p], at: p)
                mutants.append(doubled)
                for m in mutants {
                    variants += 1
                    let decoded = Self.decoded(m)
                    let expected = Self.expected(m)
                    if case .success = decoded { read += 1 }
                    if decoded != expected {
                        differ += 1
                        if differ <= 5 {
                            Issue.record("\(decoded) != \(expected): \(String(decoding: m, as: UTF8.self))")
                        }
                    }
                }
            }
        }
        #expect(differ == 0)
        #expect(read > 1000, "the sweep should find damaged bodies that are still valid (\(read) of \(variants))")
    }

    /// `CommandContract.decode(_:replyTo:)` reads with the contract's own limits.
    @Test func decodeReadsWithTheContractsLimits() throws {
        let reply = Array(Self.body("reply", #""outcome":"resolved","text":"已处理并答复市民。""#).utf8)
        #expect(try CommandContract.decode(reply, replyTo: "r").get() == Self.fast(reply, replyTo: "r"))
        // 10 000 Characters of 18 bytes each: a valid text, in a body over the contract's 64 KiB.
        let large = Array(
            Self.body("reply", #""outcome":"resolved","text":"\#(String(repeating: "👨‍👩‍👧", count: 10_000))""#).utf8)
        #expect(Self.fast(large) != nil && Self.fast(large) == Self.slow(large))
        guard case .failure(let e) = CommandContract.decode(large) else {
            Issue.record("a body over 64 KiB was decoded")
            return
        }
        #expect(e.issues.map(\.code) == [.tooLarge])
    }

    /// The limits passed are the parser's: a body over the byte limit is refused as too large.
    @Test func honoursTheByteLimit() {
        let body = Array(Self.body("sign").utf8)
        let small = JSONLimits(maxBytes: body.count - 1, maxDepth: 8)
        guard case .failure(let e) = body.withUnsafeBytes({ CommandContract.decode($0, limits: small) }) else {
            Issue.record("a body over the limit was decoded")
            return
        }
        #expect(e.issues.map(\.code) == [.tooLarge])
        let exact = JSONLimits(maxBytes: body.count, maxDepth: 8)
        #expect((try? body.withUnsafeBytes { CommandContract.decode($0, limits: exact) }.get()) != nil)
    }
}
