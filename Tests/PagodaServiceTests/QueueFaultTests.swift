import Foundation
import Logging
import PagodaJSON
import PagodaRules
import PagodaService
import PagodaTesting
import PagodaTransport
import Testing

#if canImport(Glibc)
    import Glibc
#endif

// Nested in the serialized service suite: its serve processes would otherwise run beside the lifecycle
// tests, whose clocks are seconds long, on a machine with two cores.
extension ServiceTests {
    /// Operators' faults on the queues, performed on a real broker (a private node of this suite's own, port
    /// `PAGODA_QUEUE_TEST_PORT`, default 5905) with real `pagoda serve` processes and SQLite files: a
    /// destination queue deleted by hand while tickets arrive, a second instance on the same database, a
    /// second instance on its own database (a standby), and queues declared by an earlier version moved over.
    /// Every ticket id is counted in every destination queue.
    @Suite(.serialized) struct QueueFaultTests {
        static let broker = PrivateBroker(
            port: Int(ProcessInfo.processInfo.environment["PAGODA_QUEUE_TEST_PORT"] ?? "5905")!)
        static let started = Task<Void, any Error> { try await broker.start() }
        static let rules: RuleSet = {
            let files = try! RuleSetCompiler.readFiles(in: repositoryRoot.appendingPathComponent("rules").path)
            return RuleSetCompiler.compile(files).ruleSet!
        }()

        /// A prefix, a scratch directory, and the serve arguments for a database in it.
        struct Place {
            let prefix: String
            let names: Names
            let dir: URL

            init() throws {
                names = TestPrefixes.take("q", on: QueueFaultTests.broker)
                prefix = names.prefix
                dir = FileManager.default.temporaryDirectory.appendingPathComponent("pagoda-\(prefix)")
                try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
            }

            func serve(db: String = "pagoda.sqlite", log: String = "serve.log", extra: [String] = []) -> ServeProcess {
                ServeProcess(
                    arguments: [
                        "serve", "--rules", repositoryRoot.appendingPathComponent("rules").path, "--amqp-url",
                        QueueFaultTests.broker.url,
                        "--db", dir.appendingPathComponent(db).path, "--prefix", prefix, "--log-level", "info",
                    ] + extra,
                    logPath: dir.appendingPathComponent(log).path)
            }
        }

        /// A ticket received now, in 南海区, so every one goes to the same unit.
        static func ticket(_ id: String) -> [UInt8] {
            let now = RFC3339.format(Date(), offsetSeconds: 28800)
            return Array(
                #"{"id":"\#(id)","received_at":"\#(now)","channel":"hotline","kind":"complaint","text":"路灯坏了很久没人修","category":"city_management","region":{"district":"南海区"}}"#
                    .utf8)
        }

        /// Publishes to intake until confirmed and routed.
        static func publish(_ publisher: AMQPPublisher, _ names: Names, _ id: String, body: [UInt8]? = nil) async throws
        {
            let deadline = ContinuousClock.now + .seconds(60)
            let body = body ?? ticket(id)
            while true {
                let outcome = try await publisher.publish(
                    AMQPMessage(exchange: names.intakeExchange, routingKey: "", body: body, messageId: id))
                if outcome == .confirmed { return }
                guard ContinuousClock.now < deadline else {
                    throw TestFailure("publish of \(id) never confirmed: \(outcome)")
                }
                try await Task.sleep(for: .milliseconds(50))
            }
        }

        /// Ticket id -> how many `ticket.dispatched` messages a collector holds for it.
        static func dispatchCounts(_ c: QueueCollector) -> [String: Int] { dispatchCounts([c]) }

        /// Dispatch messages per ticket id across several collectors of one queue.
        static func dispatchCounts(_ collectors: [QueueCollector]) -> [String: Int] {
            var out: [String: Int] = [:]
            for d in collectors.flatMap(\.deliveries)
            where d.headers["x-pagoda-message-type"]?.stringValue == "ticket.dispatched" {
                if let id = d.headers["x-pagoda-ticket-id"]?.stringValue { out[id, default: 0] += 1 }
            }
            return out
        }

