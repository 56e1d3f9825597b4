import Foundation
import PagodaJSON
import PagodaRules
import Testing

@testable import PagodaLifecycle
@testable import PagodaSimulation

/// Events keep the values of their frequent fields (`EventPayload`); the writer spells them straight into
/// bytes, which must be the bytes of the JSON the event's `fields` spell.
@Suite struct EventPayloadTests {
    static let due = RFC3339.parse("2026-03-05T23:59:59+08:00")!.date
    static let started = RFC3339.parse("2026-03-02T09:00:00+08:00")!.date

    static func clock(_ c: Clock, stopped: Bool = false) -> ClockState {
        ClockState(
            clock: c, started: started, due: due.addingTimeInterval(Double(Clock.allCases.firstIndex(of: c)! * 3600)),
            warnAt: started,
            stoppedAt: stopped ? started : nil)
    }

    /// Two warnings of a degraded ticket, one with characters to escape.
    static let warnings = [
        ValidationIssue(path: "caller.phone", code: .format, message: "caller.phone: got \"********67\" (masked)"),
        ValidationIssue(path: "category", code: .unknownCategory, message: "category: unknown category '夜市'"),
    ]

    static let payloads: [(String, EventPayload)] =
        [
            (
                "dispatched",
                .dispatched(
                    destination: "unit", rule: "urgent-help-community",
                    clocks: [clock(.sign), clock(.contact), clock(.onsite, stopped: true), clock(.resolve)],
                    offset: 28_800, repeatOf: nil, ticketWarnings: [])
            ),
            (
                "dispatched, repeat",
                .dispatched(
                    destination: "platform", rule: "consult \"quoted\"", clocks: [clock(.answer)],
                    offset: 0, repeatOf: "FS-20260301-0007", ticketWarnings: [])
            ),
            (
                "dispatched, no running clock",
                .dispatched(
                    destination: "unit", rule: "r", clocks: [clock(.sign, stopped: true)],
                    offset: 28_800, repeatOf: nil, ticketWarnings: [])
            ),
            (
                "dispatched, no clock",
                .dispatched(
                    destination: "unit", rule: "r", clocks: [], offset: 28_800, repeatOf: nil,
                    ticketWarnings: [])
            ),
            (
                "dispatched, ticket warnings",
                .dispatched(
                    destination: "unit", rule: "r", clocks: [clock(.sign)], offset: 28_800,
                    repeatOf: "FS-20260301-0007", ticketWarnings: warnings)
            ),
            ("yellow", .light(red: false, clock: .contact, due: due, offset: 28_800)),
            ("red", .light(red: true, clock: .resolve, due: due, offset: -18_000)),
            ("reply", .reply(outcome: .partiallyResolved, text: "已处理并答复市民。\n第二行 \"引号\" \\ \u{01}")),
            (
                "callback closed",
                .callback(closed: true, reached: true, resolved: true, satisfaction: .basicallySatisfied, note: nil)
            ),
            (
                "callback recorded",
                .callback(closed: false, reached: false, resolved: nil, satisfaction: nil, note: "无人接听")
            ),
            (
                "callback, every field",
                .callback(closed: false, reached: true, resolved: false, satisfaction: .unsatisfied, note: "n")
            ),
            ("supervision reminder", .supervisionReminder(clocks: ClockList([.sign, .resolve]))),
            (
                "supervision reminder, every clock",
                .supervisionReminder(clocks: ClockList([.resolve, .answer, .onsite, .contact, .sign]))
            ),
            ("supervision reminder, no clock", .supervisionReminder(clocks: ClockList())),
        ]
        + Clock.allCases.map { first in
            // Each clock's deadline key first and after another.
            (
                "dispatched, \(first) first",
                .dispatched(
                    destination: "unit", rule: "r",
                    clocks: [clock(first)] + Clock.allCases.filter { $0 != first }.map { clock($0) },
                    offset: 28_800, repeatOf: nil, ticketWarnings: [])
            )
        }

    @Test(arguments: payloads.indices)
    func writerSpellsTheFields(_ i: Int) {
        let (name, payload) = Self.payloads[i]
        let event = LifecycleEvent(
            type: .dispatched, ticketID: "FS-1", at: Self.started, unit: "nanhai", level: .district,
            queues: ["unit.nanhai"], replyTo: nil, carriesTicket: true, version: 3, sequence: 1, payload: payload)
        var encoder = EventEncoder(offsetSeconds: 28_800, verbose: false)
        var fast: [UInt8] = []
        encoder.write(event, into: &fast)
        var slow: [UInt8] = []
        JSON.serialize(.object(encoder.json(event)), into: &slow)
        #expect(String(decoding: fast, as: UTF8.self) == String(decoding: slow, as: UTF8.self), "\(name)")
        #expect(payload.write(into: &fast), "\(name) is written from its values")
    }

