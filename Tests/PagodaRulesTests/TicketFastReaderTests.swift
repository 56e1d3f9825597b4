import Foundation
import Testing

@testable import PagodaRules

/// The parse limits of a scenario line (`ScenarioLine.limits` in PagodaLifecycle), as the simulator reads tickets.
private let limits = JSONLimits(maxBytes: 1 << 20, maxDepth: 40)

/// The example rules: their categories are the known ones.
private let ruleSet: RuleSet = {
    let dir = Fixtures.repositoryRoot.appendingPathComponent("rules")
    return RuleSetCompiler.compile(try! RuleSetCompiler.readFiles(in: dir.path)).ruleSet!
}()

/// The tree's answer: `JSON.parse` and `TicketContract.validate`, with `json` and `extra` left out as the fast reader leaves them.
private func tree(_ bytes: [UInt8], limits: JSONLimits = limits) -> Ticket? {
    guard let value = try? JSON.parse(bytes, limits: limits),
        case .success(var ticket) = TicketContract.validate(value, isKnownCategory: ruleSet.isKnownCategory)
    else { return nil }
    ticket.json = JSONObject()
    ticket.extra = JSONObject()
    return ticket
}

private func fast(_ bytes: [UInt8], limits: JSONLimits = limits) -> Ticket? {
    bytes.withUnsafeBytes { TicketFastReader.read($0, limits: limits, isKnownCategory: ruleSet.isKnownCategory) }
}

/// Every text of a ticket, as bytes: equal tickets must also agree byte for byte (`==` on strings
/// compares canonical equivalence).
private func texts(_ t: Ticket) -> [[UInt8]?] {
    let strings: [String?] = [
        t.id, t.text, t.category, t.enterprise?.name, t.enterprise?.creditCode, t.caller?.name, t.caller?.phone,
        t.region?.district, t.region?.town, t.region?.village, t.region?.code, t.address, t.title,
    ] + t.attachments
    return strings.map { $0.map { Array($0.utf8) } }
}

/// Reads `bytes` both ways; whenever the fast reader reads a ticket, it must be the tree's.
@discardableResult
private func agree(_ bytes: [UInt8], _ note: @autoclosure () -> String = "", limits: JSONLimits = limits,
                   sourceLocation: Testing.SourceLocation = #_sourceLocation) -> (fast: Ticket?, tree: Ticket?) {
    let f = fast(bytes, limits: limits), t = tree(bytes, limits: limits)
    if let f {
        #expect(f == t, "fast reader differs from the tree: \(note()) \(String(decoding: bytes, as: UTF8.self))",
                sourceLocation: sourceLocation)
        if let t { #expect(texts(f) == texts(t), "\(note())", sourceLocation: sourceLocation) }
        #expect(f.json.isEmpty && f.extra.isEmpty, sourceLocation: sourceLocation)
    }
    return (f, t)
}

private func lines(_ text: String) -> [String] {
    text.split(separator: "\n").map(String.init).filter { !$0.isEmpty }
}

private let sampleTickets = lines(
    try! String(contentsOf: Fixtures.repositoryRoot.appendingPathComponent("examples/sample-tickets.jsonl"), encoding: .utf8))

/// A ticket with every field, text beyond the BMP and a combining accent (written as raw UTF-8, not escapes).
private let richTicket = """
    {"id": "SIM-0151885", "received_at": "2026-03-02T00:00:01.250-05:30", "channel": "message_board", "kind": "complaint", \
    "region": {"district": "南海区", "town": "里水镇", "village": "和顺社区", "code": "440605101"}, \
    "text": "企业环评审批材料已齐全，窗口一直不受理，影响项目开工。😀 cafe\u{301}", "category": "enterprise_services", \
    "urgency": "emergency", "enterprise": {"name": "佛山市南海区里水精工机械有限公司", "credit_code": "91440605MA4X00A12B"}, \
    "caller": {"name": "李先生", "phone": "+86 138-0004-2268"}, "address": "里水镇和顺大道1号", "title": "环评审批", \
    "attachments": ["https://files.example.gov.cn/a/1.jpg", "att-2"]}
    """

