import CAMQP
import CAMQPShim
import Foundation
import Logging

enum Method {
    static let basicDeliver = pagoda_method_basic_deliver()
    static let basicAck = pagoda_method_basic_ack()
    static let basicNack = pagoda_method_basic_nack()
    static let basicReturn = pagoda_method_basic_return()
    static let basicCancel = pagoda_method_basic_cancel()
    static let basicCancelOk = pagoda_method_basic_cancel_ok()
    static let basicGetOk = pagoda_method_basic_get_ok()
    static let basicGetEmpty = pagoda_method_basic_get_empty()
    static let channelClose = pagoda_method_channel_close()
    static let channelCloseOk = pagoda_method_channel_close_ok()
    static let connectionClose = pagoda_method_connection_close()
    static let connectionCloseOk = pagoda_method_connection_close_ok()
    static let connectionBlocked = pagoda_method_connection_blocked()
    static let connectionUnblocked = pagoda_method_connection_unblocked()
}

enum FrameType {
    static let method: UInt8 = 1
    static let header: UInt8 = 2
    static let body: UInt8 = 3
    static let heartbeat: UInt8 = 8
}

func libraryMessage(_ status: Int32) -> String {
    guard let s = amqp_error_string2(status) else { return "status \(status)" }
    return String(cString: s)
}

/// One rabbitmq-c connection with channel 1 open. NOT thread-safe: it is created, used and
/// destroyed by exactly one connection thread (never shared, so it is not Sendable).
final class AMQPSession {
    let state: amqp_connection_state_t
    let channel: amqp_channel_t = 1
    private var destroyed = false
    private let logger: Logger

    /// Connects the socket (TCP or TLS), logs in (PLAIN) with client properties and heartbeats,
    /// and opens channel 1. Blocking: call only from the connection thread.
    init(configuration c: AMQPConfiguration, role: String, logger: Logger) throws(AMQPError) {
        self.logger = logger
        guard let state = amqp_new_connection() else {
            throw .library(status: -1, message: "amqp_new_connection failed", context: "connect")
        }
        self.state = state
        do {
            try open(c, role: role)
        } catch {
            destroy()
            throw error
        }
    }

    deinit { destroy() }

    private func open(_ c: AMQPConfiguration, role: String) throws(AMQPError) {
        let socket: OpaquePointer?
        if let tls = c.tls {
            socket = amqp_ssl_socket_new(state)
            guard let socket else { throw .tlsSetup("amqp_ssl_socket_new failed") }
            try configureTLS(socket, tls)
        } else {
            socket = amqp_tcp_socket_new(state)
        }
        guard let socket else { throw .library(status: -1, message: "cannot create socket", context: "connect") }

        var connectTimeout = makeTimeval(c.connectTimeout)
        let rc = amqp_socket_open_noblock(socket, c.host, Int32(c.port), &connectTimeout)
        guard rc == AMQP_STATUS_OK.rawValue else {
            throw .library(status: rc, message: libraryMessage(rc), context: "connect to \(c.host):\(c.port)")
        }
        var rpcTimeout = makeTimeval(c.rpcTimeout)
        _ = amqp_set_handshake_timeout(state, &rpcTimeout)
        _ = amqp_set_rpc_timeout(state, &rpcTimeout)

        let arena = CArena()
        var props = arena.table([
            "connection_name": .string("\(c.connectionName) (\(role))"),
            "product": "Pagoda",
            "platform": "Swift",
            "information": "pagoda 12345 hotline dispatch transport",
            "capabilities": .table([
                "connection.blocked": true,
                "consumer_cancel_notify": true,
                "publisher_confirms": true,
                "basic.nack": true,
                "authentication_failure_close": true,
            ]),
        ])
        let reply = pagoda_amqp_login_plain(
            state, c.vhost, Int32(c.channelMax), Int32(c.frameMax), Int32(c.heartbeatSeconds), &props, c.user,
            c.password)
        withExtendedLifetime(arena) {}
        try check(reply, "login to vhost '\(c.vhost)' as '\(c.user)'")
        // The broker may allow smaller frames than proposed (its own frame_max): too small, and a message
        // with long issue headers could never be published (`AMQPConfiguration.minimumFrameMax`).
        let frameMax = Int(amqp_get_frame_max(state))
        guard frameMax >= AMQPConfiguration.minimumFrameMax else {
            throw .library(
                status: 0,
                message: "the broker allows frames of \(frameMax) bytes; Pagoda needs at least "
                    + "\(AMQPConfiguration.minimumFrameMax) (frame_max in rabbitmq.conf)",
                context: "login")
        }

        _ = amqp_channel_open(state, channel)
        try check(amqp_get_rpc_reply(state), "channel.open")
    }

