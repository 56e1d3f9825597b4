import Foundation
import PagodaJSON
import PagodaRules
import Testing

@testable import PagodaLifecycle

// MARK: - Helpers

private let atText = "2026-03-02T09:53:00+08:00"
private let at = RFC3339.parse(atText)!.date
private let untilText = "2026-03-09T18:00:00+08:00"
private let until = RFC3339.parse(untilText)!.date

/// The common fields of a valid command of `type` (ticket FS-20260302-0001, unit nanhai.shishan).
private func common(_ type: CommandType) -> JSONObject {
    [
        "command_id": "cmd-0001", "ticket_id": "FS-20260302-0001", "unit": "nanhai.shishan",
        "type": .string(type.rawValue), "at": .string(atText),
    ]
}

/// A minimal valid command of `type`: the common fields and the required fields of the type.
private func base(_ type: CommandType) -> JSONObject {
    var o = common(type)
    switch type {
    case .progress: o["note"] = "已到现场核查"
    case .requestReturn: o["reason"] = "wrong_area"
    case .requestExtension:
        o["until"] = .string(untilText)
        o["reason"] = "需协调多个部门"
    case .reply:
        o["outcome"] = "resolved"
        o["text"] = "已清理河涌。"
    case .callbackResult:
        o["reached"] = true
        o["resolved"] = true
        o["satisfaction"] = "satisfied"
    case .redispatch: o["to_unit"] = "nanhai.dali"
    case .merge: o["into_ticket"] = "FS-20260302-0002"
    default: break
    }
    return o
}

private func bytes(_ o: JSONObject) -> [UInt8] { JSON.serialize(.object(o)) }

private func issues(_ result: Result<Command, CommandValidationError>) -> [ValidationIssue] {
    switch result {
    case .success: []
    case .failure(let e): e.issues
    }
}

private func s(_ n: Int, _ c: String = "a") -> JSONValue { .string(String(repeating: c, count: n)) }

// MARK: - Tables

/// A valid body and the action it must decode to.
struct ValidCase: Sendable, CustomTestStringConvertible {
    let name: String
    let type: CommandType
    let fields: JSONObject
    let action: Command.Action

    init(_ name: String, _ type: CommandType, _ fields: JSONObject, _ action: Command.Action) {
        self.name = name
        self.type = type
        self.fields = fields
        self.action = action
    }

    var object: JSONObject {
        var o = common(type)
        for (k, v) in fields { o[k] = v }
        return o
    }

    var testDescription: String { name }
}

