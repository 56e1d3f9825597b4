import Foundation
import PagodaJSON
import PagodaStore
import Synchronization
import Testing

@Suite struct RecordDispatchesTests {
    @Test func batchWithDuplicatesHasExactOutcomesAndCounts() throws {
        let dir = try TempDir()
        defer { dir.cleanup() }
        let store = try openStore(dir)

        let first = try store.recordDispatches([dispatch("T1"), dispatch("T2")])
        #expect(first == [.recorded(dispatchSequence: 1), .recorded(dispatchSequence: 2)])

        // New tickets, a duplicate inside the batch, a duplicate of the earlier batch.
        let second = try store.recordDispatches([
            dispatch("T3"), dispatch("T1"), dispatch("T4"), dispatch("T3"), dispatch("T5"),
        ])
        #expect(
            second == [
                .recorded(dispatchSequence: 3), .duplicate(dispatchSequence: 1),
                .recorded(dispatchSequence: 4), .duplicate(dispatchSequence: 3),
                .recorded(dispatchSequence: 5),
            ])

        let counts = try store.counts()
        #expect(
            counts
                == StoreCounts(
                    inbox: 5, tickets: 5, decisions: 5, deadlines: 0, events: 5, rejections: 0,
                    outboxPending: 10, outboxSent: 0, lastDispatchSequence: 5))
    }

    @Test func sequencesAreStrictlyIncreasingAndGapFreeAcrossCommits() throws {
        let dir = try TempDir()
        defer { dir.cleanup() }
        let store = try openStore(dir)
        var all: [Int64] = []
        for batch in 0..<5 {
            let items = (0..<(batch + 1)).map { dispatch("B\(batch)-\($0)") } + [dispatch("B0-0")]
            let outcomes = try store.recordDispatches(items)
            let recorded = outcomes.compactMap { outcome -> Int64? in
                if case .recorded(let seq) = outcome { return seq } else { return nil }
            }
            #expect(recorded.count == batch + 1)
            // Gap-free within the commit and continuing right after the previous one.
            #expect(recorded == Array((Int64(all.count) + 1)...Int64(all.count + batch + 1)))
            all += recorded
        }
        #expect(all == Array(1...15))
        #expect(try store.counts().lastDispatchSequence == 15)
    }

    @Test func messageBodiesCarryTheAssignedSequence() throws {
        let dir = try TempDir()
        defer { dir.cleanup() }
        let store = try openStore(dir)
        _ = try store.recordDispatches([dispatch("A"), dispatch("B")])
        let pending = try store.pendingOutbox(limit: 10)
        #expect(pending.map(\.message.messageID) == ["A/dispatch", "A/event", "B/dispatch", "B/event"])
        #expect(pending[0].message.body == bytes(#"{"ticket":"A","dispatch_seq":1}"#))
        #expect(pending[2].message.body == bytes(#"{"ticket":"B","dispatch_seq":2}"#))
        #expect(pending[2].message.headers == ["x-ticket-id": "B", "x-dispatch-seq": "2"])
        #expect(pending[1].message.mandatory == false)
        #expect(pending[0].message.mandatory == true)
        #expect(pending[0].message.contentType == "application/json")
    }

    @Test func messagesClosureIsCalledOnceOnlyForNewTickets() throws {
        let dir = try TempDir()
        defer { dir.cleanup() }
        let store = try openStore(dir)
        let calls = Mutex<[Int64]>([])
        func counted(_ id: String) -> IntakeRecord {
            guard case .dispatch(var d) = dispatch(id) else { fatalError() }
            let build = d.messages
            d.messages = { seq in
                calls.withLock { $0.append(seq) }
                return build(seq)
            }
            return .dispatch(d)
        }
        _ = try store.recordDispatches([counted("T1")])
        let outcomes = try store.recordDispatches([counted("T1"), counted("T2"), counted("T2")])
        #expect(
            outcomes == [
                .duplicate(dispatchSequence: 1), .recorded(dispatchSequence: 2),
                .duplicate(dispatchSequence: 2),
            ])
        #expect(calls.withLock { $0 } == [1, 2])
    }

    @Test func rejectionsAreRecordedAndDedupedByAMQPMessageID() throws {
        let dir = try TempDir()
        defer { dir.cleanup() }
        let store = try openStore(dir)
        let outcomes = try store.recordDispatches([
            rejection(amqp: "m-1", messageID: "rej-1"),
            dispatch("T1"),
            rejection(amqp: "m-1", messageID: "rej-2"),  // duplicate in batch
            rejection(amqp: nil, messageID: "rej-3"),
            rejection(amqp: nil, messageID: "rej-4"),  // no id: never deduplicated
        ])
        guard case .rejected(let id1) = outcomes[0], case .rejected(let id3) = outcomes[3],
            case .rejected(let id4) = outcomes[4]
        else {
            Issue.record("unexpected outcomes \(outcomes)")
            return
        }
        #expect(outcomes[1] == .recorded(dispatchSequence: 1))
        #expect(outcomes[2] == .duplicateRejection)
        #expect(id1 < id3 && id3 < id4)

        let again = try store.recordDispatches([rejection(amqp: "m-1", messageID: "rej-5")])
        #expect(again == [.duplicateRejection])

        let counts = try store.counts()
        #expect(counts.rejections == 3)
        #expect(counts.inbox == 1)
        #expect(counts.tickets == 1)
        #expect(counts.outboxPending == 2 + 3)
        #expect(
            try store.pendingOutbox(limit: 10).map(\.message.messageID)
                == ["rej-1", "T1/dispatch", "T1/event", "rej-3", "rej-4"])
    }

    @Test func emptyBatchWritesNothing() throws {
        let dir = try TempDir()
        defer { dir.cleanup() }
        let store = try openStore(dir)
        #expect(try store.recordDispatches([]) == [])
        #expect(try store.counts() == StoreCounts())
    }
}

