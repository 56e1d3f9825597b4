import CAMQP
import CAMQPShim
import Foundation
import Logging

struct PendingPublish: Sendable {
    let message: AMQPMessage
    let continuation: CheckedContinuation<PublishOutcome, any Error>
}

/// Publishes with publisher confirms on its own connection and its own thread.
///
/// Up to `window` publishes are outstanding (sent, not yet confirmed) at once; every
/// `publish` call awaits its own outcome. On connection loss every unconfirmed publish
/// resolves to `.outcomeUnknown`; publishes not yet sent stay queued and go out on the
/// next connection. While the broker says connection.blocked, nothing new is sent.
///
/// `admit`, when given, is asked on the publisher's thread right before each message is sent; a message
/// it refuses is not sent and resolves to `.outcomeUnknown` (a node that lost its lease publishes nothing,
/// even what was queued before it found out).
public final class AMQPPublisher: Sendable {
    public let configuration: AMQPConfiguration
    public let window: Int
    /// Lifecycle events (buffers the newest 1024 if nobody listens).
    public let events: AsyncStream<ConnectionEvent>
    private let mailbox = Mailbox<PendingPublish>()
    private let shared = EndpointShared()

    public init(
        configuration: AMQPConfiguration, topology: Topology = .empty, window: Int = 256,
        logger: Logger = Logger(label: "pagoda.transport.publisher"), admit: (@Sendable () -> Bool)? = nil
    ) {
        self.configuration = configuration
        self.window = max(1, window)
        shared.topology = topology
        let (stream, continuation) = AsyncStream.makeStream(
            of: ConnectionEvent.self, bufferingPolicy: .bufferingNewest(1024))
        self.events = stream
        let mailbox = self.mailbox
        let shared = self.shared
        let window = self.window
        let thread = Thread {
            let worker = PublisherWorker(
                configuration: configuration, window: window, mailbox: mailbox, shared: shared, events: continuation,
                logger: logger, admit: admit)
            worker.run()
        }
        thread.name = "pagoda-amqp-publisher"
        thread.start()
    }

    /// Publishes one message and waits for the broker's verdict.
    /// Throws `AMQPError.closed` if the publisher was closed before the message was sent.
    public func publish(_ message: AMQPMessage) async throws -> PublishOutcome {
        try await withCheckedThrowingContinuation { continuation in
            if !mailbox.post(PendingPublish(message: message, continuation: continuation)) {
                continuation.resume(throwing: AMQPError.closed)
            }
        }
    }

    /// What is declared on every (re)connect, before publishing.
    public var topology: Topology { shared.topology }

    /// Replaces the topology declared on every later (re)connect (say, with the queues of units added by
    /// a rules reload). The current connection does not declare it: `Topology.declare` does that at once.
    public func setTopology(_ topology: Topology) { shared.topology = topology }

    public var counters: TransportCounters { shared.counters }
    public var state: ConnectionState { shared.state }

    /// Polls until connected (with topology declared and confirms on) or the timeout passes.
    public func waitUntilConnected(timeout: Duration = .seconds(30)) async throws {
        try await shared.waitUntilConnected(timeout: timeout)
    }

    /// Stops accepting publishes (queued, unsent ones throw `AMQPError.closed`), waits up to
    /// `timeout` for outstanding confirms, then closes channel and connection and ends the thread.
    public func close(timeout: Duration = .seconds(5)) async {
        await withCheckedContinuation { continuation in
            mailbox.requestClose(timeout: timeout, waiter: continuation)
        }
    }
}

/// Runs on the publisher's own thread; owns the rabbitmq-c connection. Not shared.
final class PublisherWorker {
    struct Inflight {
        let messageId: String
        let exchange: String
        let routingKey: String
        /// The `CC` header, which the broker keeps in a returned message (unlike `BCC`).
        let cc: HeaderValue?
        let mandatory: Bool
        let continuation: CheckedContinuation<PublishOutcome, any Error>
        var returned: (code: UInt16, text: String)?
    }

    let configuration: AMQPConfiguration
    let window: Int
    let mailbox: Mailbox<PendingPublish>
    let shared: EndpointShared
    let events: AsyncStream<ConnectionEvent>.Continuation
    var logger: Logger

    var session: AMQPSession?
    /// When it sleeps before reading frames.
    private var frameWait = FrameWait()
    var nextTag: UInt64 = 1
    var inflight: [UInt64: Inflight] = [:]
    var blocked = false
    /// Since when every confirm on this connection has been a nack (nil after an ack); see
    /// `AMQPConfiguration.nackReconnectAfter`.
    var nackedSince: ContinuousClock.Instant?
    var reconnection: Reconnection
    var generation: UInt64 { reconnection.generation }
    /// Asked before each send; a refused message resolves to `.outcomeUnknown` unsent.
    let admit: (@Sendable () -> Bool)?