    /// A degraded ticket's dispatch ends with its warnings as `{"path", "code", "message"}`; without warnings
    /// the member is left out, so such events are spelled as before.
    @Test func dispatchesCarryTicketWarningsOnlyWhenThereAreAny() {
        func fields(_ warnings: [ValidationIssue]) -> String {
            let payload = EventPayload.dispatched(
                destination: "unit", rule: "r", clocks: [Self.clock(.sign)],
                offset: 28_800, repeatOf: nil, ticketWarnings: warnings)
            var out: [UInt8] = []
            _ = payload.write(into: &out)
            let spelled = "{" + String(decoding: out.dropFirst(), as: UTF8.self) + "}"
            #expect(JSON.serializeToString(.object(payload.json)) == spelled)
            return String(decoding: out, as: UTF8.self)
        }
        let deadlines = #","destination":"unit","rule":"r","deadlines":{"sign_by":"2026-03-05T23:59:59+08:00"}"#
        #expect(fields([]) == deadlines)
        #expect(
            fields(Self.warnings) == deadlines + #","ticket_warnings":["#
                + #"{"path":"caller.phone","code":"format","message":"caller.phone: got \"********67\" (masked)"},"#
                + #"{"path":"category","code":"unknown_category","message":"category: unknown category '夜市'"}]"#)
    }

    /// A clock list keeps its clocks in the order given, each once, for every subset of the clocks in every
    /// rotation.
    @Test func clockListsKeepTheirOrder() {
        let all = Clock.allCases
        for mask in 0..<(1 << all.count) {
            let subset = all.indices.filter { mask & (1 << $0) != 0 }.map { all[$0] }
            for r in 0..<max(subset.count, 1) {
                let rotated = Array(subset[r...] + subset[..<r])
                var list = ClockList(rotated)
                #expect(Array(list) == rotated)
                #expect(list.isEmpty == rotated.isEmpty)
                for c in rotated { list.append(c) }
                #expect(Array(list) == rotated, "a clock appended again is not added")
            }
        }
    }

    @Test func eventsCompareByTheirFields() {
        let typed = LifecycleEvent(
            type: .reminder, ticketID: "FS-1", at: Self.started, unit: nil, level: nil, queues: [],
            replyTo: nil, carriesTicket: false, version: 1, sequence: 0,
            payload: .light(red: false, clock: .sign, due: Self.due, offset: 28_800))
        var spelled = typed
        spelled.fields = typed.fields
        guard case .fields = spelled.payload else {
            Issue.record("setting fields keeps them as JSON")
            return
        }
        #expect(spelled == typed)
        #expect(spelled.hashValue == typed.hashValue)
        var other = typed
        other.fields.set("due", .string("2026-03-06T23:59:59+08:00"))
        #expect(other != typed)
    }

    /// A field named like a member of the envelope takes the general path, which lets it replace that member.
    @Test func reservedKeysTakeTheGeneralPath() {
        let event = LifecycleEvent(
            type: .progress, ticketID: "FS-1", at: Self.started, unit: "nanhai", level: .district,
            queues: [], replyTo: nil, carriesTicket: false, version: 1, sequence: 0,
            fields: JSONObject([("note", "n"), ("unit", "other")]))
        var encoder = EventEncoder(offsetSeconds: 28_800, verbose: false)
        var out: [UInt8] = []
        encoder.write(event, into: &out)
        let parsed = try? JSON.parse(out).objectValue
        #expect(parsed?["unit"]?.stringValue == "other")
        #expect(event.payload.isJSON)
    }

    /// Every envelope member, and only those, takes the general path, from a whole output as from one record.
    @Test func everyReservedKeyIsRecognised() {
        let envelope: Set<String> = ["event", "event_id", "at", "ticket_id", "unit", "level", "queues"]
        for key in envelope.sorted() + ["note", "units", "Event", "at_", ""] {
            #expect(EventEncoder.isReserved(key) == envelope.contains(key), "\(key)")
            let event = LifecycleEvent(
                type: .progress, ticketID: "FS-1", at: Self.started, unit: "nanhai", level: .district,
                queues: ["unit.nanhai"], replyTo: nil, carriesTicket: false, version: 1, sequence: 0,
                fields: JSONObject([("note", "n"), (key, "replaced")]))
            var output = SimulationOutput()
            output.events = [event]
            var encoder = SimulationEncoder(offsetSeconds: 28_800, verbose: true)
            var batch: [UInt8] = []
            var single: [UInt8] = []
            encoder.write(&output, into: &batch)
            encoder.write(.event(event), into: &single)
            var expected = JSON.serialize(.object(encoder.json(.event(event))))
            expected.append(0x0A)
            #expect(batch == expected, "\(key)")
            #expect(single == expected, "\(key)")
        }
    }
}
