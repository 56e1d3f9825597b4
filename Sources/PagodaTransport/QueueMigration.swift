import CAMQP
import CAMQPShim
import Foundation
import Logging

/// Gives an existing queue new arguments without losing its messages.
///
/// RabbitMQ cannot change the arguments of a queue (declaring it with others fails with 406
/// PRECONDITION_FAILED), so the queue is emptied into a holding queue, deleted, declared again and
/// filled back:
///
/// 1. declare the holding queue `NAME.migrating` (quorum) and give it the queue's bindings, then take
///    them from the queue: new messages arrive in the holding queue from then on (one arriving in
///    between may land in both; Pagoda's intake and command ledger drop such a repeat by its id);
/// 2. move every message from the queue to the holding queue, each published with a confirm before its
///    original is acknowledged (a crash between the two leaves a copy in both, never none);
/// 3. delete the queue once it is empty, declare it with the new arguments and its bindings, take the
///    bindings from the holding queue, move its messages back, delete it.
///
/// Messages keep their properties and bodies byte for byte; their order is kept. It refuses while the
/// queue has consumers (stop every `pagoda serve` first). Run again after an interruption, it finishes
/// the job: a holding queue left over is emptied into the queue. Blocking: call it from a thread of its
/// own.
public struct QueueMigration: Sendable {
    /// The queue as it must be (name and new arguments).
    public var queue: Topology.Queue
    /// The queue's bindings, kept across the move.
    public var bindings: [Topology.Binding]
    /// Messages moved per confirm round.
    public var batch = 256

    public init(queue: Topology.Queue, bindings: [Topology.Binding]) {
        self.queue = queue
        self.bindings = bindings.filter { $0.queue == queue.name }
    }

    public var holdingQueue: String { queue.name + ".migrating" }

    /// What `run` did.
    public struct Outcome: Sendable, Equatable {
        /// Whether the queue was declared again (false: it already had the arguments).
        public var redeclared: Bool
        /// Messages moved into the holding queue and back.
        public var moved: Int
    }

    /// Migrates the queue if its arguments differ (or finishes an interrupted migration).
    /// Throws when the broker refuses a step or the queue has consumers; what is done stays done and
    /// running it again resumes.
    public func run(configuration: AMQPConfiguration, logger: Logger) throws(AMQPError) -> Outcome {
        let holding = Topology.Queue.quorum(holdingQueue)
        // Already as it must be, and no holding queue left: nothing to do.
        let current = try probe(queue.name, configuration: configuration, logger: logger)
        let leftOver = try probe(holdingQueue, configuration: configuration, logger: logger)
        if let c = current, c.consumers > 0 {
            throw .channelClosed(
                code: 406,
                text: "queue '\(queue.name)' has \(c.consumers) consumer(s): stop every pagoda serve using it first",
                context: "queue migration")
        }
        var session = try AMQPSession(configuration: configuration, role: "migrate", logger: logger)
        defer { session.closeGracefully() }
        let matches: Bool
        do {
            try session.declare(Topology(queues: [queue]))
            matches = true
        } catch .channelClosed(406, _, _) {
            matches = false
            session.destroy()
            session = try AMQPSession(configuration: configuration, role: "migrate", logger: logger)
        }
        if matches && leftOver == nil {
            try session.declare(Topology(bindings: bindings))
            return Outcome(redeclared: false, moved: 0)
        }
        var moved = 0
        // Publish sequence numbers run on for the channel's life, across moves (a new channel starts again).
        var tags: UInt64 = 0
        _ = amqp_confirm_select(session.state, session.channel)
        try session.check(amqp_get_rpc_reply(session.state), "confirm.select")
        if !matches {
            logger.warning(
                "queue arguments differ: moving its messages to a holding queue to declare it again",
                metadata: [
                    "queue.name": "\(queue.name)", "queue.holding": "\(holdingQueue)",
                    "queue.messages": "\(current?.messages ?? 0)",
                ])
            try session.declare(
                Topology(
                    queues: [holding],
                    bindings: bindings.map { b in
                        var h = b
                        h.queue = holdingQueue
                        return h
                    }))
            for b in bindings { try unbind(b, session) }
            // Messages published straight to the queue (default exchange) can still arrive: move until the
            // delete finds it empty.
            while true {
                moved += try move(from: queue.name, to: holdingQueue, &tags, session)
                if try deleteIfEmpty(queue.name, session) { break }
            }
            try session.declare(Topology(queues: [queue], bindings: bindings))
            // A channel that published to the queue before it was deleted keeps the old queue's type for its
            // name (RabbitMQ 3.10 then fails a publish to a classic queue declared again as a quorum queue
            // with 541 INTERNAL_ERROR): the messages go back on a channel of their own.
            session.closeGracefully()
            session = try AMQPSession(configuration: configuration, role: "migrate", logger: logger)
            tags = 0
            _ = amqp_confirm_select(session.state, session.channel)
            try session.check(amqp_get_rpc_reply(session.state), "confirm.select")
        } else {
            // Resuming after the queue was declared again: it gets its bindings, the holding queue is emptied.
            try session.declare(Topology(bindings: bindings))
        }
        for b in bindings {
            var h = b
            h.queue = holdingQueue
            try unbind(h, session)
        }
        var back = 0
        while true {
            back += try move(from: holdingQueue, to: queue.name, &tags, session)
            if try deleteIfEmpty(holdingQueue, session) { break }
        }
        logger.notice(
            "queue declared again with its new arguments",
            metadata: [
                "queue.name": "\(queue.name)", "queue.moved_out": "\(moved)", "queue.moved_back": "\(back)",
            ])
        return Outcome(redeclared: !matches, moved: back)
    }