private let validCases: [ValidCase] = [
    ValidCase("sign", .sign, [:], .sign),
    ValidCase("contact", .contact, [:], .contact(note: nil)),
    ValidCase("contact with note", .contact, ["note": "已电话联系市民"], .contact(note: "已电话联系市民")),
    ValidCase("contact with null note", .contact, ["note": nil], .contact(note: nil)),
    ValidCase("contact with empty note", .contact, ["note": ""], .contact(note: "")),
    ValidCase("progress", .progress, ["note": "已派人核查"], .progress(note: "已派人核查", milestone: nil)),
    ValidCase(
        "progress onsite", .progress, ["note": "已到现场", "milestone": "onsite"],
        .progress(note: "已到现场", milestone: .onsite)),
    ValidCase(
        "progress answer", .progress, ["note": "已答复", "milestone": "answer"], .progress(note: "已答复", milestone: .answer)
    ),
    ValidCase(
        "progress null milestone", .progress, ["note": "x", "milestone": nil], .progress(note: "x", milestone: nil)),
    ValidCase(
        "request_return", .requestReturn, ["reason": "not_our_duty"],
        .requestReturn(reason: .notOurDuty, suggestedUnit: nil, text: nil)),
    ValidCase(
        "request_return full", .requestReturn,
        ["reason": "wrong_area", "suggested_unit": "nanhai.dali", "text": "该地址属大沥镇"],
        .requestReturn(reason: .wrongArea, suggestedUnit: "nanhai.dali", text: "该地址属大沥镇")),
    ValidCase(
        "request_extension", .requestExtension, ["until": .string(untilText), "reason": "需协调"],
        .requestExtension(until: until, reason: "需协调")),
    ValidCase(
        "request_extension UTC until", .requestExtension, ["until": "2026-03-09T10:00:00Z", "reason": "r"],
        .requestExtension(until: until, reason: "r")),
    ValidCase(
        "reply", .reply, ["outcome": "partially_resolved", "text": "部分解决"],
        .reply(outcome: .partiallyResolved, text: "部分解决")),
    ValidCase("approve_return", .approveReturn, [:], .approveReturn(unit: nil, note: nil)),
    ValidCase(
        "approve_return full", .approveReturn, ["new_unit": "nanhai.dali", "note": "改派大沥"],
        .approveReturn(unit: "nanhai.dali", note: "改派大沥")),
    ValidCase("reject_return", .rejectReturn, ["note": "属本辖区"], .rejectReturn(note: "属本辖区")),
    ValidCase("approve_extension", .approveExtension, [:], .approveExtension(until: nil, note: nil)),
    ValidCase(
        "approve_extension full", .approveExtension, ["until": .string(untilText), "note": "同意"],
        .approveExtension(until: until, note: "同意")),
    ValidCase("reject_extension", .rejectExtension, [:], .rejectExtension(note: nil)),
    ValidCase(
        "callback reached", .callbackResult,
        ["reached": true, "resolved": false, "satisfaction": "unsatisfied", "note": "市民称问题仍在"],
        .callbackResult(reached: true, resolved: false, satisfaction: .unsatisfied, note: "市民称问题仍在")),
    ValidCase(
        "callback not reached", .callbackResult, ["reached": false],
        .callbackResult(reached: false, resolved: nil, satisfaction: nil, note: nil)),
    ValidCase(
        "callback not reached, null resolved", .callbackResult,
        ["reached": false, "resolved": nil, "satisfaction": nil],
        .callbackResult(reached: false, resolved: nil, satisfaction: nil, note: nil)),
    ValidCase(
        "callback not reached with satisfaction", .callbackResult, ["reached": false, "satisfaction": "satisfied"],
        .callbackResult(reached: false, resolved: nil, satisfaction: .satisfied, note: nil)),
    ValidCase("redispatch", .redispatch, ["to_unit": "foshan.city"], .redispatch(unit: "foshan.city", note: nil)),
    ValidCase(
        "merge", .merge, ["into_ticket": "FS-20260302-0002", "note": "重复工单"],
        .merge(into: "FS-20260302-0002", note: "重复工单")),
]

/// Commands that must survive `json()` and `decode`, one or more per type.
private let roundTripCommands: [Command] = {
    let actions: [Command.Action] = [
        .sign,
        .contact(note: nil), .contact(note: "已联系"),
        .progress(note: "进展", milestone: nil), .progress(note: "到场", milestone: .onsite),
        .progress(note: "答复", milestone: .answer),
        .requestReturn(reason: .unclearOwnership, suggestedUnit: nil, text: nil),
        .requestReturn(reason: .incompleteInformation, suggestedUnit: "nanhai.dali", text: "缺少地址"),
        .requestExtension(until: until, reason: "需协调"),
        .reply(outcome: .answered, text: "已答复政策"),
        .approveReturn(unit: nil, note: nil), .approveReturn(unit: "nanhai.dali", note: "改派"),
        .rejectReturn(note: nil), .rejectReturn(note: "属本辖区"),
        .approveExtension(until: nil, note: nil), .approveExtension(until: until, note: "同意"),
        .rejectExtension(note: nil), .rejectExtension(note: "理由不足"),
        .callbackResult(reached: true, resolved: true, satisfaction: .basicallySatisfied, note: "回访满意"),
        .callbackResult(reached: false, resolved: nil, satisfaction: nil, note: "无人接听"),
        .redispatch(unit: "foshan.city", note: nil), .redispatch(unit: "nanhai.dali", note: "重派"),
        .merge(into: "FS-2", note: nil), .merge(into: "FS-2", note: "重复"),
    ]
    return actions.enumerated().map { i, a in
        Command(id: "cmd:\(i)", ticketID: "FS-1", unit: "nanhai.shishan", at: at, action: a, replyTo: nil)
    }
}()

