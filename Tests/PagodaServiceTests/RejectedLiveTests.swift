import Foundation
import PagodaJSON
import PagodaRules
import PagodaService
import PagodaStore
import PagodaTesting
import PagodaTransport
import Testing

/// Degraded tickets and the way back for rejected ones, through the real broker, `pagoda serve` and
/// `pagoda rejected` on the service's SQLite file. Part of the (serialized) service suite: it shares its
/// broker, which other tests of the suite restart.
extension ServiceTests {
    static func body(_ fields: String, id: String) -> [UInt8] {
        Array(#"{"id":"\#(id)","received_at":"\#(now)","channel":"hotline","kind":"complaint"\#(fields)}"#.utf8)
    }

    /// A ticket with malformed optional fields is dispatched, routed without them, with its warnings on the
    /// decision and in a header; a ticket without its text lands in pagoda.rejected. Neither the warning,
    /// the header nor the rejection's reason (header and database) holds the caller's phone unmasked.
    @Test func degradedTicketsAreDispatchedWithTheirWarnings() async throws {
        let w = try await World(serveArguments: ["--status-address", "127.0.0.1:0"])
        let phone = "138-1234-567x"
        let degraded = Self.body(
            #","text":"河涌有污水，气味很大","category":"no_such","#
                + #""region":{"district":"南海区","code":"44060"},"#
                + #""caller":{"name":"王女士","phone":"\#(phone)"},"#
                + #""enterprise":{"credit_code":"91440101190474411O"}"#,
            id: "DEG-1")
        let refused = Self.body(#","caller":{"phone":"\#(phone)"},"category":"Bad""#, id: "DEG-2")
        try await w.publish(degraded, id: "DEG-1")
        try await w.publish(refused, id: "DEG-2")
        #expect(
            await eventually { w.dispatched()["DEG-1"] != nil && w.rejected.count == 1 },
            "dispatched \(w.dispatched().keys.sorted()), rejected \(w.rejected.count)\n\(w.serve.log.suffix(2000))")

        // The dispatch: routed as the rules route the ticket without those fields, warnings in header and decision.
        let d = try #require(w.dispatches.deliveries.first { $0.messageId?.hasPrefix("DEG-1/dispatch/") == true })
        let decoded = TicketContract.decode(degraded, isKnownCategory: Self.rules.isKnownCategory)
        guard case .success(let ticket) = decoded else {
            Issue.record("the degraded ticket is not accepted by the contract")
            return
        }
        let expected = Self.rules.route(ticket)
        #expect(d.routingKey == expected.queue)
        #expect(expected.category == "living_environment.water", "the category is classified from the text")
        let header = try #require(d.headers["x-pagoda-warnings"]?.stringValue)
        let paths = ["category", "enterprise.credit_code", "caller.phone", "region.code"]
        guard case .array(let warnings)? = try? JSON.parse(Array(header.utf8)) else {
            Issue.record("header \(header)")
            return
        }
        #expect(warnings.compactMap { $0.objectValue?["path"]?.stringValue } == paths)
        #expect(
            warnings.compactMap { $0.objectValue?["code"]?.stringValue }
                == ["unknown_category", "format", "format", "format"])
        #expect(!header.contains(phone) && header.contains("********67"))
        guard case .object(let message)? = try? JSON.parse(d.body), case .object(let decision)? = message["decision"],
            case .array(let onDecision)? = decision["ticket_warnings"]
        else {
            Issue.record("no ticket_warnings")
            return
        }
        #expect(onDecision == warnings)
        #expect(
            message["ticket"].map { JSON.serialize($0) } == JSON.serialize(try JSON.parse(degraded)),
            "the ticket goes out as received")