        /// A collector that never declares its queue: it consumes what serve declared, and after the queue is
        /// deleted it waits (reconnecting) until someone declares it again.
        static func collector(_ queue: String) throws -> QueueCollector {
            QueueCollector(configuration: try broker.configuration, queue: queue, topology: Topology())
        }

        static func intakePublisher(_ names: Names) throws -> AMQPPublisher {
            AMQPPublisher(
                configuration: try broker.configuration,
                topology: Topology(exchanges: [.init(name: names.intakeExchange, type: "fanout")]))
        }

        // MARK: part 2: a destination queue deleted by hand

        /// The unit's queue is deleted twice while tickets for it arrive: every ticket reaches it (once, or as a
        /// repeat of the same message when it was confirmed just before a deletion) and `pagoda.events` exactly
        /// once. The queue comes back one of two ways, both counted: the broker returns a publish for the missing
        /// queue and the relay declares it again, or (RabbitMQ 3.10, quorum queues) the broker closes the
        /// publishing connection when a publish meets the deletion, and the publisher reconnects and declares
        /// the topology again.
        @Test func deletedDestinationQueueLosesNothing() async throws {
            try await Self.started.value
            let place = try Place()
            let names = place.names
            guard
                case .success(let sample) = TicketContract.decode(
                    Self.ticket("PROBE"), isKnownCategory: Self.rules.isKnownCategory)
            else {
                Issue.record("the test ticket is invalid")
                return
            }
            let unitQueue = names.queue(Self.rules.route(sample).queue)
            let serve = place.serve()
            try serve.start()
            // A consumer of a quorum queue that is deleted may not be told (RabbitMQ 3.10 sends no basic.cancel
            // then) and may even stay attached to the queue declared again under the name, taking deliveries it
            // never passes on: as a unit's worker would be restarted, the collector of a deleted queue is closed
            // (what the broker holds for it goes back to the queue) and a fresh one joins; the counts are taken
            // across all of them.
            let unit = try Self.collector(unitQueue)
            var units = [unit]
            var open = unit
            let events = try Self.collector(names.eventsQueue)
            let publisher = try Self.intakePublisher(names)
            try await unit.consumer.waitUntilConnected(timeout: .seconds(90))
            try await events.consumer.waitUntilConnected(timeout: .seconds(90))

            // Three rounds of tickets published one by one with pauses. In the second and third the queue is deleted
            // once some of the round are through, and the round goes on until 60 more have been published after
            // the deletion returned (rabbitmqctl takes a while). Between rounds the test's consumer drains the
            // queue, so a deletion finds it (nearly) empty: what it does hold then is deleted by the operator, and
            // rabbitmqctl says how many.
            let sent = Locked<[String]>([])
            var destroyed = 0
            for r in 0..<3 {
                let deleted = Locked<Int?>(nil)
                let load = Task {
                    var k = 0
                    while k < 100 || (r > 0 && (deleted.value.map { sent.value.count < $0 + 60 } ?? true)) {
                        let id = "DEL-\(r)-\(k)"
                        try await Self.publish(publisher, names, id)
                        sent.withLock { $0.append(id) }
                        k += 1
                        try await Task.sleep(for: .milliseconds(10))
                    }
                }
                if r > 0 {
                    let before = sent.value.count
                    #expect(
                        await eventually(timeout: .seconds(120)) { Self.dispatchCounts(events).count >= before + 30 },
                        "\(serve.log.suffix(3000))")
                    let out = try await Self.broker.ctl("delete_queue", unitQueue)
                    destroyed += out.firstMatch(of: /deleted with ([0-9]+) ready messages/).flatMap { Int($0.1) } ?? 0
                    deleted.withLock { $0 = sent.value.count }
                    await open.close()
                    open = try Self.collector(unitQueue)
                    units.append(open)
                }
                try await load.value
                if r > 0 { try await open.consumer.waitUntilConnected(timeout: .seconds(90)) }
                let total = sent.value.count
                let collectors = units
                let drained = await eventually(timeout: .seconds(120)) {
                    Self.dispatchCounts(collectors).count >= total - destroyed
                }
                #expect(
                    drained,
                    "round \(r): the unit queue holds \(Self.dispatchCounts(collectors).count) of \(total)\n\(serve.log.suffix(3000))"
                )
            }
            let ids = sent.value
            let count = ids.count