/// One mutation of a minimal valid command of `type` and the single issue it must produce
/// (a nil value removes the field).
struct FieldCase: Sendable, CustomTestStringConvertible {
    let type: CommandType
    let field: String
    let value: JSONValue?
    let path: String
    let code: String

    init(_ type: CommandType, _ field: String, _ value: JSONValue?, _ code: String) {
        self.type = type
        self.field = field
        self.value = value
        self.path = field
        self.code = code
    }

    var object: JSONObject {
        var o = base(type)
        if let value { o[field] = value } else { o.removeValue(forKey: field) }
        return o
    }

    var testDescription: String {
        let v = value.map { JSON.quoted(JSON.serializeToString($0), limit: 40) } ?? "<removed>"
        return "\(type.rawValue): \(field)=\(v) -> \(path) \(code)"
    }
}

private let fieldCases: [FieldCase] = [
    // common: required
    FieldCase(.sign, "command_id", nil, "required"),
    FieldCase(.sign, "command_id", .null, "required"),
    FieldCase(.sign, "ticket_id", nil, "required"),
    FieldCase(.sign, "unit", .null, "required"),
    FieldCase(.sign, "type", nil, "required"),
    FieldCase(.sign, "at", nil, "required"),
    // common: types
    FieldCase(.sign, "command_id", 1, "type"),
    FieldCase(.sign, "ticket_id", [], "type"),
    FieldCase(.sign, "unit", ["id": "x"], "type"),
    FieldCase(.sign, "type", true, "type"),
    FieldCase(.sign, "at", 1_772_416_380, "type"),
    // common: format, length, enum
    FieldCase(.sign, "command_id", "cmd 1", "format"),
    FieldCase(.sign, "command_id", "指令1", "format"),
    FieldCase(.sign, "command_id", "", "length"),
    FieldCase(.sign, "command_id", s(129), "length"),
    FieldCase(.sign, "ticket_id", "FS/1", "format"),
    FieldCase(.sign, "ticket_id", s(65), "length"),
    FieldCase(.sign, "ticket_id", "", "length"),
    FieldCase(.sign, "unit", "Nanhai", "format"),
    FieldCase(.sign, "unit", "nanhai:shishan", "format"),
    FieldCase(.sign, "unit", s(65), "length"),
    FieldCase(.sign, "unit", "", "length"),
    FieldCase(.sign, "type", "Sign", "enum"),
    FieldCase(.sign, "type", "approve", "enum"),
    FieldCase(.sign, "at", "2026-03-02T09:53:00", "format"),
    FieldCase(.sign, "at", "2026-02-30T09:53:00+08:00", "format"),
    FieldCase(.sign, "at", "2026-03-02 09:53:00+08:00", "format"),
    FieldCase(.sign, "at", "yesterday", "format"),
    // unknown fields
    FieldCase(.sign, "note", "x", "unknown_field"),
    FieldCase(.sign, "note", .null, "unknown_field"),
    FieldCase(.sign, "until", .string(untilText), "unknown_field"),
    FieldCase(.contact, "milestone", "onsite", "unknown_field"),
    FieldCase(.reply, "note", "x", "unknown_field"),
    FieldCase(.merge, "to_unit", "nanhai.dali", "unknown_field"),
    FieldCase(.callbackResult, "Reached", true, "unknown_field"),
    // contact
    FieldCase(.contact, "note", 1, "type"),
    FieldCase(.contact, "note", s(2001), "length"),
    // progress
    FieldCase(.progress, "note", nil, "required"),
    FieldCase(.progress, "note", .null, "required"),
    FieldCase(.progress, "note", "", "length"),
    FieldCase(.progress, "note", s(2001, "字"), "length"),
    FieldCase(.progress, "note", " \n\u{3000}", "format"),
    FieldCase(.progress, "note", false, "type"),
    FieldCase(.progress, "milestone", "sign", "enum"),
    FieldCase(.progress, "milestone", "resolve", "enum"),
    FieldCase(.progress, "milestone", 1, "type"),
    // request_return
    FieldCase(.requestReturn, "reason", nil, "required"),
    FieldCase(.requestReturn, "reason", "busy", "enum"),
    FieldCase(.requestReturn, "reason", ["wrong_area"], "type"),
    FieldCase(.requestReturn, "suggested_unit", "Nanhai Dali", "format"),
    FieldCase(.requestReturn, "suggested_unit", "", "length"),
    FieldCase(.requestReturn, "suggested_unit", 3, "type"),
    FieldCase(.requestReturn, "text", s(2001), "length"),
    // request_extension
    FieldCase(.requestExtension, "until", nil, "required"),
    FieldCase(.requestExtension, "until", "2026-03-09", "format"),
    FieldCase(.requestExtension, "until", "2026-03-09T24:00:00+08:00", "format"),
    FieldCase(.requestExtension, "reason", nil, "required"),
    FieldCase(.requestExtension, "reason", "", "length"),
    FieldCase(.requestExtension, "reason", s(2001), "length"),
    // reply
    FieldCase(.reply, "outcome", nil, "required"),
    FieldCase(.reply, "outcome", "done", "enum"),
    FieldCase(.reply, "text", nil, "required"),
    FieldCase(.reply, "text", "", "length"),
    FieldCase(.reply, "text", s(10_001), "length"),
    // approve_return, reject_return, approve_extension, reject_extension
    FieldCase(.approveReturn, "new_unit", "DALI", "format"),
    FieldCase(.approveReturn, "note", s(2001), "length"),
    FieldCase(.rejectReturn, "note", 0, "type"),
    FieldCase(.approveExtension, "until", "next week", "format"),
    FieldCase(.approveExtension, "until", 1, "type"),
    FieldCase(.rejectExtension, "note", s(2001), "length"),
    // callback_result
    FieldCase(.callbackResult, "reached", nil, "required"),
    FieldCase(.callbackResult, "reached", "yes", "type"),
    FieldCase(.callbackResult, "resolved", nil, "required"),
    FieldCase(.callbackResult, "resolved", .null, "required"),
    FieldCase(.callbackResult, "resolved", "true", "type"),
    FieldCase(.callbackResult, "satisfaction", nil, "required"),
    FieldCase(.callbackResult, "satisfaction", .null, "required"),
    FieldCase(.callbackResult, "satisfaction", "very_satisfied", "enum"),
    FieldCase(.callbackResult, "note", s(2001), "length"),
    // redispatch
    FieldCase(.redispatch, "to_unit", nil, "required"),
    FieldCase(.redispatch, "to_unit", "南海", "format"),
    // merge
    FieldCase(.merge, "into_ticket", nil, "required"),
    FieldCase(.merge, "into_ticket", "FS 2", "format"),
    FieldCase(.merge, "into_ticket", "FS-20260302-0001", "format"),
    FieldCase(.merge, "into_ticket", s(65), "length"),
]

