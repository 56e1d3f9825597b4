import Foundation
import PagodaTesting
import Synchronization
import Testing

@testable import PagodaTransport

/// Tests against a real RabbitMQ. Serialized: the fault test closes every connection on the broker.
@Suite(.serialized) struct BrokerTests {
    init() async throws {
        try await TestBroker.ensureRunning()
    }

    @Test func publishAndConsume2000WithConfirmWindow() async throws {
        let config = try TestBroker.configuration
        let queue = uniqueName("pagoda.test.bulk")
        let exchange = uniqueName("pagoda.test.ex")
        let topology = Topology(
            exchanges: [.init(name: exchange, type: "direct")],
            queues: [.quorum(queue)],
            bindings: [.init(queue: queue, exchange: exchange, routingKey: "ticket")])
        let publisher = AMQPPublisher(configuration: config, topology: topology, window: 256, logger: TestBroker.logger)
        try await publisher.waitUntilConnected()

        let n = 2000
        let outcomes = try await withThrowingTaskGroup(of: PublishOutcome.self) { group in
            for i in 0..<n {
                group.addTask {
                    let body = Array("{\"ticket\":\(i)}".utf8)
                    let message = AMQPMessage(
                        exchange: exchange, routingKey: "ticket", body: body, messageId: "ticket-\(i)",
                        headers: ["seq": .int(Int64(i)), "source": "12345", "urgent": .bool(i % 2 == 0)])
                    return try await publisher.publish(message)
                }
            }
            var all: [PublishOutcome] = []
            for try await o in group { all.append(o) }
            return all
        }
        #expect(outcomes.count == n)
        #expect(outcomes.allSatisfy { $0 == .confirmed })
        #expect(publisher.counters.confirmed == n)

        let consumer = AMQPConsumer(
            configuration: config, queue: queue, topology: topology, prefetch: 200, logger: TestBroker.logger)
        let collected = Collected()
        let sample = Locked<Delivery?>(nil)
        let task = Task {
            for await d in consumer.deliveries {
                if d.messageId == "ticket-7" { sample.withLock { $0 = d } }
                collected.add(d)
                consumer.ack(d)
            }
        }
        #expect(await eventually(timeout: .seconds(60)) { collected.ids.count == n })
        #expect(await eventually { consumer.counters.acksSent == n })
        #expect(collected.count == n)
        #expect(collected.ids == Set((0..<n).map { "ticket-\($0)" }))

        let d = try #require(sample.withLock { $0 })
        #expect(d.bodyString == "{\"ticket\":7}")
        #expect(d.properties.contentType == "application/json")
        #expect(d.properties.isPersistent)
        #expect(d.properties.timestamp != nil)
        #expect(d.headers["seq"] == .int(7))
        #expect(d.headers["source"] == .string("12345"))
        #expect(d.headers["urgent"] == .bool(false))
        #expect(d.exchange == exchange)
        #expect(d.routingKey == "ticket")
        #expect(d.generation == 1)

        await consumer.close()
        await publisher.close()
        task.cancel()
        #expect(consumer.state == .closed)
        #expect(publisher.state == .closed)
        #expect(consumer.counters.protocolErrors == 0)
        #expect(publisher.counters.protocolErrors == 0)
        try await TestBroker.ctl("delete_queue", queue)
    }

    /// A connection that answers every publish with basic.nack (here a queue that refuses everything:
    /// no room, `reject-publish`) is dropped after `nackReconnectAfter`, and the publisher connects again.
    @Test func aConnectionThatOnlyNacksIsReplaced() async throws {
        var config = try TestBroker.configuration
        config.nackReconnectAfter = .milliseconds(500)
        let queue = uniqueName("pagoda.test.full")
        let topology = Topology(
            queues: [.init(name: queue, arguments: ["x-max-length": .int(0), "x-overflow": "reject-publish"])])
        let publisher = AMQPPublisher(configuration: config, topology: topology, window: 16, logger: TestBroker.logger)
        try await publisher.waitUntilConnected()
        var outcomes: [PublishOutcome] = []
        let deadline = ContinuousClock.now + .seconds(30)
        while publisher.counters.connects < 2 && ContinuousClock.now < deadline {
            let message = AMQPMessage(
                exchange: "", routingKey: queue, body: Array("x".utf8), messageId: "n-\(outcomes.count)")
            outcomes.append(try await publisher.publish(message))
            try await Task.sleep(for: .milliseconds(50))  // a steady trickle of publishes, as a relay retries
        }
        #expect(publisher.counters.connects >= 2, "the publisher connected again after nacks only")
        #expect(publisher.counters.disconnects >= 1)
        #expect(outcomes.contains(.nacked) && !outcomes.contains(.confirmed))
        await publisher.close()
        try await TestBroker.ctl("delete_queue", queue)
    }