    init(
        configuration: AMQPConfiguration, window: Int, mailbox: Mailbox<PendingPublish>,
        shared: EndpointShared, events: AsyncStream<ConnectionEvent>.Continuation, logger: Logger,
        admit: (@Sendable () -> Bool)? = nil
    ) {
        self.admit = admit
        self.configuration = configuration
        self.window = window
        self.mailbox = mailbox
        self.shared = shared
        self.events = events
        self.logger = logger
        self.logger[metadataKey: "amqp.endpoint"] = .string(configuration.endpointDescription)
        self.logger[metadataKey: "amqp.role"] = "publisher"
        self.reconnection = Reconnection(
            policy: configuration.reconnectBackoff, endpointCount: configuration.endpoints.count, shared: shared,
            events: events)
    }

    func run() {
        while true {
            if session == nil {
                if mailbox.closeRequested != nil { break }
                if let delay = reconnection.delayBeforeConnect {
                    mailbox.sleep(until: .now + delay)
                    if mailbox.closeRequested != nil { break }
                }
                connect()
                continue
            }
            if let deadline = mailbox.closeRequested {
                for p in mailbox.drainAll() { p.continuation.resume(throwing: AMQPError.closed) }
                if inflight.isEmpty || ContinuousClock.now >= deadline {
                    session?.closeGracefully()
                    session = nil
                    failInflight()
                    break
                }
            } else {
                sendQueued()
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
            let s = try AMQPSession(configuration: node, role: "publisher", logger: logger)
            try s.declare(shared.topology)
            _ = amqp_confirm_select(s.state, s.channel)
            try s.check(amqp_get_rpc_reply(s.state), "confirm.select")
            session = s
            nextTag = 1
            blocked = false
            nackedSince = nil
            reconnection.didConnect(logger: logger, "publisher connected", node: node)
        } catch {
            reconnection.connectFailed(error, logger: logger, "publisher connect failed")
        }
    }

    private func lost(_ error: AMQPError) {
        session?.destroy()
        session = nil
        blocked = false
        reconnection.lost(error)
        let unknown = inflight.count
        failInflight()
        logger.warning(
            "publisher connection lost",
            metadata: ["generation": "\(generation)", "error": "\(error)", "unconfirmed": "\(unknown)"])
        reconnection.didDisconnect(error)
    }

    private func failInflight() {
        let all = inflight
        inflight.removeAll()
        if !all.isEmpty { shared.count { $0.outcomeUnknown += all.count } }
        for (_, i) in all.sorted(by: { $0.key < $1.key }) { i.continuation.resume(returning: .outcomeUnknown) }
    }

    private func finish() {
        session?.destroy()
        session = nil
        failInflight()
        shared.state = .closed
        logger.info("publisher closed")
        events.yield(.closed)
        events.finish()
        mailbox.finish { rest in
            for p in rest { p.continuation.resume(throwing: AMQPError.closed) }
        }
    }

    // MARK: publishing

    private func sendQueued() {
        guard let session else { return }
        while !blocked && inflight.count < window, let p = mailbox.pop() {
            if let admit, !admit() {
                p.continuation.resume(returning: .outcomeUnknown)
                continue
            }
            let tag = nextTag
            nextTag += 1
            inflight[tag] = Inflight(
                messageId: p.message.messageId, exchange: p.message.exchange, routingKey: p.message.routingKey,
                cc: p.message.properties.headers["CC"], mandatory: p.message.mandatory, continuation: p.continuation)
            let rc = send(p.message, on: session)
            shared.count { $0.published += 1 }
            if rc != AMQP_STATUS_OK.rawValue {
                lost(.library(status: rc, message: libraryMessage(rc), context: "basic.publish"))
                return
            }
        }
    }

    private func send(_ m: AMQPMessage, on session: AMQPSession) -> Int32 {
        let arena = CArena()
        var props = arena.properties(m.properties)
        let rc = m.body.withUnsafeBytes { raw -> Int32 in
            let body = amqp_bytes_t(
                len: raw.count, bytes: raw.count == 0 ? nil : UnsafeMutableRawPointer(mutating: raw.baseAddress))
            return amqp_basic_publish(
                session.state, session.channel, arena.bytes(m.exchange), arena.bytes(m.routingKey), m.mandatory ? 1 : 0,
                0, &props, body)
        }
        withExtendedLifetime(arena) {}
        return rc
    }

    // MARK: frames

    /// Waits for a frame, or a publish the window has room for (see `Mailbox.Wait`), then handles the
    /// frames that can be read without waiting; reading also sends a heartbeat when one is due.
    private func pumpFrames() {
        guard let current = session,
            frameWait.wait(
                mailbox, current, interval: configuration.pollInterval,
                itemsBlocked: blocked || inflight.count >= window, shared: shared)
        else { return }
        for _ in 0..<512 {
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
            // Make room for queued publishes promptly when acks free the window.
            if !blocked && inflight.count < window / 2 && !mailbox.isEmpty { return }
        }
    }

    private func handle(_ frame: amqp_frame_t, _ session: AMQPSession) {
        guard frame.frame_type == FrameType.method, let decoded = frame.payload.method.decoded else { return }
        if let error = session.closeError(for: frame) {
            lost(error)
            return
        }
        switch frame.payload.method.id {
        case Method.basicAck:
            let m = decoded.assumingMemoryBound(to: amqp_basic_ack_t.self).pointee
            settle(tag: m.delivery_tag, multiple: m.multiple != 0, nacked: false)
        case Method.basicNack:
            let m = decoded.assumingMemoryBound(to: amqp_basic_nack_t.self).pointee
            settle(tag: m.delivery_tag, multiple: m.multiple != 0, nacked: true)
            if let since = nackedSince, since.duration(to: .now) >= configuration.nackReconnectAfter {
                let message = "every publish nacked for \(configuration.nackReconnectAfter)"
                lost(.library(status: -1, message: message, context: "publisher confirms"))
            }
        case Method.basicReturn:
            let m = decoded.assumingMemoryBound(to: amqp_basic_return_t.self).pointee
            let code = m.reply_code
            let text = Decode.string(m.reply_text)
            let exchange = Decode.string(m.exchange)
            let routingKey = Decode.string(m.routing_key)
            do {
                let (props, _) = try session.readContent(channel: frame.channel)
                markReturned(
                    messageId: props.messageId, exchange: exchange, routingKey: routingKey, cc: props.headers["CC"],
                    code: code, text: text)
            } catch {
                lost(error)
            }
        case Method.connectionBlocked:
            let m = decoded.assumingMemoryBound(to: amqp_connection_blocked_t.self).pointee
            let reason = Decode.string(m.reason)
            blocked = true
            shared.count { $0.blockedNotifications += 1 }
            logger.warning("broker blocked publishing", metadata: ["reason": "\(reason)"])
            events.yield(.blocked(reason: reason))
        case Method.connectionUnblocked:
            blocked = false
            logger.info("broker unblocked publishing")
            events.yield(.unblocked)
        default:
            break
        }
    }

    private func settle(tag: UInt64, multiple: Bool, nacked: Bool) {
        if !nacked {
            nackedSince = nil
        } else if nackedSince == nil {
            nackedSince = .now
        }
        let tags: [UInt64] = multiple ? inflight.keys.filter { $0 <= tag }.sorted() : [tag]
        for t in tags {
            guard let i = inflight.removeValue(forKey: t) else { continue }
            let outcome: PublishOutcome
            if nacked {
                outcome = .nacked
            } else if let r = i.returned {
                outcome = .returned(code: r.code, text: r.text)
            } else {
                outcome = .confirmed
            }
            shared.count {
                switch outcome {
                case .confirmed: $0.confirmed += 1
                case .returned: $0.returned += 1
                case .nacked: $0.nacked += 1
                case .outcomeUnknown: $0.outcomeUnknown += 1
                }
            }
            i.continuation.resume(returning: outcome)
        }
    }

    /// basic.return precedes the basic.ack for the same publish, so the returned message is the
    /// oldest still-unconfirmed mandatory publish with that message id, exchange, routing key and `CC`
    /// header (several publishes of one message id, to different queues, can be in flight at once).
    private func markReturned(
        messageId: String?, exchange: String, routingKey: String, cc: HeaderValue?, code: UInt16, text: String
    ) {
        let candidates = inflight.filter {
            $0.value.mandatory && $0.value.returned == nil && (messageId == nil || $0.value.messageId == messageId)
                && $0.value.exchange == exchange && $0.value.routingKey == routingKey && $0.value.cc == cc
        }
        guard let tag = candidates.keys.min() else {
            logger.warning("basic.return for unknown message", metadata: ["messageId": "\(messageId ?? "-")"])
            return
        }
        inflight[tag]?.returned = (code, text)
    }
}
