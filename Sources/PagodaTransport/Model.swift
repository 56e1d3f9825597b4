import Foundation

/// A value in an AMQP field table (message headers, queue/exchange arguments).
/// Publishing writes `.int` as a signed 64-bit ('l'); reading maps every integer kind to `.int`.
public enum HeaderValue: Sendable, Hashable {
    case string(String)
    case int(Int64)
    case bool(Bool)
    case double(Double)
    case bytes([UInt8])
    case table([String: HeaderValue])
    case array([HeaderValue])
    case null

    public var stringValue: String? { if case .string(let s) = self { return s } else { return nil } }
    public var intValue: Int64? { if case .int(let i) = self { return i } else { return nil } }
    public var boolValue: Bool? { if case .bool(let b) = self { return b } else { return nil } }
}

extension HeaderValue: ExpressibleByStringLiteral, ExpressibleByIntegerLiteral, ExpressibleByBooleanLiteral {
    public init(stringLiteral value: String) { self = .string(value) }
    public init(integerLiteral value: Int64) { self = .int(value) }
    public init(booleanLiteral value: Bool) { self = .bool(value) }
}

/// AMQP basic properties.
public struct MessageProperties: Sendable, Hashable {
    public var contentType: String?
    public var contentEncoding: String?
    public var headers: [String: HeaderValue]
    /// 1 = transient, 2 = persistent.
    public var deliveryMode: UInt8?
    public var priority: UInt8?
    public var correlationId: String?
    public var replyTo: String?
    public var expiration: String?
    public var messageId: String?
    /// AMQP timestamps have one-second resolution.
    public var timestamp: Date?
    public var type: String?
    public var userId: String?
    public var appId: String?

    public init(
        contentType: String? = nil, contentEncoding: String? = nil, headers: [String: HeaderValue] = [:],
        deliveryMode: UInt8? = nil, priority: UInt8? = nil, correlationId: String? = nil, replyTo: String? = nil,
        expiration: String? = nil, messageId: String? = nil, timestamp: Date? = nil, type: String? = nil,
        userId: String? = nil, appId: String? = nil
    ) {
        self.contentType = contentType
        self.contentEncoding = contentEncoding
        self.headers = headers
        self.deliveryMode = deliveryMode
        self.priority = priority
        self.correlationId = correlationId
        self.replyTo = replyTo
        self.expiration = expiration
        self.messageId = messageId
        self.timestamp = timestamp
        self.type = type
        self.userId = userId
        self.appId = appId
    }

    public var isPersistent: Bool { deliveryMode == 2 }
}

/// A message to publish. Defaults: persistent (delivery_mode 2), a fresh UUID message id
/// if none is given, timestamp = now, mandatory = true.
public struct AMQPMessage: Sendable {
    public var exchange: String
    public var routingKey: String
    public var body: [UInt8]
    public var properties: MessageProperties
    /// Unroutable mandatory messages come back as `.returned` instead of being dropped silently.
    public var mandatory: Bool

    public init(
        exchange: String, routingKey: String, body: [UInt8], messageId: String? = nil,
        contentType: String? = "application/json", headers: [String: HeaderValue] = [:],
        persistent: Bool = true, timestamp: Date? = Date(), mandatory: Bool = true
    ) {
        self.exchange = exchange
        self.routingKey = routingKey
        self.body = body
        self.properties = MessageProperties(
            contentType: contentType, headers: headers, deliveryMode: persistent ? 2 : 1,
            messageId: messageId ?? UUID().uuidString, timestamp: timestamp)
        self.mandatory = mandatory
    }

    public init(
        exchange: String, routingKey: String, body: [UInt8], properties: MessageProperties, mandatory: Bool = true
    ) {
        self.exchange = exchange
        self.routingKey = routingKey
        self.body = body
        self.properties = properties
        if self.properties.messageId == nil { self.properties.messageId = UUID().uuidString }
        self.mandatory = mandatory
    }

    /// The message id used to match basic.return frames (always set).
    public var messageId: String { properties.messageId ?? "" }
}

/// The broker's verdict on one publish.
public enum PublishOutcome: Sendable, Equatable {
    /// basic.ack received, no basic.return: the broker has taken responsibility (persisted for durable queues).
    case confirmed
    /// basic.return received (e.g. NO_ROUTE 312) before the ack: the message was NOT queued anywhere.
    case returned(code: UInt16, text: String)
    /// basic.nack: the broker could not take the message; publish again.
    case nacked
    /// The connection went away before the confirm arrived: the message may or may not
    /// have been queued. Republish (consumers must be idempotent on message_id).
    case outcomeUnknown
}