// MARK: - Tests

@Suite struct CommandContractTests {
    @Test(arguments: validCases)
    func validCommandsDecode(_ c: ValidCase) throws {
        let result = CommandContract.decode(bytes(c.object), replyTo: "amq.gen-reply")
        let command = try result.get()
        #expect(command.action == c.action)
        #expect(command.action.type == c.type)
        #expect(command.id == "cmd-0001")
        #expect(command.ticketID == "FS-20260302-0001")
        #expect(command.unit == "nanhai.shishan")
        #expect(command.at == at)
        #expect(command.replyTo == "amq.gen-reply")
    }

    @Test func everyTypeHasAValidCaseAndARoundTrip() {
        #expect(Set(validCases.map(\.type)) == Set(CommandType.allCases))
        #expect(Set(roundTripCommands.map(\.action.type)) == Set(CommandType.allCases))
    }

    @Test(arguments: CommandType.allCases)
    func minimalCommandOfEveryTypeDecodes(_ type: CommandType) throws {
        let command = try CommandContract.decode(bytes(base(type))).get()
        #expect(command.action.type == type)
        #expect(command.replyTo == nil)
    }

    @Test(arguments: roundTripCommands)
    func jsonRoundTrips(_ command: Command) throws {
        let wire = JSON.serialize(command.json())
        let back = try CommandContract.decode(wire, replyTo: "reply.q").get()
        var expected = command
        expected.replyTo = "reply.q"
        #expect(back == expected)
        // The wire form is exactly the common fields and the fields of the type, in contract order.
        let keys = try #require(command.json().objectValue).keys
        let order = CommandContract.commonFields + CommandContract.fields(of: command.action.type)
        #expect(Set(keys).isSubset(of: order))
        #expect(keys == order.filter { keys.contains($0) })
        #expect(Array(keys.prefix(5)) == CommandContract.commonFields)
    }

