import Foundation
import PagodaJSON
import Testing

@testable import PagodaRules

private let sample1 = """
    {"id": "FS-20260302-0001", "received_at": "2026-03-02T09:53:00+08:00", "channel": "wechat", "kind": "complaint", "region": {"district": "南海区", "town": "狮山镇", "village": "务庄社区"}, "text": "务庄步林家村牌坊位置的河涌受到污染，希望有关部门前往核查。", "category": "living_environment"}
    """

private let sample2 = """
    {"id": "FS-20260302-0005", "received_at": "2026-03-02T13:25:00+08:00", "channel": "hotline", "kind": "consultation", "region": {"district": "高明区", "town": "荷城街道"}, "text": "公司将在荷城街道开展工程，想了解工人工资支付保证金减免缴存政策。", "category": "enterprise_services", "enterprise": {"name": "中交第四航务工程局有限公司", "credit_code": "91440101190474411W"}}
    """

/// A valid ticket object to mutate in table tests.
private func baseObject() -> JSONObject {
    let v = try! JSON.parse(Array(sample1.utf8))
    return v.objectValue!
}

private func validate(_ o: JSONObject, isKnownCategory: (String) -> Bool = { _ in true }) -> Result<
    Ticket, TicketValidationError
> {
    TicketContract.validate(.object(o), isKnownCategory: isKnownCategory)
}

/// The issues of a rejected ticket, or the warnings of an accepted one.
private func issues(_ o: JSONObject) -> [ValidationIssue] {
    switch validate(o) {
    case .success(let t): return t.warnings
    case .failure(let e): return e.issues
    }
}

/// Whether the ticket was read without what `path` names (and kept what it must keep: an enterprise
/// named by a malformed member stays an enterprise ticket).
private func leftOut(_ path: String, _ t: Ticket, _ value: JSONValue?) -> Bool {
    switch path {
    case "category": return t.category == nil
    case "urgency": return t.urgency == nil
    case "enterprise": return t.enterprise == nil
    case "enterprise.name": return t.enterprise != nil && t.enterprise?.name == nil
    case "enterprise.credit_code": return t.enterprise != nil && t.enterprise?.creditCode == nil
    case "caller": return t.caller == nil
    case "caller.name": return t.caller?.name == nil
    case "caller.phone": return t.caller?.phone == nil
    case "region": return t.region == nil
    case "region.district": return t.region?.district == nil
    case "region.town": return t.region?.town == nil
    case "region.village": return t.region?.village == nil
    case "region.code": return t.region?.code == nil
    case "address": return t.address == nil
    case "title": return t.title == nil
    case "attachments":
        if case .array(let items)? = value { return t.attachments.count == min(50, items.count) }
        return t.attachments.isEmpty
    default:
        if path.hasPrefix("attachments[") {
            guard case .array(let items)? = value else { return false }
            let wellFormed = items.compactMap { v in
                v.stringValue.flatMap { !$0.isEmpty && $0.count <= 2048 ? $0 : nil }
            }
            return t.attachments == wellFormed
        }
        // An unknown member of an object: the rest of the object is kept.
        if path.hasPrefix("enterprise.") { return t.enterprise != nil }
        if path.hasPrefix("caller.") { return t.caller != nil }
        if path.hasPrefix("region.") { return t.region != nil }
        return false
    }
}

private func ticket(_ o: JSONObject) throws -> Ticket {
    switch validate(o) {
    case .success(let t): return t
    case .failure(let e): throw e
    }
}

/// One field mutation and the single issue it must produce (value nil = remove the field).
struct TicketFieldCase: Sendable, CustomTestStringConvertible {
    let field: String
    let value: JSONValue?
    let path: String
    let code: String

    init(_ field: String, _ value: JSONValue?, _ path: String, _ code: String) {
        self.field = field
        self.value = value
        self.path = path
        self.code = code
    }

    init(_ field: String, _ value: JSONValue?, _ code: String) {
        self.init(field, value, field, code)
    }

    var testDescription: String {
        let v = value.map { JSON.quoted(JSON.serializeToString($0), limit: 40) } ?? "<removed>"
        return "\(field)=\(v) -> \(path) \(code)"
    }
}

private func s(_ n: Int, _ c: String = "a") -> JSONValue { .string(String(repeating: c, count: n)) }