    /// The queue's message and consumer counts (passive declare), nil when it does not exist.
    private func probe(_ name: String, configuration: AMQPConfiguration, logger: Logger) throws(AMQPError)
        -> (messages: Int, consumers: Int)?
    {
        let session = try AMQPSession(configuration: configuration, role: "migrate", logger: logger)
        defer { session.closeGracefully() }
        let arena = CArena()
        let ok = amqp_queue_declare(session.state, session.channel, arena.bytes(name), 1, 0, 0, 0, amqp_empty_table)
        withExtendedLifetime(arena) {}
        do {
            try session.check(amqp_get_rpc_reply(session.state), "queue.declare passive '\(name)'")
        } catch .channelClosed(404, _, _) {
            return nil
        }
        guard let ok else { return nil }
        return (Int(ok.pointee.message_count), Int(ok.pointee.consumer_count))
    }

    private func unbind(_ b: Topology.Binding, _ session: AMQPSession) throws(AMQPError) {
        let arena = CArena()
        _ = amqp_queue_unbind(
            session.state, session.channel, arena.bytes(b.queue), arena.bytes(b.exchange), arena.bytes(b.routingKey),
            arena.table(b.arguments))
        withExtendedLifetime(arena) {}
        try session.check(
            amqp_get_rpc_reply(session.state), "queue.unbind '\(b.queue)' <- '\(b.exchange)' (\(b.routingKey))")
    }

    /// Deletes the queue if it holds no message (checked first with a passive declare: quorum queues do
    /// not take `if-empty`). Nothing is bound to it and nobody consumes it, so it stays empty in between
    /// unless someone publishes straight to its name.
    private func deleteIfEmpty(_ name: String, _ session: AMQPSession) throws(AMQPError) -> Bool {
        let arena = CArena()
        let ok = amqp_queue_declare(session.state, session.channel, arena.bytes(name), 1, 0, 0, 0, amqp_empty_table)
        try session.check(amqp_get_rpc_reply(session.state), "queue.declare passive '\(name)'")
        if let ok, ok.pointee.message_count > 0 { return false }
        _ = amqp_queue_delete(session.state, session.channel, arena.bytes(name), 0, 0)
        withExtendedLifetime(arena) {}
        try session.check(amqp_get_rpc_reply(session.state), "queue.delete '\(name)'")
        return true
    }