    @Test func jsonWritesChinaStandardTime() throws {
        let command = Command(
            id: "c1", ticketID: "FS-1", unit: "u", at: RFC3339.parse("2026-03-02T01:53:00.75Z")!.date,
            action: .requestExtension(until: RFC3339.parse("2026-03-09T10:00:00Z")!.date, reason: "r"))
        let o = try #require(command.json().objectValue)
        #expect(o["at"] == "2026-03-02T09:53:00+08:00")
        #expect(o["until"] == "2026-03-09T18:00:00+08:00")
        #expect(o["type"] == "request_extension")
        #expect(
            JSON.serializeToString(Command(id: "c2", ticketID: "T", unit: "u", at: at, action: .sign).json())
                == #"{"command_id":"c2","ticket_id":"T","unit":"u","type":"sign","at":"2026-03-02T09:53:00+08:00"}"#)
        let callback = Command(
            id: "c3", ticketID: "T", unit: "u", at: at,
            action: .callbackResult(reached: true, resolved: false, satisfaction: .unsatisfied, note: nil))
        #expect(callback.json().objectValue?["reached"] == true)
        #expect(callback.json().objectValue?["resolved"] == false)
    }

    @Test(arguments: fieldCases)
    func fieldErrors(_ c: FieldCase) throws {
        let found = issues(CommandContract.decode(bytes(c.object)))
        #expect(found.map(\.path) == [c.path], "\(found)")
        #expect(found.map(\.code.rawValue) == [c.code], "\(found)")
        for issue in found { #expect(issue.message.hasPrefix("\(c.path): ")) }
    }

    @Test func validBoundaries() throws {
        var o = base(.reply)
        o["command_id"] = s(128)
        o["ticket_id"] = s(64, "F")
        o["unit"] = s(64, "z")
        o["text"] = s(10_000, "字")
        #expect(try CommandContract.validate(o).get().id.count == 128)
        var p = base(.progress)
        p["command_id"] = "A-Za-z0-9._:-"
        p["unit"] = "a-z0-9._"
        p["note"] = s(2000, "👨‍👩‍👧")  // 2000 characters, many more code points and bytes
        #expect(throws: Never.self) { try CommandContract.validate(p).get() }
        var r = base(.requestReturn)
        r["text"] = ""
        r["suggested_unit"] = .null
        #expect(
            try CommandContract.validate(r).get().action
                == .requestReturn(reason: .wrongArea, suggestedUnit: nil, text: ""))
    }