            let collectors = units
            let all = await eventually(timeout: .seconds(180)) {
                Self.dispatchCounts(collectors).count >= count - destroyed && Self.dispatchCounts(events).count == count
            }
            let inUnit = Self.dispatchCounts(units)
            let inEvents = Self.dispatchCounts(events)
            #expect(
                all, "unit queue holds \(inUnit.count), events \(inEvents.count) of \(count)\n\(serve.log.suffix(3000))"
            )
            let missing = Set(ids).subtracting(inUnit.keys)
            #expect(
                missing.count <= destroyed,
                "missing from the unit queue: \(missing.sorted().prefix(10)); deleted by rabbitmqctl: \(destroyed)")
            #expect(Set(inUnit.keys).isSubset(of: Set(ids)))
            #expect(Set(inEvents.keys) == Set(ids))
            // Messages confirmed just before a deletion may have gone with the queue: the relay publishes them again,
            // so one can arrive twice, always as the same message (same id, same dispatch sequence), which a worker
            // drops. Never two dispatches of one ticket.
            var messageIDs: [String: Set<String>] = [:]
            for d in units.flatMap(\.deliveries)
            where d.headers["x-pagoda-message-type"]?.stringValue == "ticket.dispatched" {
                if let id = d.headers["x-pagoda-ticket-id"]?.stringValue {
                    messageIDs[id, default: []].insert(d.messageId ?? "")
                }
            }
            #expect(
                messageIDs.values.allSatisfy { $0.count == 1 },
                "dispatched twice: \(messageIDs.filter { $0.value.count > 1 }.keys.sorted().prefix(10))")
            let repeats = inUnit.values.reduce(0) { $0 + $1 - 1 }

            #expect(
                inEvents.values.allSatisfy { $0 == 1 },
                "twice in pagoda.events: \(inEvents.filter { $0.value > 1 }.keys.sorted().prefix(10))")
            let declaredAgain = serve.log.matches(of: /destination queue declared again/).count
            let reconnected = serve.log.matches(of: /publisher connection lost/).count
            #expect(declaredAgain + reconnected >= 2, "\(serve.log.suffix(3000))")
            if declaredAgain > 0 { #expect(serve.log.contains("destination queue missing")) }

            serve.signal(SIGTERM)
            #expect(await serve.wait() == 0)
            let redeclared = serve.log.firstMatch(of: /count\.queue_redeclared=([0-9]+)/).flatMap { Int($0.1) } ?? 0
            let returned = serve.log.firstMatch(of: /count\.returned=([0-9]+)/).flatMap { Int($0.1) } ?? 0
            #expect(redeclared == declaredAgain, "\(serve.log.suffix(2000))")
            if redeclared > 0 { #expect(returned >= 1) }
            if reconnected == 0 {
                // Only the returns brought the queue back: every repeat is a publish the relay sent again.
                let republished = serve.log.firstMatch(of: /count\.republished=([0-9]+)/).flatMap { Int($0.1) } ?? 0
                #expect(repeats <= republished, "repeats in the unit queue beyond the publishes sent again")
            }
            await open.close()
            await events.close()
            await publisher.close()
        }

        // MARK: part 3: a second instance

        /// A second serve on the same database refuses to start and names the process holding it; once the
        /// first has stopped, it starts.
        @Test func secondServeOnTheSameDatabaseRefusesToStart() async throws {
            try await Self.started.value
            let place = try Place()
            let first = place.serve(log: "first.log")
            try first.start()
            #expect(
                await eventually(timeout: .seconds(90)) { first.log.contains("serving") }, "\(first.log.suffix(2000))")
            let pid = try #require(first.pid)

            let second = place.serve(log: "second.log")
            try second.start()
            let status = await second.wait(timeout: .seconds(60))
            #expect(
                status != nil && status != 0, "the second serve must exit non-zero, got \(String(describing: status))")
            #expect(second.log.contains("locked by process \(pid)"), "\(second.log.suffix(2000))")
            #expect(second.log.contains("pagoda.sqlite.lock"))
            #expect(!second.log.contains("serving"), "the second serve must not start its services")
            let mode =
                try FileManager.default.attributesOfItem(
                    atPath: place.dir.appendingPathComponent("pagoda.sqlite.lock").path)[.posixPermissions] as? Int
            #expect(mode == 0o600)

            first.signal(SIGTERM)
            #expect(await first.wait() == 0)
            let third = place.serve(log: "third.log")
            try third.start()
            #expect(
                await eventually(timeout: .seconds(90)) { third.log.contains("serving") },
                "after the holder stopped: \(third.log.suffix(2000))")
            third.signal(SIGTERM)
            #expect(await third.wait() == 0)
        }

        /// Two serves with their own databases on one broker: one consumes, the other waits (single active
        /// consumer), so a ticket sent twice is dispatched once; when the active one is killed the standby
        /// takes over, and with the killed one back (its outbox relayed) no ticket is lost.
        @Test func standbyInstanceWaitsThenTakesOver() async throws {
            try await Self.started.value
            let place = try Place()
            let names = place.names
            let a = place.serve(db: "a.sqlite", log: "a.log", extra: ["--status-address", "127.0.0.1:0"])
            try a.start()
            #expect(
                await eventually(timeout: .seconds(90)) { a.log.contains("status endpoint listening") },
                "\(a.log.suffix(2000))")
            let b = place.serve(db: "b.sqlite", log: "b.log", extra: ["--status-address", "127.0.0.1:0"])
            try b.start()
            #expect(
                await eventually(timeout: .seconds(90)) { b.log.contains("status endpoint listening") },
                "\(b.log.suffix(2000))")
            let portA = try #require(
                a.log.firstMatch(of: /http\.port=([0-9]+)[^\n]*status endpoint listening/).flatMap { Int($0.1) })
            let portB = try #require(
                b.log.firstMatch(of: /http\.port=([0-9]+)[^\n]*status endpoint listening/).flatMap { Int($0.1) })
            let events = try Self.collector(names.eventsQueue)
            try await events.consumer.waitUntilConnected(timeout: .seconds(90))
            let publisher = try Self.intakePublisher(names)
            func dispatchedBy(_ port: Int) async -> Int? {
                guard let page = try? await httpGet(port: port, "/metrics").1 else { return nil }
                return page.firstMatch(of: /\npagoda_dispatched_total ([0-9]+)/).flatMap { Int($0.1) }
            }

            // A ticket sent again (after it was dispatched) is dispatched once: one instance has it in its inbox.
            try await Self.publish(publisher, names, "TWICE-1")
            #expect(await eventually(timeout: .seconds(60)) { Self.dispatchCounts(events)["TWICE-1"] == 1 })
            try await Self.publish(publisher, names, "TWICE-1")
            try await Self.publish(publisher, names, "TWICE-MARK")
            #expect(await eventually(timeout: .seconds(60)) { Self.dispatchCounts(events)["TWICE-MARK"] == 1 })
            try await Task.sleep(for: .milliseconds(300))  // a second dispatch of TWICE-1 would be out by now too
            #expect(Self.dispatchCounts(events)["TWICE-1"] == 1, "a re-sent ticket was dispatched twice")
            let (byA, byB) = (await dispatchedBy(portA) ?? -1, await dispatchedBy(portB) ?? -1)
            #expect(
                byA + byB == 2 && (byA == 0 || byB == 0), "one instance consumes, the other waits: a \(byA), b \(byB)")
            let (active, standby) = byA > 0 ? (a, b) : (b, a)
            let standbyPort = byA > 0 ? portB : portA

            // Under load, the active one is killed; the standby takes over.
            let count = 1000
            let ids = (0..<count).map { "SAC-\($0)" }
            let load = Task {
                try await withThrowingTaskGroup(of: Void.self) { group in
                    var it = ids.makeIterator()
                    for _ in 0..<16 {
                        if let id = it.next() { group.addTask { try await Self.publish(publisher, names, id) } }
                    }
                    while try await group.next() != nil {
                        if let id = it.next() { group.addTask { try await Self.publish(publisher, names, id) } }
                    }
                }
            }
            #expect(await eventually(timeout: .seconds(120)) { Self.dispatchCounts(events).count >= 2 + count / 4 })
            active.signal(SIGKILL)
            _ = await active.wait()
            try await load.value
            // The active one may have taken the whole load before it died: tickets sent after its death can
            // only be the standby's.
            let after = (0..<10).map { "SAC-AFTER-\($0)" }
            for id in after { try await Self.publish(publisher, names, id) }
            var tookOver = false
            let deadline = ContinuousClock.now + .seconds(120)
            while !tookOver && ContinuousClock.now < deadline {
                tookOver = (await dispatchedBy(standbyPort) ?? 0) > 0
                if !tookOver { try await Task.sleep(for: .milliseconds(200)) }
            }
            #expect(tookOver, "the standby never took over\n\(standby.log.suffix(2000))")
            // The killed instance comes back as the standby and relays what it had committed and not published.
            try active.start()
            // Started again (its log is appended to): stopped before it has set up its signal handlers, it would
            // die of SIGTERM below instead of shutting down.
            #expect(
                await eventually(timeout: .seconds(90)) { active.log.matches(of: /publisher connected/).count >= 2 },
                "\(active.log.suffix(2000))")
            let all = await eventually(timeout: .seconds(180)) {
                Set(ids + after).isSubset(of: Self.dispatchCounts(events).keys)
            }
            let seen = Self.dispatchCounts(events)
            #expect(
                all, "lost: \(Set(ids + after).subtracting(seen.keys).sorted().prefix(10))\n\(standby.log.suffix(2000))"
            )
            // Deliveries the killed instance had committed but not acknowledged come back to the standby, which has
            // its own database: those may be dispatched once by each, never more.
            #expect(seen.values.allSatisfy { $0 <= 2 })
            #expect(seen["TWICE-1"] == 1)
            for s in [a, b] {
                s.signal(SIGTERM)
                #expect(await s.wait() == 0, "\(s.log.suffix(2000))")
            }
            await events.close()
            await publisher.close()
        }

        /// Queues declared by an earlier version (intake and commands without a single active consumer, the
        /// events queue and a unit's queue as classic queues) holding messages: serve refuses to start and
        /// names them and `pagoda migrate-queues`, which moves every queue over keeping every message in order;
        /// then serve starts and dispatches every ticket that waited.
        @Test func migrateQueuesKeepsTheirMessages() async throws {
            try await Self.started.value
            let place = try Place()
            let names = place.names
            let config = try Self.broker.configuration
            let logger = Logger(label: "test")
            // The queues as an earlier version declared them: a unit's queue and the events queue classic, the
            // unit's holding messages that were dispatched before the upgrade.
            let unitQueue = names.queue("unit.nanhai.shishan")
            let waiting = (0..<20).map { Array("dispatched before the upgrade \($0)".utf8) }
            try await BlockingQueue(label: "test").run {
                try Topology(
                    exchanges: names.intakeExchanges + [.init(name: names.dispatchExchange, type: "topic")],
                    queues: [
                        .quorum(names.intakeQueue), .quorum(names.commandsQueue), .init(name: unitQueue),
                        .init(name: names.eventsQueue),
                    ],
                    bindings: names.singleConsumerQueues.flatMap(\.bindings) + [
                        .init(queue: unitQueue, exchange: names.dispatchExchange, routingKey: "unit.nanhai.shishan")
                    ]
                ).declare(configuration: config, logger: logger)
            }
            let dispatcher = AMQPPublisher(configuration: config, topology: Topology())
            for body in waiting {
                let outcome = try await dispatcher.publish(
                    AMQPMessage(exchange: names.dispatchExchange, routingKey: "unit.nanhai.shishan", body: body))
                #expect(outcome == .confirmed)
            }
            await dispatcher.close()
            let publisher = try Self.intakePublisher(names)
            let count = 300
            let ids = (0..<count).map { "MIG-\($0)" }
            let bodies = ids.map { Self.ticket($0) }
            for (id, body) in zip(ids, bodies) { try await Self.publish(publisher, names, id, body: body) }

            let refused = place.serve(log: "refused.log")
            try refused.start()
            let status = await refused.wait(timeout: .seconds(90))
            #expect(status != nil && status != 0, "\(refused.log.suffix(2000))")
            #expect(refused.log.contains("pagoda migrate-queues"), "\(refused.log.suffix(2000))")
            for q in [names.intakeQueue, names.commandsQueue, unitQueue, names.eventsQueue] {
                #expect(refused.log.contains(q), "serve names \(q)\n\(refused.log.suffix(2000))")
            }

            let migrateArguments = [
                ServeProcess.binary, "migrate-queues", "--amqp-url", Self.broker.url, "--prefix", place.prefix,
                "--rules", repositoryRoot.appendingPathComponent("rules").path,
            ]
            let migrate = try await runProcess(migrateArguments)
            #expect(migrate.status == 0, "\(migrate.output)")
            for expected in [
                "\(names.intakeQueue): declared again (quorum, single active consumer), \(count) messages kept",
                "\(names.commandsQueue): declared again (quorum, single active consumer), 0 messages kept",
                "\(unitQueue): declared again (quorum), \(waiting.count) messages kept",
                "\(names.eventsQueue): declared again (quorum), 0 messages kept",
                "\(names.rejectedQueue): quorum (nothing to move)",
            ] {
                #expect(migrate.output.contains(expected), "\(migrate.output)")
            }
            let again = try await runProcess(migrateArguments)
            #expect(again.status == 0, "\(again.output)")
            #expect(
                again.output.contains("\(names.intakeQueue): quorum, single active consumer (nothing to move)"),
                "\(again.output)")
            #expect(!again.output.contains("declared again"), "\(again.output)")
            let listed = try await Self.broker.ctl("list_queues", "name", "type", "messages", "arguments")
            #expect(!listed.contains(".migrating"), "the holding queues are deleted\n\(listed)")
            for q in [unitQueue, names.eventsQueue] {
                let row = listed.split(separator: "\n").first { $0.hasPrefix(q + "\t") }.map(String.init) ?? ""
                #expect(row.contains("quorum"), "\(q) is a quorum queue now\n\(listed)")
            }
            // The unit's waiting messages are there, in order (read without acknowledging).
            let unitPeek = AMQPConsumer(configuration: config, queue: unitQueue, topology: Topology(), prefetch: 100)
            let unitSeen = Locked<[Delivery]>([])
            let unitReader = Task { for await d in unitPeek.deliveries { unitSeen.withLock { $0.append(d) } } }
            #expect(await eventually(timeout: .seconds(60)) { unitSeen.value.count >= waiting.count })
            await unitPeek.close(timeout: .zero)
            await unitReader.value
            #expect(unitSeen.value.map(\.body) == waiting)
            // (Its message count is checked by reading the messages below: rabbitmqctl's figure for a quorum queue lags.)
            let line =
                listed.split(separator: "\n").first { $0.hasPrefix(names.intakeQueue + "\t") }.map(String.init) ?? ""
            #expect(line.contains("x-single-active-consumer"), "\(listed)")

            // The messages are the same, in the same order: read without acknowledging (they go back to the
            // queue when the consumer closes), before serve takes them.
            let peek = AMQPConsumer(
                configuration: config, queue: names.intakeQueue, topology: Topology(), prefetch: 1000)
            let seen = Locked<[Delivery]>([])
            let reader = Task { for await d in peek.deliveries { seen.withLock { $0.append(d) } } }
            #expect(await eventually(timeout: .seconds(60)) { seen.value.count >= count })
            await peek.close(timeout: .zero)
            await reader.value
            #expect(seen.value.map { $0.messageId ?? "" } == ids)
            #expect(seen.value.map(\.body) == bodies)
            let events = try Self.collector(names.eventsQueue)
            let serve = place.serve()
            try serve.start()
            try await events.consumer.waitUntilConnected(timeout: .seconds(90))
            #expect(
                await eventually(timeout: .seconds(120)) { Self.dispatchCounts(events).count == count },
                "\(serve.log.suffix(2000))")
            serve.signal(SIGTERM)
            #expect(await serve.wait() == 0)
            await events.close()
            await publisher.close()
        }
    }
}
