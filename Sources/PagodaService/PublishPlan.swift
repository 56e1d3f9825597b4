import PagodaJSON
import PagodaStore
import PagodaTransport

/// How the relay publishes one outbox message so that the broker says when a destination queue is missing.
///
/// A message to the dispatch exchange becomes one publish per destination queue, each with that queue as
/// its only route (a dispatch: its routing key, the queue's suffix; an event: its event type as routing key
/// and that one suffix in `CC`), and one copy to the events exchange with the message's routing key and
/// every suffix in `BCC`. All are `mandatory`: a deleted destination queue returns its publish (312
/// NO_ROUTE) instead of counting as delivered because the events copy was routed. The message counts as
/// sent once every part is confirmed. Each part knows the queue it must reach and how to declare that
/// queue again with its binding. A message through the default exchange to `pagoda.rejected` is one part
/// that can declare that queue again; anything else (a command's `reply_to`) is published as it is.
///
/// Consumers see what they saw before: a unit queue gets the same message with the same routing key (an
/// event now with its queue's suffix in a `CC` header); the events queue gets the same message and keys,
/// now through `pagoda.events` itself.
struct PublishPlan: Sendable {
    struct Part: Sendable {
        var message: AMQPMessage
        /// The queue this publish must reach, when it is one of ours.
        var queue: String?
        /// Declares `queue` and its binding again after the broker returned this publish.
        var redeclare: Topology?
    }

    let names: Names

    func parts(_ m: OutboxMessage) -> [Part] {
        var headers: [String: HeaderValue] = [:]
        for (k, v) in m.headers { headers[k] = .string(v) }
        func message(exchange: String, bcc: [String], cc: [String] = []) -> AMQPMessage {
            var h = headers
            if !bcc.isEmpty { h["BCC"] = .array(bcc.map(HeaderValue.string)) }
            if !cc.isEmpty { h["CC"] = .array(cc.map(HeaderValue.string)) }
            return AMQPMessage(
                exchange: exchange, routingKey: m.routingKey, body: m.body, messageId: m.messageID,
                contentType: m.contentType, headers: h, persistent: true, mandatory: m.mandatory)
        }
        if m.exchange == names.dispatchExchange {
            var parts: [Part] = []
            // A lifecycle event is routed by its type and reaches its queues through BCC; a dispatch message
            // from intake is routed by its destination's suffix.
            let isEvent = m.headers["x-pagoda-event-id"] != nil
            var suffixes: [String] = []
            for s in (isEvent ? m.extraRoutingKeys : [m.routingKey] + m.extraRoutingKeys) where !suffixes.contains(s) {
                suffixes.append(s)
            }
            for s in suffixes {
                let queue = names.queue(s)
                // `CC`, not `BCC`: the broker keeps it in a returned message, which tells the relay which of an
                // event's publishes came back.
                parts.append(
                    Part(
                        message: message(exchange: names.dispatchExchange, bcc: [], cc: isEvent ? [s] : []),
                        queue: queue,
                        redeclare: Topology(
                            queues: [Names.publishedQueue(queue)],
                            bindings: [Topology.Binding(queue: queue, exchange: names.dispatchExchange, routingKey: s)])
                    ))
            }
            parts.append(
                Part(
                    message: message(exchange: names.eventsExchange, bcc: isEvent ? suffixes : m.extraRoutingKeys),
                    queue: names.eventsQueue,
                    redeclare: Topology(
                        queues: [Names.publishedQueue(names.eventsQueue)],
                        bindings: [
                            Topology.Binding(queue: names.eventsQueue, exchange: names.eventsExchange, routingKey: "#")
                        ])))
            return parts
        }
        let plain = message(exchange: m.exchange, bcc: m.extraRoutingKeys)
        if m.exchange.isEmpty && m.routingKey == names.rejectedQueue {
            return [
                Part(
                    message: plain, queue: names.rejectedQueue,
                    redeclare: Topology(queues: [Names.publishedQueue(names.rejectedQueue)]))
            ]
        }
        return [Part(message: plain, queue: nil, redeclare: nil)]
    }
}