@Suite struct OutboxTests {
    @Test func pendingIsOldestFirstExcludesInFlightAndMarkSentRemoves() throws {
        let dir = try TempDir()
        defer { dir.cleanup() }
        let store = try openStore(dir)
        _ = try store.recordDispatches([dispatch("T1"), dispatch("T2")])
        _ = try store.recordDispatches([dispatch("T3")])
        #expect(try store.outboxBacklog() == 6)

        let all = try store.pendingOutbox(limit: 100, excluding: [])
        #expect(all.count == 6)
        #expect(all.map(\.id) == all.map(\.id).sorted())
        #expect(
            all.map(\.message.messageID)
                == ["T1/dispatch", "T1/event", "T2/dispatch", "T2/event", "T3/dispatch", "T3/event"])
        #expect(all.allSatisfy { $0.attempts == 0 && $0.createdAt == t0 })

        let firstTwo = try store.pendingOutbox(limit: 2, excluding: [])
        #expect(firstTwo == Array(all.prefix(2)))

        // In-flight rows are skipped; the limit applies to what remains.
        let skipping = try store.pendingOutbox(limit: 2, excluding: [all[0].id, all[2].id])
        #expect(skipping.map(\.id) == [all[1].id, all[3].id])

        let changed = try store.markSent([all[0].id, all[1].id, all[3].id], at: t0.addingTimeInterval(1))
        #expect(changed == 3)
        #expect(try store.outboxBacklog() == 3)
        #expect(try store.pendingOutbox(limit: 100, excluding: []).map(\.id) == [all[2].id, all[4].id, all[5].id])

        // Idempotent: re-marking and unknown ids change nothing.
        #expect(try store.markSent([all[0].id, 999_999], at: t0.addingTimeInterval(2)) == 0)
        #expect(try store.markSent([], at: t0) == 0)
        let counts = try store.counts()
        #expect(counts.outboxPending == 3)
        #expect(counts.outboxSent == 3)