/// The first sample ticket as an object, to lay field values over.
private func baseObject() -> JSONObject {
    try! JSON.parse(Array(sampleTickets[0].utf8)).objectValue!
}

private func s(_ n: Int, _ c: String = "a") -> JSONValue { .string(String(repeating: c, count: n)) }

/// Field values the contract accepts (nil: the field removed).
private let validValues: [(String, JSONValue?)] = [
    ("id", s(64, "Z")), ("id", "a.b_c:d-E-9"), ("id", "1"),
    ("received_at", "2026-03-02T01:53:00Z"), ("received_at", "2026-03-02T01:53:00z"), ("received_at", "2026-03-02t09:53:00.123+08:00"),
    ("received_at", "2024-02-29T09:53:00-05:00"), ("received_at", "2026-03-02T09:53:00.1234567891+08:00"),
    ("received_at", "2026-03-02T09:53:00-00:00"),
    ("channel", "message_board"), ("channel", "hotline"), ("channel", "web"), ("channel", "app"), ("channel", "media"), ("channel", "mailbox"),
    ("kind", "consultation"), ("kind", "help"), ("kind", "report"), ("kind", "suggestion"),
    ("text", s(10_000, "字")), ("text", .string(String(repeating: "👨‍👩‍👧", count: 10_000))),
    ("text", .string(String(repeating: "e\u{301}", count: 10_000))), ("text", "  x  "), ("text", "\u{3000}x"), ("text", "\u{200B}"),
    ("text", "x"), ("text", "a\u{7F}b"), ("text", "\u{7F}"), ("text", "\u{85}x"), ("text", "\u{3000}字"), ("text", " 字"),
    ("text", "\u{A0}\u{1680}\u{2000}\u{200A}\u{2029}\u{205F}."), ("text", "é"), ("text", "\u{FEFF}"), ("text", "\u{E000}"),
    ("category", nil), ("category", .null), ("category", "living_environment"),
    ("urgency", nil), ("urgency", .null), ("urgency", "normal"), ("urgency", "urgent"), ("urgency", "emergency"),
    ("enterprise", ["name": "中交第四航务工程局有限公司"]), ("enterprise", ["credit_code": "91440101190474411W"]),
    ("enterprise", ["name": s(200, "司"), "credit_code": nil]), ("enterprise", ["name": nil, "credit_code": "91440101190474411W"]),
    ("enterprise", .null), ("enterprise", ["name": .string(String(repeating: "e\u{301}", count: 200))]),
    ("caller", ["name": "李先生", "phone": "+86 138-1234-5678"]), ("caller", ["phone": "110"]), ("caller", ["phone": s(20, "9")]),
    ("caller", ["name": ""]), ("caller", ["name": s(100)]), ("caller", ["name": s(100, "李")]), ("caller", .null),
    ("caller", [:]), ("caller", ["name": nil, "phone": nil]), ("caller", ["phone": "+1 - 2 3"]),
    ("region", nil), ("region", .null), ("region", ["village": "务庄社区"]), ("region", ["code": "440605"]),
    ("region", ["code": "440605123456"]), ("region", ["district": s(100, "区"), "code": nil]),
    ("region", ["district": nil, "town": "狮山镇"]),
    ("address", ""), ("address", s(500, "路")), ("address", .null), ("title", s(200)), ("title", .null), ("title", "河涌污染"),
    ("attachments", []), ("attachments", .array(Array(repeating: "a.jpg", count: 50))), ("attachments", [s(2048)]),
    ("attachments", .null), ("attachments", ["https://files.example.gov.cn/a/1.jpg", "att-2"]),
]

