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

/// `pagoda serve` against a real RabbitMQ (a private node on port 5674, started once for this suite) and
/// real SQLite files. Each test has its own queue prefix and database. Tests run one at a time because
/// some of them close every connection or restart the broker. Each test's queues are deleted when it ends.
@Suite(.serialized, .deletesItsQueues) struct ServiceTests {
    static let broker = PrivateBroker(
        port: Int(ProcessInfo.processInfo.environment["PAGODA_SERVICE_TEST_PORT"] ?? "5674")!)
    static let started = Task<Void, any Error> { try await broker.start() }
    static let rules: RuleSet = {
        let files = try! RuleSetCompiler.readFiles(in: repositoryRoot.appendingPathComponent("rules").path)
        return RuleSetCompiler.compile(files).ruleSet!
    }()

    /// One test's world: a prefix, a database, a serve process, a collector of every dispatch.
    struct World {
        let names: Names
        let db: String
        let serve: ServeProcess
        let dispatches: QueueCollector
        let rejected: QueueCollector
        let publisher: AMQPPublisher

        /// `database`: where serve keeps its database (default: a fresh temporary directory).
        init(
            rules: String = repositoryRoot.appendingPathComponent("rules").path, database: String? = nil,
            serveArguments: [String] = []
        ) async throws {
            try await ServiceTests.started.value
            names = TestPrefixes.take("t", on: ServiceTests.broker)
            let prefix = names.prefix
            let dir = FileManager.default.temporaryDirectory.appendingPathComponent("pagoda-\(prefix)")
            try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
            db = database ?? dir.appendingPathComponent("pagoda.sqlite").path
            let config = try ServiceTests.broker.configuration
            // Every dispatch message also lands in a catch-all queue, so the test can count across all
            // destination queues at once.
            let all = "\(prefix).test.all"
            dispatches = QueueCollector(
                configuration: config, queue: all,
                topology: Topology(
                    exchanges: [.init(name: names.dispatchExchange, type: "topic")], queues: [.init(name: all)],
                    bindings: [.init(queue: all, exchange: names.dispatchExchange, routingKey: "#")]))
            rejected = QueueCollector(
                configuration: config, queue: names.rejectedQueue,
                topology: Topology(queues: [Names.publishedQueue(names.rejectedQueue)]))
            publisher = AMQPPublisher(
                configuration: config,
                topology: Topology(exchanges: [.init(name: names.intakeExchange, type: "fanout")]))
            try await dispatches.consumer.waitUntilConnected()
            try await rejected.consumer.waitUntilConnected()
            serve = ServeProcess(
                arguments: [
                    "serve", "--rules", rules,
                    "--amqp-url", ServiceTests.broker.url, "--db", db, "--prefix", prefix, "--log-level", "info",
                ] + serveArguments,
                logPath: dir.appendingPathComponent("serve.log").path)
            try serve.start()
        }

        /// Publishes to intake until confirmed and routed (the intake queue exists once serve has declared it).
        func publish(_ body: [UInt8], id: String?) async throws {
            let deadline = ContinuousClock.now + .seconds(60)
            while true {
                let outcome = try await publisher.publish(
                    AMQPMessage(exchange: names.intakeExchange, routingKey: "", body: body, messageId: id))
                if outcome == .confirmed { return }
                guard ContinuousClock.now < deadline else {
                    throw TestFailure("publish of \(id ?? "?") never confirmed: \(outcome)")
                }
                try await Task.sleep(for: .milliseconds(50))  // backoff before republishing an unconfirmed message
            }
        }

        func publishAll(_ bodies: [(String, [UInt8])], concurrency: Int = 64) async throws {
            try await withThrowingTaskGroup(of: Void.self) { group in
                var it = bodies.makeIterator()
                for _ in 0..<concurrency {
                    guard let (id, body) = it.next() else { break }
                    group.addTask { try await publish(body, id: id) }
                }
                while try await group.next() != nil {
                    if let (id, body) = it.next() { group.addTask { try await publish(body, id: id) } }
                }
            }
        }

        /// Dispatch messages seen so far: ticket id -> set of dispatch sequences, and routing keys.
        func dispatched() -> [String: (seqs: Set<Int64>, routingKey: String, body: JSONObject)] {
            var out: [String: (Set<Int64>, String, JSONObject)] = [:]
            for d in dispatches.deliveries {
                guard case .object(let o)? = try? JSON.parse(d.body), case .object(let t)? = o["ticket"],
                    case .string(let id)? = t["id"],
                    case .number(let seq)? = o["dispatch_seq"], let n = Int64(seq)
                else { continue }
                var entry = out[id] ?? ([], d.routingKey, o)
                entry.0.insert(n)
                out[id] = entry
            }
            return out.mapValues { (seqs: $0.0, routingKey: $0.1, body: $0.2) }
        }

        func stop() async {
            serve.signal(SIGTERM)
            _ = await serve.wait()
            await dispatches.close()
            await rejected.close()
            await publisher.close()
        }
    }

    /// Load tickets are received now, so their clocks are running rather than long overdue.
    static let now = RFC3339.format(Date(), offsetSeconds: 28800)