        // First confirm time is kept.
        let history = try #require(try store.ticket(id: "T1"))
        #expect(history.messages.map(\.sentAt) == [t0.addingTimeInterval(1), t0.addingTimeInterval(1)])
    }

    @Test func pendingAfterACursorReadsOnlyNewerUnsentRows() throws {
        let dir = try TempDir()
        defer { dir.cleanup() }
        let store = try openStore(dir)
        _ = try store.recordDispatches([dispatch("T1"), dispatch("T2")])
        let first = try store.pendingOutbox(after: 0, limit: 3)
        #expect(first.map(\.message.messageID) == ["T1/dispatch", "T1/event", "T2/dispatch"])
        let cursor = try #require(first.last?.id)
        _ = try store.recordDispatches([dispatch("T3")])
        let next = try store.pendingOutbox(after: cursor, limit: 100)
        #expect(next.map(\.message.messageID) == ["T2/event", "T3/dispatch", "T3/event"])
        // Sent rows are skipped; a fresh relay (cursor 0) sees every unsent row again.
        try store.markSent([first[0].id, next[1].id], at: t0)
        #expect(
            try store.pendingOutbox(after: 0, limit: 100).map(\.message.messageID) == [
                "T1/event", "T2/dispatch", "T2/event", "T3/event",
            ])
        #expect(try store.pendingOutbox(after: next.last!.id, limit: 100).isEmpty)
    }

    @Test func claimCountsAttemptsAndUnconfirmedRowsComeBackAfterReconnect() throws {
        let dir = try TempDir()
        defer { dir.cleanup() }
        let store = try openStore(dir)
        _ = try store.recordDispatches([dispatch("T1"), dispatch("T2")])

        // Relay publishes the first three; only one is confirmed before the connection drops.
        let batch1 = try store.claimOutbox(limit: 3)
        #expect(batch1.map(\.attempts) == [1, 1, 1])
        var inFlight = Set(batch1.map(\.id))
        let batch2 = try store.claimOutbox(limit: 3, excluding: inFlight)
        #expect(batch2.count == 1)
        inFlight.formUnion(batch2.map(\.id))
        try store.markSent([batch1[0].id], at: t0)
        inFlight.remove(batch1[0].id)

        // Reconnect: in-flight forgotten, unconfirmed rows are handed out again.
        let resend = try store.claimOutbox(limit: 10, excluding: [])
        #expect(resend.map(\.id) == [batch1[1].id, batch1[2].id, batch2[0].id])
        #expect(resend.map(\.attempts) == [2, 2, 2])
        #expect(try store.pendingOutbox(limit: 10).map(\.attempts) == [2, 2, 2])
    }

    @Test func headersRoundTripWithCharactersThatNeedEscaping() throws {
        let dir = try TempDir()
        defer { dir.cleanup() }
        let store = try openStore(dir)
        let headers = [
            "quote\"key": "a \"b\" c", "back\\slash": "C:\\dir", "lines": "1\n2\r3\t4",
            "control": "\u{01}\u{1F}", "unicode": "佛山市12345热线 🚒", "empty": "", "": "empty key",
        ]
        let message = OutboxMessage(exchange: "x", routingKey: "r", messageID: "m-1", headers: headers, body: [])
        _ = try store.recordDispatches([
            .rejection(
                Rejection(
                    amqpMessageID: nil, body: [], code: "c", reason: "r", at: t0, message: message))
        ])
        let pending = try store.pendingOutbox(limit: 1)
        #expect(pending.first?.message == message)
    }

    @Test func extraRoutingKeysRoundTripInOrder() throws {
        let dir = try TempDir()
        defer { dir.cleanup() }
        let store = try openStore(dir)
        let keys = ["unit.shunde.beijiao", "unit.city.supervision", "quote\"and\\back", "佛山"]
        let messages = [
            OutboxMessage(
                exchange: "pagoda.dispatch", routingKey: "ticket.escalated", messageID: "m-1", body: [],
                extraRoutingKeys: keys),
            OutboxMessage(exchange: "pagoda.dispatch", routingKey: "ticket.signed", messageID: "m-2", body: []),
        ]
        for m in messages {
            _ = try store.recordDispatches([
                .rejection(Rejection(amqpMessageID: nil, body: [], code: "c", reason: "r", at: t0, message: m))
            ])
        }
        #expect(try store.pendingOutbox(limit: 5).map(\.message) == messages)
    }

    @Test func negativeLimitIsRejected() throws {
        let dir = try TempDir()
        defer { dir.cleanup() }
        let store = try openStore(dir)
        let error = #expect(throws: StoreError.self) { try store.pendingOutbox(limit: -1, excluding: []) }
        #expect(error?.code == .invalidArgument)
        #expect(try store.pendingOutbox(limit: 0, excluding: []) == [])
    }
}

