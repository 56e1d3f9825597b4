// The matched pipe of the pipeline benchmark: the broker work `pagoda serve` does per ticket, and nothing
// else. It consumes from an intake queue declared as serve declares it (quorum, single active consumer,
// bound to a fanout intake exchange), publishes each message as serve's relay does (`PublishPlan`): once to
// the topic dispatch exchange with a unit queue's suffix as routing key, once to the topic events exchange
// (bound to the events queue with `#`), both persistent and mandatory with serve's headers and a body of
// serve's size, waits for both confirms, then acks the delivery. Its topology is serve's for the same rules
// (`Names.topology(for:)`). No rules are applied and nothing is stored.
import Foundation
import PagodaJSON
import PagodaRules
import PagodaService
import PagodaTransport

struct BenchError: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}

/// One measured run of a pipe or of serve: tickets per second from start to the last event seen, and
/// from the first event seen to the last (without start-up).
struct PhaseRate {
    var total: Double
    var steady: Double
}

/// Watches an events queue: counts every delivery, keeps each one's time and size, acks it.
final class EventsWatcher: Sendable {
    struct Seen: Sendable {
        var count = 0
        var first: UInt64?
        var last: UInt64 = 0
        var bytes = 0
        var latencies: [UInt64] = []
    }

    let consumer: AMQPConsumer
    let seen = Box(Seen())
    private let task: Task<Void, Never>

    init(configuration: AMQPConfiguration, queue: String, topology: Topology) {
        let consumer = AMQPConsumer(configuration: configuration, queue: queue, topology: topology, prefetch: 1000)
        self.consumer = consumer
        let seen = self.seen
        task = Task {
            for await d in consumer.deliveries {
                let t = now()
                var latency: UInt64?
                if let r = d.body.firstRange(of: Array("\"bench_sent_ns\":".utf8)) {
                    let digits = d.body[r.upperBound...].prefix { $0 >= 48 && $0 <= 57 }
                    if let sent = UInt64(String(decoding: digits, as: UTF8.self)) { latency = t - sent }
                }
                seen.with { s in
                    s.count += 1
                    if s.first == nil { s.first = t }
                    s.last = t
                    s.bytes += d.body.count
                    if let latency { s.latencies.append(latency) }
                }
                consumer.ack(d)
            }
        }
    }

    var count: Int { seen.with { $0.count } }

    /// Waits until `count` events were seen; the rates from `start`.
    func rate(of count: Int, since start: UInt64) async throws -> PhaseRate {
        while self.count < count { try await Task.sleep(for: .milliseconds(5)) }
        let s = seen.with { $0 }
        let total = Double(count) / (Double(s.last - start) / 1e9)
        let steady = Double(count - 1) / (Double(s.last - (s.first ?? start)) / 1e9)
        return PhaseRate(total: total, steady: steady)
    }

    func close() async {
        await consumer.close()
        task.cancel()
    }
}

/// Runs the matched pipe once over `bodies` on queues of its own (prefix `prefix`); `bodyBytes`: the size
/// of the messages it publishes (serve's dispatch message: the ticket within the event's envelope and
/// the decision), `prefetch` and `window` as serve's defaults.
func matchedPipe(
    config: AMQPConfiguration, prefix: String, ruleSet: RuleSet, bodies: [[UInt8]], bodyBytes: Int,
    prefetch: UInt16 = 2000, window: Int = 1024
) async throws -> PhaseRate {
    let names = Names(prefix: prefix)
    let topology = names.topology(for: ruleSet)
    let suffixes = ruleSet.units.map(\.queue)
    let watcher = EventsWatcher(configuration: config, queue: names.eventsQueue, topology: topology)
    try await watcher.consumer.waitUntilConnected()
    let loader = AMQPPublisher(configuration: config, topology: topology)
    try await preload(loader, exchange: names.intakeExchange, routingKey: "", bodies: bodies)
    await loader.close()

    let count = bodies.count
    let start = now()
    let consumer = AMQPConsumer(configuration: config, queue: names.intakeQueue, topology: topology, prefetch: prefetch)
    let publisher = AMQPPublisher(configuration: config, topology: topology, window: window)
    let decision = Array(repeating: UInt8(ascii: " "), count: max(0, bodyBytes - (bodies.first?.count ?? 0) - 80))
    let received = Box(0)
    await withTaskGroup(of: Void.self) { group in
        var inflight = 0
        for await d in consumer.deliveries {
            let n = received.with { n in
                n += 1
                return n
            }
            let suffix = suffixes[n % suffixes.count]
            let seq = String(n)
            let body =
                Array(#"{"type":"ticket.dispatched","version":1,"dispatch_seq":"#.utf8) + Array(seq.utf8)
                + Array(#","at":"2026-12-07T08:00:00+08:00","ticket":"#.utf8) + d.body + Array(#","decision":{}"#.utf8)
                + decision + [UInt8(ascii: "}")]
            let headers: [String: HeaderValue] = [
                "x-pagoda-ticket-id": .string("B-\(n)"), "x-pagoda-dispatch-seq": .string(seq),
                "x-pagoda-rules-hash": .string(ruleSet.hash), "x-pagoda-message-type": .string("ticket.dispatched"),
            ]
            let id = "B-\(n)/dispatch/\(seq)"
            let toUnit = AMQPMessage(
                exchange: names.dispatchExchange, routingKey: suffix, body: body, messageId: id,
                headers: headers, persistent: true, mandatory: true)
            let toEvents = AMQPMessage(
                exchange: names.eventsExchange, routingKey: suffix, body: body, messageId: id,
                headers: headers, persistent: true, mandatory: true)
            inflight += 1
            group.addTask {
                async let unit: Void = confirmed(publisher, toUnit)
                async let events: Void = confirmed(publisher, toEvents)
                _ = await (unit, events)
                consumer.ack(d)
            }
            if inflight >= Int(prefetch) {
                await group.next()
                inflight -= 1
            }
            if n >= count { break }
        }
        await group.waitForAll()
    }
    let rate = try await watcher.rate(of: count, since: start)
    await consumer.close()
    await publisher.close()
    await watcher.close()
    return rate
}

/// Publishes until the broker confirms.
private func confirmed(_ publisher: AMQPPublisher, _ message: AMQPMessage) async {
    while (try? await publisher.publish(message)) != .confirmed {}
}