    /// A cluster named by several URLs whose first node is down: the publisher and the consumer go on to the
    /// next node, and every message is confirmed and delivered.
    @Test func aDeadFirstNodeIsPassedOverForTheNext() async throws {
        let live = try TestBroker.configuration
        // A port nothing listens on: bind a socket, note its port, close it.
        let deadPort = try unusedLoopbackPort()
        var config = try AMQPConfiguration(urls: [
            "amqp://guest:guest@127.0.0.1:\(deadPort)/", "amqp://guest:guest@127.0.0.1:\(live.port)/",
        ])
        config.connectionName = "pagoda-tests-cluster"
        config.reconnectBackoff = ReconnectBackoff(initial: .milliseconds(20), maximum: .milliseconds(200))
        let queue = uniqueName("pagoda.test.cluster")
        let topology = Topology(queues: [.quorum(queue)])
        let publisher = AMQPPublisher(configuration: config, topology: topology, logger: TestBroker.logger)
        try await publisher.waitUntilConnected()
        #expect(publisher.counters.connectFailures >= 1)
        for i in 0..<50 {
            let outcome = try await publisher.publish(
                AMQPMessage(exchange: "", routingKey: queue, body: Array("\(i)".utf8), messageId: "m-\(i)"))
            #expect(outcome == .confirmed)
        }
        let consumer = AMQPConsumer(configuration: config, queue: queue, topology: topology, logger: TestBroker.logger)
        let collected = Collected()
        let task = Task {
            for await d in consumer.deliveries {
                collected.add(d)
                consumer.ack(d)
            }
        }
        #expect(await eventually(timeout: .seconds(60)) { collected.ids.count == 50 })
        #expect(consumer.counters.connectFailures >= 1)
        await consumer.close()
        await publisher.close()
        task.cancel()
        try await TestBroker.ctl("delete_queue", queue)
    }