    /// Moves every message now in `source` to `destination` through the default exchange, in rounds:
    /// get up to `batch` messages, then publish them (mandatory), wait for every confirm, then acknowledge
    /// the originals. (Gets and publishes do not interleave: a confirm arriving during a get's reply would
    /// be read as part of the message.) Returns how many moved.
    private func move(from source: String, to destination: String, _ published: inout UInt64, _ session: AMQPSession)
        throws(AMQPError) -> Int
    {
        let s = session.state
        let ch = session.channel
        var moved = 0
        let sourceBytes = Array(source.utf8)
        let destinationBytes = Array(destination.utf8)
        while true {
            var lastTag: UInt64 = 0
            var messages: [amqp_message_t] = []
            defer { for i in messages.indices { amqp_destroy_message(&messages[i]) } }
            while messages.count < batch {
                let arena = CArena()
                let reply = amqp_basic_get(s, ch, arena.bytes(sourceBytes), 0)
                withExtendedLifetime(arena) {}
                try session.check(reply, "basic.get '\(source)'")
                guard reply.reply.id == Method.basicGetOk, let d = reply.reply.decoded else { break }
                lastTag = d.assumingMemoryBound(to: amqp_basic_get_ok_t.self).pointee.delivery_tag
                var message = amqp_message_t()
                let read = amqp_read_message(s, ch, &message, 0)
                if read.reply_type != AMQP_RESPONSE_NORMAL { amqp_destroy_message(&message) }
                try session.check(read, "reading a message of '\(source)'")
                messages.append(message)
            }
            if messages.isEmpty { return moved }
            for i in messages.indices {
                let arena = CArena()
                let rc = amqp_basic_publish(
                    s, ch, amqp_empty_bytes, arena.bytes(destinationBytes), 1, 0, &messages[i].properties,
                    messages[i].body)
                withExtendedLifetime(arena) {}
                guard rc == AMQP_STATUS_OK.rawValue else {
                    throw .library(
                        status: rc, message: libraryMessage(rc), context: "basic.publish to '\(destination)'")
                }
                published += 1
            }
            try awaitConfirms(upTo: published, session)
            let rc = amqp_basic_ack(s, ch, lastTag, 1)
            guard rc == AMQP_STATUS_OK.rawValue else {
                throw .library(status: rc, message: libraryMessage(rc), context: "basic.ack")
            }
            moved += messages.count
            if messages.count < batch { return moved }
        }
    }

    /// Reads frames until the broker confirmed every publish up to `tag`; a return or nack fails the move
    /// before any original is acknowledged.
    private func awaitConfirms(upTo tag: UInt64, _ session: AMQPSession) throws(AMQPError) {
        var confirmed: UInt64 = 0
        while confirmed < tag {
            guard let frame = try session.waitFrame(timeout: .seconds(30)) else {
                throw .timedOut("confirms of the moved messages")
            }
            if let error = session.closeError(for: frame) { throw error }
            guard frame.frame_type == FrameType.method, let d = frame.payload.method.decoded else { continue }
            switch frame.payload.method.id {
            case Method.basicAck:
                let m = d.assumingMemoryBound(to: amqp_basic_ack_t.self).pointee
                // RabbitMQ confirms in publish order, one at a time or many at once.
                confirmed = max(confirmed, m.delivery_tag)
            case Method.basicNack:
                throw .channelClosed(code: 0, text: "the broker nacked a moved message", context: "queue migration")
            case Method.basicReturn:
                throw .channelClosed(
                    code: 312, text: "a moved message was returned: its destination queue is missing",
                    context: "queue migration")
            default:
                continue
            }
        }
    }
}