/// Field values the contract finds a problem with (nil: the field removed): it refuses the ticket for a
/// required field, and leaves an optional field out with a warning.
private let invalidValues: [(String, JSONValue?)] = [
    ("id", nil), ("id", .null), ("received_at", nil), ("received_at", .null), ("channel", nil), ("channel", .null),
    ("kind", nil), ("kind", .null), ("text", nil), ("text", .null),
    ("id", 1), ("id", true), ("received_at", 1_772_416_380), ("channel", true), ("kind", []), ("text", [:]), ("text", .number("1.5")),
    ("category", 1), ("category", false), ("urgency", 2), ("urgency", []),
    ("enterprise", "中交"), ("enterprise", []), ("enterprise", 0), ("caller", ["13812345678"]), ("caller", "李"), ("region", "南海区"),
    ("region", true), ("address", 1), ("title", false), ("attachments", "a.jpg"), ("attachments", ["a": "b"]),
    ("enterprise", ["name": 1]), ("enterprise", ["credit_code": 91_440_101]), ("caller", ["name": ["x"]]),
    ("caller", ["phone": 13_812_345_678]), ("region", ["district": 1]), ("region", ["town": []]), ("region", ["village": [:]]),
    ("region", ["code": 440_605]), ("attachments", [1]), ("attachments", ["a", nil]), ("attachments", [[]]),
    ("id", ""), ("id", s(65)), ("id", "FS 0001"), ("id", "编号0001"), ("id", "FS/0001"), ("id", "FS-0001\n"),
    ("received_at", "2026-03-02T09:53:00"), ("received_at", "2026-02-30T09:53:00+08:00"), ("received_at", "2026-03-02T24:00:00+08:00"),
    ("received_at", "2026-03-02 09:53:00+08:00"), ("received_at", ""), ("received_at", "2026-03-02T09:53:00.+08:00"),
    ("received_at", "2026-03-02T09:53:60+08:00"), ("received_at", "0000-03-02T09:53:00+08:00"), ("received_at", "2026-03-02T09:53:00+24:00"),
    ("received_at", " 2026-03-02T09:53:00+08:00"), ("received_at", "2026-03-02T09:53:00+08:00 "), ("received_at", "2026-03-02T09:53:00+0800"),
    ("channel", "fax"), ("channel", "WeChat"), ("channel", "messageBoard"), ("channel", "web "), ("channel", ""), ("channel", "w\u{435}b"), ("channel", "\u{FF57}eb"),
    ("kind", "help\u{301}"), ("urgency", "normal\u{200B}"),
    ("kind", "praise"), ("kind", ""), ("urgency", "high"), ("urgency", "Urgent"),
    ("text", ""), ("text", s(10_001, "字")), ("text", " \n\t\u{3000}\u{A0}"), ("text", " "), ("text", "\u{3000}\u{2028}"),
    ("text", "\u{3000}\u{A0}\u{2028}\u{85}\u{1680}\u{202F}\u{2000}\u{200A}\u{205F}\u{2029}"), ("text", "   "), ("text", "\u{85}"),
    ("text", .string(String(repeating: "e\u{301}", count: 10_001))),
    ("category", "Living_environment"), ("category", "living environment"), ("category", "living-environment"), ("category", "a..b"),
    ("category", ".a"), ("category", "a."), ("category", ""), ("category", "环境"), ("category", "living_environment.nothing_here"),
    ("category", "no_such_category"),
    ("enterprise", [:]), ("enterprise", ["name": nil, "credit_code": nil]), ("enterprise", ["name": ""]),
    ("enterprise", ["name": s(201, "司")]), ("enterprise", ["credit_code": "91440101190474411"]),
    ("enterprise", ["credit_code": "91440101190474411WX"]), ("enterprise", ["credit_code": "91440101190474411I"]),
    ("enterprise", ["credit_code": "91440101190474411O"]), ("enterprise", ["credit_code": "91440101190474411Z"]),
    ("enterprise", ["credit_code": "91440101190474411S"]), ("enterprise", ["credit_code": "91440101190474411V"]),
    ("enterprise", ["credit_code": "91440101190474411w"]), ("enterprise", ["credit_code": "９1440101190474411W"]),
    ("enterprise", ["name": "x", "phone": "1"]), ("enterprise", ["name": .string(String(repeating: "e\u{301}", count: 201))]),
    ("caller", ["name": s(101)]), ("caller", ["name": s(101, "李")]), ("caller", ["phone": "abc"]), ("caller", ["phone": "138 1234 5678x"]),
    ("caller", ["phone": "138+12345678"]), ("caller", ["phone": " +8613812345678"]), ("caller", ["phone": "(0757)83331234"]),
    ("caller", ["phone": "１３８１２３４５６７８"]), ("caller", ["phone": "12"]), ("caller", ["phone": ""]), ("caller", ["phone": "+1-2"]),
    ("caller", ["phone": s(21, "1")]), ("caller", ["phone": "++8613812345678"]), ("caller", ["name": "李", "id_card": "x"]),
    ("caller", ["name": nil, "x": nil]),
    ("region", [:]), ("region", ["district": nil]), ("region", ["district": ""]), ("region", ["town": s(101, "镇")]),
    ("region", ["village": ""]), ("region", ["code": "44060"]), ("region", ["code": "4406051234567"]), ("region", ["code": "44060A"]),
    ("region", ["code": "４40605"]), ("region", ["district": "南海区", "street": "x"]),
    ("address", s(501, "路")), ("title", s(201)), ("title", s(201, "题")),
    ("attachments", .array(Array(repeating: "a.jpg", count: 51))), ("attachments", ["a.jpg", ""]),
    ("attachments", ["a.jpg", "b.jpg", s(2049)]),
]

