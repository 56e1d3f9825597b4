import Foundation
import GRDB
import PagodaJSON
import PagodaStore
import Testing

/// The store's files on disk, what it keeps of a rejection, and the pruning of the outbox, on real files.
@Suite struct StoreFilesTests {
    static func mode(_ path: String) -> Int? {
        (try? FileManager.default.attributesOfItem(atPath: path)[.posixPermissions] as? NSNumber)?.intValue
    }

    /// The database, its WAL and its shared-memory file are the owner's only (they hold callers' names and
    /// phone numbers), and so is the directory the store had to make; whatever the umask says.
    @Test func filesAreCreatedPrivate() throws {
        let dir = try TempDir()
        defer { dir.cleanup() }
        let path = dir.url.appendingPathComponent("state/deeper/pagoda.sqlite").path
        let store = try DispatchStore(StoreConfiguration(path: path))
        #expect(Self.mode(dir.url.appendingPathComponent("state").path) == 0o700)
        #expect(Self.mode(dir.url.appendingPathComponent("state/deeper").path) == 0o700)
        #expect(Self.mode(path) == 0o600)
        _ = try store.recordDispatches([dispatch("M1")])
        for file in [path, path + "-wal", path + "-shm"] {
            #expect(FileManager.default.fileExists(atPath: file), "\(file) missing")
            #expect(Self.mode(file) == 0o600, "\(file): \(String(Self.mode(file) ?? -1, radix: 8))")
        }
        try store.close()
        // An existing directory is left alone.
        #expect(Self.mode(dir.url.path) != nil)
    }

    /// Files an earlier version left world-readable are made private when the store opens them.
    @Test func existingReadableFilesAreTightened() throws {
        let dir = try TempDir()
        defer { dir.cleanup() }
        let first = try openStore(dir)
        _ = try first.recordDispatches([dispatch("M1")])
        try first.close()
        let files = [dir.dbPath, dir.dbPath + "-wal", dir.dbPath + "-shm"]
        for file in files where FileManager.default.fileExists(atPath: file) {
            try FileManager.default.setAttributes([.posixPermissions: 0o644], ofItemAtPath: file)
        }
        let store = try openStore(dir)
        _ = try store.recordDispatches([dispatch("M2")])
        for file in [dir.dbPath, dir.dbPath + "-wal", dir.dbPath + "-shm"] {
            #expect(Self.mode(file) == 0o600, "\(file): \(String(Self.mode(file) ?? -1, radix: 8))")
        }
        #expect(try store.counts().tickets == 2)
    }

    @Test func storageFailuresAreTheStoresNotTheData() {
        for code in StoreError.Code.allCases {
            let expected = [.io, .readOnly, .cannotOpen, .busy, .corrupt].contains(code)
            #expect(StoreError(code, "x").isStorageFailure == expected, "\(code)")
        }
    }

    /// A rejected body is stored once, in its rejection; the outbox row publishes it from there.
    @Test func aRejectedBodyIsStoredOnce() throws {
        let dir = try TempDir()
        defer { dir.cleanup() }
        let store = try openStore(dir)
        _ = try store.recordDispatches([rejection(amqp: "m-1", messageID: "rejected/m-1")])
        let pending = try store.pendingOutbox(after: 0, limit: 10)
        #expect(pending.count == 1 && pending[0].message.body == bytes("not json"))
        #expect(try store.claimOutbox(limit: 10).first?.message.body == bytes("not json"))
        #expect(try store.pendingOutbox(limit: 10).first?.message.body == bytes("not json"))
        try store.close()
        let db = try DatabaseQueue(path: dir.dbPath)
        let (outbox, rejection) = try db.read { db in
            (
                try Int.fetchOne(db, sql: "SELECT length(body) FROM outbox"),
                try Int.fetchOne(db, sql: "SELECT length(body) FROM rejections")
            )
        }
        #expect(outbox == 0 && rejection == 8)
    }

    /// Sent rows older than the cut are deleted, in batches of the limit; unsent and younger rows stay,
    /// and so do the tickets, events and rejections they came from.
    @Test func pruningDeletesOnlyOldSentRows() throws {
        let dir = try TempDir()
        defer { dir.cleanup() }
        let store = try openStore(dir)
        let old = t0
        let young = t0.addingTimeInterval(3_600)
        _ = try store.recordDispatches(
            (0..<6).map { dispatch("OLD-\($0)", at: old) }
                + [rejection(amqp: "r-1", messageID: "rejected/r-1", at: old)])
        _ = try store.recordDispatches((0..<2).map { dispatch("YOUNG-\($0)", at: young) })
        let rows = try store.pendingOutbox(after: 0, limit: 100)
        #expect(rows.count == 6 * 2 + 1 + 2 * 2)
        // Every old row sent but one; the young ones sent too.
        let oldRows = rows.filter { $0.createdAt == old }
        try store.markSent(oldRows.dropLast().map(\.id), at: old.addingTimeInterval(1))
        try store.markSent(rows.filter { $0.createdAt == young }.map(\.id), at: young.addingTimeInterval(1))

        let cut = old.addingTimeInterval(60)
        #expect(try store.pruneSentOutbox(sentBefore: cut, limit: 5) == 5)
        #expect(try store.pruneSentOutbox(sentBefore: cut, limit: 5) == 5)
        #expect(try store.pruneSentOutbox(sentBefore: cut, limit: 5) == 2)
        #expect(try store.pruneSentOutbox(sentBefore: cut, limit: 5) == 0)
        let counts = try store.counts()
        #expect(counts.outboxPending == 1 && counts.outboxSent == 4)
        #expect(counts.tickets == 8 && counts.events == 8 && counts.rejections == 1 && counts.decisions == 8)
        #expect(try store.pendingOutbox(after: 0, limit: 100).map(\.id) == [oldRows.last!.id])
        // Later, the young ones go too.
        #expect(try store.pruneSentOutbox(sentBefore: young.addingTimeInterval(60)) == 4)
        #expect(try store.counts().outboxSent == 0)
        #expect(throws: StoreError.self) { try store.pruneSentOutbox(sentBefore: cut, limit: 0) }
    }

    @Test func fileSizesAreThoseOnDisk() throws {
        let dir = try TempDir()
        defer { dir.cleanup() }
        let store = try openStore(dir)
        _ = try store.recordDispatches((0..<50).map { dispatch("S\($0)") })
        let sizes = store.fileSizes()
        let onDisk = { (p: String) in
            ((try? FileManager.default.attributesOfItem(atPath: p)[.size] as? NSNumber)?.int64Value) ?? -1
        }
        #expect(sizes.database == onDisk(dir.dbPath) && sizes.database > 0)
        #expect(sizes.wal == onDisk(dir.dbPath + "-wal") && sizes.wal > 0)
        #expect((sizes.available ?? 0) > 0)
    }
}