private let invalidCases: [TicketFieldCase] = [
    // required
    TicketFieldCase("id", nil, "required"),
    TicketFieldCase("id", .null, "required"),
    TicketFieldCase("received_at", nil, "required"),
    TicketFieldCase("received_at", .null, "required"),
    TicketFieldCase("channel", nil, "required"),
    TicketFieldCase("channel", .null, "required"),
    TicketFieldCase("kind", nil, "required"),
    TicketFieldCase("kind", .null, "required"),
    TicketFieldCase("text", nil, "required"),
    TicketFieldCase("text", .null, "required"),
    // wrong JSON types
    TicketFieldCase("id", 1, "type"),
    TicketFieldCase("received_at", 1_772_416_380, "type"),
    TicketFieldCase("channel", true, "type"),
    TicketFieldCase("kind", [], "type"),
    TicketFieldCase("text", [:], "type"),
    TicketFieldCase("category", 1, "type"),
    TicketFieldCase("urgency", 2, "type"),
    TicketFieldCase("enterprise", "中交", "type"),
    TicketFieldCase("caller", ["13812345678"], "type"),
    TicketFieldCase("region", "南海区", "type"),
    TicketFieldCase("address", 1, "type"),
    TicketFieldCase("title", false, "type"),
    TicketFieldCase("attachments", "a.jpg", "type"),
    TicketFieldCase("attachments", ["a": "b"], "type"),
    TicketFieldCase("enterprise", ["name": 1], "enterprise.name", "type"),
    TicketFieldCase("enterprise", ["credit_code": 91_440_101], "enterprise.credit_code", "type"),
    TicketFieldCase("caller", ["name": ["x"]], "caller.name", "type"),
    TicketFieldCase("caller", ["phone": 13_812_345_678], "caller.phone", "type"),
    TicketFieldCase("region", ["district": 1], "region.district", "type"),
    TicketFieldCase("region", ["town": []], "region.town", "type"),
    TicketFieldCase("region", ["village": [:]], "region.village", "type"),
    TicketFieldCase("region", ["code": 440_605], "region.code", "type"),
    TicketFieldCase("attachments", [1], "attachments[0]", "type"),
    TicketFieldCase("attachments", ["a", nil], "attachments[1]", "type"),
    // id
    TicketFieldCase("id", "", "length"),
    TicketFieldCase("id", s(65), "length"),
    TicketFieldCase("id", "FS 0001", "format"),
    TicketFieldCase("id", "编号0001", "format"),
    TicketFieldCase("id", "FS/0001", "format"),
    TicketFieldCase("id", "FS-0001\n", "format"),
    // received_at
    TicketFieldCase("received_at", "2026-03-02T09:53:00", "format"),
    TicketFieldCase("received_at", "2026-02-30T09:53:00+08:00", "format"),
    TicketFieldCase("received_at", "2026-03-02T24:00:00+08:00", "format"),
    TicketFieldCase("received_at", "2026-03-02 09:53:00+08:00", "format"),
    TicketFieldCase("received_at", "", "format"),
    // enums
    TicketFieldCase("channel", "fax", "enum"),
    TicketFieldCase("channel", "WeChat", "enum"),
    TicketFieldCase("channel", "messageBoard", "enum"),
    TicketFieldCase("kind", "praise", "enum"),
    TicketFieldCase("kind", "", "enum"),
    TicketFieldCase("urgency", "high", "enum"),
    // text
    TicketFieldCase("text", "", "length"),
    TicketFieldCase("text", s(10_001, "字"), "length"),
    TicketFieldCase("text", " \n\t\u{3000}\u{A0}", "format"),
    // category
    TicketFieldCase("category", "Living_environment", "format"),
    TicketFieldCase("category", "living environment", "format"),
    TicketFieldCase("category", "living-environment", "format"),
    TicketFieldCase("category", "a..b", "format"),
    TicketFieldCase("category", ".a", "format"),
    TicketFieldCase("category", "a.", "format"),
    TicketFieldCase("category", "", "format"),
    TicketFieldCase("category", "环境", "format"),
    // enterprise
    TicketFieldCase("enterprise", [:], "enterprise", "required"),
    TicketFieldCase("enterprise", ["name": nil, "credit_code": nil], "enterprise", "required"),
    TicketFieldCase("enterprise", ["name": ""], "enterprise.name", "length"),
    TicketFieldCase("enterprise", ["name": s(201, "司")], "enterprise.name", "length"),
    TicketFieldCase("enterprise", ["credit_code": "91440101190474411"], "enterprise.credit_code", "format"),
    TicketFieldCase("enterprise", ["credit_code": "91440101190474411WX"], "enterprise.credit_code", "format"),
    TicketFieldCase("enterprise", ["credit_code": "91440101190474411I"], "enterprise.credit_code", "format"),
    TicketFieldCase("enterprise", ["credit_code": "91440101190474411O"], "enterprise.credit_code", "format"),
    TicketFieldCase("enterprise", ["credit_code": "91440101190474411Z"], "enterprise.credit_code", "format"),
    TicketFieldCase("enterprise", ["credit_code": "91440101190474411S"], "enterprise.credit_code", "format"),
    TicketFieldCase("enterprise", ["credit_code": "91440101190474411V"], "enterprise.credit_code", "format"),
    TicketFieldCase("enterprise", ["credit_code": "91440101190474411w"], "enterprise.credit_code", "format"),
    TicketFieldCase("enterprise", ["name": "x", "phone": "1"], "enterprise.phone", "unknown_field"),
    // caller
    TicketFieldCase("caller", ["name": s(101)], "caller.name", "length"),
    TicketFieldCase("caller", ["phone": "abc"], "caller.phone", "format"),
    TicketFieldCase("caller", ["phone": "138 1234 5678x"], "caller.phone", "format"),
    TicketFieldCase("caller", ["phone": "138+12345678"], "caller.phone", "format"),
    TicketFieldCase("caller", ["phone": " +8613812345678"], "caller.phone", "format"),
    TicketFieldCase("caller", ["phone": "(0757)83331234"], "caller.phone", "format"),
    TicketFieldCase("caller", ["phone": "１３８１２３４５６７８"], "caller.phone", "format"),
    TicketFieldCase("caller", ["phone": "12"], "caller.phone", "length"),
    TicketFieldCase("caller", ["phone": ""], "caller.phone", "length"),
    TicketFieldCase("caller", ["phone": "+1-2"], "caller.phone", "length"),
    TicketFieldCase("caller", ["phone": s(21, "1")], "caller.phone", "length"),
    TicketFieldCase("caller", ["name": "李", "id_card": "x"], "caller.id_card", "unknown_field"),
    // region
    TicketFieldCase("region", [:], "region", "required"),
    TicketFieldCase("region", ["district": nil], "region", "required"),
    TicketFieldCase("region", ["district": ""], "region.district", "length"),
    TicketFieldCase("region", ["town": s(101, "镇")], "region.town", "length"),
    TicketFieldCase("region", ["village": ""], "region.village", "length"),
    TicketFieldCase("region", ["code": "44060"], "region.code", "format"),
    TicketFieldCase("region", ["code": "4406051234567"], "region.code", "format"),
    TicketFieldCase("region", ["code": "44060A"], "region.code", "format"),
    TicketFieldCase("region", ["district": "南海区", "street": "x"], "region.street", "unknown_field"),
    // address, title, attachments
    TicketFieldCase("address", s(501, "路"), "length"),
    TicketFieldCase("title", s(201), "length"),
    TicketFieldCase("attachments", .array(Array(repeating: "a.jpg", count: 51)), "attachments", "length"),
    TicketFieldCase("attachments", ["a.jpg", ""], "attachments[1]", "length"),
    TicketFieldCase("attachments", ["a.jpg", "b.jpg", s(2049)], "attachments[2]", "length"),
]