private func bytes(_ field: String, _ value: JSONValue?) -> [UInt8] {
    var o = baseObject()
    o[field] = value
    return JSON.serialize(.object(o))
}

@Suite struct TicketFastReaderTests {
    @Test func readsEverySampleTicketAsTheTreeDoes() throws {
        #expect(sampleTickets.count == 16)
        for line in sampleTickets + [richTicket] {
            let (f, t) = agree(Array(line.utf8))
            #expect(t != nil, "\(line)")
            #expect(f != nil, "the fast reader gave up on \(line)")
        }
        let rich = try #require(fast(Array(richTicket.utf8)))
        #expect(rich.receivedAtOffsetSeconds == -19_800 && rich.channel == .messageBoard && rich.urgency == .emergency)
        #expect(rich.caller == Caller(name: "李先生", phone: "+86 138-0004-2268"))
        #expect(rich.region?.code == "440605101" && rich.attachments.count == 2)
        #expect(rich.text.hasSuffix("cafe\u{301}"))
    }

    @Test func readsTheRuleTestTicketsAsTheTreeDoes() throws {
        let dir = Fixtures.repositoryRoot.appendingPathComponent("rules/tests")
        let tickets = RuleTestRunner(ruleSet: ruleSet).tickets(try RuleSetCompiler.readFiles(in: dir.path))
        #expect(tickets.count >= 40)
        for ticket in tickets {
            let (f, t) = agree(JSON.serialize(.object(ticket.json)), ticket.id)
            // The fast reader predates `source_line` and leaves such a ticket to the tree (it gives up on a
            // field it does not know), which is what `agree` checks.
            #expect(t != nil && (f != nil || ticket.sourceLine != nil), "\(ticket.id)")
        }
    }

    @Test func readsAcceptedFieldValues() {
        for (field, value) in validValues {
            let note = "\(field) = \(value.map(JSON.serializeToString) ?? "<absent>")"
            let (f, t) = agree(bytes(field, value), note)
            #expect(t != nil, "the contract refuses \(note)")
            #expect(f != nil, "the fast reader gave up on \(note)")
        }
    }

