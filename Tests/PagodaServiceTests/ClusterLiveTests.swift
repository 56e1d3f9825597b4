import Foundation
import PagodaPostgres
import PagodaRules
import PagodaService
import PagodaTesting
import PagodaTransport
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// The cluster's first port (`PAGODA_CLUSTER_PORT`): nodes on it and the two above, PostgreSQL on PORT+3.
private let clusterPort = ProcessInfo.processInfo.environment["PAGODA_CLUSTER_PORT"].flatMap { Int($0) }

/// `pagoda serve` on a three-node RabbitMQ cluster and PostgreSQL, started by ops/test-cluster.sh
/// (`ops/cluster.sh start DIR PORT`; the suite runs only when `PAGODA_CLUSTER_PORT` is set, and finds the
/// cluster's directory in `PAGODA_CLUSTER_DIR`, default `.build/cluster-PORT`).
@Suite(.serialized, .deletesItsQueues, .enabled(if: clusterPort != nil))
struct ClusterLiveTests {
    static var port: Int? { clusterPort }
    static var directory: String {
        ProcessInfo.processInfo.environment["PAGODA_CLUSTER_DIR"]
            ?? repositoryRoot.appendingPathComponent(".build/cluster-\(port ?? 0)").path
    }
    /// Node `n` (1...3) as a broker of its own, to stop, start and ask with rabbitmqctl.
    static func node(_ n: Int) -> PrivateBroker {
        PrivateBroker(port: (port ?? 0) + n - 1, directory: "\(directory)/node-\(n)")
    }
    static func configuration(_ nodes: [Int]) throws -> AMQPConfiguration {
        var c = try AMQPConfiguration(urls: nodes.map { node($0).url })
        c.connectionName = "pagoda-tests"
        return c
    }