    private func configureTLS(_ socket: OpaquePointer, _ tls: AMQPTLSConfiguration) throws(AMQPError) {
        let maxVersion = AMQP_TLSvLATEST
        let minVersion = tls.minimumVersion == .tls12 ? AMQP_TLSv1_2 : AMQP_TLSvLATEST
        var rc = amqp_ssl_socket_set_ssl_versions(socket, minVersion, maxVersion)
        guard rc == AMQP_STATUS_OK.rawValue else { throw .tlsSetup("set TLS versions: \(libraryMessage(rc))") }
        amqp_ssl_socket_set_verify_peer(socket, tls.verifyPeer ? 1 : 0)
        amqp_ssl_socket_set_verify_hostname(socket, tls.verifyHostname ? 1 : 0)
        if let ca = tls.caCertificatePath {
            rc = amqp_ssl_socket_set_cacert(socket, ca)
            guard rc == AMQP_STATUS_OK.rawValue else { throw .tlsSetup("CA file \(ca): \(libraryMessage(rc))") }
        }
        switch (tls.clientCertificatePath, tls.clientKeyPath) {
        case (let cert?, let key?):
            rc = amqp_ssl_socket_set_key(socket, cert, key)
            guard rc == AMQP_STATUS_OK.rawValue else {
                throw .tlsSetup("client cert \(cert) / key \(key): \(libraryMessage(rc))")
            }
        case (nil, nil):
            break
        default:
            throw .tlsSetup("client certificate and key must be given together")
        }
    }

    /// Throws for anything but a normal RPC reply.
    func check(_ reply: amqp_rpc_reply_t, _ context: String) throws(AMQPError) {
        switch reply.reply_type {
        case AMQP_RESPONSE_NORMAL:
            return
        case AMQP_RESPONSE_LIBRARY_EXCEPTION:
            throw .library(status: reply.library_error, message: libraryMessage(reply.library_error), context: context)
        case AMQP_RESPONSE_SERVER_EXCEPTION:
            if reply.reply.id == Method.connectionClose, let d = reply.reply.decoded {
                let m = d.assumingMemoryBound(to: amqp_connection_close_t.self).pointee
                _ = pagoda_send_connection_close_ok(state)
                throw .connectionClosed(code: m.reply_code, text: Decode.string(m.reply_text), context: context)
            }
            if reply.reply.id == Method.channelClose, let d = reply.reply.decoded {
                let m = d.assumingMemoryBound(to: amqp_channel_close_t.self).pointee
                _ = pagoda_send_channel_close_ok(state, channel)
                throw .channelClosed(code: m.reply_code, text: Decode.string(m.reply_text), context: context)
            }
            throw .library(status: -1, message: "unexpected server method \(reply.reply.id)", context: context)
        default:
            throw .library(status: -1, message: "missing RPC reply", context: context)
        }
    }

    /// Declares every exchange, queue and binding (idempotent). Blocking RPCs.
    func declare(_ topology: Topology) throws(AMQPError) {
        for e in topology.exchanges where !e.name.isEmpty && !e.name.hasPrefix("amq.") {
            let arena = CArena()
            _ = amqp_exchange_declare(
                state, channel, arena.bytes(e.name), arena.bytes(e.type), 0, e.durable ? 1 : 0, e.autoDelete ? 1 : 0, 0,
                arena.table(e.arguments))
            withExtendedLifetime(arena) {}
            try check(amqp_get_rpc_reply(state), "exchange.declare '\(e.name)'")
        }
        for q in topology.queues {
            let arena = CArena()
            _ = amqp_queue_declare(
                state, channel, arena.bytes(q.name), 0, q.durable ? 1 : 0, q.exclusive ? 1 : 0, q.autoDelete ? 1 : 0,
                arena.table(q.arguments))
            withExtendedLifetime(arena) {}
            try check(amqp_get_rpc_reply(state), "queue.declare '\(q.name)'")
        }
        for b in topology.removedExchangeBindings {
            let arena = CArena()
            _ = amqp_exchange_unbind(
                state, channel, arena.bytes(b.destination), arena.bytes(b.source), arena.bytes(b.routingKey),
                amqp_empty_table)
            withExtendedLifetime(arena) {}
            try check(
                amqp_get_rpc_reply(state), "exchange.unbind '\(b.destination)' <- '\(b.source)' (\(b.routingKey))")
        }
        for b in topology.exchangeBindings {
            let arena = CArena()
            _ = amqp_exchange_bind(
                state, channel, arena.bytes(b.destination), arena.bytes(b.source), arena.bytes(b.routingKey),
                amqp_empty_table)
            withExtendedLifetime(arena) {}
            try check(amqp_get_rpc_reply(state), "exchange.bind '\(b.destination)' <- '\(b.source)' (\(b.routingKey))")
        }
        for b in topology.bindings {
            let arena = CArena()
            _ = amqp_queue_bind(
                state, channel, arena.bytes(b.queue), arena.bytes(b.exchange), arena.bytes(b.routingKey),
                arena.table(b.arguments))
            withExtendedLifetime(arena) {}
            try check(amqp_get_rpc_reply(state), "queue.bind '\(b.queue)' <- '\(b.exchange)' (\(b.routingKey))")
        }
    }