@Suite struct CrashSafetyTests {
    @Test func duplicateMessageIDInsideBatchRollsBackWholeBatch() throws {
        let dir = try TempDir()
        defer { dir.cleanup() }
        do {
            let store = try openStore(dir)
            _ = try store.recordDispatches([dispatch("OK1")])

            // T2 is fine, T3 reuses T2's dispatch message id: fails halfway through the batch.
            let error = #expect(throws: StoreError.self) {
                try store.recordDispatches([
                    dispatch("T2"), rejection(amqp: "m-9", messageID: "rej-9"),
                    dispatch("T3", messageIDs: ["T2/dispatch", "T3/event"]),
                ])
            }
            #expect(error?.code == .constraint)

            // Nothing half-written, no sequence consumed.
            #expect(
                try store.counts()
                    == StoreCounts(
                        inbox: 1, tickets: 1, decisions: 1, deadlines: 0, events: 1, rejections: 0,
                        outboxPending: 2, outboxSent: 0, lastDispatchSequence: 1))
            #expect(try store.ticket(id: "T2") == nil)

            // A message id already committed in an earlier batch fails the same way.
            #expect(throws: StoreError.self) {
                try store.recordDispatches([dispatch("T4", messageIDs: ["OK1/dispatch", "T4/event"])])
            }

            // Retrying the good part succeeds and continues the sequence with no gap.
            #expect(
                try store.recordDispatches([dispatch("T2"), dispatch("T3")])
                    == [.recorded(dispatchSequence: 2), .recorded(dispatchSequence: 3)])
            try store.close()
        }

        // Reopen the file: committed data intact, integrity OK.
        let reopened = try openStore(dir)
        try reopened.checkIntegrity()
        #expect(
            try reopened.counts()
                == StoreCounts(
                    inbox: 3, tickets: 3, decisions: 3, deadlines: 0, events: 3, rejections: 0,
                    outboxPending: 6, outboxSent: 0, lastDispatchSequence: 3))
        #expect(try reopened.recordDispatches([dispatch("T2")]) == [.duplicate(dispatchSequence: 2)])
    }

    @Test func crashImageWithoutCleanCloseRecoversCommittedData() throws {
        let dir = try TempDir()
        defer { dir.cleanup() }
        let crashDir = try TempDir()
        defer { crashDir.cleanup() }
        let store = try openStore(dir)
        _ = try store.recordDispatches([dispatch("T1"), dispatch("T2")])
        let pending = try store.pendingOutbox(limit: 10)
        try store.markSent([pending[0].id], at: t0)
        // Snapshot the files as a killed process leaves them: database plus
        // un-checkpointed WAL, no clean close, no -shm.
        let fm = FileManager.default
        #expect(fm.fileExists(atPath: dir.dbPath + "-wal"))
        try fm.copyItem(atPath: dir.dbPath, toPath: crashDir.dbPath)
        try fm.copyItem(atPath: dir.dbPath + "-wal", toPath: crashDir.dbPath + "-wal")

        let recovered = try openStore(crashDir)
        try recovered.checkIntegrity()
        #expect(
            try recovered.counts()
                == StoreCounts(
                    inbox: 2, tickets: 2, decisions: 2, deadlines: 0, events: 2, rejections: 0,
                    outboxPending: 3, outboxSent: 1, lastDispatchSequence: 2))
        #expect(
            try recovered.recordDispatches([dispatch("T2"), dispatch("T3")])
                == [.duplicate(dispatchSequence: 2), .recorded(dispatchSequence: 3)])
    }

    @Test func invalidTicketIDIsRejectedBySchema() throws {
        let dir = try TempDir()
        defer { dir.cleanup() }
        let store = try openStore(dir)
        let error = #expect(throws: StoreError.self) { try store.recordDispatches([dispatch("A"), dispatch("")]) }
        #expect(error?.code == .constraint)
        #expect(try store.counts() == StoreCounts())
    }

    @Test func notADatabaseIsReportedAsCorrupt() throws {
        let dir = try TempDir()
        defer { dir.cleanup() }
        try Data(repeating: 0x41, count: 8192).write(to: URL(fileURLWithPath: dir.dbPath))
        let error = #expect(throws: StoreError.self) { try openStore(dir) }
        #expect(error?.code == .corrupt)
    }

    /// A missing directory is made (StoreFilesTests); one that cannot be made, under a plain file, is named.
    @Test func directoryThatCannotBeMadeCannotOpen() throws {
        let dir = try TempDir()
        defer { dir.cleanup() }
        try Data("x".utf8).write(to: dir.url.appendingPathComponent("file"))
        let path = dir.url.appendingPathComponent("file/dir/db.sqlite").path
        let error = #expect(throws: StoreError.self) { try DispatchStore(StoreConfiguration(path: path)) }
        #expect(error?.code == .cannotOpen)
        let named = dir.url.appendingPathComponent("file/dir").path
        #expect(error?.message.contains(named) == true, "\(String(describing: error))")
    }
}