    @Test func refusesWhatTheContractRefuses() {
        var refused = 0
        for (field, value) in invalidValues where TicketContract.requiredFields.contains(field) {
            let note = "\(field) = \(value.map(JSON.serializeToString) ?? "<absent>")"
            let (f, t) = agree(bytes(field, value), note)
            #expect(t == nil, "the contract accepts \(note)")
            #expect(f == nil, "the fast reader accepted \(note)")
            refused += 1
        }
        #expect(refused > 40)
    }

    /// A ticket the contract accepts with a warning (an optional field left out) is never read here: the
    /// tree reads it, with the warning.
    @Test func givesUpOnWhatTheContractWarnsAbout() {
        var warned = 0
        for (field, value) in invalidValues where !TicketContract.requiredFields.contains(field) {
            let note = "\(field) = \(value.map(JSON.serializeToString) ?? "<absent>")"
            let (f, t) = agree(bytes(field, value), note)
            #expect(t.map { !$0.warnings.isEmpty } == true, "the contract gives no warning for \(note)")
            #expect(f == nil, "the fast reader read \(note)")
            warned += 1
        }
        #expect(warned > 60)
    }

    @Test func whitespaceAndMemberOrderReadTheSame() throws {
        let line = sampleTickets[4]  // with an enterprise
        let expected = try #require(fast(Array(line.utf8)))
        let spaced = [
            " \t\r\n" + line + " \n",
            line.replacingOccurrences(of: ", ", with: "\n\t,\r\n ").replacingOccurrences(of: ": ", with: " \t:\n "),
            line.replacingOccurrences(of: ", ", with: ",").replacingOccurrences(of: ": ", with: ":"),
            line.replacingOccurrences(of: "{", with: "{ ").replacingOccurrences(of: "}", with: " }"),
        ]
        for text in spaced {
            let (f, _) = agree(Array(text.utf8))
            #expect(f == expected, "\(text)")
        }
        // Members in another order, nested ones too.
        var o = try #require(try JSON.parse(Array(richTicket.utf8)).objectValue)
        var reversed = JSONObject()
        for key in o.keys.reversed() {
            var value = o[key]!
            if case .object(let inner) = value {
                var r = JSONObject()
                for k in inner.keys.reversed() { r[k] = inner[k] }
                value = .object(r)
            }
            reversed[key] = value
        }
        o = reversed
        let (f, t) = agree(JSON.serialize(.object(o)))
        #expect(f != nil && f == t)
        #expect(f == fast(Array(richTicket.utf8)))
    }