    @Test func mandatoryPublishWithoutBindingIsReturned() async throws {
        let config = try TestBroker.configuration
        let exchange = uniqueName("pagoda.test.unbound")
        let queue = uniqueName("pagoda.test.bound")
        let topology = Topology(
            exchanges: [.init(name: exchange, type: "direct", durable: false, autoDelete: false)],
            queues: [.init(name: queue, durable: false, autoDelete: false)],
            bindings: [.init(queue: queue, exchange: exchange, routingKey: "routed")])
        let publisher = AMQPPublisher(configuration: config, topology: topology, logger: TestBroker.logger)

        let returned = try await publisher.publish(
            AMQPMessage(exchange: exchange, routingKey: "nowhere", body: [1, 2, 3]))
        #expect(returned == .returned(code: 312, text: "NO_ROUTE"))

        // Interleave routable and unroutable publishes: each caller gets its own verdict.
        let results = try await withThrowingTaskGroup(of: (Bool, PublishOutcome).self) { group in
            for i in 0..<100 {
                group.addTask {
                    let routable = i % 3 != 0
                    let o = try await publisher.publish(
                        AMQPMessage(
                            exchange: exchange, routingKey: routable ? "routed" : "nowhere", body: Array("\(i)".utf8)))
                    return (routable, o)
                }
            }
            var all: [(Bool, PublishOutcome)] = []
            for try await r in group { all.append(r) }
            return all
        }
        for (routable, outcome) in results {
            if routable {
                #expect(outcome == .confirmed)
            } else {
                #expect(outcome == .returned(code: 312, text: "NO_ROUTE"))
            }
        }
        // Non-mandatory unroutable messages are confirmed (and dropped) by the broker.
        let dropped = try await publisher.publish(
            AMQPMessage(exchange: exchange, routingKey: "nowhere", body: [0], mandatory: false))
        #expect(dropped == .confirmed)
        #expect(publisher.counters.returned == 1 + 34)
        await publisher.close()
        await #expect(throws: AMQPError.closed) {
            try await publisher.publish(AMQPMessage(exchange: exchange, routingKey: "routed", body: [0]))
        }
        try await TestBroker.ctl("delete_queue", queue)
    }

    /// Publishes of one message id, exchange and routing key to several queues, told apart by their `CC`
    /// header: only the one whose queue is missing is returned, even with many in flight at once.
    @Test func returnsAreMatchedByTheirCCHeader() async throws {
        let config = try TestBroker.configuration
        let exchange = uniqueName("pagoda.test.cc")
        let queue = uniqueName("pagoda.test.cc.here")
        let topology = Topology(
            exchanges: [.init(name: exchange, type: "topic", durable: false)],
            queues: [.init(name: queue, durable: false)],
            bindings: [.init(queue: queue, exchange: exchange, routingKey: "here")])
        let publisher = AMQPPublisher(configuration: config, topology: topology, logger: TestBroker.logger)
        let results = try await withThrowingTaskGroup(of: (Int, Bool, PublishOutcome).self) { group in
            for i in 0..<60 {
                for there in [false, true] {
                    group.addTask {
                        let m = AMQPMessage(
                            exchange: exchange, routingKey: "event.type", body: Array("\(i)".utf8), messageId: "m-\(i)",
                            headers: ["CC": .array([.string(there ? "missing" : "here")])])
                        return (i, there, try await publisher.publish(m))
                    }
                }
            }
            var all: [(Int, Bool, PublishOutcome)] = []
            for try await r in group { all.append(r) }
            return all
        }
        #expect(results.count == 120)
        for (i, there, outcome) in results {
            #expect(
                outcome == (there ? .returned(code: 312, text: "NO_ROUTE") : .confirmed),
                "message \(i) to \(there ? "missing" : "here")")
        }
        await publisher.close()
        try await TestBroker.ctl("delete_queue", queue)
    }

    /// A queue's arguments changed without losing its messages: moved to a holding queue and back, in
    /// order and byte for byte, with its binding kept; run again, it has nothing to do.
    @Test func queueMigrationKeepsEveryMessage() async throws {
        let config = try TestBroker.configuration
        let exchange = uniqueName("pagoda.test.mig")
        let queue = uniqueName("pagoda.test.mig.q")
        let binding = Topology.Binding(queue: queue, exchange: exchange, routingKey: "")
        let old = Topology(
            exchanges: [.init(name: exchange, type: "fanout")], queues: [.quorum(queue)], bindings: [binding])
        let publisher = AMQPPublisher(configuration: config, topology: old, logger: TestBroker.logger)
        let n = 700
        for i in 0..<n {
            let o = try await publisher.publish(
                AMQPMessage(
                    exchange: exchange, routingKey: "", body: Array("body-\(i)".utf8), messageId: "m-\(i)",
                    headers: ["n": .int(Int64(i)), "s": "x"]))
            #expect(o == .confirmed)
        }
        let migration = QueueMigration(
            queue: .quorum(queue, arguments: ["x-single-active-consumer": true]), bindings: [binding])
        let outcome = try await Task.detached { try migration.run(configuration: config, logger: TestBroker.logger) }
            .value
        #expect(outcome == .init(redeclared: true, moved: n))
        let again = try await Task.detached { try migration.run(configuration: config, logger: TestBroker.logger) }
            .value
        #expect(again == .init(redeclared: false, moved: 0))
        // The binding is back: a new message arrives behind the moved ones.
        #expect(
            try await publisher.publish(
                AMQPMessage(exchange: exchange, routingKey: "", body: Array("late".utf8), messageId: "late"))
                == .confirmed)
        let consumer = AMQPConsumer(
            configuration: config, queue: queue, topology: Topology(), prefetch: 1000, logger: TestBroker.logger)
        let got = Locked<[Delivery]>([])
        let task = Task {
            for await d in consumer.deliveries {
                got.withLock { $0.append(d) }
                consumer.ack(d)
            }
        }
        #expect(await eventually(timeout: .seconds(60)) { got.value.count == n + 1 })
        let d = got.value
        #expect(d.map { $0.messageId ?? "" } == (0..<n).map { "m-\($0)" } + ["late"])
        #expect(d.prefix(n).map(\.bodyString) == (0..<n).map { "body-\($0)" })
        #expect(d.first?.headers["n"] == .int(0) && d.first?.headers["s"] == .string("x"))
        await consumer.close()
        await task.value
        await publisher.close()
        let listed = try await TestBroker.ctl("list_queues", "name", "arguments")
        #expect(!listed.contains("\(queue).migrating"))
        #expect(
            listed.split(separator: "\n").contains {
                $0.hasPrefix(queue + "\t") && $0.contains("x-single-active-consumer")
            }, "\(listed)")
        try await TestBroker.ctl("delete_queue", queue)
    }

    @Test func prefetchAndNackRequeueRedelivers() async throws {
        let config = try TestBroker.configuration
        let queue = uniqueName("pagoda.test.prefetch")
        let topology = Topology(queues: [.init(name: queue)])
        let publisher = AMQPPublisher(configuration: config, topology: topology, logger: TestBroker.logger)
        try await publishNumbered(publisher, count: 10, to: queue)
        let consumer = AMQPConsumer(
            configuration: config, queue: queue, topology: topology, prefetch: 3, logger: TestBroker.logger)
        let collected = Collected()
        let task = Task {
            for await d in consumer.deliveries { collected.add(d, keep: true) }
        }
        #expect(await eventually { collected.count == 3 })
        // Prefetch 3 with nothing acked: the broker must not send a 4th. (A negative check needs a wait.)
        try await Task.sleep(for: .milliseconds(300))
        #expect(collected.count == 3)

        let first = try #require(collected.deliveries.first)
        #expect(!first.redelivered)
        consumer.nack(first, requeue: true)
        // The requeued message comes back with redelivered=true (quorum/classic put it at the head).
        #expect(
            await eventually { collected.deliveries.contains { $0.redelivered && $0.messageId == first.messageId } })
        let redelivery = try #require(collected.deliveries.first { $0.redelivered })
        #expect(redelivery.body == first.body)
        #expect(redelivery.deliveryTag != first.deliveryTag)

        // Ack everything still outstanding, then the rest flows through.
        let ackTask = Task {
            var acked = Set<UInt64>()
            while !Task.isCancelled {
                for d in collected.deliveries where d.deliveryTag != first.deliveryTag && !acked.contains(d.deliveryTag)
                {
                    acked.insert(d.deliveryTag)
                    consumer.ack(d)
                }
                try? await Task.sleep(for: .milliseconds(5))
            }
        }
        #expect(await eventually { consumer.counters.acksSent == 10 })
        #expect(Set(collected.deliveries.compactMap(\.messageId)) == Set((0..<10).map { "m\($0)" }))
        #expect(consumer.counters.nacksSent == 1)
        #expect(consumer.counters.protocolErrors == 0)
        ackTask.cancel()
        await consumer.close()
        await publisher.close()
        task.cancel()
        try await TestBroker.ctl("delete_queue", queue)
    }

    /// A NUL in a message id or reply-to arrives as U+FFFD (PostgreSQL's text cannot hold a NUL).
    @Test func aNulInAShortStringArrivesAsAReplacementCharacter() async throws {
        let config = try TestBroker.configuration
        let queue = uniqueName("pagoda.test.nul")
        let topology = Topology(queues: [.init(name: queue)])
        let publisher = AMQPPublisher(configuration: config, topology: topology, logger: TestBroker.logger)
        var message = AMQPMessage(exchange: "", routingKey: queue, body: [1], messageId: "m\u{0}1")
        message.properties.replyTo = "r\u{0}"
        let outcome = try await publisher.publish(message)
        #expect(outcome == .confirmed)
        let consumer = AMQPConsumer(
            configuration: config, queue: queue, topology: topology, prefetch: 1, logger: TestBroker.logger)
        let collected = Collected()
        let task = Task { for await d in consumer.deliveries { collected.add(d, keep: true) } }
        #expect(await eventually { collected.count == 1 })
        let d = try #require(collected.deliveries.first)
        #expect(d.messageId == "m\u{FFFD}1")
        #expect(d.properties.replyTo == "r\u{FFFD}")
        consumer.ack(d)
        await consumer.close()
        await publisher.close()
        task.cancel()
        try await TestBroker.ctl("delete_queue", queue)
    }

    /// Acks are coalesced into `multiple` acks only below the oldest unsettled delivery: acking out of
    /// order, with one delivery held back and one nacked, settles exactly what was acked.
    @Test func outOfOrderAcksSettleExactlyTheAckedDeliveries() async throws {
        let config = try TestBroker.configuration
        let queue = uniqueName("pagoda.test.acks")
        let topology = Topology(queues: [.quorum(queue)])
        let publisher = AMQPPublisher(configuration: config, topology: topology, logger: TestBroker.logger)
        try await publishNumbered(publisher, count: 20, to: queue)
        let consumer = AMQPConsumer(
            configuration: config, queue: queue, topology: topology, prefetch: 50, logger: TestBroker.logger)
        let collected = Collected()
        let task = Task { for await d in consumer.deliveries { collected.add(d, keep: true) } }
        #expect(await eventually { collected.count == 20 })
        let byID = Dictionary(uniqueKeysWithValues: collected.deliveries.map { ($0.messageId ?? "", $0) })
        // Hold back m5, nack m12 (back to the queue), ack the rest newest first.
        consumer.nack(byID["m12"]!, requeue: true)
        for i in (0..<20).reversed() where i != 5 && i != 12 { consumer.ack(byID["m\(i)"]!) }
        #expect(await eventually { collected.deliveries.contains { $0.redelivered && $0.messageId == "m12" } })
        #expect(await eventually { consumer.counters.acksSent == 18 })
        // Acks above the held-back delivery must not have settled it: closing the channel returns m5 only
        // (and the redelivered m12, still unsettled) to the queue.
        await consumer.close()
        task.cancel()
        let second = AMQPConsumer(
            configuration: config, queue: queue, topology: topology, prefetch: 50, logger: TestBroker.logger)
        let again = Collected()
        let task2 = Task { for await d in second.deliveries { again.add(d, keep: true) } }
        #expect(await eventually { again.count == 2 })
        #expect(Set(again.deliveries.compactMap(\.messageId)) == ["m5", "m12"])
        for d in again.deliveries { second.ack(d) }
        #expect(await eventually { second.counters.acksSent == 2 })
        // Nothing else comes back. (A negative check needs a wait.)
        try await Task.sleep(for: .milliseconds(300))
        #expect(again.count == 2)
        #expect(consumer.counters.protocolErrors == 0 && second.counters.protocolErrors == 0)
        await second.close()
        task2.cancel()
        await publisher.close()
        try await TestBroker.ctl("delete_queue", queue)
    }

    @Test func brokerCancelOnQueueDeleteResubscribes() async throws {
        let config = try TestBroker.configuration
        let queue = uniqueName("pagoda.test.cancel")
        let topology = Topology(queues: [.init(name: queue)])
        let consumer = AMQPConsumer(configuration: config, queue: queue, topology: topology, logger: TestBroker.logger)
        let events = EventLog(consumer.events)
        try await consumer.waitUntilConnected()
        let collected = Collected()
        let task = Task {
            for await d in consumer.deliveries {
                collected.add(d)
                consumer.ack(d)
            }
        }
        try await TestBroker.ctl("delete_queue", queue)
        #expect(
            await eventually { consumer.counters.consumerCancels == 1 && consumer.state == .connected(generation: 2) })
        #expect(await eventually { events.all.contains(.consumerCancelledByBroker(queue: queue)) })
        let publisher = AMQPPublisher(configuration: config, topology: topology, logger: TestBroker.logger)
        #expect(
            try await publisher.publish(AMQPMessage(exchange: "", routingKey: queue, body: [42], messageId: "after"))
                == .confirmed)
        #expect(await eventually { collected.ids.contains("after") })
        await consumer.close()
        await publisher.close()
        task.cancel()
        try await TestBroker.ctl("delete_queue", queue)
    }

    @Test func closeAllConnectionsWhilePublishingAndConsuming() async throws {
        let config = try TestBroker.configuration
        let queue = uniqueName("pagoda.test.faults")
        let topology = Topology(queues: [.quorum(queue)])
        let publisher = AMQPPublisher(configuration: config, topology: topology, window: 64, logger: TestBroker.logger)
        let consumer = AMQPConsumer(
            configuration: config, queue: queue, topology: topology, prefetch: 20, logger: TestBroker.logger)
        let publisherEvents = EventLog(publisher.events)
        let consumerEvents = EventLog(consumer.events)
        try await publisher.waitUntilConnected()
        try await consumer.waitUntilConnected()

        let collected = Collected()
        // One delivery from generation 1 is held back and acked only after the reconnect:
        // that ack must be dropped, not sent on the new connection.
        let heldBack = Locked<Delivery?>(nil)
        let consumeTask = Task {
            for await d in consumer.deliveries {
                collected.add(d, keep: true)
                let hold = heldBack.withLock { h -> Bool in
                    if h == nil && d.generation == 1 {
                        h = d
                        return true
                    }
                    return false
                }
                if !hold { consumer.ack(d) }
            }
        }

        // 32 concurrent publishers keep publishing fresh ids until told to stop; an id whose outcome is
        // .outcomeUnknown (connection lost before the confirm) is republished until confirmed.
        let workers = 32
        let stop = Locked(false)
        let startedIds = Locked<Set<String>>([])
        let confirmedIds = Locked<Set<String>>([])
        let unknownRetries = Locked(0)
        let publishTask = Task {
            try await withThrowingTaskGroup(of: Void.self) { group in
                for worker in 0..<workers {
                    group.addTask {
                        var i = worker
                        while !stop.value {
                            let id = "fault-\(i)"
                            _ = startedIds.withLock { $0.insert(id) }
                            while true {
                                let outcome = try await publisher.publish(
                                    AMQPMessage(exchange: "", routingKey: queue, body: Array(id.utf8), messageId: id))
                                if outcome == .confirmed {
                                    _ = confirmedIds.withLock { $0.insert(id) }
                                    break
                                }
                                #expect(outcome == .outcomeUnknown || outcome == .nacked)
                                unknownRetries.withLock { $0 += 1 }
                            }
                            i += workers
                        }
                    }
                }
                try await group.waitForAll()
            }
        }

        #expect(await eventually { confirmedIds.value.count >= 300 && heldBack.value != nil })
        try await TestBroker.ctl("close_all_connections", "pagoda fault test")
        #expect(await eventually { publisher.counters.disconnects >= 1 && consumer.counters.disconnects >= 1 })
        #expect(await eventually { consumer.state == .connected(generation: 2) })

        // Ack the generation-1 delivery on the generation-2 connection: must be dropped.
        let stale = try #require(heldBack.value)
        let droppedBefore = consumer.counters.staleAcksDropped
        consumer.ack(stale)
        #expect(await eventually { consumer.counters.staleAcksDropped > droppedBefore })

        // Second fault while still publishing.
        let before = confirmedIds.value.count
        #expect(await eventually { confirmedIds.value.count >= before + 300 })
        try await TestBroker.ctl("close_all_connections", "pagoda fault test 2")
        #expect(await eventually { publisher.counters.disconnects >= 2 && consumer.counters.disconnects >= 2 })
        #expect(await eventually { publisher.counters.connects >= 3 && consumer.counters.connects >= 3 })
        let afterSecond = confirmedIds.value.count
        #expect(await eventually { confirmedIds.value.count >= afterSecond + 300 })
        stop.withLock { $0 = true }
        try await publishTask.value

        let confirmed = confirmedIds.value
        // Every id a worker started was eventually confirmed (unknown outcomes were retried).
        #expect(confirmed == startedIds.value)
        // At-least-once: every confirmed id is eventually consumed (duplicates allowed).
        #expect(await eventually(timeout: .seconds(60)) { collected.ids.isSuperset(of: confirmed) })
        #expect(collected.ids.isSuperset(of: confirmed))
        // The held-back message is redelivered on a later generation (it was never acked).
        #expect(
            await eventually {
                collected.deliveries.contains { $0.messageId == stale.messageId && $0.generation > 1 && $0.redelivered }
            })
        // With 32 publishes in flight at each fault, some outcomes were unknown and got retried.
        #expect(unknownRetries.value > 0)
        print(
            "fault test: confirmed \(confirmed.count) ids, \(unknownRetries.value) unknown/nacked outcomes retried, "
                + "\(collected.count) deliveries (\(collected.count - collected.ids.count) duplicates), "
                + "\(consumer.counters.staleAcksDropped) stale settlements dropped")

        #expect(publisher.counters.disconnects >= 2)
        #expect(consumer.counters.disconnects >= 2)
        #expect(publisher.counters.outcomeUnknown == unknownRetries.withLock { $0 } - publisher.counters.nacked)
        // No ack from an old generation reached the broker: no PRECONDITION_FAILED / channel errors.
        #expect(consumer.counters.protocolErrors == 0)
        #expect(publisher.counters.protocolErrors == 0)

        await consumer.close()
        await publisher.close()
        _ = await consumerEvents.drained()
        _ = await publisherEvents.drained()
        #expect(consumerEvents.protocolErrors.isEmpty)
        #expect(publisherEvents.protocolErrors.isEmpty)
        #expect(consumerEvents.disconnects >= 2)
        #expect(publisherEvents.disconnects >= 2)
        #expect(consumerEvents.all.last == .closed)
        consumeTask.cancel()
        try await TestBroker.ctl("delete_queue", queue)
    }

    @Test func connectionBlockedPausesPublishing() async throws {
        let config = try TestBroker.configuration
        let queue = uniqueName("pagoda.test.blocked")
        let topology = Topology(queues: [.init(name: queue)])
        let publisher = AMQPPublisher(configuration: config, topology: topology, logger: TestBroker.logger)
        let events = EventLog(publisher.events)
        #expect(try await publisher.publish(AMQPMessage(exchange: "", routingKey: queue, body: [0])) == .confirmed)

        try await TestBroker.ctl("set_vm_memory_high_watermark", "0.0000001")
        do {
            // The broker announces the alarm to connections that publish.
            let first = Task { try await publisher.publish(AMQPMessage(exchange: "", routingKey: queue, body: [1])) }
            #expect(await eventually { publisher.counters.blockedNotifications >= 1 })
            let sentBefore = publisher.counters.published
            let second = Task { try await publisher.publish(AMQPMessage(exchange: "", routingKey: queue, body: [2])) }
            // Negative check: nothing is sent while blocked.
            try await Task.sleep(for: .milliseconds(300))
            #expect(publisher.counters.published == sentBefore)
            try await TestBroker.ctl("set_vm_memory_high_watermark", "0.4")
            #expect(try await first.value == .confirmed)
            #expect(try await second.value == .confirmed)
            #expect(await eventually { events.all.contains { if case .blocked = $0 { true } else { false } } })
            #expect(await eventually { events.all.contains(.unblocked) })
        } catch {
            try await TestBroker.ctl("set_vm_memory_high_watermark", "0.4")
            throw error
        }
        await publisher.close()
        try await TestBroker.ctl("delete_queue", queue)
    }

    /// An idle connection's thread sleeps until a frame arrives or work is posted (at most `pollInterval`,
    /// 200 ms) instead of waking every few milliseconds, and still sends its heartbeats: with a 1 s
    /// heartbeat, 3 s of silence would close the connection otherwise.
    @Test func anIdleConnectionSleepsAndKeepsItsHeartbeats() async throws {
        var config = try TestBroker.configuration
        config.heartbeatSeconds = 1
        let queue = uniqueName("pagoda.test.idle")
        let topology = Topology(queues: [.init(name: queue)])
        let publisher = AMQPPublisher(configuration: config, topology: topology, logger: TestBroker.logger)
        let consumer = AMQPConsumer(configuration: config, queue: queue, topology: topology, logger: TestBroker.logger)
        try await publisher.waitUntilConnected()
        try await consumer.waitUntilConnected()
        let before = (publisher.counters.waits, consumer.counters.waits)
        // The window observed, not a synchronisation: nothing happens on either connection meanwhile.
        try await Task.sleep(for: .seconds(3))
        let waits = (publisher.counters.waits - before.0, consumer.counters.waits - before.1)
        // 3 s at 200 ms is 15 sleeps, plus one per heartbeat frame received; a 2 ms poll would be 1,500.
        #expect(waits.0 <= 40 && waits.1 <= 40, "\(waits)")
        #expect(publisher.counters.disconnects == 0 && consumer.counters.disconnects == 0)
        let received = Task { () -> Delivery? in
            for await d in consumer.deliveries {
                consumer.ack(d)
                return d
            }
            return nil
        }
        #expect(
            try await publisher.publish(AMQPMessage(exchange: "", routingKey: queue, body: [1, 2, 3])) == .confirmed)
        #expect(await received.value?.body == [1, 2, 3])
        await consumer.close(timeout: .milliseconds(500))
        await publisher.close()
        try await TestBroker.ctl("delete_queue", queue)
    }

    @Test(.enabled(if: TestBroker.isManaged, "needs the private broker from ops/broker.sh"))
    func missedHeartbeatsAreDetected() async throws {
        var config = try TestBroker.configuration
        config.heartbeatSeconds = 1
        config.rpcTimeout = .seconds(5)
        let queue = uniqueName("pagoda.test.heartbeat")
        let topology = Topology(queues: [.init(name: queue)])
        let publisher = AMQPPublisher(configuration: config, topology: topology, logger: TestBroker.logger)
        let consumer = AMQPConsumer(configuration: config, queue: queue, topology: topology, logger: TestBroker.logger)
        let events = EventLog(publisher.events)
        try await publisher.waitUntilConnected()
        try await consumer.waitUntilConnected()
        let pid = try #require(TestBroker.brokerPID)
        // Freeze the broker: no frames, no heartbeats, socket stays open.
        kill(pid, SIGSTOP)
        let detected = await eventually(timeout: .seconds(20)) {
            publisher.counters.disconnects >= 1 && consumer.counters.disconnects >= 1
        }
        kill(pid, SIGCONT)
        #expect(detected)
        #expect(
            await eventually {
                events.all.contains {
                    if case .disconnected(_, let reason) = $0 { reason.contains("heartbeat") } else { false }
                }
            })
        try await publisher.waitUntilConnected(timeout: .seconds(60))
        #expect(try await publisher.publish(AMQPMessage(exchange: "", routingKey: queue, body: [7])) == .confirmed)
        #expect(await eventually(timeout: .seconds(60)) { consumer.counters.delivered == 1 })
        await consumer.close(timeout: .milliseconds(200))
        await publisher.close()
        try await TestBroker.ctl("delete_queue", queue)
    }

    @Test(.enabled(if: TestBroker.isManaged, "needs the private broker from ops/broker.sh"))
    func brokerRestartReconnectsAndKeepsDurableMessages() async throws {
        let config = try TestBroker.configuration
        let queue = uniqueName("pagoda.test.restart")
        let topology = Topology(queues: [.quorum(queue)])
        let publisher = AMQPPublisher(configuration: config, topology: topology, logger: TestBroker.logger)
        try await publisher.waitUntilConnected()
        // Published before the restart, consumed after it: persistence in a durable quorum queue.
        for i in 0..<50 {
            #expect(
                try await publisher.publish(
                    AMQPMessage(exchange: "", routingKey: queue, body: [1], messageId: "pre-\(i)")) == .confirmed)
        }
        try await TestBroker.stop()
        #expect(await eventually { publisher.state == .disconnected || publisher.state == .connecting })
        // Publishes made while the broker is down wait in the mailbox and go out after the reconnect.
        let during = Task {
            try await withThrowingTaskGroup(of: Void.self) { group in
                for i in 0..<50 {
                    group.addTask {
                        while try await publisher.publish(
                            AMQPMessage(exchange: "", routingKey: queue, body: [2], messageId: "during-\(i)"))
                            != .confirmed
                        {}
                    }
                }
                try await group.waitForAll()
            }
        }
        try await TestBroker.start()
        try await during.value
        #expect(publisher.counters.connects >= 2)

        let consumer = AMQPConsumer(configuration: config, queue: queue, topology: topology, logger: TestBroker.logger)
        let collected = Collected()
        let task = Task {
            for await d in consumer.deliveries {
                collected.add(d)
                consumer.ack(d)
            }
        }
        let expected = Set((0..<50).map { "pre-\($0)" } + (0..<50).map { "during-\($0)" })
        #expect(await eventually(timeout: .seconds(60)) { collected.ids.isSuperset(of: expected) })
        #expect(publisher.counters.protocolErrors == 0)
        await consumer.close()
        await publisher.close()
        task.cancel()
        try await TestBroker.ctl("delete_queue", queue)
    }
}

