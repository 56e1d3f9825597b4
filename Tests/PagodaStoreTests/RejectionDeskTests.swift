import Foundation
import GRDB
import PagodaJSON
import PagodaRules
import Testing

@testable import PagodaStore

/// The operators' record of rejections, on real SQLite files.
@Suite struct RejectionDeskTests {
    func reject(
        _ store: DispatchStore, _ messageID: String?, body: String, issues: String? = nil,
        at: Date = t0
    ) throws -> Int64 {
        let message = OutboxMessage(
            exchange: "", routingKey: "pagoda.rejected",
            messageID: "rejected/\(messageID ?? UUID().uuidString)", body: bytes(body))
        let outcomes = try store.recordDispatches([
            .rejection(
                Rejection(
                    amqpMessageID: messageID, body: bytes(body), code: "required", reason: "text: is required", at: at,
                    message: message, issuesJSON: issues))
        ])
        guard case .rejected(let id)? = outcomes.first else { throw StoreError(.internal, "not recorded: \(outcomes)") }
        return id
    }

    @Test func rejectionsAreListedNewestFirstWithTheirIssuesAndStatus() throws {
        let dir = try TempDir()
        defer { dir.cleanup() }
        let store = try openStore(dir)
        let issues =
            #"[{"path":"text","code":"required","message":"text: is required"},"#
            + #"{"path":"caller.phone","code":"format","message":"m"}]"#
        let a = try reject(store, "m-1", body: #"{"id":"A"}"#, issues: issues)
        let b = try reject(store, "m-2", body: "garbage", at: t0.addingTimeInterval(1))
        let all = try store.rejections()
        #expect(all.map(\.id) == [b, a])
        #expect(all.allSatisfy { $0.status == .open && $0.action == nil })
        let first = try #require(try store.rejection(id: a))
        #expect(
            first.issues == [
                ValidationIssue(path: "text", code: .required, message: "text: is required"),
                ValidationIssue(path: "caller.phone", code: .format, message: "m"),
            ])
        #expect(first.body == bytes(#"{"id":"A"}"#) && first.amqpMessageID == "m-1" && first.at == t0)
        #expect(try store.rejection(id: b)?.issues == [])
        #expect(try store.rejection(id: 999) == nil)
        #expect(throws: StoreError.self) { try store.rejections(limit: 0) }
    }

    @Test func eachRejectionTakesOneActionAndKeepsItsBody() throws {
        let dir = try TempDir()
        defer { dir.cleanup() }
        let store = try openStore(dir)
        let a = try reject(store, "m-1", body: "a")
        let b = try reject(store, "m-2", body: "b")
        let c = try reject(store, nil, body: "c")
        let at = t0.addingTimeInterval(60)

        let resubmission = RejectionAction.resubmitted(
            by: "alice", at: at, messageID: "resubmit/1/x",
            body: bytes("A!"))
        let resubmitted = try store.recordRejectionAction(id: a, resubmission)
        #expect(resubmitted.status == .resubmitted && resubmitted.action?.actor == "alice")
        #expect(resubmitted.action?.at == at)
        let dropped = try store.recordRejectionAction(id: b, .dropped(by: "bob", at: at, reason: "test traffic"))
        #expect(dropped.status == .dropped && dropped.action?.reason == "test traffic")

        // A second action on either is refused, naming who acted.
        let twice = #expect(throws: StoreError.self) {
            try store.recordRejectionAction(id: a, .dropped(by: "carol", at: at, reason: "x"))
        }
        #expect(twice?.code == .constraint && twice?.message.contains("resubmitted by alice") == true)
        #expect(throws: StoreError.self) {
            try store.recordRejectionAction(
                id: b,
                .resubmitted(
                    by: "carol", at: at, messageID: "r/2/y",
                    body: bytes("b")))
        }
        // What cannot be an action.
        for (id, action) in [
            (c, RejectionAction.dropped(by: "carol", at: at, reason: "  ")),
            (c, .dropped(by: " ", at: at, reason: "r")),
            (999, .dropped(by: "carol", at: at, reason: "r")),
        ] {
            let e = #expect(throws: StoreError.self) { try store.recordRejectionAction(id: id, action) }
            #expect(e?.code == .invalidArgument)
        }

        #expect(try store.rejections(status: .open).map(\.id) == [c])
        #expect(try store.rejections(status: .resubmitted).map(\.id) == [a])
        #expect(try store.rejections(status: .dropped).map(\.id) == [b])
        let reread = try #require(try store.rejection(id: a))
        #expect(reread.body == bytes("a") && reread.action?.body == bytes("A!"))
        #expect(reread.action?.messageID == "resubmit/1/x")
        #expect(try store.counts().rejections == 3)
    }

    @Test func theSchemaRefusesActionsWithoutTheirParts() throws {
        let dir = try TempDir()
        defer { dir.cleanup() }
        let store = try openStore(dir)
        let a = try reject(store, "m-1", body: "a")
        let queue = try DatabaseQueue(path: dir.dbPath)
        defer { try? queue.close() }
        let insert = "INSERT INTO rejection_actions"
        for sql in [
            "\(insert) (rejection_id, action, actor, at) VALUES (\(a), 'dropped', 'x', 0)",
            "\(insert) (rejection_id, action, actor, at, message_id) VALUES (\(a), 'resubmitted', 'x', 0, 'm')",
            "\(insert) (rejection_id, action, actor, at, reason) VALUES (\(a), 'forgotten', 'x', 0, 'r')",
            "\(insert) (rejection_id, action, actor, at, reason) VALUES (\(a), 'dropped', '', 0, 'r')",
            "\(insert) (rejection_id, action, actor, at, reason) VALUES (999, 'dropped', 'x', 0, 'r')",
        ] {
            #expect(throws: DatabaseError.self, "\(sql)") {
                try queue.write { db in
                    try db.execute(sql: sql)
                }
            }
        }
    }
}
