import CAMQP
import CAMQPShim
import Foundation
import Logging

struct Settlement: Sendable {
    enum Kind: Sendable {
        case ack
        case nack(requeue: Bool)
        case reject(requeue: Bool)
    }

    let generation: UInt64
    let deliveryTag: UInt64
    let kind: Kind
    let messageId: String?
}

/// Consumes one queue with manual acks on its own connection and its own thread.
///
/// Deliveries arrive on `deliveries`, each stamped with the connection generation. Settling
/// (`ack` / `nack` / `reject`) a delivery whose generation is not the current connection's is
/// dropped and logged — never sent on the new connection, where its delivery tag would be
/// unknown (PRECONDITION_FAILED) or, worse, name a different message. The broker redelivers
/// such messages itself. On broker basic.cancel (queue deleted) the consumer reconnects,
/// redeclares the topology and subscribes again.
public final class AMQPConsumer: Sendable {
    public let configuration: AMQPConfiguration
    public let queue: String
    public let topology: Topology
    public let prefetch: UInt16
    public let deliveries: AsyncStream<Delivery>
    public let events: AsyncStream<ConnectionEvent>
    private let mailbox = Mailbox<Settlement>()
    private let shared = EndpointShared()

    public init(
        configuration: AMQPConfiguration, queue: String, topology: Topology = .empty, prefetch: UInt16 = 32,
        consumerTag: String? = nil, logger: Logger = Logger(label: "pagoda.transport.consumer")
    ) {
        self.configuration = configuration
        self.queue = queue
        self.topology = topology
        self.prefetch = prefetch
        let (deliveries, deliveryContinuation) = AsyncStream.makeStream(of: Delivery.self, bufferingPolicy: .unbounded)
        let (events, eventContinuation) = AsyncStream.makeStream(
            of: ConnectionEvent.self, bufferingPolicy: .bufferingNewest(1024))
        self.deliveries = deliveries
        self.events = events
        let mailbox = self.mailbox
        let shared = self.shared
        let tag = consumerTag ?? "pagoda-\(UUID().uuidString.lowercased())"
        let thread = Thread {
            let worker = ConsumerWorker(
                configuration: configuration, queue: queue, topology: topology, prefetch: prefetch, consumerTag: tag,
                mailbox: mailbox, shared: shared, deliveries: deliveryContinuation, events: eventContinuation,
                logger: logger)
            worker.run()
        }
        thread.name = "pagoda-amqp-consumer"
        thread.start()
    }

    /// Acknowledges a delivery (dropped if it belongs to an older connection generation).
    public func ack(_ delivery: Delivery) {
        settle(delivery, .ack)
    }

    /// Negatively acknowledges; `requeue: true` puts it back (redelivered = true).
    public func nack(_ delivery: Delivery, requeue: Bool = true) {
        settle(delivery, .nack(requeue: requeue))
    }

    public func reject(_ delivery: Delivery, requeue: Bool = false) {
        settle(delivery, .reject(requeue: requeue))
    }

    private func settle(_ d: Delivery, _ kind: Settlement.Kind) {
        let s = Settlement(generation: d.generation, deliveryTag: d.deliveryTag, kind: kind, messageId: d.messageId)
        if !mailbox.post(s) {
            shared.count { $0.staleAcksDropped += 1 }
        }
    }

    public var counters: TransportCounters { shared.counters }
    public var state: ConnectionState { shared.state }

    /// Polls until subscribed or the timeout passes.
    public func waitUntilConnected(timeout: Duration = .seconds(30)) async throws {
        try await shared.waitUntilConnected(timeout: timeout)
    }

    /// basic.cancel, then waits up to `timeout` for the application to settle outstanding deliveries
    /// (settlements keep working meanwhile), then closes channel + connection (unsettled messages are
    /// requeued by the broker), finishes `deliveries` and ends the thread.
    public func close(timeout: Duration = .seconds(5)) async {
        await withCheckedContinuation { continuation in
            mailbox.requestClose(timeout: timeout, waiter: continuation)
        }
    }
}

/// Runs on the consumer's own thread; owns the rabbitmq-c connection. Not shared.
final class ConsumerWorker {
    let configuration: AMQPConfiguration
    let queue: String
    let topology: Topology
    let prefetch: UInt16
    let consumerTag: String
    let mailbox: Mailbox<Settlement>
    let shared: EndpointShared
    let deliveries: AsyncStream<Delivery>.Continuation
    let events: AsyncStream<ConnectionEvent>.Continuation
    var logger: Logger

    var session: AMQPSession?
    /// When it sleeps before reading frames.
    private var frameWait = FrameWait()
    var unsettled: Set<UInt64> = []
    var cancelSent = false
    var cancelConfirmed = false
    var reconnection: Reconnection
    var generation: UInt64 { reconnection.generation }

