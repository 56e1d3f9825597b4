import Foundation
import GRDB
import PagodaJSON
import Testing

@testable import PagodaStore

/// Databases written by an earlier version, opened by this one.
struct MigrationTests {
    /// A database at the previous schema, with rows as that version wrote them.
    static func versionTwoDatabase(_ dir: TempDir, _ rows: (Database) throws -> Void) throws {
        let queue = try DatabaseQueue(path: dir.dbPath)
        var migrator = DatabaseMigrator()
        migrator.registerMigration("v1-intake") { try $0.execute(sql: Schema.v1Intake) }
        migrator.registerMigration("v2-lifecycle") { try $0.execute(sql: Schema.v2Lifecycle) }
        try migrator.migrate(queue)
        try queue.write(rows)
        try queue.close()
    }

    @Test func pendingMessagesOfAVersionTwoDatabaseArePublishedUnchanged() throws {
        let dir = try TempDir()
        defer { dir.cleanup() }
        try Self.versionTwoDatabase(dir) { db in
            try db.execute(
                sql: """
                    INSERT INTO outbox (message_id, exchange, routing_key, content_type, headers_json, body, mandatory, created_at)
                    VALUES ('T1#1.0>unit.nanhai', '', 'pagoda.unit.nanhai', 'application/json', '{"x-pagoda-event-id":"T1#1.0"}', x'7B7D', 1, 0)
                    """)
        }
        let store = try openStore(dir)
        #expect(try store.appliedMigrations() == DispatchStore.knownMigrations)
        let pending = try store.pendingOutbox(limit: 5)
        #expect(
            pending.map(\.message) == [
                OutboxMessage(
                    exchange: "", routingKey: "pagoda.unit.nanhai", messageID: "T1#1.0>unit.nanhai",
                    headers: ["x-pagoda-event-id": "T1#1.0"], body: Array("{}".utf8))
            ])
        // And new rows with extra keys go in beside them.
        let message = OutboxMessage(
            exchange: "pagoda.dispatch", routingKey: "ticket.signed", messageID: "T1#2.0", body: [],
            extraRoutingKeys: ["unit.nanhai"])
        _ = try store.recordDispatches([
            .rejection(Rejection(amqpMessageID: nil, body: [], code: "c", reason: "r", at: t0, message: message))
        ])
        #expect(try store.pendingOutbox(limit: 5).map(\.message.extraRoutingKeys) == [[], ["unit.nanhai"]])
    }

    @Test func rejectionsOfAnEarlierDatabaseAreOpenWithTheirReason() throws {
        let dir = try TempDir()
        defer { dir.cleanup() }
        try Self.versionTwoDatabase(dir) { db in
            try db.execute(
                sql: """
                    INSERT INTO rejections (amqp_message_id, code, reason, body, created_at)
                    VALUES ('m-1', 'syntax', 'expected a value at byte 0', x'78', 0)
                    """)
        }
        let store = try openStore(dir)
        let entry = try #require(try store.rejections().first)
        #expect(entry.status == .open && entry.issues.isEmpty && entry.body == [0x78])
        #expect(entry.reason == "expected a value at byte 0")
        let dropped = try store.recordRejectionAction(id: entry.id, .dropped(by: "ops", at: t0, reason: "old traffic"))
        #expect(dropped.status == .dropped)
    }
}
