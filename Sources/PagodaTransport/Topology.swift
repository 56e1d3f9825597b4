import CAMQP
import Logging

/// Exchanges, queues and bindings declared idempotently on every (re)connect,
/// before consuming or publishing.
public struct Topology: Sendable, Equatable {
    public struct Exchange: Sendable, Equatable {
        public var name: String
        /// "direct", "topic", "fanout", "headers".
        public var type: String
        public var durable: Bool
        public var autoDelete: Bool
        public var arguments: [String: HeaderValue]

        public init(
            name: String, type: String = "direct", durable: Bool = true, autoDelete: Bool = false,
            arguments: [String: HeaderValue] = [:]
        ) {
            self.name = name
            self.type = type
            self.durable = durable
            self.autoDelete = autoDelete
            self.arguments = arguments
        }
    }

    public struct Queue: Sendable, Equatable {
        public var name: String
        public var durable: Bool
        public var exclusive: Bool
        public var autoDelete: Bool
        /// e.g. ["x-queue-type": "quorum"], ["x-dead-letter-exchange": "dlx"].
        public var arguments: [String: HeaderValue]

        public init(
            name: String, durable: Bool = true, exclusive: Bool = false, autoDelete: Bool = false,
            arguments: [String: HeaderValue] = [:]
        ) {
            self.name = name
            self.durable = durable
            self.exclusive = exclusive
            self.autoDelete = autoDelete
            self.arguments = arguments
        }

        /// A durable quorum queue.
        public static func quorum(_ name: String, arguments: [String: HeaderValue] = [:]) -> Queue {
            var args = arguments
            args["x-queue-type"] = .string("quorum")
            return Queue(name: name, durable: true, arguments: args)
        }
    }

    /// An exchange-to-exchange binding (a RabbitMQ extension): messages routed by `source` with a
    /// matching key are also routed by `destination`.
    public struct ExchangeBinding: Sendable, Equatable {
        public var destination: String
        public var source: String
        public var routingKey: String

        public init(destination: String, source: String, routingKey: String) {
            self.destination = destination
            self.source = source
            self.routingKey = routingKey
        }
    }

    public struct Binding: Sendable, Equatable {
        public var queue: String
        public var exchange: String
        public var routingKey: String
        public var arguments: [String: HeaderValue]

        public init(queue: String, exchange: String, routingKey: String, arguments: [String: HeaderValue] = [:]) {
            self.queue = queue
            self.exchange = exchange
            self.routingKey = routingKey
            self.arguments = arguments
        }
    }

    public var exchanges: [Exchange]
    public var queues: [Queue]
    public var bindings: [Binding]
    /// Declared after the exchanges, before the queue bindings.
    public var exchangeBindings: [ExchangeBinding]
    /// Exchange bindings an earlier version declared and this one must not have: removed (exchange.unbind,
    /// a no-op when absent) after the exchanges are declared.
    public var removedExchangeBindings: [ExchangeBinding]

    public init(
        exchanges: [Exchange] = [], queues: [Queue] = [], bindings: [Binding] = [],
        exchangeBindings: [ExchangeBinding] = [],
        removedExchangeBindings: [ExchangeBinding] = []
    ) {
        self.exchangeBindings = exchangeBindings
        self.removedExchangeBindings = removedExchangeBindings
        self.exchanges = exchanges
        self.queues = queues
        self.bindings = bindings
    }

    public static let empty = Topology()
}

extension Topology {
    /// This topology, then whatever `other` declares that it does not.
    public func adding(_ other: Topology) -> Topology {
        var t = self
        for e in other.exchanges where !t.exchanges.contains(e) { t.exchanges.append(e) }
        for q in other.queues where !t.queues.contains(q) { t.queues.append(q) }
        for b in other.exchangeBindings where !t.exchangeBindings.contains(b) { t.exchangeBindings.append(b) }
        for b in other.removedExchangeBindings where !t.removedExchangeBindings.contains(b) {
            t.removedExchangeBindings.append(b)
        }
        for b in other.bindings where !t.bindings.contains(b) { t.bindings.append(b) }
        return t
    }

    /// What a consumer of `queue` declares on each (re)connect: the exchanges and their bindings, the queue
    /// and the bindings to it. The other queues are the publishers' to declare: a consumer that declared
    /// them all would repeat the declaration of every unit's queue on each connection.
    public func consuming(_ queue: String) -> Topology {
        var t = self
        t.queues = queues.filter { $0.name == queue }
        t.bindings = bindings.filter { $0.queue == queue }
        return t
    }

    /// Declares this topology on a connection opened for the purpose and closed after it (bounded by the
    /// configuration's connect and RPC timeouts): for names that must exist before a running publisher's
    /// next reconnect, such as the queues of units added by a rules reload. Blocking: call it from a
    /// thread of its own, never from the Swift concurrency pool.
    public func declare(configuration: AMQPConfiguration, logger: Logger) throws(AMQPError) {
        let session = try AMQPSession(configuration: configuration, role: "declare", logger: logger)
        defer { session.closeGracefully() }
        try session.declare(self)
    }

    /// Deletes this topology's queues (with whatever messages they hold, whatever their consumers) and then
    /// its exchanges, on a connection opened for the purpose and closed after it; its bindings go with them.
    /// A name the broker does not hold is no error (RabbitMQ deletes idempotently). For test brokers and
    /// tools that remove what they declared. Throws the first refusal; what was deleted before it stays
    /// deleted. Blocking: call it from a thread of its own, never from the Swift concurrency pool.
    public func delete(configuration: AMQPConfiguration, logger: Logger) throws(AMQPError) {
        let session = try AMQPSession(configuration: configuration, role: "delete", logger: logger)
        defer { session.closeGracefully() }
        for q in queues {
            let arena = CArena()
            _ = amqp_queue_delete(session.state, session.channel, arena.bytes(q.name), 0, 0)
            withExtendedLifetime(arena) {}
            try session.check(amqp_get_rpc_reply(session.state), "queue.delete '\(q.name)'")
        }
        for e in exchanges where !e.name.isEmpty && !e.name.hasPrefix("amq.") {
            let arena = CArena()
            _ = amqp_exchange_delete(session.state, session.channel, arena.bytes(e.name), 0)
            withExtendedLifetime(arena) {}
            try session.check(amqp_get_rpc_reply(session.state), "exchange.delete '\(e.name)'")
        }
    }
}
