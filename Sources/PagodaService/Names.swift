import PagodaJSON
import PagodaRules
import PagodaTransport

/// Exchange and queue names, all under one prefix (default `pagoda`).
public struct Names: Sendable, Hashable {
    public let prefix: String

    public init(prefix: String = "pagoda") { self.prefix = prefix }

    public var intakeExchange: String { "\(prefix).intake" }
    public var intakeQueue: String { "\(prefix).intake" }
    public var dispatchExchange: String { "\(prefix).dispatch" }
    public var eventsExchange: String { "\(prefix).events" }
    public var eventsQueue: String { "\(prefix).events" }
    public var rejectedQueue: String { "\(prefix).rejected" }
    public var commandsExchange: String { "\(prefix).commands" }
    public var commandsQueue: String { "\(prefix).commands" }
    /// The hotline centre's callback (回访) queue.
    public var callbackQueue: String { "\(prefix).callback" }

    /// The arguments that make a queue deliver to one consumer at a time (RabbitMQ's single active consumer).
    public static let singleActiveConsumer: [String: HeaderValue] = ["x-single-active-consumer": true]

    /// The queues the service consumes, intake and commands, with their bindings: quorum queues with a
    /// single active consumer, so a second instance waits as a standby instead of taking half the tickets
    /// (and dispatching a ticket sent twice once in each instance's database). A queue declared by an
    /// earlier version without that argument is moved over by `pagoda migrate-queues`.
    public var singleConsumerQueues: [QueueMigration] {
        [
            QueueMigration(
                queue: .quorum(intakeQueue, arguments: Self.singleActiveConsumer),
                bindings: [Topology.Binding(queue: intakeQueue, exchange: intakeExchange, routingKey: "")]),
            QueueMigration(
                queue: .quorum(commandsQueue, arguments: Self.singleActiveConsumer),
                bindings: [Topology.Binding(queue: commandsQueue, exchange: commandsExchange, routingKey: "#")]),
        ]
    }

    /// The exchanges the consumed queues are bound to.
    public var intakeExchanges: [Topology.Exchange] {
        [
            Topology.Exchange(name: intakeExchange, type: "fanout"),
            Topology.Exchange(name: commandsExchange, type: "topic"),
        ]
    }

    /// How every queue the service publishes to is declared (destinations, events, rejected): a durable
    /// quorum queue, replicated on every node of a cluster (on a single node, one replica). A queue an
    /// earlier version declared as a classic queue is moved over by `pagoda migrate-queues`.
    public static func publishedQueue(_ name: String) -> Topology.Queue { .quorum(name) }

    /// The queue of a decision's destination: `pagoda.unit.<id>`, `pagoda.triage`, `pagoda.emergency`, `pagoda.platform`.
    public func queue(_ suffix: String) -> String { "\(prefix).\(suffix)" }

    /// The topology the service declares on every (re)connect: idempotent, so restarts and several
    /// instances agree.
    ///
    /// Destination queues are bound to the dispatch exchange with their suffix as the routing key
    /// (`unit.nanhai.shishan`), so the dispatch message's routing key is the decision's queue suffix.
    public func topology(for ruleSet: RuleSet) -> Topology {
        var suffixes = ["triage", "emergency", "platform", "callback"]
        for u in ruleSet.units where !suffixes.contains(u.queue) { suffixes.append(u.queue) }
        var queues: [Topology.Queue] =
            singleConsumerQueues.map(\.queue) + [
                Self.publishedQueue(rejectedQueue),
                Self.publishedQueue(eventsQueue),
            ]
        var bindings: [Topology.Binding] =
            singleConsumerQueues.flatMap(\.bindings) + [
                Topology.Binding(queue: eventsQueue, exchange: eventsExchange, routingKey: "#")
            ]
        for s in suffixes {
            queues.append(Self.publishedQueue(queue(s)))
            bindings.append(Topology.Binding(queue: queue(s), exchange: dispatchExchange, routingKey: s))
        }
        return Topology(
            exchanges: [
                Topology.Exchange(name: intakeExchange, type: "fanout"),
                Topology.Exchange(name: dispatchExchange, type: "topic"),
                Topology.Exchange(name: eventsExchange, type: "topic"),
                Topology.Exchange(name: commandsExchange, type: "topic"),
            ],
            queues: queues, bindings: bindings,
            // Earlier versions copied every dispatch message to the events exchange through this binding,
            // which made every publish routable even with its destination queue deleted. The relay now
            // publishes the copy itself (`PublishPlan`), so the binding is removed: with it, events would
            // arrive twice and a missing queue would go unnoticed again.
            removedExchangeBindings: [
                Topology.ExchangeBinding(destination: eventsExchange, source: dispatchExchange, routingKey: "#")
            ])
    }
}

extension Names {
    /// Every queue of `topology(for:)` with its bindings, as `pagoda migrate-queues` moves them over to the
    /// arguments this version declares (the consumed queues first).
    public func queueMigrations(for ruleSet: RuleSet) -> [QueueMigration] {
        let t = topology(for: ruleSet)
        return t.queues.map { QueueMigration(queue: $0, bindings: t.bindings) }
    }

    /// The topology as a RabbitMQ definitions file (`rabbitmqctl import_definitions`), one item per line.
    public func definitions(for ruleSet: RuleSet, vhost: String = "/") -> String {
        let t = topology(for: ruleSet)
        func args(_ a: [String: HeaderValue]) -> JSONValue {
            .object(
                JSONObject(
                    a.keys.sorted().map { k in
                        switch a[k]! {
                        case .string(let s): (k, .string(s))
                        case .int(let i): (k, .number(String(i)))
                        case .bool(let b): (k, .bool(b))
                        default: (k, .null)
                        }
                    }))
        }
        let exchanges: [JSONValue] = t.exchanges.map { e in
            .object(
                JSONObject([
                    ("name", .string(e.name)), ("vhost", .string(vhost)), ("type", .string(e.type)),
                    ("durable", .bool(e.durable)),
                    ("auto_delete", .bool(e.autoDelete)), ("internal", .bool(false)), ("arguments", args(e.arguments)),
                ]))
        }
        let queues: [JSONValue] = t.queues.map { q in
            .object(
                JSONObject([
                    ("name", .string(q.name)), ("vhost", .string(vhost)), ("durable", .bool(q.durable)),
                    ("auto_delete", .bool(q.autoDelete)), ("arguments", args(q.arguments)),
                ]))
        }
        let bindings: [JSONValue] =
            t.exchangeBindings.map { b in
                .object(
                    JSONObject([
                        ("source", .string(b.source)), ("vhost", .string(vhost)),
                        ("destination", .string(b.destination)),
                        ("destination_type", .string("exchange")), ("routing_key", .string(b.routingKey)),
                        ("arguments", .object(JSONObject([]))),
                    ]))
            }
            + t.bindings.map { b in
                .object(
                    JSONObject([
                        ("source", .string(b.exchange)), ("vhost", .string(vhost)), ("destination", .string(b.queue)),
                        ("destination_type", .string("queue")), ("routing_key", .string(b.routingKey)),
                        ("arguments", args(b.arguments)),
                    ]))
            }
        func lines(_ items: [JSONValue]) -> String {
            items.map { "    " + JSON.serializeToString($0) }.joined(separator: ",\n")
        }
        return
            "{\n  \"exchanges\": [\n\(lines(exchanges))\n  ],\n  \"queues\": [\n\(lines(queues))\n  ],\n  \"bindings\": [\n\(lines(bindings))\n  ]\n}"
    }
}