private let validCases: [TicketFieldCase] = [
    TicketFieldCase("id", s(64, "Z"), "", ""),
    TicketFieldCase("id", "a.b_c:d-E-9", "", ""),
    TicketFieldCase("id", "1", "", ""),
    TicketFieldCase("received_at", "2026-03-02T01:53:00Z", "", ""),
    TicketFieldCase("received_at", "2026-03-02T09:53:00.123+08:00", "", ""),
    TicketFieldCase("received_at", "2024-02-29T09:53:00-05:00", "", ""),
    TicketFieldCase("channel", "message_board", "", ""),
    TicketFieldCase("text", s(10_000, "字"), "", ""),
    // 10,000 Characters, 180,000 bytes
    TicketFieldCase("text", .string(String(repeating: "👨‍👩‍👧", count: 10_000)), "", ""),
    TicketFieldCase("text", .string(String(repeating: "e\u{301}", count: 10_000)), "", ""),
    TicketFieldCase("text", "  x  ", "", ""),
    TicketFieldCase("text", "\u{3000}x", "", ""),
    TicketFieldCase("category", "living_environment.water", "", ""),
    TicketFieldCase("category", "a1_.b2.c_3", "", ""),
    TicketFieldCase("category", .null, "", ""),
    TicketFieldCase("urgency", "emergency", "", ""),
    TicketFieldCase("urgency", .null, "", ""),
    TicketFieldCase("enterprise", ["name": "中交第四航务工程局有限公司"], "", ""),
    TicketFieldCase("enterprise", ["credit_code": "91440101190474411W"], "", ""),
    TicketFieldCase("enterprise", ["name": s(200, "司"), "credit_code": nil], "", ""),
    TicketFieldCase("enterprise", .null, "", ""),
    TicketFieldCase("caller", ["name": "李先生", "phone": "+86 138-1234-5678"], "", ""),
    TicketFieldCase("caller", ["phone": "110"], "", ""),
    TicketFieldCase("caller", ["phone": s(20, "9")], "", ""),
    TicketFieldCase("caller", ["name": ""], "", ""),
    TicketFieldCase("caller", ["name": s(100)], "", ""),
    TicketFieldCase("caller", .null, "", ""),
    TicketFieldCase("region", ["village": "务庄社区"], "", ""),
    TicketFieldCase("region", ["code": "440605"], "", ""),
    TicketFieldCase("region", ["code": "440605123456"], "", ""),
    TicketFieldCase("region", ["district": s(100, "区"), "code": nil], "", ""),
    TicketFieldCase("region", .null, "", ""),
    TicketFieldCase("address", "", "", ""),
    TicketFieldCase("address", s(500, "路"), "", ""),
    TicketFieldCase("title", s(200), "", ""),
    TicketFieldCase("title", .null, "", ""),
    TicketFieldCase("attachments", [], "", ""),
    TicketFieldCase("attachments", .array(Array(repeating: "a.jpg", count: 50)), "", ""),
    TicketFieldCase("attachments", [s(2048)], "", ""),
    TicketFieldCase("attachments", .null, "", ""),
]