    /// One of the three broker nodes, the one serve is connected to, is stopped while 5,000 tickets are
    /// published with confirms: serve moves to another node, and every ticket reaches its unit's queue
    /// with one message id (a repeat of the same message after a reconnection is allowed, a second
    /// dispatch is not), and the database holds one dispatch sequence per ticket.
    @Test func aBrokerNodeStoppedUnderLoadLosesAndDoublesNothing() async throws {
        let count = Int(ProcessInfo.processInfo.environment["PAGODA_CLUSTER_TICKETS"] ?? "5000")!
        let names = TestPrefixes.take("c", on: Self.node(3))
        let database = try await TestPostgres.createDatabase()
        let pgURL = "postgres://\(database.username)@\(database.host):\(database.port)/\(database.database)"
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("pagoda-\(names.prefix)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)

        // Tickets of five districts: they go to several units' queues, each read on the nodes that stay.
        let tickets = (0..<count).map { ServiceTests.ticket($0, prefix: "CLU-\(names.prefix)") }
        var queues: Set<String> = []
        for (_, body) in tickets.prefix(10) {
            guard
                case .success(let t) = TicketContract.decode(body, isKnownCategory: ServiceTests.rules.isKnownCategory)
            else {
                Issue.record("the test ticket is invalid")
                return
            }
            queues.insert(names.queue(ServiceTests.rules.route(t).queue))
        }
        let readers = try queues.sorted().map { q in
            QueueCollector(
                configuration: try Self.configuration([3, 2]), queue: q, topology: Topology(queues: [.quorum(q)]))
        }
        for r in readers { try await r.consumer.waitUntilConnected(timeout: .seconds(120)) }

        // serve lists node 1 first, so it connects there: that is the node stopped.
        let serve = ServeProcess(
            arguments: [
                "serve", "--rules", repositoryRoot.appendingPathComponent("rules").path,
                "--amqp-url", Self.node(1).url, "--amqp-url", Self.node(2).url, "--amqp-url", Self.node(3).url,
                "--db", pgURL, "--prefix", names.prefix, "--log-level", "info", "--console-address", "none",
            ],
            logPath: dir.appendingPathComponent("serve.log").path)
        try serve.start()
        let publisher = AMQPPublisher(
            configuration: try Self.configuration([2, 3]),
            topology: Topology(exchanges: [.init(name: names.intakeExchange, type: "fanout")]))
        let nodeOne = "127.0.0.1:\(Self.node(1).port)"
        #expect(
            await eventually(timeout: .seconds(120)) { serve.log.contains("amqp.node=\(nodeOne)") },
            "serve connects to node 1 first\n\(serve.log.suffix(3000))")

        let confirmed = Locked(0)
        let stopped = Task {
            _ = await eventually(timeout: .seconds(600)) { confirmed.value >= count * 3 / 10 }
            try await Self.node(1).stop()
        }
        try await withThrowingTaskGroup(of: Void.self) { group in
            var it = tickets.makeIterator()
            func publish(_ id: String, _ body: [UInt8]) async throws {
                let deadline = ContinuousClock.now + .seconds(180)
                while try await publisher.publish(
                    AMQPMessage(exchange: names.intakeExchange, routingKey: "", body: body, messageId: id))
                    != .confirmed
                {
                    guard ContinuousClock.now < deadline else { throw TestFailure("publish of \(id) never confirmed") }
                    try await Task.sleep(for: .milliseconds(50))  // backoff before publishing an unconfirmed one again
                }
                confirmed.withLock { $0 += 1 }
            }
            for _ in 0..<32 {
                guard let (id, body) = it.next() else { break }
                group.addTask { try await publish(id, body) }
            }
            while try await group.next() != nil {
                if let (id, body) = it.next() { group.addTask { try await publish(id, body) } }
            }
        }
        try await stopped.value

        // Every ticket reaches a unit queue.
        func dispatched() -> [String: (ids: Set<String>, seqs: Set<String>, copies: Int)] {
            var out: [String: (ids: Set<String>, seqs: Set<String>, copies: Int)] = [:]
            for d in readers.flatMap(\.deliveries)
            where d.headers["x-pagoda-message-type"]?.stringValue == "ticket.dispatched" {
                guard let ticket = d.headers["x-pagoda-ticket-id"]?.stringValue else { continue }
                var e = out[ticket] ?? ([], [], 0)
                e.ids.insert(d.messageId ?? "")
                e.seqs.insert(d.headers["x-pagoda-dispatch-seq"]?.stringValue ?? "")
                e.copies += 1
                out[ticket] = e
            }
            return out
        }
        let all = await eventually(timeout: .seconds(300)) { dispatched().count >= count }
        let seen = dispatched()
        let ids = Set(tickets.map(\.0))
        #expect(
            all, "lost: \(ids.subtracting(seen.keys).sorted().prefix(10)) of \(count)\n\(serve.log.suffix(3000))")
        #expect(Set(seen.keys).isSubset(of: ids))
        let twice = seen.filter { $0.value.ids.count > 1 || $0.value.seqs.count > 1 }
        #expect(twice.isEmpty, "dispatched twice: \(twice.keys.sorted().prefix(10))")
        let repeats = seen.values.reduce(0) { $0 + $1.copies - 1 }
        print("cluster test: \(count) tickets, \(repeats) repeated deliveries of the same message")

        // serve went on through another node.
        let after = serve.log.split(separator: "\n").filter {
            $0.contains("amqp.node=127.0.0.1:\(Self.node(2).port)")
                || $0.contains("amqp.node=127.0.0.1:\(Self.node(3).port)")
        }
        #expect(!after.isEmpty, "serve never connected to node 2 or 3\n\(serve.log.suffix(3000))")

        // The database: every ticket once in the inbox, one dispatch sequence per ticket.
        func psql(_ sql: String) async throws -> String {
            let r = try await runProcess(["psql", pgURL, "-At", "-c", sql])
            guard r.status == 0 else { throw TestFailure("psql: \(r.output)") }
            return r.output.trimmingCharacters(in: .whitespacesAndNewlines)
        }
        #expect(try await psql("SELECT count(*) FROM inbox") == "\(count)")
        #expect(
            try await psql(
                "SELECT count(*) FROM (SELECT ticket_id FROM decisions GROUP BY ticket_id HAVING count(DISTINCT dispatch_seq) > 1) t"
            ) == "0")
        #expect(try await psql("SELECT count(DISTINCT ticket_id) FROM decisions") == "\(count)")

        serve.signal(SIGTERM)
        #expect(await serve.wait(timeout: .seconds(120)) == 0, "\(serve.log.suffix(2000))")
        for r in readers { await r.close() }
        await publisher.close()
        try await Self.node(1).start()
        await TestPostgres.dropDatabase(database.database)
    }
}
