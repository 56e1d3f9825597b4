import Foundation
import PagodaJSON
import PagodaStore

/// A fresh directory under the system temp dir, removed by `cleanup()`.
struct TempDir {
    let url: URL

    init() throws {
        url = FileManager.default.temporaryDirectory
            .appendingPathComponent("pagoda-store-tests-\(UUID().uuidString)", isDirectory: true)
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
    }

    var dbPath: String { url.appendingPathComponent("pagoda.sqlite").path }

    func cleanup() { try? FileManager.default.removeItem(at: url) }
}

let t0 = Date(timeIntervalSince1970: 1_790_000_000)  // fixed, whole milliseconds

func bytes(_ s: String) -> [UInt8] { Array(s.utf8) }

func decision(unit: String = "GZ-HZ-001", deadlines: [String: Date] = [:]) -> DecisionRow {
    DecisionRow(
        destinationType: .unit, unitID: unit, level: "district", queue: "unit.\(unit)",
        ruleID: "noise-night", ruleFile: "rules/foshan/noise.yaml", ruleLine: 42, rulesHash: "sha256:abc",
        slaProfile: "standard", category: "environment.noise", urgency: "normal",
        decisionJSON: bytes(#"{"rule":"noise-night"}"#), deadlines: deadlines)
}

/// A dispatch with two messages (unit queue + events copy) whose bodies embed
/// the dispatch sequence, and message ids derived from the ticket id.
func dispatch(
    _ ticketID: String, at: Date = t0, amqp: String? = nil,
    deadlines: [String: Date] = [:], messageIDs: [String]? = nil
) -> IntakeRecord {
    .dispatch(
        TicketDispatch(
            ticketID: ticketID, receivedAt: at, ticketJSON: bytes(#"{"id":"\#(ticketID)"}"#),
            decision: decision(deadlines: deadlines), amqpMessageID: amqp, at: at,
            messages: { seq in
                let ids = messageIDs ?? ["\(ticketID)/dispatch", "\(ticketID)/event"]
                return [
                    OutboxMessage(
                        exchange: "pagoda.dispatch", routingKey: "unit.GZ-HZ-001", messageID: ids[0],
                        headers: ["x-ticket-id": ticketID, "x-dispatch-seq": "\(seq)"],
                        body: bytes(#"{"ticket":"\#(ticketID)","dispatch_seq":\#(seq)}"#)),
                    OutboxMessage(
                        exchange: "pagoda.events", routingKey: "ticket.dispatched", messageID: ids[1],
                        headers: [:], body: bytes(#"{"seq":\#(seq)}"#), mandatory: false),
                ]
            }))
}

func rejection(amqp: String?, messageID: String, at: Date = t0) -> IntakeRecord {
    .rejection(
        Rejection(
            amqpMessageID: amqp, body: bytes("not json"), code: "invalid_json", reason: "body is not JSON", at: at,
            message: OutboxMessage(
                exchange: "", routingKey: "pagoda.rejected", messageID: messageID,
                body: bytes("not json"))))
}

func openStore(_ dir: TempDir, _ synchronous: Synchronous = .full) throws -> DispatchStore {
    try DispatchStore(StoreConfiguration(path: dir.dbPath, synchronous: synchronous))
}