@Suite("Ticket contract v1")
struct TicketContractTests {
    @Test func sampleTicketsValidate() throws {
        let t1 = try TicketContract.decode(Array(sample1.utf8)).get()
        #expect(t1.id == "FS-20260302-0001")
        #expect(t1.receivedAt == Date(timeIntervalSince1970: 1_772_416_380))
        #expect(t1.receivedAtOffsetSeconds == 28_800)
        #expect(t1.channel == .wechat)
        #expect(t1.kind == .complaint)
        #expect(t1.region == RegionRef(district: "南海区", town: "狮山镇", village: "务庄社区"))
        #expect(t1.text == "务庄步林家村牌坊位置的河涌受到污染，希望有关部门前往核查。")
        #expect(t1.category == "living_environment")
        #expect(t1.urgency == nil && t1.enterprise == nil && t1.caller == nil)
        #expect(t1.address == nil && t1.title == nil && t1.attachments.isEmpty)
        #expect(t1.extra.isEmpty)
        #expect(t1.json.keys == ["id", "received_at", "channel", "kind", "region", "text", "category"])

        let t2 = try TicketContract.decode(Array(sample2.utf8)).get()
        #expect(t2.id == "FS-20260302-0005")
        #expect(t2.receivedAt == Date(timeIntervalSince1970: 1_772_429_100))
        #expect(t2.channel == .hotline)
        #expect(t2.kind == .consultation)
        #expect(t2.region == RegionRef(district: "高明区", town: "荷城街道"))
        #expect(t2.category == "enterprise_services")
        #expect(t2.enterprise == Enterprise(name: "中交第四航务工程局有限公司", creditCode: "91440101190474411W"))
    }

    /// A problem with a required field rejects the ticket; one with an optional field leaves the field
    /// out and is a warning on the ticket, which is accepted.
    @Test(arguments: invalidCases)
    func fieldErrors(_ c: TicketFieldCase) throws {
        var o = baseObject()
        o[c.field] = c.value
        let found = issues(o)
        try #require(found.count == 1, "\(found)")
        #expect(found[0].path == c.path)
        #expect(found[0].code.rawValue == c.code, "\(found[0].message)")
        #expect(found[0].message.hasPrefix(c.path + ": "), "\(found[0].message)")
        let required = TicketContract.requiredFields.contains(c.field)
        #expect(TicketContract.isBlocking(found[0]) == required)
        switch validate(o) {
        case .failure(let e):
            #expect(required, "an optional field's problem rejected the ticket: \(e)")
        case .success(let t):
            #expect(!required, "a required field's problem was let through")
            #expect(t.warnings == found)
            #expect(leftOut(c.path, t, c.value), "\(c.path) not left out: \(t)")
            // Everything else is read as it was given.
            #expect(t.id == "FS-20260302-0001" && t.channel == .wechat && t.kind == .complaint)
            #expect(t.json[c.field] == c.value)
        }
    }