@Suite struct ReopenTests {
    @Test func migrationsRunOnceAndReopenSeesData() throws {
        let dir = try TempDir()
        defer { dir.cleanup() }
        do {
            let store = try openStore(dir)
            #expect(try store.appliedMigrations() == DispatchStore.knownMigrations)
            #expect(
                DispatchStore.knownMigrations
                    == [
                        "v1-intake", "v2-lifecycle", "v3-outbox-routing-keys", "v4-intake-rejection-actions",
                        "v5-console-accounts", "v5-console-pages-read-model", "v6-console-api-read-model",
                        "v8-inbox-message-ids", "v9-console-token-expiry",
                    ])
            _ = try store.recordDispatches([dispatch("T1")])
            try store.close()
        }
        let again = try openStore(dir)
        #expect(try again.appliedMigrations() == DispatchStore.knownMigrations)
        #expect(try again.counts().tickets == 1)
        #expect(try again.recordDispatches([dispatch("T2")]) == [.recorded(dispatchSequence: 2)])
    }

    @Test func secondStoreOnSameFileSeesData() throws {
        let dir = try TempDir()
        defer { dir.cleanup() }
        let a = try openStore(dir)
        let b = try openStore(dir)  // as a restarted process would, while the old one still runs
        _ = try a.recordDispatches([dispatch("T1")])
        #expect(try b.counts().tickets == 1)
        // Dedup and sequencing hold across the two connections' writes.
        #expect(
            try b.recordDispatches([dispatch("T1"), dispatch("T2")])
                == [.duplicate(dispatchSequence: 1), .recorded(dispatchSequence: 2)])
        #expect(try a.recordDispatches([dispatch("T3")]) == [.recorded(dispatchSequence: 3)])
        let pending = try b.pendingOutbox(limit: 10)
        #expect(pending.count == 6)
        try a.markSent(pending.map(\.id), at: t0)
        #expect(try b.outboxBacklog() == 0)
    }

    @Test func concurrentOpensOfANewFileAllSucceed() async throws {
        let dir = try TempDir()
        defer { dir.cleanup() }
        // Like several processes starting at once against a file that does not exist yet.
        let stores = try await withThrowingTaskGroup(of: DispatchStore.self) { group in
            for _ in 0..<4 { group.addTask { try openStore(dir) } }
            var opened: [DispatchStore] = []
            for try await store in group { opened.append(store) }
            return opened
        }
        for store in stores { #expect(try store.appliedMigrations() == DispatchStore.knownMigrations) }
    }

    @Test func concurrentWritersNeverDoubleDispatch() async throws {
        let dir = try TempDir()
        defer { dir.cleanup() }
        let a = try openStore(dir)
        let b = try openStore(dir)
        // Two stores (separate pools, like two processes) race on overlapping tickets.
        let ids = (0..<40).map { "C\($0)" }
        let results = try await withThrowingTaskGroup(of: [IntakeOutcome].self) { group in
            for store in [a, b] {
                group.addTask {
                    var outcomes: [IntakeOutcome] = []
                    for chunk in stride(from: 0, to: ids.count, by: 4) {
                        outcomes += try store.recordDispatches(ids[chunk..<chunk + 4].map { dispatch($0) })
                    }
                    return outcomes
                }
            }
            var all: [IntakeOutcome] = []
            for try await part in group { all += part }
            return all
        }
        let recorded = results.compactMap { if case .recorded(let s) = $0 { s } else { nil } }
        #expect(recorded.sorted() == Array(1...40))
        #expect(results.count == 80)
        #expect(try a.counts().tickets == 40)
    }
}