        // The rejection: the required field, the phone masked in every header and in the database.
        let r = try #require(w.rejected.deliveries.first)
        #expect(r.body == refused)
        #expect(r.headers["x-pagoda-error-code"]?.stringValue == "required")
        #expect(r.headers["x-pagoda-error-path"]?.stringValue == "text")
        #expect(r.headers["x-pagoda-error-reason"]?.stringValue == "text: is required")
        let errors = try #require(r.headers["x-pagoda-errors"]?.stringValue)
        #expect(errors.contains("caller.phone") && errors.contains("********67"), "\(errors)")
        #expect(!errors.contains(phone))
        for (_, value) in r.headers { #expect(value.stringValue?.contains(phone) != true) }
        let store = try DispatchStore(StoreConfiguration(path: w.db))
        let stored = try #require(try await store.rejections().first)
        #expect(stored.reason == "text: is required")
        #expect(stored.issues.map(\.path) == ["text", "category", "caller.phone"])
        #expect(!stored.issues.contains { $0.message.contains(phone) })
        #expect(!w.serve.log.contains(phone))

        // The metric: one count per field and code.
        let port = try #require(
            w.serve.log.firstMatch(of: /http\.port=([0-9]+)[^\n]*status endpoint listening/).flatMap { Int($0.1) })
        let lines = [
            #"pagoda_intake_warnings_total{field="caller.phone",code="format"} 1"#,
            #"pagoda_intake_warnings_total{field="category",code="unknown_category"} 1"#,
            #"pagoda_intake_warnings_total{field="region.code",code="format"} 1"#,
        ]
        var page = ""
        let deadline = ContinuousClock.now + .seconds(30)
        while ContinuousClock.now < deadline {
            page = try await httpGet(port: port, "/metrics").1
            if lines.allSatisfy(page.contains) { break }
            try await Task.sleep(for: .milliseconds(200))
        }
        for line in lines { #expect(page.contains(line), "no '\(line)' in\n\(page)") }
        await w.stop()
    }

