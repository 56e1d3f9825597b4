import Foundation
import PagodaStore
import PagodaTesting

let t0 = Date(timeIntervalSince1970: 1_790_000_000)  // fixed, whole milliseconds

func bytes(_ s: String) -> [UInt8] { Array(s.utf8) }

func decision(unit: String = "GZ-HZ-001", deadlines: [String: Date] = [:]) -> DecisionRow {
    DecisionRow(
        destinationType: .unit, unitID: unit, level: "district", queue: "unit.\(unit)",
        ruleID: "noise-night", ruleFile: "rules/foshan/noise.yaml", ruleLine: 42, rulesHash: "sha256:abc",
        slaProfile: "standard", category: "environment.noise", urgency: "normal",
        decisionJSON: bytes(#"{"rule":"noise-night","text":"佛山 \u0001"}"#), deadlines: deadlines)
}

/// A dispatch with two messages (unit queue with headers and extra routing keys, events copy) whose bodies
/// embed the dispatch sequence; message ids derived from the ticket id unless given.
func dispatch(
    _ ticketID: String, at: Date = t0, amqp: String? = nil, deadlines: [String: Date] = [:],
    messageIDs: [String]? = nil
) -> TicketDispatch {
    TicketDispatch(
        ticketID: ticketID, receivedAt: at, ticketJSON: bytes(#"{"id":"\#(ticketID)","text":"噪音\n\u0000"}"#),
        decision: decision(deadlines: deadlines), amqpMessageID: amqp, at: at,
        messages: { seq in
            let ids = messageIDs ?? ["\(ticketID)/dispatch", "\(ticketID)/event"]
            return [
                OutboxMessage(
                    exchange: "pagoda.dispatch", routingKey: "unit.GZ-HZ-001", messageID: ids[0],
                    headers: ["x-ticket-id": ticketID, "x-dispatch-seq": "\(seq)", "x-note": "\"quoted\" \\ 佛山"],
                    body: bytes(#"{"ticket":"\#(ticketID)","dispatch_seq":\#(seq)}"#) + [0, 255, 10],
                    extraRoutingKeys: ["unit.b", "unit.a"]),
                OutboxMessage(
                    exchange: "pagoda.events", routingKey: "ticket.dispatched", messageID: ids[1],
                    headers: [:], body: bytes(#"{"seq":\#(seq)}"#), mandatory: false),
            ]
        })
}

func rejection(amqp: String?, messageID: String, body: String = "not json", at: Date = t0) -> IntakeRecord {
    .rejection(
        Rejection(
            amqpMessageID: amqp, body: bytes(body), code: "invalid_json", reason: "body is not JSON", at: at,
            message: OutboxMessage(
                exchange: "", routingKey: "pagoda.rejected", messageID: messageID, body: bytes(body)),
            issuesJSON: #"[{"path":"$","code":"syntax","message":"body is not JSON"}]"#))
}

/// A dispatch that starts a lifecycle (state version 0, a timer at `timer`) with repeat keys; `seen` gets
/// the repeat the store found.
func started(
    _ id: String, receivedAt: Date = t0, timer: Date?, keys: [String] = [], seen: Locked<RepeatMatch?>? = nil
) -> IntakeRecord {
    var d = dispatch(id, at: receivedAt, deadlines: ["sign_by": receivedAt.addingTimeInterval(3_600)])
    d.repeatKeys = keys
    d.lifecycle = { match in
        seen?.withLock { $0 = match }
        return LifecycleStart(
            state: StateWrite(
                version: 0, phase: "assigned", unitID: "u1", state: bytes("{\"v\":0}") + [0], timer: timer,
                console: ConsoleColumns(light: "green", dueAt: timer, category: "environment.noise")),
            events: [EventWrite(type: "ticket.assigned", at: receivedAt, payloadJSON: #"{"event":"ticket.assigned"}"#)],
            messages: [
                OutboxMessage(
                    exchange: "pagoda.dispatch", routingKey: "ticket.assigned", messageID: "\(id)#0",
                    body: bytes("{}"))
            ])
    }
    return .dispatch(d)
}

/// A command or timer's change of ticket `id` from `version` to `newVersion`.
func change(
    _ id: String, from version: Int?, to newVersion: Int, timer: Date?, command: String? = nil,
    phase: String = "signed",
    updatesTicket: Bool = true
) -> LifecycleChange {
    LifecycleChange(
        ticketID: id, expectedVersion: version,
        state: StateWrite(
            version: newVersion, phase: phase, unitID: "u1", state: bytes("{\"v\":\(newVersion)}"), timer: timer,
            console: ConsoleColumns(light: "yellow", dueAt: timer, supervised: true, desk: "return")),
        events: [
            EventWrite(type: "ticket.signed", at: t0, payloadJSON: #"{"event":"ticket.signed","v":\#(newVersion)}"#)
        ],
        messages: [
            OutboxMessage(
                exchange: "pagoda.events", routingKey: "ticket.signed", messageID: "\(id)#\(newVersion)",
                body: bytes("{}"), extraRoutingKeys: ["unit.u1"])
        ],
        command: command.map { ($0, "sign", "applied") }, at: t0, updatesTicket: updatesTicket)
}