@Suite struct HistoryTests {
    @Test func ticketHistoryHasDecisionDeadlinesMessagesEvents() throws {
        let dir = try TempDir()
        defer { dir.cleanup() }
        let store = try openStore(dir)
        let deadlines = ["resolve_by": t0.addingTimeInterval(86_400), "accept_by": t0.addingTimeInterval(3_600)]
        _ = try store.recordDispatches([dispatch("X"), dispatch("T9", amqp: "amqp-9", deadlines: deadlines)])

        let history = try #require(try store.ticket(id: "T9"))
        #expect(history.ticket.id == "T9")
        #expect(history.ticket.body == bytes(#"{"id":"T9"}"#))
        #expect(history.ticket.state == "dispatched")
        #expect(history.ticket.unitID == "GZ-HZ-001")
        #expect(history.ticket.dispatchSequence == 2)
        #expect(history.ticket.amqpMessageID == "amqp-9")
        #expect(history.ticket.receivedAt == t0)

        #expect(history.decisions.count == 1)
        #expect(history.decisions[0].dispatchSequence == 2)
        #expect(history.decisions[0].row == decision(deadlines: deadlines))

        #expect(history.deadlines.map(\.clock) == ["accept_by", "resolve_by"])
        #expect(history.deadlines.map(\.dueAt) == [t0.addingTimeInterval(3_600), t0.addingTimeInterval(86_400)])

        #expect(history.messages.map(\.outbox.message.messageID) == ["T9/dispatch", "T9/event"])
        #expect(history.messages.allSatisfy { $0.sentAt == nil })

        #expect(history.events.map(\.type) == ["ticket.dispatched"])
        #expect(history.events[0].at == t0)
        let payload = try #require(
            try JSONSerialization.jsonObject(
                with: Data(history.events[0].payloadJSON)) as? [String: Any])
        #expect(payload["dispatch_seq"] as? Int == 2)
        #expect(payload["rule_id"] as? String == "noise-night")
        #expect(payload["message_ids"] as? [String] == ["T9/dispatch", "T9/event"])