    @Test(arguments: validCases)
    func validFieldValues(_ c: TicketFieldCase) throws {
        var o = baseObject()
        o[c.field] = c.value
        let found = issues(o)
        #expect(found.isEmpty, "\(found)")
    }

    @Test func everyEnumValueIsAccepted() throws {
        for ch in Channel.allCases {
            var o = baseObject()
            o["channel"] = .string(ch.rawValue)
            #expect(try ticket(o).channel == ch)
        }
        for k in TicketKind.allCases {
            var o = baseObject()
            o["kind"] = .string(k.rawValue)
            #expect(try ticket(o).kind == k)
        }
        for u in Urgency.allCases {
            var o = baseObject()
            o["urgency"] = .string(u.rawValue)
            #expect(try ticket(o).urgency == u)
        }
        #expect(Urgency.allCases.sorted() == [.normal, .urgent, .emergency])
        #expect(Urgency.normal < .emergency && !(Urgency.emergency < .urgent))
    }

    @Test func optionalNullsMeanAbsent() throws {
        var o = baseObject()
        for f in ["category", "urgency", "enterprise", "caller", "region", "address", "title", "attachments"] {
            o[f] = .null
        }
        let t = try ticket(o)
        #expect(t.category == nil && t.urgency == nil && t.enterprise == nil && t.caller == nil)
        #expect(t.region == nil && t.address == nil && t.title == nil && t.attachments == [])
        #expect(t.extra.isEmpty)
        #expect(t.json["urgency"] == .null)
    }

    @Test func nestedValuesDecode() throws {
        var o = baseObject()
        o["caller"] = ["name": "李先生", "phone": "138-1234-5678"]
        o["region"] = ["code": "440605", "district": nil]
        o["enterprise"] = ["credit_code": "91440101190474411W", "name": nil]
        o["address"] = "狮山镇务庄社区"
        o["title"] = "河涌污染"
        o["attachments"] = ["https://files.example.gov.cn/a/1.jpg", "att-2"]
        o["urgency"] = "urgent"
        let t = try ticket(o)
        #expect(t.caller == Caller(name: "李先生", phone: "138-1234-5678"))
        #expect(t.region == RegionRef(code: "440605"))
        #expect(t.enterprise == Enterprise(creditCode: "91440101190474411W"))
        #expect(t.address == "狮山镇务庄社区")
        #expect(t.title == "河涌污染")
        #expect(t.attachments == ["https://files.example.gov.cn/a/1.jpg", "att-2"])
        #expect(t.urgency == .urgent)
        // An empty caller object is accepted and means no caller.
        o["caller"] = [:]
        #expect(try ticket(o).caller == nil)
        o["caller"] = ["name": nil, "phone": nil]
        #expect(try ticket(o).caller == nil)
    }

