import Foundation
import PagodaJSON
import PagodaLifecycle
import PagodaRules
import PagodaStore

/// Turns lifecycle transitions into what the store keeps and the relay publishes.
///
/// Pure: states are encoded as JSON blobs, events become timeline rows and outgoing messages. Every event
/// is one outbox row with the event type as routing key (no queue is bound by it) and the suffixes of the
/// queues it concerns as extra routing keys; the relay publishes it once per queue and once to the events
/// exchange (`PublishPlan`), where consumers bind by event type. No consumer sees it twice.
public struct LifecycleCodec: Sendable {
    public let names: Names
    public let offsetSeconds: Int
    /// Holders, profiles and policies of the states read so far, shared by every copy of the codec.
    let decodingCache = StateDecodingCache()

    public init(names: Names, offsetSeconds: Int) {
        self.names = names
        self.offsetSeconds = offsetSeconds
    }

    public func encode(_ state: TicketState) -> StateWrite {
        StateWrite(
            version: state.version, phase: state.phase.rawValue, unitID: state.holder?.unit,
            state: state.encoded(), timer: state.nextTimer,
            console: ConsoleColumns(
                light: state.light?.rawValue, dueAt: state.nearestDue, supervised: state.supervised,
                desk: state.centreDesk()?.rawValue, category: state.category, enterprise: state.enterprise))
    }

    public func decode(_ bytes: [UInt8]) throws -> TicketState {
        try TicketState(encoded: bytes, cache: decodingCache)
    }

    /// The timeline rows and messages of a transition's events, each event serialized once.
    public func encode(_ events: [LifecycleEvent], ticket: [UInt8]?) -> (rows: [EventWrite], messages: [OutboxMessage])
    {
        var rows: [EventWrite] = []
        var messages: [OutboxMessage] = []
        rows.reserveCapacity(events.count)
        for e in events {
            let json = self.json(e)
            rows.append(EventWrite(type: e.type.rawValue, at: e.at, payloadJSON: String(decoding: json, as: UTF8.self)))
            messages += self.messages(e, json: json, ticket: ticket)
        }
        return (rows, messages)
    }

    /// The messages of one event. `ticket` is the ticket as received, spliced in when the event carries it.
    public func messages(_ event: LifecycleEvent, ticket: [UInt8]?) -> [OutboxMessage] {
        messages(event, json: json(event), ticket: ticket)
    }

    /// The event message's JSON: the bytes of serializing `LifecycleEvent.json`, written by the
    /// lifecycle's `EventEncoder` without building it.
    func json(_ event: LifecycleEvent) -> [UInt8] {
        var encoder = EventEncoder(offsetSeconds: offsetSeconds, verbose: false)
        var json: [UInt8] = []
        json.reserveCapacity(512)
        encoder.write(event, into: &json)
        return json
    }

    func messages(_ event: LifecycleEvent, json: [UInt8], ticket: [UInt8]?) -> [OutboxMessage] {
        var body = json
        if event.carriesTicket, let ticket, body.last == UInt8(ascii: "}") {
            body.removeLast()
            body += Array(#","ticket":"#.utf8)
            body += ticket
            body.append(UInt8(ascii: "}"))
        }
        let headers = [
            "x-pagoda-ticket-id": event.ticketID, "x-pagoda-message-type": event.type.rawValue,
            "x-pagoda-event-id": event.id,
        ]
        var out = [
            OutboxMessage(
                exchange: names.dispatchExchange, routingKey: event.type.rawValue, messageID: event.id,
                contentType: "application/json", headers: headers, body: body, mandatory: true,
                extraRoutingKeys: event.queues)
        ]
        if let replyTo = event.replyTo, !replyTo.isEmpty {
            out.append(
                OutboxMessage(
                    exchange: "", routingKey: replyTo, messageID: "\(event.id)>reply",
                    contentType: "application/json", headers: headers, body: body, mandatory: false))
        }
        return out
    }
}