    @Test func messages() throws {
        func message(_ o: JSONObject) -> [String] { issues(CommandContract.validate(o)).map(\.message) }
        var o = base(.sign)
        o["until"] = .string(untilText)
        #expect(message(o) == ["until: not a field of sign commands"])
        o = base(.sign)
        o["type"] = "approve"
        #expect(
            message(o) == [
                "type: expected one of sign, contact, progress, request_return, request_extension, reply, approve_return, "
                    + "reject_return, approve_extension, reject_extension, callback_result, redispatch, merge; got \"approve\""
            ])
        o = base(.merge)
        o["into_ticket"] = "FS-20260302-0001"
        #expect(message(o) == [#"into_ticket: must differ from ticket_id, got "FS-20260302-0001""#])
        o = base(.callbackResult)
        o.removeValue(forKey: "satisfaction")
        #expect(message(o) == ["satisfaction: is required when reached is true"])
        o = base(.progress)
        o["milestone"] = "sign"
        #expect(message(o) == [#"milestone: expected one of onsite, answer; got "sign""#])
        o = base(.sign)
        o["command_id"] = .null
        o["at"] = "2026-03-02T09:53:00"
        #expect(
            message(o) == [
                "command_id: is required, got null",
                #"at: expected an RFC 3339 timestamp with offset like 2026-03-02T09:53:00+08:00, got "2026-03-02T09:53:00""#,
            ])
    }

    @Test func callbackResultRules() {
        func codes(_ fields: JSONObject) -> [String] {
            var o = common(.callbackResult)
            for (k, v) in fields { o[k] = v }
            return issues(CommandContract.validate(o)).map { "\($0.path) \($0.code)" }
        }
        #expect(codes(["reached": true]) == ["resolved required", "satisfaction required"])
        #expect(codes(["reached": true, "resolved": true]) == ["satisfaction required"])
        #expect(codes(["reached": true, "satisfaction": "satisfied"]) == ["resolved required"])
        #expect(codes(["reached": false, "resolved": false]) == ["resolved format"])
        #expect(codes(["reached": false, "resolved": true, "satisfaction": "satisfied"]) == ["resolved format"])
        // Without a usable `reached`, the others are only type-checked.
        #expect(
            codes(["reached": nil, "resolved": "no", "satisfaction": "meh"]) == [
                "reached required", "resolved type", "satisfaction enum",
            ])
        #expect(codes(["reached": 1, "resolved": true]) == ["reached type"])
    }

    @Test func collectsAllIssuesInContractOrder() throws {
        let o: JSONObject = [
            "extra": 1, "note": 5, "at": "soon", "type": "request_return", "unit": "Shishan",
            "ticket_id": "FS 1", "command_id": "", "reason": "bored", "suggested_unit": "X", "zz": nil,
        ]
        let result = CommandContract.validate(o)
        guard case .failure(let e) = result else {
            Issue.record("expected a failure")
            return
        }
        #expect(
            e.issues.map { "\($0.path) \($0.code)" } == [
                "command_id length", "ticket_id format", "unit format", "at format",
                "reason enum", "suggested_unit format", "extra unknown_field", "note unknown_field", "zz unknown_field",
            ])
        // The ids are passed on as read, even when malformed.
        #expect(e.commandID == "")
        #expect(e.ticketID == "FS 1")
        #expect(e.description.contains("at: expected an RFC 3339 timestamp"))
    }

    @Test func errorCarriesReadableIDs() throws {
        var o = base(.reply)
        o["text"] = ""
        guard case .failure(let e) = CommandContract.validate(o) else {
            Issue.record("expected a failure")
            return
        }
        #expect(e.commandID == "cmd-0001")
        #expect(e.ticketID == "FS-20260302-0001")
        o = base(.reply)
        o["command_id"] = 7
        o["ticket_id"] = nil
        guard case .failure(let e2) = CommandContract.validate(o) else {
            Issue.record("expected a failure")
            return
        }
        #expect(e2.commandID == nil)
        #expect(e2.ticketID == nil)
    }

    @Test(arguments: [nil, "teleport", 3] as [JSONValue?])
    func unknownTypeChecksOnlyCommonFields(_ type: JSONValue?) {
        var o = common(.sign)
        o["type"] = type
        o["whatever"] = "x"
        o["until"] = 5
        let found = issues(CommandContract.validate(o))
        #expect(found.map(\.path) == ["type"])
    }

    @Test func issuesAreCapped() {
        var o = base(.sign)
        for i in 0..<150 { o["x\(i)"] = 1 }
        let found = issues(CommandContract.validate(o))
        #expect(found.count == CommandContract.maxIssues)
        #expect(found.allSatisfy { $0.code == .unknownField })
    }

    @Test(arguments: [
        ("", "empty"),
        (" \n\t", "empty"),
        ("not json", "syntax"),
        ("{\"command_id\": \"c1\",}", "syntax"),
        ("{\"command_id\": \"c1\", \"command_id\": \"c2\"}", "duplicate_key"),
        ("{\"x\": [[[[[[[[1]]]]]]]]}", "too_deep"),
        ("[1, 2]", "type"),
        ("\"sign\"", "type"),
        ("null", "type"),
    ])
    func bodyErrors(doc: String, code: String) throws {
        let result = CommandContract.decode(Array(doc.utf8), replyTo: "r")
        guard case .failure(let e) = result else {
            Issue.record("expected a failure")
            return
        }
        #expect(e.issues.map(\.code.rawValue) == [code])
        #expect(e.issues.map(\.path) == [""])
        #expect(e.commandID == nil && e.ticketID == nil)
    }

    @Test func invalidUTF8() {
        var b = bytes(base(.contact))
        b.removeLast()
        b += Array(#","note":""#.utf8) + [0xC3, 0x28] + Array(#""}"#.utf8)
        #expect(issues(CommandContract.decode(b)).map(\.code) == [.invalidUTF8])
    }

    @Test func sizeLimit() throws {
        // A body of exactly 64 KiB is parsed; one byte more is not.
        var o = base(.contact)
        o["note"] = ""
        let overhead = bytes(o).count
        o["note"] = s(65_536 - overhead, " ")
        var b = bytes(o)
        #expect(b.count == 65_536)
        #expect(issues(CommandContract.decode(b)).map(\.code) == [.length])
        b.insert(0x20, at: 0)
        let found = issues(CommandContract.decode(b))
        #expect(found.map(\.code) == [.tooLarge])
        #expect(found.first?.message.contains("65536") == true)
    }

    @Test func depthLimit() {
        // The command object and seven arrays: eight open containers, parsed (then the key is unknown).
        let ok = Array(#"{"type": "sign", "x": [[[[[[[1]]]]]]]}"#.utf8)
        #expect(issues(CommandContract.decode(ok)).contains { $0.code == .unknownField && $0.path == "x" })
        let deep = Array(#"{"type": "sign", "x": [[[[[[[[1]]]]]]]]}"#.utf8)
        #expect(issues(CommandContract.decode(deep)).map(\.code) == [.tooDeep])
    }

    @Test func predicates() {
        #expect(CommandContract.isCommandID(String(repeating: "a", count: 128)))
        #expect(!CommandContract.isCommandID(String(repeating: "a", count: 129)))
        #expect(!CommandContract.isCommandID(""))
        #expect(CommandContract.isTicketID("FS-20260302-0001"))
        #expect(!CommandContract.isTicketID(String(repeating: "a", count: 65)))
        #expect(CommandContract.isUnitID("nanhai.shishan"))
        #expect(!CommandContract.isUnitID("Nanhai"))
        #expect(!CommandContract.isUnitID("a:b"))
        #expect(CommandContract.fields(of: .callbackResult) == ["reached", "resolved", "satisfaction", "note"])
    }
}