/// TLS, end to end against the private broker's TLS listener (ops/broker.sh: port + 10, mutual TLS with
/// certificates under the broker directory's tls/, the server's for DNS name localhost only), and the
/// failures: a plain port, a missing CA file, an unrelated CA, a host name the certificate does not name,
/// no client certificate. Failures are reported as `.connectFailed` and retried, never a crash.
@Suite(.serialized) struct TLSWiringTests {
    init() async throws {
        try await TestBroker.ensureRunning()
    }

    private func firstFailure(_ url: String, tweak: (inout AMQPConfiguration) -> Void = { _ in }) async throws -> String
    {
        var config = try AMQPConfiguration(url: url)
        config.connectTimeout = .seconds(2)
        config.rpcTimeout = .seconds(2)
        tweak(&config)
        let publisher = AMQPPublisher(configuration: config, logger: TestBroker.logger)
        let events = EventLog(publisher.events)
        #expect(await eventually { publisher.counters.connectFailures >= 1 })
        await publisher.close()
        let failure = await events.drained().compactMap { e -> String? in
            if case .connectFailed(_, let error, _) = e { return error } else { return nil }
        }.first
        return try #require(failure)
    }

    @Test func tlsHandshakeAgainstPlainPortFails() async throws {
        let plain = try AMQPConfiguration(url: TestBroker.url)
        let error = try await firstFailure("amqps://guest:guest@127.0.0.1:\(plain.port)/?verify=verify_none")
        #expect(
            error.lowercased().contains("ssl") || error.lowercased().contains("socket")
                || error.lowercased().contains("tls"))
    }

    @Test func missingCAFileIsATLSSetupError() async throws {
        let plain = try AMQPConfiguration(url: TestBroker.url)
        let error = try await firstFailure(
            "amqps://guest:guest@127.0.0.1:\(plain.port)/?cacertfile=/nonexistent/ca.pem")
        #expect(error.contains("TLS setup failed"))
        #expect(error.contains("/nonexistent/ca.pem"))
    }

    /// The TLS listener's port and certificate folder; nil when the broker was not started by
    /// ops/broker.sh with openssl at hand.
    private var tls: (port: Int, dir: String)? {
        guard let plain = try? AMQPConfiguration(url: TestBroker.url) else { return nil }
        let dir = TestBroker.directory + "/tls"
        guard FileManager.default.fileExists(atPath: dir + "/client.pem"),
            TestBroker.reachable(host: "127.0.0.1", port: plain.port + 10)
        else { return nil }
        return (plain.port + 10, dir)
    }

    private func tlsURL(host: String = "localhost", ca: String = "ca.pem", client: Bool = true, extra: String = "")
        throws -> String
    {
        let t = try #require(
            tls, "the private broker has no TLS listener (ops/broker.sh makes one when openssl is installed)")
        var url = "amqps://guest:guest@\(host):\(t.port)/?cacertfile=\(t.dir)/\(ca)"
        if client { url += "&certfile=\(t.dir)/client.pem&keyfile=\(t.dir)/client.key" }
        return url + extra
    }

    @Test(.enabled(if: TestBroker.isManaged, "needs the private broker from ops/broker.sh"))
    func mutualTLSWithPeerAndHostnameVerificationCarriesMessages() async throws {
        var config = try AMQPConfiguration(url: try tlsURL())
        #expect(config.tls?.verifyPeer == true && config.tls?.verifyHostname == true)
        config.connectionName = "pagoda-tests-tls"
        let queue = uniqueName("pagoda.test.tls")
        let topology = Topology(queues: [.quorum(queue)])
        let publisher = AMQPPublisher(configuration: config, topology: topology, logger: TestBroker.logger)
        try await publisher.waitUntilConnected(timeout: .seconds(30))
        for i in 0..<20 {
            let outcome = try await publisher.publish(
                AMQPMessage(exchange: "", routingKey: queue, body: Array("tls \(i)".utf8), messageId: "t\(i)"))
            #expect(outcome == .confirmed)
        }
        let consumer = AMQPConsumer(
            configuration: config, queue: queue, topology: topology, prefetch: 50, logger: TestBroker.logger)
        let collected = Collected()
        let task = Task {
            for await d in consumer.deliveries {
                collected.add(d, keep: true)
                consumer.ack(d)
            }
        }
        #expect(await eventually { collected.count == 20 })
        #expect(collected.ids == Set((0..<20).map { "t\($0)" }))
        #expect(collected.deliveries.first { $0.messageId == "t7" }?.body == Array("tls 7".utf8))
        #expect(publisher.counters.connectFailures == 0 && consumer.counters.connectFailures == 0)
        // The broker sees the connection as TLS with our client certificate.
        let connections = try await TestBroker.ctl("list_connections", "name", "ssl", "peer_cert_subject")
        #expect(connections.contains("true") && connections.contains("pagoda-test-client"), "\(connections)")
        await consumer.close()
        task.cancel()
        await publisher.close()
        try await TestBroker.ctl("delete_queue", queue)
    }

    @Test(.enabled(if: TestBroker.isManaged, "needs the private broker from ops/broker.sh"))
    func brokerCertificateFromAnUnrelatedCAIsRefused() async throws {
        let error = try await firstFailure(try tlsURL(ca: "other-ca.pem"))
        #expect(error.contains("peer cert verification failed"), "\(error)")
    }

    @Test(.enabled(if: TestBroker.isManaged, "needs the private broker from ops/broker.sh"))
    func hostNameTheCertificateDoesNotNameIsRefusedUnlessVerificationIsOff() async throws {
        // The certificate names localhost, not 127.0.0.1.
        let error = try await firstFailure(try tlsURL(host: "127.0.0.1"))
        #expect(error.contains("hostname verification failed"), "\(error)")
        // The same address with host name verification off (the CA still verified) connects.
        let config = try AMQPConfiguration(url: try tlsURL(host: "127.0.0.1", extra: "&verify_hostname=false"))
        #expect(config.tls?.verifyPeer == true && config.tls?.verifyHostname == false)
        let publisher = AMQPPublisher(configuration: config, logger: TestBroker.logger)
        try await publisher.waitUntilConnected(timeout: .seconds(30))
        #expect(publisher.counters.connectFailures == 0)
        await publisher.close()
    }

    @Test(.enabled(if: TestBroker.isManaged, "needs the private broker from ops/broker.sh"))
    func missingClientCertificateIsRefusedByTheBroker() async throws {
        // The broker ends the handshake (fail_if_no_peer_cert); rabbitmq-c reports it at the login.
        let error = try await firstFailure(try tlsURL(client: false))
        #expect(error.contains("SSL error"), "\(error)")
    }

    @Test func certificateWithoutKeyIsRejected() async throws {
        let plain = try AMQPConfiguration(url: TestBroker.url)
        let error = try await firstFailure(
            "amqps://guest:guest@127.0.0.1:\(plain.port)/?certfile=/tmp/c.pem&verify=verify_none")
        #expect(error.contains("client certificate and key must be given together"))
    }
}
