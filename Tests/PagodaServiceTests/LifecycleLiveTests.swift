import Foundation
import PagodaJSON
import PagodaRules
import PagodaService
import PagodaTesting
import PagodaTransport
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// The lifecycle on a real broker: the Foshan rules with every time limit cut to seconds, so a ticket
/// climbs the pagoda while the test watches.
extension ServiceTests {
    /// The Foshan rules with clocks of seconds (sign 3 s, contact 30 s, resolve 60 s...) and supervision
    /// reminders every 3 s.
    static let shortRules = rules(sign: "3s", name: "short")
    /// A sign-in clock long enough, on a loaded machine, for the service to dispatch and then stop, or take a
    /// worker's commands, before it runs out.
    static let roomyRules = rules(sign: "20s", name: "roomy")

    /// The example rules with clocks of seconds, written once per process into a directory of their own.
    static func rules(sign: String, name: String) -> String {
        let source = repositoryRoot.appendingPathComponent("rules")
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("pagoda-\(name)-rules-\(getpid())")
        try? FileManager.default.removeItem(at: dir)
        try! FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        let seconds = ["sign": sign, "contact": "30s", "onsite": "40s", "answer": "40s", "resolve": "60s"]
        for name in try! FileManager.default.contentsOfDirectory(atPath: source.path) where name.hasSuffix(".yaml") {
            var text = try! String(contentsOf: source.appendingPathComponent(name), encoding: .utf8)
            if name == "sla.yaml" {
                text = text.split(separator: "\n", omittingEmptySubsequences: false).map { line -> String in
                    guard line.contains("clocks: {") else { return String(line) }
                    var l = String(line)
                    for (clock, value) in seconds {
                        l = l.replacingOccurrences(
                            of: #"\b\#(clock): [0-9]+[a-z]+"#, with: "\(clock): \(value)", options: .regularExpression)
                    }
                    return l
                }.joined(separator: "\n")
            }
            if name == "escalation.yaml" {
                text = text.replacingOccurrences(
                    of: #"remind_every: [0-9]+[a-z]+"#, with: "remind_every: 3s", options: .regularExpression)
            }
            try! text.write(to: dir.appendingPathComponent(name), atomically: true, encoding: .utf8)
        }
        return dir.path
    }

    /// Collects every event (the events queue) of a world.
    static func events(_ w: World) throws -> QueueCollector {
        QueueCollector(
            configuration: try broker.configuration, queue: w.names.eventsQueue,
            topology: Topology(queues: [Names.publishedQueue(w.names.eventsQueue)]))
    }

    /// The events seen so far for one ticket, as JSON objects, in arrival order.
    static func events(_ c: QueueCollector, ticket: String) -> [JSONObject] {
        c.deliveries.compactMap { d in
            guard case .object(let o)? = try? JSON.parse(d.body) else { return nil }
            if o["ticket_id"] == .string(ticket) { return o }
            // The first dispatch message names the ticket only inside the ticket it carries.
            if case .object(let t)? = o["ticket"], t["id"] == .string(ticket), o["type"] == "ticket.dispatched" {
                return JSONObject([("event", "ticket.dispatched"), ("ticket_id", .string(ticket))])
            }
            return nil
        }
    }

    static func sample(_ id: String) throws -> [UInt8] {
        try #require(try samples().first { $0.0 == id }?.1)
    }

    /// The unit's row of `pagoda report --db --format json` on the world's database; an empty object (and
    /// an issue) when there is none. It does not throw, so the test goes on to stop its service.
    static func reportRow(_ w: World, unit: String, sourceLocation: Testing.SourceLocation = #_sourceLocation) async
        -> JSONObject
    {
        guard
            let r = try? await runProcess(
                [ServeProcess.binary, "report", "--db", w.db, "--format", "json"], separateStderr: true)
        else {
            Issue.record("pagoda report could not be run", sourceLocation: sourceLocation)
            return JSONObject()
        }
        #expect(r.status == 0, "\(r.stderr)", sourceLocation: sourceLocation)
        let units = (try? JSON.parse(Array(r.stdout.utf8)))?.objectValue?["units"]?.arrayValue ?? []
        guard let row = units.compactMap({ $0.objectValue }).first(where: { $0["unit"] == .string(unit) }) else {
            Issue.record("no \(unit) in \(r.stdout)", sourceLocation: sourceLocation)
            return JSONObject()
        }
        return row
    }

    static func command(_ fields: [(String, JSONValue)]) -> [UInt8] {
        JSON.serialize(.object(JSONObject(fields)))
    }

    @Test func nobodyActingClimbsThePagodaToSupervision() async throws {
        let w = try await World(rules: Self.shortRules)
        let events = try Self.events(w)
        let town = QueueCollector(
            configuration: try Self.broker.configuration, queue: w.names.queue("unit.shunde.beijiao"),
            topology: Topology(queues: [Names.publishedQueue(w.names.queue("unit.shunde.beijiao"))]))
        try await events.consumer.waitUntilConnected()
        let id = "FS-20260302-0012"  // urgent help for a village committee: shunde.beijiao.bijiang
        try await w.publish(try Self.sample(id), id: id)
        let supervised = await eventually(timeout: .seconds(90)) {
            Self.events(events, ticket: id).contains { $0["event"] == "ticket.supervised" }
        }
        #expect(
            supervised,
            "\(Self.events(events, ticket: id).map { $0["event"]?.stringValue ?? "?" })\n\(w.serve.log.suffix(3000))")
        let escalated = Self.events(events, ticket: id).filter { $0["event"] == "ticket.escalated" }
        #expect(escalated.map { $0["unit"]?.stringValue ?? "?" } == ["shunde.beijiao", "shunde", "city.supervision"])
        #expect(escalated.map { $0["level"]?.stringValue ?? "?" } == ["town", "district", "city"])
        #expect(
            escalated.map { $0["from_unit"]?.stringValue ?? "?" } == [
                "shunde.beijiao.bijiang", "shunde.beijiao", "shunde",
            ])
        // The town office got the ticket itself with the escalation.
        #expect(
            await eventually {
                town.deliveries.contains { d in
                    guard case .object(let o)? = try? JSON.parse(d.body) else { return false }
                    return o["event"] == "ticket.escalated" && o["ticket"]?.objectValue?["id"] == .string(id)
                }
            })
        // Each event is one publish, routed to the events queue and to every queue it concerns (the last
        // escalation to the supervision office and the district): each queue holds one copy, whose message
        // id is the event id.
        for c in [town, events] {
            let ids = c.deliveries.compactMap { d -> String? in
                guard case .object(let o)? = try? JSON.parse(d.body), let e = o["event_id"]?.stringValue else {
                    return nil
                }
                #expect(d.messageId == e)
                return e
            }
            #expect(!ids.isEmpty && Set(ids).count == ids.count, "\(ids)")
        }
        // At the top the reminders keep coming at the policy's interval.
        #expect(
            await eventually(timeout: .seconds(30)) {
                Self.events(events, ticket: id).contains {
                    $0["event"] == "ticket.reminder" && $0["supervision"] == .bool(true)
                }
            })
        let show = try await runProcess([ServeProcess.binary, "show", id, "--db", w.db])
        let timeline = show.output.split(separator: "\n").filter { !$0.contains(" message ") }
        #expect(timeline.filter { $0.contains("  ticket.escalated  ") }.count == 3, "\(show.output)")
        #expect(show.output.contains("supervised"))
        // In the report, the village committee and the town office each lost the ticket without a word.
        for lost in ["shunde.beijiao.bijiang", "shunde.beijiao"] {
            let row = await Self.reportRow(w, unit: lost)
            #expect(
                row["escalated_away"] == .number("1") && row["response_rate"] == .number("0.0000")
                    && row["held"] == .number("0"), "\(row)")
        }
        #expect(await Self.reportRow(w, unit: "city.supervision")["held"] == .number("1"))
        await town.close()
        await events.close()
        await w.stop()
    }

    /// A dispatch wakes the lifecycle loop: with the timer table looked at only every 10 minutes, a
    /// ticket whose sign-in deadline passed before it arrived still turns red at once.
    @Test func aTimerDueAtDispatchFiresWithoutWaitingForThePoll() async throws {
        let w = try await World(rules: Self.shortRules, serveArguments: ["--timer-poll", "600"])
        let events = try Self.events(w)
        try await events.consumer.waitUntilConnected()
        let id = "FS-20260302-0012"  // received 2026-03-02: every clock of the short rules ran out long ago
        try await w.publish(try Self.sample(id), id: id)
        let red = await eventually(timeout: .seconds(30)) {
            Self.events(events, ticket: id).contains { $0["event"] == "ticket.overdue" }
        }
        #expect(
            red,
            "\(Self.events(events, ticket: id).map { $0["event"]?.stringValue ?? "?" })\n\(w.serve.log.suffix(3000))")
        await events.close()
        await w.stop()
    }

    @Test func workerCommandsSignReplyAndCloseOnceEach() async throws {
        let w = try await World(rules: Self.roomyRules)
        let events = try Self.events(w)
        let callback = QueueCollector(
            configuration: try Self.broker.configuration, queue: w.names.callbackQueue,
            topology: Topology(queues: [Names.publishedQueue(w.names.callbackQueue)]))
        let replies = "\(w.names.prefix).test.replies"
        let refusals = QueueCollector(
            configuration: try Self.broker.configuration, queue: replies,
            topology: Topology(queues: [.init(name: replies)]))
        let commands = AMQPPublisher(
            configuration: try Self.broker.configuration,
            topology: Topology(exchanges: [.init(name: w.names.commandsExchange, type: "topic")]))
        try await events.consumer.waitUntilConnected()
        let id = "FS-20260302-0002"  // chancheng.zumiao (town)
        try await w.publish(try Self.sample(id), id: id)
        #expect(await eventually { w.dispatched()[id] != nil })
        func send(_ fields: [(String, JSONValue)]) async throws {
            var m = AMQPMessage(
                exchange: w.names.commandsExchange, routingKey: "cmd", body: Self.command(fields),
                messageId: fields[0].1.stringValue)
            m.properties.replyTo = replies
            #expect(try await commands.publish(m) == .confirmed)
        }
        let at = JSONValue.string(RFC3339.format(Date(), offsetSeconds: 28800))
        let sign: [(String, JSONValue)] = [
            ("command_id", "c-sign"), ("ticket_id", .string(id)), ("unit", "chancheng.zumiao"), ("type", "sign"),
            ("at", at),
        ]
        try await send(sign)
        try await send(sign)  // the same command id again: no second effect
        try await send([
            ("command_id", "c-foreign"), ("ticket_id", .string(id)), ("unit", "nanhai.shishan"), ("type", "sign"),
            ("at", at),
        ])
        try await send([
            ("command_id", "c-bad"), ("ticket_id", .string(id)), ("unit", "chancheng.zumiao"), ("type", "teleport"),
            ("at", at),
        ])
        try await send([
            ("command_id", "c-reply"), ("ticket_id", .string(id)), ("unit", "chancheng.zumiao"), ("type", "reply"),
            ("at", at),
            ("outcome", "resolved"), ("text", "已拆除违建鸽棚"),
        ])
        #expect(
            await eventually {
                callback.deliveries.contains { d in
                    guard case .object(let o)? = try? JSON.parse(d.body) else { return false }
                    return o["event"] == "ticket.callback_requested" && o["ticket_id"] == .string(id)
                }
            }, "\(w.serve.log.suffix(3000))")
        try await send([
            ("command_id", "c-callback"), ("ticket_id", .string(id)), ("unit", "triage"), ("type", "callback_result"),
            ("at", at),
            ("reached", true), ("resolved", true), ("satisfaction", "satisfied"),
        ])
        #expect(await eventually { Self.events(events, ticket: id).contains { $0["event"] == "ticket.closed" } })
        let seen = Self.events(events, ticket: id).map { $0["event"]?.stringValue ?? "?" }
        #expect(seen.filter { $0 == "ticket.signed" }.count == 1, "\(seen)")
        #expect(!seen.contains("ticket.escalated"), "\(seen)")
        // The refusals went to the events and to the reply-to queue, each with its reason.
        #expect(await eventually { refusals.count >= 2 })
        let codes = refusals.deliveries.compactMap { d -> String? in
            guard case .object(let o)? = try? JSON.parse(d.body), o["event"] == "command.rejected" else { return nil }
            return o["code"]?.stringValue
        }
        #expect(codes.contains("not_holder"), "\(codes)")
        #expect(codes.contains("enum"), "\(codes)")
        let show = try await runProcess([ServeProcess.binary, "show", id, "--db", w.db])
        #expect(show.output.contains("lifecycle: closed"), "\(show.output)")
        // The unit's report from the same database: signed and replied in time, a satisfied citizen.
        let unit = await Self.reportRow(w, unit: "chancheng.zumiao")
        for rate in ["response_rate", "completion_rate", "on_time_rate", "satisfaction_rate", "resolution_rate"] {
            #expect(unit[rate] == .number("1.0000"), "\(rate) in \(unit)")
        }
        #expect(unit["assigned"] == .number("1") && unit["held"] == .number("0"), "\(unit)")
        await commands.close()
        await refusals.close()
        await callback.close()
        await events.close()
        await w.stop()
    }

    @Test func timersDueWhileStoppedFireOnceAtStart() async throws {
        let w = try await World(rules: Self.roomyRules)
        let events = try Self.events(w)
        try await events.consumer.waitUntilConnected()
        let id = "FS-20260302-0001"  // nanhai.shishan (town), default policy: sign overdue climbs
        try await w.publish(try Self.sample(id), id: id)
        #expect(await eventually { w.dispatched()[id] != nil })
        w.serve.signal(SIGTERM)
        #expect(await w.serve.wait() == 0)
        // The sign-in clock runs out while the service is down.
        let signBy = try #require(
            w.dispatched()[id]?.body["decision"]?.objectValue?["sla"]?.objectValue?["deadlines"]?.objectValue?[
                "sign_by"]?.stringValue)
        let due = try #require(RFC3339.parse(signBy)).date
        try #require(Date() < due, "the service stopped only after the sign-in deadline \(signBy): nothing to test")
        let stoppedUntil = due.addingTimeInterval(1.5)
        #expect(await eventually { Date() > stoppedUntil })
        let restarted = Date()
        try w.serve.start()
        #expect(
            await eventually { Self.events(events, ticket: id).contains { $0["event"] == "ticket.escalated" } },
            "\(w.serve.log.suffix(3000))")
        let first = try #require(Self.events(events, ticket: id).first { $0["event"] == "ticket.escalated" })
        #expect(first["unit"] == "nanhai" && first["from_unit"] == "nanhai.shishan")
        let firedAt = try #require(RFC3339.parse(first["at"]?.stringValue ?? "")).date
        // Event times are written to the second.
        #expect(firedAt >= Date(timeIntervalSince1970: restarted.timeIntervalSince1970.rounded(.down)))
        // Exactly once: the next escalation (district -> city) comes from the district's fresh clock.
        #expect(
            await eventually { Self.events(events, ticket: id).filter { $0["event"] == "ticket.escalated" }.count >= 2 }
        )
        let escalations = Self.events(events, ticket: id).filter { $0["event"] == "ticket.escalated" }
        #expect(escalations.filter { $0["from_unit"] == "nanhai.shishan" }.count == 1)
        #expect(escalations.map { $0["unit"]?.stringValue ?? "?" }.prefix(2) == ["nanhai", "city.supervision"])
        await events.close()
        await w.stop()
    }

    /// A burst larger than one timer batch (500), all due while the service was down: at start the
    /// batches are computed while the previous one commits, and every ticket's first escalation is
    /// published exactly once.
    @Test func aBurstOfTimersLargerThanABatchFiresEachOnce() async throws {
        let w = try await World(rules: Self.shortRules)
        let events = try Self.events(w)
        try await events.consumer.waitUntilConnected()
        let template = String(decoding: try Self.sample("FS-20260302-0001"), as: UTF8.self)  // nanhai.shishan, town
        let ids = (0..<600).map { String(format: "FS-BURST-%04d", $0) }
        try await w.publishAll(
            ids.map { id in (id, Array(template.replacingOccurrences(of: "FS-20260302-0001", with: id).utf8)) })
        #expect(await eventually { w.dispatches.count >= ids.count }, "\(w.dispatches.count) dispatched")
        w.serve.signal(SIGTERM)
        #expect(await w.serve.wait() == 0)
        // Every sign-in clock runs out while the service is down.
        let dispatched = w.dispatched()
        let latest = try ids.map { id in
            let signBy = try #require(
                dispatched[id]?.body["decision"]?.objectValue?["sla"]?.objectValue?["deadlines"]?.objectValue?[
                    "sign_by"]?.stringValue)
            return try #require(RFC3339.parse(signBy)).date
        }.max()!
        #expect(await eventually { Date() > latest.addingTimeInterval(1) })
        try w.serve.start()
        // Read incrementally: the events keep coming (each ticket goes on climbing).
        var counts: [String: Int] = [:]
        var read = 0
        func firstEscalations() -> [String: Int] {
            let all = events.deliveries
            for d in all[read...] {
                guard case .object(let o)? = try? JSON.parse(d.body), o["event"] == "ticket.escalated",
                    o["from_unit"] == "nanhai.shishan",
                    case .string(let id)? = o["ticket_id"]
                else { continue }
                counts[id, default: 0] += 1
            }
            read = all.count
            return counts
        }
        #expect(
            await eventually { firstEscalations().count == ids.count },
            "\(firstEscalations().count) of \(ids.count) escalated")
        _ = firstEscalations()
        #expect(Set(counts.keys) == Set(ids))
        #expect(
            counts.values.allSatisfy { $0 == 1 },
            "escalated more than once: \(counts.filter { $0.value > 1 }.keys.sorted().prefix(5))")
        await events.close()
        await w.stop()
    }
}