    /// Whether a frame can be had without reading the socket: frames queued by the library or bytes read
    /// and not yet decoded. The thread waits on the socket only when there are none.
    var hasBufferedInput: Bool { amqp_frames_enqueued(state) != 0 || amqp_data_in_buffer(state) != 0 }

    var socketDescriptor: Int32 { amqp_get_sockfd(state) }

    /// Waits up to `timeout` for one frame. Returns nil on timeout; throws when the connection is unusable
    /// (socket error, heartbeat timeout, ...).
    func waitFrame(timeout: Duration) throws(AMQPError) -> amqp_frame_t? {
        var frame = amqp_frame_t()
        var tv = makeTimeval(timeout)
        let rc = amqp_simple_wait_frame_noblock(state, &frame, &tv)
        if rc == AMQP_STATUS_OK.rawValue { return frame }
        if rc == AMQP_STATUS_TIMEOUT.rawValue { return nil }
        throw .library(status: rc, message: libraryMessage(rc), context: "waiting for frames")
    }

    /// Handles connection.close / channel.close method frames: replies close-ok and returns the error to raise.
    func closeError(for frame: amqp_frame_t) -> AMQPError? {
        guard frame.frame_type == FrameType.method, let d = frame.payload.method.decoded else { return nil }
        let id = frame.payload.method.id
        if id == Method.connectionClose {
            let m = d.assumingMemoryBound(to: amqp_connection_close_t.self).pointee
            let err = AMQPError.connectionClosed(
                code: m.reply_code, text: Decode.string(m.reply_text), context: "broker")
            _ = pagoda_send_connection_close_ok(state)
            return err
        }
        if id == Method.channelClose {
            let m = d.assumingMemoryBound(to: amqp_channel_close_t.self).pointee
            let err = AMQPError.channelClosed(code: m.reply_code, text: Decode.string(m.reply_text), context: "broker")
            _ = pagoda_send_channel_close_ok(state, frame.channel)
            return err
        }
        return nil
    }

    /// Reads the content header + body frames following a basic.deliver / basic.return.
    func readContent(channel: amqp_channel_t) throws(AMQPError) -> (MessageProperties, [UInt8]) {
        var message = amqp_message_t()
        let reply = amqp_read_message(state, channel, &message, 0)
        try check(reply, "reading message content")
        defer { amqp_destroy_message(&message) }
        return (Decode.properties(message.properties), Decode.bytes(message.body))
    }

    func releaseBuffers() {
        amqp_maybe_release_buffers(state)
    }

    /// Graceful shutdown: channel.close then connection.close (both bounded by the RPC timeout).
    func closeGracefully() {
        guard !destroyed else { return }
        let r1 = amqp_channel_close(state, channel, Int32(AMQP_REPLY_SUCCESS))
        if r1.reply_type == AMQP_RESPONSE_NORMAL {
            let r2 = amqp_connection_close(state, Int32(AMQP_REPLY_SUCCESS))
            if r2.reply_type != AMQP_RESPONSE_NORMAL { logger.debug("connection.close did not complete cleanly") }
        } else {
            logger.debug("channel.close did not complete cleanly")
        }
        destroy()
    }

    /// Drops the connection without any handshake (closes the socket, frees memory).
    func destroy() {
        guard !destroyed else { return }
        destroyed = true
        _ = amqp_destroy_connection(state)
    }
}