    @Test func givesUpOnValidTicketsItDoesNotRead() {
        let line = sampleTickets[0]
        let variants = [
            line.replacingOccurrences(of: "河涌", with: #"河\n涌"#),                         // an escape in a text
            line.replacingOccurrences(of: "河涌", with: #"河\u6D8C"#),                       // a \u escape
            line.replacingOccurrences(of: #""id": "FS"#, with: #""id": "\u0046S"#),
            line.replacingOccurrences(of: #""kind""#, with: #""\u006bind""#),                 // an escaped key
            line.replacingOccurrences(of: #"{"id""#, with: #"{"source": {"a": [1, 2.5e3, true]}, "id""#),  // kept in `extra`
            line.replacingOccurrences(of: #"{"id""#, with: #"{"x": null, "id""#),
            line.replacingOccurrences(of: #"{"id""#, with: #"{"备注": "x", "id""#),          // a key beyond ASCII
        ]
        for v in variants {
            let (f, t) = agree(Array(v.utf8))
            #expect(t != nil, "\(v)")
            #expect(f == nil, "\(v)")
        }
        // Limits the reader does not reason about: it leaves them to the tree.
        let flat = Array(#"{"id": "T-1", "received_at": "2026-03-02T09:00:00+08:00", "channel": "web", "kind": "help", "text": "x"}"#.utf8)
        #expect(fast(flat, limits: JSONLimits(maxBytes: 1 << 20, maxDepth: 1)) == nil)
        #expect(fast(flat, limits: JSONLimits(maxBytes: flat.count - 1, maxDepth: 40)) == nil)
        #expect(fast(flat, limits: JSONLimits(maxBytes: flat.count, maxDepth: 2)) != nil)
    }

    @Test func refusesDamagedBytes() {
        let line = sampleTickets[4]
        let b = Array(line.utf8)
        let firstCJK = b.firstIndex(where: { $0 >= 0x80 })!
        func replacing(_ at: Int, _ n: Int, with new: [UInt8]) -> [UInt8] { Array(b[..<at]) + new + Array(b[(at + n)...]) }
        var damaged: [(String, [UInt8])] = [
            ("empty", []), ("spaces", Array("  \n".utf8)), ("array", Array("[]".utf8)), ("string", Array(#""x""#.utf8)),
            ("empty object", Array("{}".utf8)), ("number", Array("1".utf8)), ("null", Array("null".utf8)),
            ("cut short", Array(b.dropLast())), ("cut in a string", Array(b[..<(firstCJK + 1)])),
            ("trailing bytes", b + Array("x".utf8)), ("two objects", b + b), ("trailing comma", Array(b.dropLast()) + Array(",}".utf8)),
            ("byte-order mark", [0xEF, 0xBB, 0xBF] + b), ("NUL after", b + [0]),
            ("0xFF in text", replacing(firstCJK, 1, with: [0xFF])), ("lone continuation", replacing(firstCJK, 1, with: [0x80])),
            ("truncated sequence", replacing(firstCJK, 3, with: [0xE5, 0x8D])), ("overlong", replacing(firstCJK, 3, with: [0xC0, 0xAF])),
            ("overlong 3", replacing(firstCJK, 3, with: [0xE0, 0x80, 0xAF])), ("surrogate", replacing(firstCJK, 3, with: [0xED, 0xA0, 0x80])),
            ("above U+10FFFF", replacing(firstCJK, 3, with: [0xF4, 0x90, 0x80, 0x80])), ("F5", replacing(firstCJK, 3, with: [0xF5, 0x80, 0x80, 0x80])),
            ("raw tab in text", replacing(firstCJK, 0, with: [0x09])), ("raw newline in text", replacing(firstCJK, 0, with: [0x0A])),
        ]
        let text: [(String, String, String)] = [
            ("duplicate key", #""kind": "consultation""#, #""kind": "consultation", "kind": "consultation""#),
            ("duplicate null key", #""kind": "consultation""#, #""kind": "consultation", "urgency": null, "urgency": "urgent""#),
            ("duplicate nested key", #""name": "#, #""name": "x", "name": "#),
            ("duplicate region key", #""town": "荷城街道""#, #""town": "荷城街道", "town": "荷城街道""#),
            ("single quotes", #""kind": "consultation""#, #""kind": 'consultation'"#),
            ("missing colon", #""kind": "consultation""#, #""kind" "consultation""#),
            ("missing comma", #", "kind""#, #" "kind""#),
            ("leading comma", #"{"id""#, #"{, "id""#),
            ("double comma", #", "kind""#, #",, "kind""#),
            ("comment", #", "kind""#, #", /* x */ "kind""#),
            ("nul literal", #""enterprise": {"#, #""urgency": nul, "enterprise": {"#),
            ("NULL literal", #""enterprise": {"#, #""urgency": NULL, "enterprise": {"#),
            ("nullx", #""enterprise": {"#, #""urgency": nullx, "enterprise": {"#),
            ("unclosed nested", #""91440101190474411W"}"#, #""91440101190474411W""#),
            ("nested closed by ]", #""91440101190474411W"}"#, #""91440101190474411W"]"#),
            ("unquoted key", #""kind":"#, #"kind:"#),
        ]
        for (name, old, new) in text {
            #expect(line.contains(old), "\(name)")
            damaged.append((name, Array(line.replacingOccurrences(of: old, with: new).utf8)))
        }
        for (name, bytes) in damaged {
            let (f, t) = agree(bytes, name)
            #expect(t == nil, "the tree accepts: \(name)")
            #expect(f == nil, "the fast reader accepted: \(name)")
        }
    }

    @Test func utf8IsCheckedAsStrictlyAsByTheParser() {
        let sequences: [([UInt8], Bool)] = [
            ([0xC2, 0x80], true), ([0xDF, 0xBF], true), ([0xC1, 0xBF], false), ([0xC2], false), ([0xC2, 0xC0], false),
            ([0xE0, 0xA0, 0x80], true), ([0xE0, 0x9F, 0xBF], false), ([0xE1, 0x80, 0x80], true), ([0xE1, 0x80], false),
            ([0xE1, 0xC0, 0x80], false), ([0xE1, 0x80, 0x7F], false), ([0xEC, 0xBF, 0xBF], true), ([0xED, 0x9F, 0xBF], true),
            ([0xED, 0xA0, 0x80], false), ([0xED, 0xBF, 0xBF], false), ([0xEE, 0x80, 0x80], true), ([0xEF, 0xBF, 0xBF], true),
            ([0xEF, 0xBF], false), ([0xF0, 0x90, 0x80, 0x80], true), ([0xF0, 0x8F, 0xBF, 0xBF], false), ([0xF3, 0xBF, 0xBF, 0xBF], true),
            ([0xF4, 0x8F, 0xBF, 0xBF], true), ([0xF4, 0x90, 0x80, 0x80], false), ([0xF5, 0x80, 0x80, 0x80], false),
            ([0xF0, 0x90, 0x80], false), ([0x80], false), ([0xBF], false), ([0xFE], false), ([0xFF], false),
        ]
        let line = sampleTickets[0]
        let parts = line.components(separatedBy: "河涌")
        for (sequence, valid) in sequences {
            for (before, after) in [("x", ""), ("", "x"), ("x", "x")] {
                let b = Array((parts[0] + before).utf8) + sequence + Array((after + parts[1]).utf8)
                let note = sequence.map { String($0, radix: 16) }.joined(separator: " ")
                let (f, t) = agree(b, note)
                #expect((t != nil) == valid, "\(note)")
                #expect((f != nil) == valid, "\(note)")
            }
        }
    }

    /// The safety net: every byte of valid tickets deleted or replaced; the fast reader either gives up
    /// or reads exactly the tree's ticket.
    @Test func everyDamagedByteAgreesWithTheTree() {
        let replacements: [UInt8] = [0x22, 0x7D, 0x78, 0xFF, 0x20, 0x2C, 0x5C, 0x00, 0xE5, 0x30, 0x80, 0xBF, 0xED, 0xE0, 0xF4, 0x0A]
        var read = 0, refused = 0, total = 0
        for line in sampleTickets + [richTicket] {
            let b = Array(line.utf8)
            for at in b.indices {
                var variants = [Array(b[..<at]) + Array(b[(at + 1)...])]
                for r in replacements where r != b[at] {
                    var v = b
                    v[at] = r
                    variants.append(v)
                }
                variants.append(Array(b[..<at]) + [0x20] + Array(b[at...]))
                for v in variants {
                    total += 1
                    let (f, t) = agree(v, "byte \(at) of \(line.prefix(40))")
                    if f != nil { read += 1 }
                    if t == nil || t?.warnings.isEmpty == false { refused += 1 }
                    if let t, !t.warnings.isEmpty { #expect(f == nil, "the fast reader read a ticket with warnings") }
                }
            }
        }
        // Both outcomes occur many times: the sweep exercises acceptance as well as refusal.
        #expect(read > 1000 && refused > 1000, "read \(read), refused \(refused) of \(total)")
    }
}