    init(
        configuration: AMQPConfiguration, queue: String, topology: Topology, prefetch: UInt16, consumerTag: String,
        mailbox: Mailbox<Settlement>, shared: EndpointShared, deliveries: AsyncStream<Delivery>.Continuation,
        events: AsyncStream<ConnectionEvent>.Continuation, logger: Logger
    ) {
        self.configuration = configuration
        self.queue = queue
        self.topology = topology
        self.prefetch = prefetch
        self.consumerTag = consumerTag
        self.mailbox = mailbox
        self.shared = shared
        self.deliveries = deliveries
        self.events = events
        self.logger = logger
        self.logger[metadataKey: "amqp.endpoint"] = .string(configuration.endpointDescription)
        self.logger[metadataKey: "amqp.role"] = "consumer"
        self.logger[metadataKey: "amqp.queue"] = .string(queue)
        self.reconnection = Reconnection(
            policy: configuration.reconnectBackoff, endpointCount: configuration.endpoints.count, shared: shared,
            events: events)
    }

    func run() {
        while true {
            if session == nil {
                dropAllSettlements(reason: "not connected")
                if mailbox.closeRequested != nil { break }
                if let delay = reconnection.delayBeforeConnect {
                    mailbox.sleep(until: .now + delay)
                    if mailbox.closeRequested != nil { break }
                }
                connect()
                continue
            }
            drainSettlements()
            if let deadline = mailbox.closeRequested, let session {
                if !cancelSent {
                    let arena = CArena()
                    let rc = pagoda_send_basic_cancel(session.state, session.channel, arena.bytes(consumerTag))
                    withExtendedLifetime(arena) {}
                    cancelSent = true
                    if rc != AMQP_STATUS_OK.rawValue {
                        lost(.library(status: rc, message: libraryMessage(rc), context: "basic.cancel"))
                        continue
                    }
                }
                if (cancelConfirmed && unsettled.isEmpty) || ContinuousClock.now >= deadline {
                    if !unsettled.isEmpty {
                        logger.warning(
                            "closing with unsettled deliveries; broker will requeue them",
                            metadata: ["count": "\(unsettled.count)"])
                    }
                    session.closeGracefully()
                    self.session = nil
                    break
                }
            }
            if session != nil { pumpFrames() }
        }
        finish()
    }

    // MARK: connection lifecycle

    private func connect() {
        reconnection.willConnect()
        do {
            let node = configuration.endpoint(reconnection.endpointIndex)
            let s = try AMQPSession(configuration: node, role: "consumer", logger: logger)
            try s.declare(topology)
            _ = amqp_basic_qos(s.state, s.channel, 0, prefetch, 0)
            try s.check(amqp_get_rpc_reply(s.state), "basic.qos")
            let arena = CArena()
            _ = amqp_basic_consume(
                s.state, s.channel, arena.bytes(queue), arena.bytes(consumerTag), 0, 0, 0, amqp_empty_table)
            withExtendedLifetime(arena) {}
            try s.check(amqp_get_rpc_reply(s.state), "basic.consume '\(queue)'")
            session = s
            unsettled.removeAll()
            cancelSent = false
            cancelConfirmed = false
            reconnection.didConnect(logger: logger, "consumer subscribed", node: node)
        } catch {
            reconnection.connectFailed(error, logger: logger, "consumer connect failed")
        }
    }

    private func lost(_ error: AMQPError) {
        session?.destroy()
        session = nil
        reconnection.lost(error)
        logger.warning(
            "consumer connection lost; unsettled deliveries will be redelivered",
            metadata: ["generation": "\(generation)", "error": "\(error)", "unsettled": "\(unsettled.count)"])
        unsettled.removeAll()
        reconnection.didDisconnect(error)
    }

    private func finish() {
        session?.destroy()
        session = nil
        shared.state = .closed
        logger.info("consumer closed")
        deliveries.finish()
        events.yield(.closed)
        events.finish()
        mailbox.finish { rest in
            if !rest.isEmpty { shared.count { $0.staleAcksDropped += rest.count } }
        }
    }

    // MARK: settlements

    private func dropAllSettlements(reason: String) {
        let all = mailbox.drainAll()
        guard !all.isEmpty else { return }
        shared.count { $0.staleAcksDropped += all.count }
        logger.info("dropped settlements", metadata: ["count": "\(all.count)", "reason": "\(reason)"])
    }