/// A message received by a `AMQPConsumer`.
public struct Delivery: Sendable {
    public var body: [UInt8]
    public var deliveryTag: UInt64
    public var redelivered: Bool
    public var exchange: String
    public var routingKey: String
    public var consumerTag: String
    public var properties: MessageProperties
    /// Connection generation this delivery arrived on. Acks for an older generation are dropped.
    public var generation: UInt64

    public var messageId: String? { properties.messageId }
    public var headers: [String: HeaderValue] { properties.headers }
    public var bodyString: String { String(decoding: body, as: UTF8.self) }

    /// A delivery as a consumer hands it over; public so that in-memory sources (tests) can make them.
    public init(
        body: [UInt8], deliveryTag: UInt64, redelivered: Bool = false, exchange: String = "",
        routingKey: String = "", consumerTag: String = "", properties: MessageProperties = MessageProperties(),
        generation: UInt64 = 0
    ) {
        self.body = body
        self.deliveryTag = deliveryTag
        self.redelivered = redelivered
        self.exchange = exchange
        self.routingKey = routingKey
        self.consumerTag = consumerTag
        self.properties = properties
        self.generation = generation
    }
}

/// Connection lifecycle notifications (`AMQPPublisher.events`, `AMQPConsumer.events`).
public enum ConnectionEvent: Sendable, Equatable {
    case connecting(attempt: Int)
    /// Connected, channel open, topology declared (and consuming / confirm mode on).
    case connected(generation: UInt64)
    case connectFailed(attempt: Int, error: String, retryIn: Duration)
    case disconnected(generation: UInt64, reason: String)
    /// connection.blocked from the broker (resource alarm): publishing is paused.
    case blocked(reason: String)
    case unblocked
    /// basic.cancel from the broker (queue deleted / failed over): the consumer reconnects and re-subscribes.
    case consumerCancelledByBroker(queue: String)
    /// The broker closed the channel or connection with an error (code != 200/320).
    case protocolError(code: UInt16, text: String)
    case closed
}

/// Monotonic counters; read with `counters` on a publisher or consumer.
public struct TransportCounters: Sendable, Equatable {
    public var connectAttempts: Int = 0
    public var connects: Int = 0
    public var connectFailures: Int = 0
    public var disconnects: Int = 0
    /// channel.close / connection.close on an ESTABLISHED connection with an error code other than
    /// 320 CONNECTION_FORCED (e.g. 406 PRECONDITION_FAILED for an unknown delivery tag). Errors while
    /// connecting/declaring count as `connectFailures` (reported by `.connectFailed`).
    public var protocolErrors: Int = 0
    public var blockedNotifications: Int = 0
    /// Times the connection thread went to sleep waiting for a frame or for work (`pollInterval`).
    public var waits: Int = 0
    // publisher
    public var published: Int = 0
    public var confirmed: Int = 0
    public var returned: Int = 0
    public var nacked: Int = 0
    public var outcomeUnknown: Int = 0
    // consumer
    public var delivered: Int = 0
    public var redelivered: Int = 0
    public var acksSent: Int = 0
    public var nacksSent: Int = 0
    public var rejectsSent: Int = 0
    /// Acks/nacks/rejects not sent because their delivery came from an older connection generation
    /// (or the connection was down, or the tag was already settled).
    public var staleAcksDropped: Int = 0
    public var consumerCancels: Int = 0

    public init() {}
}

/// Coarse connection state.
public enum ConnectionState: Sendable, Equatable {
    case connecting
    case connected(generation: UInt64)
    case disconnected
    case closed
}

/// Errors thrown by publishers/consumers.
public enum AMQPError: Error, Sendable, Equatable, CustomStringConvertible {
    /// rabbitmq-c library status (socket errors, timeouts, ...).
    case library(status: Int32, message: String, context: String)
    /// The broker closed the connection (connection.close).
    case connectionClosed(code: UInt16, text: String, context: String)
    /// The broker closed the channel (channel.close).
    case channelClosed(code: UInt16, text: String, context: String)
    case tlsSetup(String)
    /// The publisher/consumer has been closed; nothing was sent.
    case closed
    case timedOut(String)

    public var description: String {
        switch self {
        case .library(let s, let m, let c): return "\(c): \(m) (status \(s))"
        case .connectionClosed(let code, let text, let c): return "\(c): connection closed by broker: \(code) \(text)"
        case .channelClosed(let code, let text, let c): return "\(c): channel closed by broker: \(code) \(text)"
        case .tlsSetup(let m): return "TLS setup failed: \(m)"
        case .closed: return "closed"
        case .timedOut(let m): return "timed out: \(m)"
        }
    }

    /// Whether this is a broker-side error other than a forced close (counts as a protocol error).
    var isProtocolError: Bool {
        switch self {
        case .connectionClosed(let code, _, _): return code != 200 && code != 320
        case .channelClosed(let code, _, _): return code != 200
        default: return false
        }
    }
}
