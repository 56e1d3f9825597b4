import Logging

/// The reconnection state and bookkeeping a connection thread keeps, the same for the consumer and the
/// publisher: attempts, backoff, the connection generation, counters, the shared state and events.
///
/// Owned by one connection thread; not shared.
struct Reconnection {
    let shared: EndpointShared
    let events: AsyncStream<ConnectionEvent>.Continuation
    private var backoff: BackoffState
    private(set) var attempt = 0
    /// Increases with every successful connect; deliveries and acks carry it.
    private(set) var generation: UInt64 = 0
    /// How long to wait before the next attempt, after a failure or a loss; nil to connect at once.
    private(set) var delayBeforeConnect: Duration?
    /// Which of the configuration's endpoints the next attempt goes to: it moves on to the next node of the
    /// cluster after every failed connect and every lost connection.
    private(set) var endpointIndex = 0
    private let endpointCount: Int

    init(
        policy: ReconnectBackoff, endpointCount: Int = 1, shared: EndpointShared,
        events: AsyncStream<ConnectionEvent>.Continuation
    ) {
        self.shared = shared
        self.events = events
        self.endpointCount = max(1, endpointCount)
        backoff = BackoffState(policy: policy)
    }

    private mutating func moveToNextEndpoint() {
        endpointIndex = (endpointIndex + 1) % endpointCount
    }

    mutating func willConnect() {
        attempt += 1
        shared.count { $0.connectAttempts += 1 }
        shared.state = .connecting
        events.yield(.connecting(attempt: attempt))
    }

    /// Records a successful connect (topology declared, channel ready) and returns the new generation.
    mutating func didConnect(logger: Logger, _ message: Logger.Message, node: AMQPConfiguration) {
        generation += 1
        attempt = 0
        backoff.didConnect()
        delayBeforeConnect = nil
        shared.count { $0.connects += 1 }
        shared.state = .connected(generation: generation)
        logger.info(message, metadata: ["generation": "\(generation)", "amqp.node": "\(node.host):\(node.port)"])
        events.yield(.connected(generation: generation))
    }

    mutating func connectFailed(_ error: AMQPError, logger: Logger, _ message: Logger.Message) {
        let delay = backoff.nextDelay()
        delayBeforeConnect = delay
        moveToNextEndpoint()
        shared.count { $0.connectFailures += 1 }
        shared.state = .disconnected
        logger.warning(message, metadata: ["error": "\(error)", "retryIn": "\(delay)"])
        events.yield(.connectFailed(attempt: attempt, error: error.description, retryIn: delay))
    }

    /// Records the loss of an established connection; the caller settles its own in-flight work and then
    /// calls ``didDisconnect(_:)``.
    mutating func lost(_ error: AMQPError) {
        backoff.didDisconnect()
        delayBeforeConnect = backoff.nextDelay()
        moveToNextEndpoint()
        shared.count {
            $0.disconnects += 1
            if error.isProtocolError { $0.protocolErrors += 1 }
        }
        if case .connectionClosed(let code, let text, _) = error, error.isProtocolError {
            events.yield(.protocolError(code: code, text: text))
        }
        if case .channelClosed(let code, let text, _) = error { events.yield(.protocolError(code: code, text: text)) }
    }

    func didDisconnect(_ error: AMQPError) {
        shared.state = .disconnected
        events.yield(.disconnected(generation: generation, reason: error.description))
    }
}