    @Test func messagesNamePathAndReason() {
        var o = baseObject()
        o["channel"] = "fax"
        #expect(
            issues(o).first?.message
                == "channel: expected one of hotline, web, wechat, app, media, mailbox, message_board; got \"fax\"")
        o = baseObject()
        o["text"] = 42
        #expect(issues(o).first?.message == "text: expected a string, got a number")
        o = baseObject()
        o["id"] = nil
        #expect(issues(o).first?.message == "id: is required")
        o = baseObject()
        o["region"] = ["district": "南海区", "street": "x"]
        #expect(issues(o).first?.message == "region.street: unknown field (allowed: district, town, village, code)")
        o = baseObject()
        o["enterprise"] = [:]
        #expect(issues(o).first?.message == "enterprise: needs at least one of name, credit_code")
        o = baseObject()
        o["received_at"] = "2026-02-30T09:53:00+08:00"
        #expect(
            issues(o).first?.message
                == "received_at: expected an RFC 3339 timestamp with offset like 2026-03-02T09:53:00+08:00, got \"2026-02-30T09:53:00+08:00\""
        )
        o = baseObject()
        o["text"] = .string(String(repeating: "字", count: 10_001))
        #expect(issues(o).first?.message == "text: must be 1-10000 characters, got 10001")
        #expect(issues(o).first?.description == "text: must be 1-10000 characters, got 10001 [length]")
    }

    @Test func collectsAllIssuesInFieldOrder() throws {
        let doc = """
            {"attachments": [1, "ok", ""], "zz": 1, "enterprise": {}, "category": "Bad", "text": "",
             "kind": "complaint", "channel": "fax", "id": 7, "caller": {"phone": "x", "fax": 1},
             "region": {"town": "", "code": "1"}, "title": 3}
            """
        let err = try #require(TicketContract.decode(Array(doc.utf8)).failureValue)
        #expect(
            err.issues.map(\.path) == [
                "id", "received_at", "channel", "text", "category", "enterprise",
                "caller.phone", "caller.fax", "region.town", "region.code", "title",
                "attachments[0]", "attachments[2]",
            ])
        #expect(
            err.issues.map(\.code.rawValue) == [
                "type", "required", "enum", "length", "format", "required",
                "format", "unknown_field", "length", "format", "type",
                "type", "length",
            ])
    }

    @Test func unknownCategory() throws {
        let known: Set<String> = ["living_environment", "enterprise_services"]
        var calls: [String] = []
        let check: (String) -> Bool = { c in
            calls.append(c)
            return known.contains(c)
        }
        var o = baseObject()
        #expect(throws: Never.self) { try validate(o, isKnownCategory: check).get() }
        o["category"] = "living_environment.water"
        // An unknown category is left out (the rules classify the ticket from its text), with a warning.
        let t = try validate(o, isKnownCategory: check).get()
        #expect(t.category == nil)
        #expect(t.warnings.map(\.code) == [.unknownCategory])
        #expect(t.warnings[0].message == "category: unknown category \"living_environment.water\"")
        // A malformed category is reported as format and never reaches the callback.
        calls.removeAll()
        o["category"] = "Living"
        #expect(try validate(o, isKnownCategory: check).get().warnings.map(\.code) == [.format])
        #expect(calls.isEmpty)
        // decode forwards the callback too.
        let d = try TicketContract.decode(Array(sample1.utf8), isKnownCategory: { _ in false }).get()
        #expect(d.warnings.map(\.code) == [.unknownCategory] && d.category == nil)
    }

    @Test func unknownTopLevelFieldsArePreservedInOrder() throws {
        let doc = """
            {"z_trace": {"seq": 42, "hops": ["a", "b"]}, "id": "FS-1", "received_at": "2026-03-02T09:53:00+08:00",
             "a_flag": true, "channel": "web", "kind": "help", "text": "路灯不亮", "m_big": 123456789012345678901234567890,
             "n_null": null}
            """
        let t = try TicketContract.decode(Array(doc.utf8)).get()
        #expect(t.extra.keys == ["z_trace", "a_flag", "m_big", "n_null"])
        #expect(t.extra["m_big"] == .number("123456789012345678901234567890"))
        #expect(t.extra["n_null"] == .null)
        #expect(
            JSON.serializeToString(.object(t.extra))
                == "{\"z_trace\":{\"seq\":42,\"hops\":[\"a\",\"b\"]},\"a_flag\":true,\"m_big\":123456789012345678901234567890,\"n_null\":null}"
        )
        #expect(t.json == (try JSON.parse(Array(doc.utf8))).objectValue)
        #expect(t.json.keys.first == "z_trace")
    }

    @Test func rootMustBeAnObject() {
        for (doc, got) in [
            ("[]", "an array"), ("\"x\"", "a string"), ("1", "a number"), ("null", "null"), ("true", "a boolean"),
        ] {
            let e = TicketContract.decode(Array(doc.utf8)).failureValue
            #expect(
                e?.issues == [
                    ValidationIssue(path: "", code: .type, message: "(root): expected an object, got \(got)")
                ])
        }
    }

    @Test(arguments: [
        ("", "empty"),
        ("{\"id\":", "syntax"),
        ("{\"id\":\"a\",}", "syntax"),
        ("{\"id\":\"a\",\"id\":\"b\"}", "duplicate_key"),
        (String(repeating: "[", count: 40), "too_deep"),
    ])
    func parseErrorsBecomeRootIssues(doc: String, code: String) throws {
        let e = try #require(TicketContract.decode(Array(doc.utf8)).failureValue)
        #expect(e.issues.count == 1)
        #expect(e.issues[0].path == "")
        #expect(e.issues[0].code.rawValue == code)
        #expect(e.issues[0].message.contains("at byte"))
    }

    @Test func byteLevelErrorsThroughDecode() throws {
        var bad = Array(sample1.utf8)
        let i = try #require(bad.firstIndex(of: 0xE5))  // first byte of 务
        bad[i] = 0xFF
        let e = try #require(TicketContract.decode(bad).failureValue)
        #expect(e.issues.map(\.code) == [.invalidUTF8])
        #expect(e.issues[0].message.hasSuffix("at byte \(i)"))

        let big = [UInt8](repeating: 0x20, count: 262_145)
        #expect(TicketContract.decode(big).failureValue?.issues.map(\.code) == [.tooLarge])
        #expect(
            TicketContract.decode(Array(sample1.utf8), limits: JSONLimits(maxBytes: 100)).failureValue?.issues.map(
                \.code) == [.tooLarge])
    }

    @Test func issuesAreCapped() throws {
        var o = baseObject()
        o["attachments"] = .array(Array(repeating: 1, count: 500))
        let t = try validate(o).get()
        #expect(t.warnings.count == TicketContract.maxIssues && t.attachments.isEmpty)
        #expect(t.warnings[0].path == "attachments" && t.warnings[0].code == .length)
        #expect(t.warnings[1].path == "attachments[0]")
        // Past the cap, a required field's problem still rejects: required fields come first.
        o["id"] = nil
        let e = try #require(validate(o).failureValue)
        #expect(e.issues.count == TicketContract.maxIssues && e.issues[0].path == "id")
    }

    /// A sender's long key stays short in the issue, and no issue quotes a mobile number: issues go into
    /// AMQP headers (one frame of 128 KiB), logs and the rejected queue.
    @Test func issuesCutLongKeysAndMaskNumbers() throws {
        var o = baseObject()
        o["caller"] = .object(JSONObject([(String(repeating: "a", count: 120_000), 1)]))
        o["source_line"] = "138 1234 5678"
        let t = try validate(o).get()
        let unknown = try #require(t.warnings.first { $0.code == .unknownField })
        #expect(unknown.path == "caller." + String(repeating: "a", count: 57) + "…", "\(unknown.path)")
        #expect(JSON.serializeToString(.array(t.warnings.map(\.json))).utf8.count < 1_000)
        let line = try #require(t.warnings.first { $0.path == "source_line" })
        #expect(!line.message.contains("1234") && line.message.contains("138****5678"), "\(line.message)")
        o["channel"] = "13812345678"
        let e = try #require(validate(o).failureValue)
        #expect(e.issues[0].path == "channel" && !e.issues[0].message.contains("13812345678"), "\(e.issues[0])")
    }

    @Test func errorTypeInvariants() {
        #expect(TicketValidationError(issues: []) == nil)
        let issue = ValidationIssue(path: "id", code: .required, message: "id: is required")
        #expect(TicketValidationError(issues: [issue])?.description == "id: is required [required]")
        #expect(TicketContract.fields.count == 14)
    }

    @Test func helperPredicates() {
        #expect(TicketContract.isCreditCode("91440101190474411W"))
        #expect(TicketContract.isCreditCode("0123456789ABCDEFGH"))
        #expect(!TicketContract.isCreditCode("0123456789ABCDEFGI"))
        #expect(TicketContract.isCategoryPath("living_environment.water"))
        #expect(!TicketContract.isCategoryPath("living_environment..water"))
        #expect(TicketContract.phoneDigitCount("+86 138-1234-5678") == 13)
        #expect(TicketContract.phoneDigitCount("86+1") == nil)
    }

    // MARK: PhoneMask

    @Test(arguments: [
        ("13812345678", "138****5678"),
        ("138-1234-5678", "138****5678"),
        ("138 1234 5678", "138****5678"),
        ("+86 138-1234-5678", "138****5678"),
        ("8613812345678", "138****5678"),
        ("0086 13812345678", "138****5678"),
        ("19912345678", "199****5678"),
        ("0757-83331234", "**********34"),
        ("+852 2345 6789", "*********89"),
        ("23456789012", "*********12"),  // 11 digits but not a mobile
        ("12345", "***45"),
        ("110", "*10"),
        ("12", "**"),
        ("7", "*"),
        ("", ""),
        ("abc", ""),
        ("８６", ""),  // full-width digits are not digits here
    ])
    func phoneMask(phone: String, masked: String) {
        #expect(PhoneMask.mask(phone) == masked)
    }

    @Test func maskNumbersInStoredBodies() {
        func masked(_ s: String) -> String { PhoneMask.maskNumbers(in: Array(s.utf8)) }
        #expect(masked(#"{"caller": {"phone": "138-1234-567x"}}"#) == #"{"caller": {"phone": "********67"}}"#)
        #expect(masked(#"{"phone":"+86 138 1234 5678","name":"李"}"#) == #"{"phone":"138****5678","name":"李"}"#)
        #expect(masked(#"{"phone":13812345678}"#) == #"{"phone":138****5678}"#)
        #expect(masked("请回电13812345678或 138-1234-5678、+86 13912345678。") == "请回电138****5678或 138****5678、+139****5678。")
        // Dates, region codes, credit codes and longer digit runs stay as they are.
        let plain =
            #"{"received_at": "2026-03-02T09:53:00+08:00", "code": "440605101", "#
            + #""credit_code": "91440101190474411W", "n": 138123456789}"#
        #expect(masked(plain) == plain)
        // A body cut inside the phone value is masked to its end.
        #expect(masked(#"{"caller": {"phone": "1381234"#) == #"{"caller": {"phone": "*****34"#)
    }

    // MARK: Degrading

    @Test func creditCodeMessageNamesEveryExcludedLetter() throws {
        for letter in ["I", "O", "Z", "S", "V"] {
            var o = baseObject()
            o["enterprise"] = ["name": "中交", "credit_code": .string("91440101190474411" + letter)]
            let t = try ticket(o)
            #expect(t.enterprise == Enterprise(name: "中交"))
            #expect(
                t.warnings == [
                    ValidationIssue(
                        path: "enterprise.credit_code", code: .format,
                        message: "enterprise.credit_code: expected 18 characters of digits and uppercase letters "
                            + "except I, O, Z, S, V, got \"91440101190474411\(letter)\"")
                ])
        }
    }

    @Test func aMalformedPhoneIsNeverEchoed() throws {
        for (phone, shown) in [
            ("138-1234-567x", "got \"********67\" (masked)"),
            ("13812345678 ext 9", "got \"**********89\" (masked)"),
            ("unknown", "got a value without digits"),
        ] {
            var o = baseObject()
            o["caller"] = ["name": "王女士", "phone": .string(phone)]
            let t = try ticket(o)
            #expect(t.caller == Caller(name: "王女士"))
            let message = try #require(t.warnings.first?.message)
            #expect(
                message == "caller.phone: expected digits with an optional leading '+', spaces and hyphens, "
                    + shown)
            #expect(!message.contains(phone))
            // Rejected for another reason, the issue list masks it the same way.
            o["id"] = nil
            let e = try #require(validate(o).failureValue)
            #expect(e.issues.map(\.path) == ["id", "caller.phone"])
            #expect(!e.description.contains(phone) && e.issues[1].message == message)
        }
    }

    @Test func everyOptionalFieldDegradesAtOnce() throws {
        var o = baseObject()
        o["category"] = "No-Such"
        o["urgency"] = "URGENT"
        o["enterprise"] = ["name": "佛山市某公司", "credit_code": "91440101190474411I", "phone": "1"]
        o["caller"] = ["name": .string(String(repeating: "李", count: 101)), "phone": "13812345678"]
        o["region"] = ["district": "南海区", "code": "44060"]
        o["address"] = 5
        o["title"] = .string(String(repeating: "题", count: 201))
        o["attachments"] = ["a.jpg", 7, "b.jpg"]
        let t = try ticket(o)
        #expect(
            t.warnings.map(\.path) == [
                "category", "urgency", "enterprise.credit_code", "enterprise.phone", "caller.name", "region.code",
                "address", "title", "attachments[1]",
            ])
        #expect(t.category == nil && t.urgency == nil && t.address == nil && t.title == nil)
        #expect(t.enterprise == Enterprise(name: "佛山市某公司"))
        #expect(t.caller == Caller(phone: "13812345678"))
        #expect(t.region == RegionRef(district: "南海区"))
        #expect(t.attachments == ["a.jpg", "b.jpg"])
        #expect(t.json == o)
        #expect(
            t.warnings.map { TicketContract.warningField(of: $0.path) } == [
                "category", "urgency", "enterprise.credit_code", "enterprise", "caller.name", "region.code", "address",
                "title", "attachments",
            ])
    }

    @Test func requiredFieldsStillReject() throws {
        for field in ["id", "received_at", "channel", "kind", "text"] {
            var o = baseObject()
            o[field] = 1
            o["category"] = "No-Such"
            let e = try #require(validate(o).failureValue, "\(field)")
            #expect(e.issues.map(\.path) == [field, "category"])
            #expect(TicketContract.isBlocking(e.issues[0]) && !TicketContract.isBlocking(e.issues[1]))
        }
        #expect(TicketContract.isBlocking(ValidationIssue(path: "", code: .syntax, message: "x")))
    }
}

extension Result {
    fileprivate var failureValue: Failure? {
        if case .failure(let e) = self { return e }
        return nil
    }
}