    private func drainSettlements() {
        // Acks are coalesced: the acked tags below every delivery still unsettled go out as one
        // basic.ack with `multiple` (the broker settles the whole range at once); nacks and rejects go out
        // one by one as they come, then acks above an unsettled delivery one by one, then the range.
        var acked: [UInt64] = []
        for s in mailbox.drainAll() {
            guard let session else {
                shared.count { $0.staleAcksDropped += 1 }
                continue
            }
            guard s.generation == generation else {
                shared.count { $0.staleAcksDropped += 1 }
                logger.info(
                    "dropped settlement from an older connection generation",
                    metadata: [
                        "deliveryGeneration": "\(s.generation)", "currentGeneration": "\(generation)",
                        "deliveryTag": "\(s.deliveryTag)", "messageId": "\(s.messageId ?? "-")",
                    ])
                continue
            }
            guard unsettled.remove(s.deliveryTag) != nil else {
                shared.count { $0.staleAcksDropped += 1 }
                logger.warning("dropped duplicate settlement", metadata: ["deliveryTag": "\(s.deliveryTag)"])
                continue
            }
            let rc: Int32
            switch s.kind {
            case .ack:
                acked.append(s.deliveryTag)
                continue
            case .nack(let requeue):
                rc = amqp_basic_nack(session.state, session.channel, s.deliveryTag, 0, requeue ? 1 : 0)
                shared.count { $0.nacksSent += 1 }
            case .reject(let requeue):
                rc = amqp_basic_reject(session.state, session.channel, s.deliveryTag, requeue ? 1 : 0)
                shared.count { $0.rejectsSent += 1 }
            }
            if rc != AMQP_STATUS_OK.rawValue {
                lost(.library(status: rc, message: libraryMessage(rc), context: "basic.nack/reject"))
                return
            }
        }
        guard let session, !acked.isEmpty else { return }
        let floor = unsettled.min() ?? .max
        var below: UInt64 = 0
        for tag in acked {
            if tag < floor {
                below = max(below, tag)
                continue
            }
            let rc = amqp_basic_ack(session.state, session.channel, tag, 0)
            if rc != AMQP_STATUS_OK.rawValue {
                lost(.library(status: rc, message: libraryMessage(rc), context: "basic.ack"))
                return
            }
        }
        if below > 0 {
            let rc = amqp_basic_ack(session.state, session.channel, below, 1)
            if rc != AMQP_STATUS_OK.rawValue {
                lost(.library(status: rc, message: libraryMessage(rc), context: "basic.ack"))
                return
            }
        }
        shared.count { $0.acksSent += acked.count }
    }

    // MARK: frames

    /// Waits for a frame or a settlement (see `Mailbox.Wait`), then handles the frames that can be read
    /// without waiting; reading also sends a heartbeat when one is due.
    private func pumpFrames() {
        guard let current = session,
            frameWait.wait(mailbox, current, interval: configuration.pollInterval, itemsBlocked: false, shared: shared)
        else { return }
        for _ in 0..<256 {
            guard let session else { return }
            let frame: amqp_frame_t?
            do {
                frame = try session.waitFrame(timeout: .zero)
            } catch {
                lost(error)
                return
            }
            guard let frame else { return }
            frameWait.handledFrame()
            handle(frame, session)
            self.session?.releaseBuffers()
            if !mailbox.isEmpty { return }
        }
    }

    private func handle(_ frame: amqp_frame_t, _ session: AMQPSession) {
        guard frame.frame_type == FrameType.method, let decoded = frame.payload.method.decoded else { return }
        if let error = session.closeError(for: frame) {
            lost(error)
            return
        }
        switch frame.payload.method.id {
        case Method.basicDeliver:
            let m = decoded.assumingMemoryBound(to: amqp_basic_deliver_t.self).pointee
            let tag = m.delivery_tag
            let redelivered = m.redelivered != 0
            let exchange = Decode.string(m.exchange)
            let routingKey = Decode.string(m.routing_key)
            let consumerTag = Decode.string(m.consumer_tag)
            do {
                let (props, body) = try session.readContent(channel: frame.channel)
                unsettled.insert(tag)
                shared.count {
                    $0.delivered += 1
                    if redelivered { $0.redelivered += 1 }
                }
                deliveries.yield(
                    Delivery(
                        body: body, deliveryTag: tag, redelivered: redelivered, exchange: exchange,
                        routingKey: routingKey,
                        consumerTag: consumerTag, properties: props, generation: generation))
            } catch {
                lost(error)
            }
        case Method.basicCancel:
            // The broker cancelled us (queue deleted, quorum leader moved, ...). Reconnect and re-subscribe.
            shared.count { $0.consumerCancels += 1 }
            events.yield(.consumerCancelledByBroker(queue: queue))
            lost(
                .library(status: 0, message: "consumer cancelled by broker (basic.cancel)", context: "queue '\(queue)'")
            )
        case Method.basicCancelOk:
            cancelConfirmed = true
        case Method.connectionBlocked:
            let m = decoded.assumingMemoryBound(to: amqp_connection_blocked_t.self).pointee
            let reason = Decode.string(m.reason)
            shared.count { $0.blockedNotifications += 1 }
            events.yield(.blocked(reason: reason))
        case Method.connectionUnblocked:
            events.yield(.unblocked)
        default:
            break
        }
    }
}