    /// `pagoda rejected`: list and show (masked), resubmit a fixed body through the broker (dispatched),
    /// resubmit a body unchanged (rejected again, as a new rejection), drop with a reason; every action
    /// recorded with who and when, and none taken twice.
    @Test func rejectedMessagesHaveAWayBack() async throws {
        let w = try await World()
        let phone = "13912345678"
        let missingText = Self.body(#","caller":{"name":"李先生","phone":"\#(phone)"}"#, id: "RS-1")
        let garbage = Array("not a ticket, call 13912345678".utf8)
        let badID = Self.body(#","text":"路灯坏了""#, id: "bad id")
        try await w.publish(missingText, id: "m-1")
        try await w.publish(garbage, id: "m-2")
        try await w.publish(badID, id: "m-3")
        #expect(await eventually { w.rejected.count == 3 }, "\(w.serve.log.suffix(2000))")
        let store = try DispatchStore(StoreConfiguration(path: w.db))
        let recorded = try await store.rejections()
        let ids = Dictionary(uniqueKeysWithValues: recorded.compactMap { e in e.amqpMessageID.map { ($0, e.id) } })
        let (a, b, c) = (try #require(ids["m-1"]), try #require(ids["m-2"]), try #require(ids["m-3"]))

        func pagoda(_ args: [String]) async throws -> (status: Int32, stdout: String, stderr: String) {
            try await runProcess([ServeProcess.binary, "rejected"] + args + ["--db", w.db], separateStderr: true)
        }
        let broker = ["--amqp-url", Self.broker.url, "--prefix", w.names.prefix]

        // list and show mask phone numbers unless asked not to.
        let list = try await pagoda(["list"])
        #expect(list.status == 0 && list.stdout.split(separator: "\n").count == 3, "\(list)")
        #expect(list.stdout.contains("\(a)  ") && list.stdout.contains("  open  required  text: is required"))
        let show = try await pagoda(["show", String(b)])
        #expect(show.status == 0 && show.stdout.contains("syntax"), "\(show)")
        #expect(show.stdout.contains("not a ticket, call 139****5678"), "\(show)")
        #expect(!show.stdout.contains(phone))
        let shown = try await pagoda(["show", String(a)])
        #expect(shown.stdout.contains(#""phone":"139****5678""#) && !shown.stdout.contains(phone), "\(shown)")
        #expect(try await pagoda(["show", String(a), "--unmasked"]).stdout.contains(phone))
        #expect(try await pagoda(["show", String(a), "--raw"]).stdout == String(decoding: missingText, as: UTF8.self))
        #expect(try await pagoda(["show", "999999"]).status == 1)

        // Resubmit a fixed body: it goes through intake and is dispatched.
        let dir = URL(fileURLWithPath: w.db).deletingLastPathComponent()
        let fixed = dir.appendingPathComponent("fixed.json")
        let fixedBody = Self.body(#","text":"请联系我，路灯坏了","caller":{"name":"李先生","phone":"\#(phone)"}"#, id: "RS-1")
        try Data(fixedBody).write(to: fixed)
        let resubmitted = try await pagoda(
            ["resubmit", String(a), "--body", fixed.path, "--by", "alice", "--reason", "text restored"] + broker)
        #expect(resubmitted.status == 0, "\(resubmitted)")
        #expect(await eventually { w.dispatched()["RS-1"] != nil }, "\(w.serve.log.suffix(2000))")
        let again = try await pagoda(["resubmit", String(a), "--by", "bob"] + broker)
        #expect(again.status == 1 && again.stderr.contains("resubmitted by alice"), "\(again)")

        // Resubmit unchanged: validated again, rejected again as a new rejection linked by its message id.
        #expect(try await pagoda(["resubmit", String(c), "--by", "carol"] + broker).status == 0)
        #expect(await eventually { w.rejected.count == 4 }, "\(w.serve.log.suffix(2000))")
        let entryC = try #require(try store.rejection(id: c))
        let messageID = try #require(entryC.action?.messageID)
        #expect(entryC.status == .resubmitted && entryC.action?.actor == "carol" && entryC.action?.body == badID)
        let anew = try #require(try await store.rejections().first { $0.amqpMessageID == messageID })
        #expect(anew.status == .open && anew.body == badID && anew.code == "format")

        // Drop needs a reason and records it; nothing is removed.
        #expect(try await pagoda(["drop", String(b), "--by", "dave"]).status != 0)
        let reason = "not a ticket: test traffic, caller 13812345678 says so"
        let dropped = try await pagoda(["drop", String(b), "--reason", reason, "--by", "dave"])
        #expect(dropped.status == 0, "\(dropped)")
        #expect(try await pagoda(["drop", String(b), "--reason", "twice", "--by", "dave"]).status == 1)
        let entryB = try #require(try store.rejection(id: b))
        #expect(entryB.status == .dropped && entryB.body == garbage)
        #expect(entryB.action?.reason == reason)
        // The reason is shown as the body is: its phone numbers masked unless asked.
        let shownB = try await pagoda(["show", String(b)])
        #expect(shownB.stdout.contains("caller 138****5678 says so") && !shownB.stdout.contains("13812345678"))
        #expect(try await pagoda(["show", String(b), "--unmasked"]).stdout.contains("13812345678"))

        let open = try await pagoda(["list"])
        #expect(open.stdout.split(separator: "\n").count == 1 && open.stdout.hasPrefix("\(anew.id)  "), "\(open)")
        let all = try await pagoda(["list", "--status", "all"])
        #expect(all.stdout.split(separator: "\n").count == 4)
        #expect(all.stdout.contains("resubmitted  required") && all.stdout.contains("(resubmitted by alice"))
        #expect(all.stdout.contains("dropped  syntax") && all.stdout.contains("(dropped by dave"))
        let entryA = try #require(try store.rejection(id: a))
        #expect(entryA.action?.body == fixedBody && entryA.action?.reason == "text restored")
        await w.stop()
    }
}

/// The intake processor's rejections and the desk's operations, without a broker (a real SQLite file).
@Suite struct RejectionRecordTests {
    static func tempDB() throws -> String {
        let dir = FileManager.default.temporaryDirectory
            .appendingPathComponent("pagoda-desk-\(UUID().uuidString.prefix(8))")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        return dir.appendingPathComponent("pagoda.sqlite").path
    }

    @Test func aRejectionMasksTheCallersPhoneInItsReasonAndHeaders() async throws {
        let processor = IntakeProcessor(ruleSet: ServiceTests.rules, names: Names())
        let phone = "+86 139-1234-5678 转 2"
        let body = Array(
            (#"{"id":"P-1","received_at":"2026-03-02T09:00:00+08:00","channel":"fax","kind":"complaint","#
                + #""text":"x","caller":{"phone":"\#(phone)"}}"#).utf8)
        guard case .rejection(let r) = processor.process(body: body, messageID: "m-1", now: Date()) else {
            Issue.record("not rejected")
            return
        }
        #expect(r.code == "enum" && r.reason.hasPrefix("channel: expected one of"))
        let errors = try #require(r.message.headers["x-pagoda-errors"])
        #expect(
            errors.contains(
                #"caller.phone: expected digits with an optional leading '+', spaces and hyphens, "#
                    + #"got \"************82\" (masked)"#), "\(errors)")
        for (_, value) in r.message.headers { #expect(!value.contains(phone) && !value.contains("13912345678")) }
        #expect(r.body == body, "the body itself is kept byte for byte")
        let store = try DispatchStore(StoreConfiguration(path: try Self.tempDB()))
        _ = try await store.recordDispatches([.rejection(r)])
        let stored = try #require(try await store.rejections().first)
        #expect(stored.issues.map(\.path) == ["channel", "caller.phone"])
        #expect(!stored.issues.contains { $0.message.contains(phone) })
    }

    @Test func aResubmissionIsRecordedOnlyOnceConfirmed() async throws {
        let store = try DispatchStore(StoreConfiguration(path: try Self.tempDB()))
        let processor = IntakeProcessor(ruleSet: ServiceTests.rules, names: Names(prefix: "p"))
        _ = try await store.recordDispatches([
            processor.process(body: Array("garbage".utf8), messageID: "m-1", now: Date())
        ])
        let id = try #require(try await store.rejections().first?.id)
        let desk = RejectionDesk(store: store, names: Names(prefix: "p"))

        for outcome in [PublishOutcome.nacked, .outcomeUnknown, .returned(code: 312, text: "NO_ROUTE")] {
            let e = await #expect(throws: RejectionDesk.Failure.self) {
                try await desk.resubmit(id: id, body: nil, by: "ops") { _ in outcome }
            }
            #expect(e?.code == .notConfirmed)
            #expect(try store.rejection(id: id)?.status == .open)
        }
        let empty = await #expect(throws: RejectionDesk.Failure.self) {
            try await desk.resubmit(id: id, body: [], by: "ops") { _ in .confirmed }
        }
        #expect(empty?.code == .emptyBody)
        let unknown = await #expect(throws: RejectionDesk.Failure.self) {
            try await desk.resubmit(id: 99, body: nil, by: "ops") { _ in .confirmed }
        }
        #expect(unknown?.code == .unknownRejection)

        var sent: [AMQPMessage] = []
        let done = try await desk.resubmit(id: id, body: Array("fixed".utf8), by: "ops", reason: "fixed by hand") { m in
            sent.append(m)
            return .confirmed
        }
        let m = try #require(sent.first)
        #expect(sent.count == 1 && m.exchange == "p.intake" && m.body == Array("fixed".utf8))
        #expect(m.mandatory && m.properties.isPersistent)
        #expect(m.messageId == done.action?.messageID && m.messageId.hasPrefix("resubmit/\(id)/"))
        #expect(m.properties.headers["x-pagoda-resubmitted-from"]?.stringValue == String(id))
        #expect(m.properties.headers["x-pagoda-resubmitted-by"]?.stringValue == "ops")
        #expect(done.status == .resubmitted && done.action?.reason == "fixed by hand")
        #expect(done.body == Array("garbage".utf8))

        let again = await #expect(throws: RejectionDesk.Failure.self) {
            try await desk.drop(id: id, by: "ops", reason: "late")
        }
        #expect(again?.code == .notOpen && again?.message.contains("resubmitted by ops") == true)
    }
}
