import Foundation
import PagodaLifecycle
import PagodaRules
import PagodaStore

/// Turns lifecycle transitions into what the store keeps and the relay publishes.
///
/// Pure: states are encoded as JSON blobs, events become timeline rows and outgoing messages. Every event
/// goes once to the events exchange (routing key = event type) and once to each queue it names, through
/// the default exchange, so no consumer sees it twice.
public struct LifecycleCodec: Sendable {
    public let names: Names
    public let offsetSeconds: Int

    public init(names: Names, offsetSeconds: Int) {
        self.names = names
        self.offsetSeconds = offsetSeconds
    }

    public func encode(_ state: TicketState) throws -> StateWrite {
        StateWrite(version: state.version, phase: state.phase.rawValue, unitID: state.holder?.unit,
                   state: state.encoded(), timer: state.nextTimer)
    }

    public func decode(_ bytes: [UInt8]) throws -> TicketState {
        try TicketState(encoded: bytes)
    }

    /// The event as a timeline row (without the ticket).
    public func row(_ event: LifecycleEvent) -> EventWrite {
        EventWrite(type: event.type.rawValue, at: event.at, payloadJSON: JSON.serializeToString(.object(event.json(offsetSeconds: offsetSeconds))))
    }

    /// The messages of one event. `ticket` is the ticket as received, spliced in when the event carries it.
    public func messages(_ event: LifecycleEvent, ticket: [UInt8]?) -> [StoredMessage] {
        var body = JSON.serialize(.object(event.json(offsetSeconds: offsetSeconds)))
        if event.carriesTicket, let ticket, body.last == UInt8(ascii: "}") {
            body.removeLast()
            body += Array(#","ticket":"#.utf8)
            body += ticket
            body.append(UInt8(ascii: "}"))
        }
        let headers = ["x-pagoda-ticket-id": event.ticketID, "x-pagoda-message-type": event.type.rawValue, "x-pagoda-event-id": event.id]
        var out = [StoredMessage(exchange: names.eventsExchange, routingKey: event.type.rawValue, messageID: event.id,
                                 contentType: "application/json", headers: headers, body: body, mandatory: true)]
        for q in event.queues {
            out.append(StoredMessage(exchange: "", routingKey: names.queue(q), messageID: "\(event.id)>\(q)",
                                     contentType: "application/json", headers: headers, body: body, mandatory: true))
        }
        if let replyTo = event.replyTo, !replyTo.isEmpty {
            out.append(StoredMessage(exchange: "", routingKey: replyTo, messageID: "\(event.id)>reply",
                                     contentType: "application/json", headers: headers, body: body, mandatory: false))
        }
        return out
    }
}