    static func ticket(_ n: Int, prefix: String = "LOAD") -> (String, [UInt8]) {
        let id = "\(prefix)-\(n)"
        let districts = ["南海区", "顺德区", "禅城区", "三水区", "高明区"]
        let body =
            #"{"id":"\#(id)","received_at":"\#(now)","channel":"hotline","kind":"complaint","text":"路灯坏了很久没人修","category":"city_management","region":{"district":"\#(districts[n % 5])"}}"#
        return (id, Array(body.utf8))
    }

    static func samples() throws -> [(String, [UInt8])] {
        let data = try #require(
            FileManager.default.contents(
                atPath: repositoryRoot.appendingPathComponent("examples/sample-tickets.jsonl").path))
        // Received now: the samples' own dates are long past, and their clocks would have run out.
        let now = RFC3339.format(Date(), offsetSeconds: 28800)
        return data.split(separator: UInt8(ascii: "\n")).map { line in
            let bytes = Array(
                String(decoding: line, as: UTF8.self).replacingOccurrences(
                    of: #""received_at": *"[^"]*""#, with: "\"received_at\":\"\(now)\"", options: .regularExpression
                ).utf8)
            guard case .object(let o)? = try? JSON.parse(bytes), case .string(let id)? = o["id"] else {
                return ("?", bytes)
            }
            return (id, bytes)
        }
    }

    @Test func samplesReachTheirUnitQueues() async throws {
        let w = try await World()
        let samples = try Self.samples()
        // One unit queue read directly, to see the message as a worker does.
        let shishan = QueueCollector(
            configuration: try Self.broker.configuration, queue: w.names.queue("unit.nanhai.shishan"),
            topology: Topology(queues: [Names.publishedQueue(w.names.queue("unit.nanhai.shishan"))]))
        try await w.publishAll(samples)
        let all = await eventually { w.dispatched().count == samples.count }
        #expect(all, "dispatched \(w.dispatched().count) of \(samples.count)\n\(w.serve.log.suffix(3000))")
        let seen = w.dispatched()
        for (id, body) in samples {
            guard case .success(let t) = TicketContract.decode(body, isKnownCategory: Self.rules.isKnownCategory) else {
                Issue.record("sample \(id) invalid")
                continue
            }
            let expected = Self.rules.route(t)
            #expect(
                seen[id]?.routingKey == expected.queue,
                "\(id): routed to \(seen[id]?.routingKey ?? "nothing"), expected \(expected.queue)")
            #expect(seen[id]?.seqs.count == 1)
            guard case .object(let decision)? = seen[id]?.body["decision"], case .object(let rule)? = decision["rule"]
            else {
                Issue.record("\(id): no decision")
                continue
            }
            #expect(rule["id"] == .string(expected.rule.id))
            #expect(decision["rules_hash"] == .string(Self.rules.hash))
        }
        #expect(await eventually { shishan.count == 1 })
        let m = try #require(shishan.deliveries.first)
        #expect(m.messageId?.hasPrefix("FS-20260302-0001/dispatch/") == true)
        #expect(m.properties.isPersistent)
        await shishan.close()
        await w.stop()
    }

    @Test func duplicatesAreDispatchedOnce() async throws {
        let w = try await World()
        let (id, body) = Self.ticket(1, prefix: "DUP")
        for _ in 0..<3 { try await w.publish(body, id: id) }
        let (other, otherBody) = Self.ticket(2, prefix: "DUP")
        try await w.publish(otherBody, id: other)
        #expect(await eventually { w.dispatched().count == 2 })
        // The marker ticket went through after the duplicates, so they were processed; none was dispatched.
        #expect(await eventually(timeout: .seconds(5)) { w.serve.log.contains("duplicate ticket acknowledged") })
        #expect(w.dispatched()[id]?.seqs.count == 1)
        #expect(w.dispatches.count == 2)
        await w.stop()
    }

    @Test func malformedMessagesAreRejectedWithTheirReason() async throws {
        let w = try await World()
        let valid =
            #"{"id":"OK-1","received_at":"2026-03-02T09:00:00+08:00","channel":"hotline","kind":"complaint","text":"路灯坏了","category":"city_management"}"#
        var deep = String(repeating: "[", count: 40) + String(repeating: "]", count: 40)
        deep = #"{"id":"DEEP","x":"# + deep + "}"
        let cases: [(String, [UInt8], String)] = [
            ("not-json", Array("hello".utf8), "syntax"),
            ("empty", [], "empty"),
            (
                "wrong-type",
                Array(
                    #"{"id":"W","received_at":"2026-03-02T09:00:00+08:00","channel":"hotline","kind":"complaint","text":42}"#
                        .utf8), "type"
            ),
            ("missing", Array(#"{"id":"M","channel":"hotline","kind":"complaint","text":"x"}"#.utf8), "required"),
            ("utf8", [0x7B, 0x22, 0x69, 0x64, 0x22, 0x3A, 0x22, 0xC3, 0x28, 0x22, 0x7D], "invalid_utf8"),
            (
                "large", Array(("{\"id\":\"L\",\"text\":\"" + String(repeating: "长", count: 100_000) + "\"}").utf8),
                "too_large"
            ),
            ("deep", Array(deep.utf8), "too_deep"),
            ("bad-id", Array(valid.replacingOccurrences(of: "OK-1", with: "bad id!").utf8), "format"),
        ]
        for (name, body, _) in cases {
            try await w.publish(body, id: "bad-\(name)")
            try await w.publish(
                Array(valid.replacingOccurrences(of: "OK-1", with: "OK-\(name)").utf8), id: "OK-\(name)")
        }
        #expect(
            await eventually { w.rejected.count == cases.count && w.dispatched().count == cases.count },
            "rejected \(w.rejected.count), dispatched \(w.dispatched().count)\n\(w.serve.log.suffix(2000))")
        let byID = Dictionary(
            w.rejected.deliveries.compactMap { d in
                d.headers["x-pagoda-original-message-id"]?.stringValue.map { ($0, d) }
            },
            uniquingKeysWith: { a, _ in a })
        for (name, body, code) in cases {
            let d = try #require(byID["bad-\(name)"], "no rejection for \(name)")
            if body.count > IntakeProcessor.rejectedBodyLimit {
                // Kept up to the size limit, and said so.
                #expect(d.body == Array(body.prefix(IntakeProcessor.rejectedBodyLimit)), "\(name): cut at the limit")
                #expect(d.headers["x-pagoda-body-truncated"]?.stringValue == String(body.count))
            } else {
                #expect(d.body == body, "\(name): the rejected body must be the original, byte for byte")
                #expect(d.headers["x-pagoda-body-truncated"] == nil)
            }
            #expect(d.headers["x-pagoda-error-code"]?.stringValue == code, "\(name): \(d.headers)")
            #expect(d.headers["x-pagoda-error-reason"]?.stringValue?.isEmpty == false)
        }
        await w.stop()
    }

    /// Loads the broker while `disrupt` runs, then checks every ticket was dispatched exactly once.
    func underLoad(count: Int, prefix: String, _ disrupt: @escaping @Sendable (World) async throws -> Void) async throws
    {
        let w = try await World()
        let tickets = (0..<count).map { Self.ticket($0, prefix: prefix) }
        async let load: Void = w.publishAll(tickets, concurrency: 32)
        _ = await eventually { w.dispatched().count >= count / 4 }
        try await disrupt(w)
        try await load
        let done = await eventually(timeout: .seconds(120)) { w.dispatched().count == count }
        let seen = w.dispatched()
        #expect(done, "dispatched \(seen.count) of \(count)\n\(w.serve.log.suffix(3000))")
        let twice = seen.filter { $0.value.seqs.count != 1 }
        #expect(twice.isEmpty, "tickets dispatched more than once: \(twice.keys.sorted().prefix(10))")
        await w.stop()
    }

    @Test func closingAllConnectionsLosesNothing() async throws {
        try await underLoad(count: 2000, prefix: "CLOSE") { _ in
            try await Self.broker.ctl("close_all_connections", "test: closing every connection")
            try await Task.sleep(for: .milliseconds(300))  // let traffic resume between the two closures
            try await Self.broker.ctl("close_all_connections", "test: and again")
        }
    }

    @Test func brokerRestartLosesNothing() async throws {
        try await underLoad(count: 2000, prefix: "RESTART") { _ in
            try await Self.broker.stop()
            try await Self.broker.start()
        }
    }

    @Test func killedServiceResumesWithoutLossOrDoubleDispatch() async throws {
        try await underLoad(count: 3000, prefix: "KILL") { w in
            w.serve.signal(SIGKILL)
            _ = await w.serve.wait()
            try w.serve.start()
        }
    }

    @Test func gracefulShutdownExitsZero() async throws {
        let w = try await World()
        try await w.publishAll((0..<50).map { Self.ticket($0, prefix: "TERM") })
        #expect(await eventually { w.dispatched().count == 50 })
        w.serve.signal(SIGTERM)
        #expect(await w.serve.wait() == 0, "\(w.serve.log.suffix(2000))")
        #expect(w.serve.log.contains("stopped"))
        await w.stop()
    }
}

/// The tools without a broker.
@Suite struct OfflineToolTests {
    /// `pagoda publish` gives up after --connect-timeout with a message naming the broker, instead of
    /// retrying forever, and publishes nothing.
    @Test func publishGivesUpWhenTheBrokerCannotBeReached() async throws {
        let clock = ContinuousClock()
        let started = clock.now
        let result = try await runProcess([
            ServeProcess.binary, "publish", "--amqp-url", "amqp://guest:guest@127.0.0.1:1/", "--connect-timeout", "1",
            repositoryRoot.appendingPathComponent("examples/sample-tickets.jsonl").path,
        ])
        #expect(result.status == 1)
        #expect(result.output.contains("cannot connect to amqp://127.0.0.1:1/"), "\(result.output)")
        #expect(result.output.contains("nothing was published"))
        // It gave up instead of retrying forever. The bound is loose: it includes starting the process and
        // resuming this test on a cooperative pool that the suites running beside it keep busy.
        #expect(clock.now - started < .seconds(120))
    }
}