        #expect(try store.counts().deadlines == 2)
        #expect(try store.ticket(id: "nope") == nil)
    }

    @Test func datesRoundToMilliseconds() throws {
        let dir = try TempDir()
        defer { dir.cleanup() }
        let store = try openStore(dir)
        let at = Date(timeIntervalSince1970: 1_790_000_000.1234567)
        _ = try store.recordDispatches([dispatch("T1", at: at)])
        let history = try #require(try store.ticket(id: "T1"))
        #expect(abs(history.ticket.receivedAt.timeIntervalSince(at)) < 0.0005)
        #expect(history.ticket.receivedAt.timeIntervalSince1970 * 1000 == 1_790_000_000_123)
    }
}

@Suite struct PragmaTests {
    @Test(arguments: Synchronous.allCases)
    func synchronousIsApplied(_ level: Synchronous) throws {
        let dir = try TempDir()
        defer { dir.cleanup() }
        let store = try DispatchStore(
            StoreConfiguration(
                path: dir.dbPath, synchronous: level,
                busyTimeout: .milliseconds(1500)))
        let pragmas = try store.pragmas()
        #expect(pragmas.synchronous == level.pragmaValue)
        #expect(pragmas.journalMode == "wal")
        #expect(pragmas.foreignKeys)
        #expect(pragmas.busyTimeoutMilliseconds == 1500)
    }
}

@Suite struct CheckpointTests {
    /// With background checkpoints, commits leave the WAL alone (up to the safety limit) and
    /// `checkpoint()` copies it into the database file; the data is all there after reopening.
    @Test func backgroundCheckpointCopiesTheWALAndKeepsTheData() throws {
        let dir = try TempDir()
        defer { dir.cleanup() }
        let store = try DispatchStore(StoreConfiguration(path: dir.dbPath, backgroundCheckpoints: true))
        // Enough rows that the default autocheckpoint (1,000 pages) would have run during the commits.
        for batch in 0..<80 {
            let records = (0..<100).map { i in dispatch("CK-\(batch)-\(i)") }
            _ = try store.recordDispatches(records)
        }
        let first = try store.checkpoint(restartFrames: .max)
        // Every frame since the start is still in the WAL: no commit copied it back at 1,000 pages.
        #expect(first.walFrames > 1_000)
        #expect(first.checkpointed == first.walFrames)
        #expect(!first.restarted)
        // All copied and over the limit: the WAL starts over, and the next commit writes at its start.
        let second = try store.checkpoint(restartFrames: 100)
        #expect(second.walFrames == first.walFrames && second.restarted)
        _ = try store.recordDispatches([dispatch("CK-after")])
        let third = try store.checkpoint(restartFrames: .max)
        #expect(third.walFrames < 100, "the WAL did not start over: \(third.walFrames) frames")
        #expect(try store.counts().tickets == 8_001)
        try store.close()
        let reopened = try DispatchStore(StoreConfiguration(path: dir.dbPath))
        #expect(try reopened.counts().tickets == 8_001)
    }

    @Test func checkpointNeedsTheOption() throws {
        let dir = try TempDir()
        defer { dir.cleanup() }
        let store = try DispatchStore(StoreConfiguration(path: dir.dbPath))
        #expect(throws: StoreError.self) { try store.checkpoint() }
    }

    /// markSent commits without an fsync of its own and puts the configured level back.
    @Test func markSentLeavesTheSynchronousLevelAsConfigured() throws {
        let dir = try TempDir()
        defer { dir.cleanup() }
        let store = try DispatchStore(StoreConfiguration(path: dir.dbPath, synchronous: .full))
        _ = try store.recordDispatches([dispatch("MS-1")])
        let rows = try store.pendingOutbox(limit: 10)
        #expect(try store.markSent(rows.map(\.id), at: t0) == rows.count)
        #expect(try store.pragmas().synchronous == Synchronous.full.pragmaValue)
        #expect(try store.pendingOutbox(limit: 10).isEmpty)
    }
}
