import Foundation
import PagodaPostgres
import PagodaRules
import PagodaService
import PagodaStore
import PagodaTesting
import Testing

/// The contracts the services rely on, as the same test bodies against each backend (a fresh SQLite file,
/// a fresh PostgreSQL database): the inbox deduplicates by ticket id, a batch commits whole or not at all,
/// outbox ids follow the commits, versions are checked where they are written, the timeline reads back.
@Suite struct StoreConformanceTests {
    @Test(arguments: Backend.allCases)
    func intakeDeduplicatesByTicketIDWithinAndAcrossBatches(_ backend: Backend) async throws {
        try await withStore(backend) { store in
            let first = try await store.recordDispatches([
                .dispatch(dispatch("A")), .dispatch(dispatch("B")), .dispatch(dispatch("A", messageIDs: ["x", "y"])),
                rejection(amqp: "m-1", messageID: "rej-1"), rejection(amqp: "m-1", messageID: "rej-2"),
            ])
            guard case .rejected(let rejectionID) = first[3] else {
                Issue.record("expected a rejection, got \(first[3])")
                return
            }
            #expect(
                first == [
                    .recorded(dispatchSequence: 1), .recorded(dispatchSequence: 2), .duplicate(dispatchSequence: 1),
                    .rejected(id: rejectionID), .duplicateRejection,
                ])
            let second = try await store.recordDispatches([.dispatch(dispatch("B")), .dispatch(dispatch("C"))])
            #expect(second == [.duplicate(dispatchSequence: 2), .recorded(dispatchSequence: 3)])
            let counts = try await store.rowCounts()
            #expect(counts.inbox == 3 && counts.tickets == 3 && counts.decisions == 3 && counts.rejections == 1)
            // Two messages per dispatch and one for the rejection; the dispatch events of the three tickets.
            #expect(counts.outboxPending == 7 && counts.events == 3 && counts.lastDispatchSequence == 3)
            #expect(try await store.recordDispatches([]) == [])
        }
    }

    /// A sender that sends a changed message again under the same message id, still invalid: the new body is
    /// a rejection of its own (keyed by its body too), and each body delivered again is a duplicate.
    @Test(arguments: Backend.allCases)
    func anotherBodyUnderARejectedMessageIDIsRecordedToo(_ backend: Backend) async throws {
        try await withStore(backend) { store in
            let outcomes = try await store.recordDispatches([
                rejection(amqp: "m-1", messageID: "rejected/m-1", body: "not json"),
                rejection(amqp: "m-1", messageID: "rejected/m-1", body: "still not json"),
                rejection(amqp: "m-1", messageID: "rejected/m-1", body: "not json"),
            ])
            let again = try await store.recordDispatches([
                rejection(amqp: "m-1", messageID: "rejected/m-1", body: "still not json")
            ])
            guard case .rejected(let first) = outcomes[0], case .rejected(let second) = outcomes[1] else {
                Issue.record("expected two rejections, got \(outcomes)")
                return
            }
            #expect(first != second && outcomes[2] == .duplicateRejection && again == [.duplicateRejection])
            let key = "m-1#sha256:" + Digest.sha256Hex(Array("still not json".utf8))
            let changed = try #require(try await store.rejection(id: second))
            #expect(changed.amqpMessageID == key && changed.body == Array("still not json".utf8))
            #expect(try await store.rejection(id: first)?.amqpMessageID == "m-1")
            let counts = try await store.rowCounts()
            #expect(counts.rejections == 2 && counts.outboxPending == 2)
        }
    }

    /// A message that brought a dispatched ticket and comes back rejected (as poison after deliveries left
    /// unacknowledged, or read otherwise by new rules) is that dispatch's duplicate, in this batch or later;
    /// another body under that message id is not, and is recorded as a rejection.
    @Test(arguments: Backend.allCases)
    func aDispatchedMessageRejectedLaterIsADuplicate(_ backend: Backend) async throws {
        try await withStore(backend) { store in
            let a = String(decoding: dispatch("A").ticketJSON, as: UTF8.self)
            let first = try await store.recordDispatches([
                .dispatch(dispatch("A", amqp: "m-a")), rejection(amqp: "m-a", messageID: "rejected/m-a", body: a),
            ])
            #expect(first == [.recorded(dispatchSequence: 1), .duplicate(dispatchSequence: 1)])
            let later = try await store.recordDispatches([
                rejection(amqp: "m-a", messageID: "rejected/m-a-2", body: a),
                rejection(amqp: "m-b", messageID: "rejected/m-b"),
                rejection(amqp: "m-a", messageID: "rejected/m-a-3", body: "A changed, not json"),
            ])
            #expect(later.first == .duplicate(dispatchSequence: 1))
            guard case .rejected = later[1], case .rejected = later[2] else {
                Issue.record("expected two rejections, got \(later)")
                return
            }
            let counts = try await store.rowCounts()
            #expect(counts.inbox == 1 && counts.rejections == 2)
        }
    }

    /// A batch that breaks a constraint (an outbox message id used twice) writes nothing and consumes no
    /// sequence number; the same tickets in a later batch get the next numbers.
    @Test(arguments: Backend.allCases)
    func aFailingBatchWritesNothing(_ backend: Backend) async throws {
        try await withStore(backend) { store in
            #expect(try await store.recordDispatches([.dispatch(dispatch("A"))]) == [.recorded(dispatchSequence: 1)])
            let error = await #expect(throws: StoreError.self) {
                try await store.recordDispatches([
                    .dispatch(dispatch("B")), .dispatch(dispatch("C", messageIDs: ["B/dispatch", "C/event"])),
                ])
            }
            #expect(error?.code == .constraint)
            #expect(error?.isStorageFailure == false)
            let counts = try await store.rowCounts()
            #expect(counts.tickets == 1 && counts.outboxPending == 2 && counts.lastDispatchSequence == 1)
            #expect(
                try await store.recordDispatches([.dispatch(dispatch("C")), .dispatch(dispatch("B"))]) == [
                    .recorded(dispatchSequence: 2), .recorded(dispatchSequence: 3),
                ])
            // An empty ticket id is refused by the schema.
            await #expect(throws: StoreError.self) { try await store.recordDispatches([.dispatch(dispatch(""))]) }
        }
    }

    /// The relay's reads: unsent rows after a cursor, in commit order, with every field as written (the
    /// rejection's row with its rejection's body); marking twice changes nothing; the backlog follows.
    @Test(arguments: Backend.allCases)
    func outboxReadsAfterACursorAndMarksOnce(_ backend: Backend) async throws {
        try await withStore(backend) { store in
            _ = try await store.recordDispatches([.dispatch(dispatch("A")), rejection(amqp: nil, messageID: "rej")])
            _ = try await store.recordDispatches([.dispatch(dispatch("B"))])
            let all = try await store.pendingOutbox(after: 0, limit: 100)
            #expect(all.map(\.message.messageID) == ["A/dispatch", "A/event", "rej", "B/dispatch", "B/event"])
            #expect(all.map(\.id) == all.map(\.id).sorted() && Set(all.map(\.id)).count == 5)
            let a = all[0].message
            #expect(a.headers == ["x-ticket-id": "A", "x-dispatch-seq": "1", "x-note": "\"quoted\" \\ 佛山"])
            #expect(a.body == bytes(#"{"ticket":"A","dispatch_seq":1}"#) + [0, 255, 10])
            #expect(a.extraRoutingKeys == ["unit.b", "unit.a"] && a.mandatory && a.contentType == "application/json")
            #expect(all[1].message.mandatory == false && all[1].message.extraRoutingKeys.isEmpty)
            #expect(all[2].message.body == bytes("not json") && all[2].createdAt == t0)
            let tail = try await store.pendingOutbox(after: all[1].id, limit: 2)
            #expect(tail.map(\.message.messageID) == ["rej", "B/dispatch"])
            #expect(try await store.outboxBacklog() == 5)
            #expect(try await store.markSent([all[0].id, all[2].id], at: t0) == 2)
            #expect(try await store.markSent([all[0].id, all[2].id, 999_999], at: t0) == 0)
            #expect(try await store.outboxBacklog() == 3)
            #expect(
                try await store.pendingOutbox(after: 0, limit: 100).map(\.message.messageID) == [
                    "A/event", "B/dispatch", "B/event",
                ])
            #expect(try await store.pendingOutbox(after: 0, limit: 0).isEmpty)
            await #expect(throws: StoreError.self) { try await store.pendingOutbox(after: 0, limit: -1) }
            // Retention deletes only rows sent before the cutoff; the ticket keeps its history.
            #expect(try await store.prune(sentBefore: t0.addingTimeInterval(1), limit: 500) == 2)
            #expect(try await store.rowCounts().outboxSent == 0)
            #expect(try await store.history("A")?.decisions.count == 1)
        }
    }

    @Test(arguments: Backend.allCases)
    func dispatchWritesTheFirstStateAndTimer(_ backend: Backend) async throws {
        try await withStore(backend) { store in
            _ = try await store.recordDispatches([
                started("A", timer: t0.addingTimeInterval(60)), started("B", timer: t0.addingTimeInterval(30)),
                started("N", timer: nil),
            ])
            let states = try await store.lifecycle(["A", "B", "N", "missing"], withTicket: true)
            #expect(Set(states.keys) == ["A", "B", "N"])
            let a = try #require(states["A"])
            #expect(a.version == 0 && a.phase == "assigned" && a.unitID == "u1" && a.state == bytes("{\"v\":0}") + [0])
            #expect(a.ticketBody == bytes(#"{"id":"A","text":"噪音\n\u0000"}"#))
            #expect(try await store.lifecycle(["A"], withTicket: false)["A"]?.ticketBody == [])
            #expect(try await store.ticketBodies(["B", "missing"]) == ["B": bytes(#"{"id":"B","text":"噪音\n\u0000"}"#)])
            #expect(try await store.nextTimerDue() == t0.addingTimeInterval(30))
            let due = try await store.dueTimers(until: t0.addingTimeInterval(60), after: nil, limit: 10)
            #expect(
                due == [
                    DueTimer(ticketID: "B", dueAt: t0.addingTimeInterval(30), token: 0),
                    DueTimer(ticketID: "A", dueAt: t0.addingTimeInterval(60), token: 0),
                ])
            #expect(
                try await store.dueTimers(until: t0.addingTimeInterval(45), after: nil, limit: 10).map(\.ticketID) == [
                    "B"
                ])
        }
    }

    /// A burst read page by page: every due timer once, in due order, ties broken by ticket id in byte order
    /// (upper case before lower case, whatever the database's locale).
    @Test(arguments: Backend.allCases)
    func dueTimersPageThroughABurstInByteOrder(_ backend: Backend) async throws {
        try await withStore(backend) { store in
            let same = ["b-2", "B-1", "a-9", "A-3", "Z", "_x", "佛山-1", "10", "9"]
            var records = same.map { started($0, timer: t0.addingTimeInterval(60)) }
            records += (0..<3).map { started("E\($0)", timer: t0.addingTimeInterval(59)) }
            records += (0..<2).map { started("L\($0)", timer: t0.addingTimeInterval(120)) }
            _ = try await store.recordDispatches(records)
            var seen: [String] = []
            var after: DueTimer?
            var pages = 0
            while true {
                let page = try await store.dueTimers(until: t0.addingTimeInterval(60), after: after, limit: 4)
                if page.isEmpty { break }
                pages += 1
                seen += page.map(\.ticketID)
                after = page.last
            }
            let bytewise = same.sorted { Array($0.utf8).lexicographicallyPrecedes(Array($1.utf8)) }
            #expect(seen == ["E0", "E1", "E2"] + bytewise)
            #expect(pages == 3)
        }
    }

    @Test(arguments: Backend.allCases)
    func aChangeAfterAConflictOfItsTicketInTheBatchConflictsToo(_ backend: Backend) async throws {
        try await withStore(backend) { store in
            _ = try await store.recordDispatches([started("A", timer: nil), started("B", timer: nil)])
            // Another writer (the console, or a node that lost its lease) moves A first.
            #expect(
                try await store.applyLifecycle([change("A", from: 0, to: 1, timer: nil, command: "x")]) == [.applied])
            // A batch computed from the read before: c2 was worked out on top of c1. Were c2 applied, A would
            // hold c1's effects without c1's events and lose the other writer's change.
            let outcomes = try await store.applyLifecycle([
                change("A", from: 0, to: 1, timer: nil, command: "c1"),
                change("B", from: 0, to: 1, timer: nil, command: "b1"),
                change("A", from: 1, to: 2, timer: nil, command: "c2"),
            ])
            #expect(outcomes == [.conflict, .applied, .conflict])
            let a = try #require(try await store.lifecycle(["A"], withTicket: false)["A"])
            #expect(a.version == 1 && a.state == bytes("{\"v\":1}"))
            // Neither left a ledger entry: both apply once recomputed.
            #expect(
                try await store.applyLifecycle([
                    change("A", from: 1, to: 2, timer: nil, command: "c1"),
                    change("A", from: 2, to: 3, timer: nil, command: "c2"),
                ]) == [.applied, .applied])
        }
    }

    @Test(arguments: Backend.allCases)
    func changesCheckTheVersionAndTheCommandLedger(_ backend: Backend) async throws {
        try await withStore(backend) { store in
            _ = try await store.recordDispatches([started("A", timer: t0.addingTimeInterval(60))])
            let outcomes = try await store.applyLifecycle([
                change("A", from: 0, to: 1, timer: nil, command: "c1"),
                change("A", from: 0, to: 1, timer: nil, command: "c2"),  // computed from a stale read
            ])
            #expect(outcomes == [.applied, .conflict])
            #expect(try await store.lifecycle(["A"], withTicket: false)["A"]?.version == 1)
            #expect(
                try await store.applyLifecycle([
                    change("A", from: 1, to: 2, timer: t0.addingTimeInterval(90), command: "c1")  // c1 again
                ]) == [.duplicateCommand])
            #expect(try await store.nextTimerDue() == nil)
            // The refused change left no ledger entry: c2 applies once recomputed.
            #expect(
                try await store.applyLifecycle([
                    change("A", from: 1, to: 2, timer: t0.addingTimeInterval(90), command: "c2")
                ])
                    == [.applied])
            #expect(
                try await store.dueTimers(until: t0.addingTimeInterval(90), after: nil, limit: 10).map(\.token) == [2])
            let history = try #require(try await store.history("A"))
            #expect(history.ticket.state == "signed")
            #expect(
                history.events.map(\.type) == [
                    "ticket.dispatched", "ticket.assigned", "ticket.signed", "ticket.signed",
                ])
            #expect(history.messages.map(\.outbox.message.messageID) == ["A/dispatch", "A/event", "A#0", "A#1", "A#2"])
            #expect(history.messages.last?.outbox.message.extraRoutingKeys == ["unit.u1"])
            // A change without a state checks the version all the same.
            var stale = change("A", from: 1, to: 9, timer: nil)
            stale.state = nil
            #expect(try await store.applyLifecycle([stale]) == [.conflict])
            // A change about an unknown ticket (no expected version, no state) still sends its messages.
            var unknown = change("nobody", from: nil, to: 0, timer: nil, command: "c9")
            unknown.state = nil
            #expect(try await store.applyLifecycle([unknown]) == [.applied])
            #expect(try await store.applyLifecycle([unknown]) == [.duplicateCommand])
            #expect(try await store.pendingOutbox(after: 0, limit: 100).last?.message.messageID == "nobody#0")
            // The same id for another ticket, or for another type of command, is not the same command: reused,
            // and nothing is written.
            #expect(
                try await store.applyLifecycle([change("A", from: 2, to: 3, timer: nil, command: "c9")]) == [
                    .reusedCommandID
                ])
            var reply = change("A", from: 2, to: 3, timer: nil, command: "c2")
            reply.command = ("c2", "reply", "applied")
            #expect(try await store.applyLifecycle([reply]) == [.reusedCommandID])
            #expect(try await store.lifecycle(["A"], withTicket: false)["A"]?.version == 2)
        }
    }

    /// A change that keeps phase and holder writes the version, state and timer but leaves the ticket's row;
    /// one that changes them writes both rows.
    @Test(arguments: Backend.allCases)
    func aChangeKeepingPhaseAndHolderWritesTheStateAndTimer(_ backend: Backend) async throws {
        try await withStore(backend) { store in
            _ = try await store.recordDispatches([started("A", timer: t0.addingTimeInterval(60))])
            let keep = change(
                "A", from: 0, to: 1, timer: t0.addingTimeInterval(120), phase: "assigned", updatesTicket: false)
            #expect(try await store.applyLifecycle([keep]) == [.applied])
            let state = try #require(try await store.lifecycle(["A"], withTicket: false)["A"])
            #expect(state.version == 1 && state.phase == "assigned" && state.state == bytes("{\"v\":1}"))
            #expect(try await store.nextTimerDue() == t0.addingTimeInterval(120))
            #expect(try await store.history("A")?.ticket.state == "dispatched")
            #expect(try await store.applyLifecycle([change("A", from: 1, to: 2, timer: nil)]) == [.applied])
            #expect(try await store.history("A")?.ticket.state == "signed")
            #expect(try await store.lifecycle(["A"], withTicket: false)["A"]?.phase == "signed")
        }
    }

    /// A batch of lifecycle changes that fails (an outbox message id already used) writes nothing, the
    /// command ledger included.
    @Test(arguments: Backend.allCases)
    func aFailingLifecycleBatchWritesNothing(_ backend: Backend) async throws {
        try await withStore(backend) { store in
            _ = try await store.recordDispatches([started("A", timer: nil), started("B", timer: nil)])
            var clash = change("B", from: 0, to: 1, timer: nil, command: "c2")
            clash.messages = [OutboxMessage(exchange: "x", routingKey: "y", messageID: "A/dispatch", body: [])]
            await #expect(throws: StoreError.self) {
                try await store.applyLifecycle([change("A", from: 0, to: 1, timer: nil, command: "c1"), clash])
            }
            #expect(try await store.lifecycle(["A", "B"], withTicket: false).mapValues(\.version) == ["A": 0, "B": 0])
            #expect(
                try await store.applyLifecycle([change("A", from: 0, to: 1, timer: nil, command: "c1")]) == [.applied])
        }
    }

    @Test(arguments: Backend.allCases)
    func repeatsMatchTheLatestEarlierTicketWithinTheWindow(_ backend: Backend) async throws {
        try await withStore(backend) { store in
            let day = 86_400.0
            let seen = Locked<RepeatMatch?>(nil)
            _ = try await store.recordDispatches([started("A", receivedAt: t0, timer: nil, keys: ["phone:1|c"])])
            _ = try await store.recordDispatches([
                started("B", receivedAt: t0.addingTimeInterval(2 * day), timer: nil, keys: ["phone:1|c"])
            ])
            _ = try await store.recordDispatches([
                started(
                    "C", receivedAt: t0.addingTimeInterval(3 * day), timer: nil, keys: ["credit:X|c", "phone:1|c"],
                    seen: seen)
            ])
            #expect(seen.value == RepeatMatch(ticketID: "B", key: "phone:1|c"))
            _ = try await store.recordDispatches([
                started("D", receivedAt: t0.addingTimeInterval(11 * day), timer: nil, keys: ["phone:1|c"], seen: seen)
            ])
            #expect(seen.value == nil)
            _ = try await store.recordDispatches([
                started(
                    "E", receivedAt: t0.addingTimeInterval(12 * day), timer: nil, keys: ["credit:X|other"], seen: seen)
            ])
            #expect(seen.value == nil)
            // The keys in `RepeatKeys`' order (phone first). F is found by both keys at once: the credit key
            // names it. G by its phone alone; H then finds G by the phone, and F by the credit code, so the
            // enterprise raises the matter again.
            let both = ["phone:2|c", "credit:Y|c"]
            _ = try await store.recordDispatches([
                started("F", receivedAt: t0.addingTimeInterval(20 * day), timer: nil, keys: both)
            ])
            _ = try await store.recordDispatches([
                started("F2", receivedAt: t0.addingTimeInterval(21 * day), timer: nil, keys: both, seen: seen)
            ])
            #expect(seen.value == RepeatMatch(ticketID: "F", key: "credit:Y|c", enterpriseRepeat: true))
            _ = try await store.recordDispatches([
                started("G", receivedAt: t0.addingTimeInterval(22 * day), timer: nil, keys: ["phone:2|c"], seen: seen)
            ])
            #expect(seen.value == RepeatMatch(ticketID: "F2", key: "phone:2|c", enterpriseRepeat: false))
            _ = try await store.recordDispatches([
                started("H", receivedAt: t0.addingTimeInterval(23 * day), timer: nil, keys: both, seen: seen)
            ])
            #expect(seen.value == RepeatMatch(ticketID: "G", key: "phone:2|c", enterpriseRepeat: true))
        }
    }

    /// What `pagoda show` and `report` read: the history with every row, and the timeline with the intake's
    /// dispatch row carrying its decision's unit, level and deadlines.
    @Test(arguments: Backend.allCases)
    func historyAndTimelineReadBack(_ backend: Backend) async throws {
        try await withStore(backend) { store in
            let deadlines = ["sign_by": t0.addingTimeInterval(3_600), "resolve_by": t0.addingTimeInterval(86_400)]
            _ = try await store.recordDispatches([.dispatch(dispatch("A", amqp: "amqp-A", deadlines: deadlines))])
            _ = try await store.recordDispatches([started("B", timer: t0.addingTimeInterval(5))])
            #expect(try await store.history("missing") == nil)
            let h = try #require(try await store.history("A"))
            #expect(
                h.ticket.dispatchSequence == 1 && h.ticket.amqpMessageID == "amqp-A" && h.ticket.unitID == "GZ-HZ-001")
            #expect(h.ticket.body == bytes(#"{"id":"A","text":"噪音\n\u0000"}"#) && h.ticket.receivedAt == t0)
            #expect(h.decisions.count == 1)
            #expect(h.decisions[0].row == decision(deadlines: deadlines))
            #expect(h.deadlines.map(\.clock) == ["sign_by", "resolve_by"])
            #expect(h.messages.map(\.sentAt) == [nil, nil])
            #expect(h.events.count == 1 && h.events[0].type == "ticket.dispatched")
            let payload = String(decoding: h.events[0].payloadJSON, as: UTF8.self)
            #expect(payload.hasPrefix(#"{"destination_type":"unit","dispatch_seq":1,"#))
            let rows = try await store.timeline()
            #expect(rows.map(\.ticketID) == ["A", "B", "B"])
            #expect(rows.map(\.rowID) == rows.map(\.rowID).sorted())
            let intake = try #require(rows[0].intakeDispatch)
            #expect(intake.unitID == "GZ-HZ-001" && intake.level == "district")
            #expect(intake.signBy == deadlines["sign_by"] && intake.resolveBy == deadlines["resolve_by"])
            #expect(rows[1].intakeDispatch?.signBy == t0.addingTimeInterval(3_600))
            #expect(rows[2].intakeDispatch == nil && rows[2].json == bytes(#"{"event":"ticket.assigned"}"#))
            // The lifecycle's dispatch event quoting a sender's key with an escaped NUL (a warning's path):
            // read back as written, and the intake's rows still carry their decisions.
            let nul =
                #"{"event":"ticket.dispatched","ticket_warnings":[{"path":"caller.a\u0000","code":"unknown_field"}]}"#
            var warned = change("B", from: 0, to: 1, timer: nil)
            warned.events = [EventWrite(type: "ticket.dispatched", at: t0, payloadJSON: nul)]
            _ = try await store.applyLifecycle([warned])
            let again = try await store.timeline()
            #expect(again.count == 4 && again[3].json == bytes(nul) && again[3].intakeDispatch == nil)
            #expect(again[0].intakeDispatch?.unitID == "GZ-HZ-001")
            let console = try await store.consoleEvents(after: 0, limit: 10)
            #expect(console.map(\.json) == again.map(\.json))
            #expect(try await store.ticketConcernsUnit("B", unit: "nobody") == false)
        }
    }

    /// Several writers at once (intake batches from concurrent tasks) never dispatch a ticket twice and leave
    /// no gap in the sequence.
    @Test(arguments: Backend.allCases)
    func concurrentWritersNeverDoubleDispatch(_ backend: Backend) async throws {
        try await withStore(backend) { store in
            let ids = (0..<40).map { "T\($0)" }
            let outcomes = try await withThrowingTaskGroup(of: [IntakeOutcome].self) { group in
                for w in 0..<4 {
                    group.addTask {
                        var all: [IntakeOutcome] = []
                        for chunk in stride(from: 0, to: ids.count, by: 8) {
                            let batch = ids[chunk..<chunk + 8].shuffled().map { IntakeRecord.dispatch(dispatch($0)) }
                            all += try await store.recordDispatches(w % 2 == 0 ? batch : batch.reversed())
                        }
                        return all
                    }
                }
                return try await group.reduce(into: []) { $0 += $1 }
            }
            let recorded = outcomes.compactMap { o -> Int64? in
                if case .recorded(let s) = o { return s } else { return nil }
            }
            #expect(recorded.sorted() == Array(1...40))
            #expect(outcomes.count == 160)
            let counts = try await store.rowCounts()
            #expect(counts.tickets == 40 && counts.lastDispatchSequence == 40 && counts.outboxPending == 80)
            // Outbox ids follow the commits: read after a cursor, every row comes once.
            let rows = try await store.pendingOutbox(after: 0, limit: 1_000)
            #expect(rows.count == 80 && Set(rows.map(\.message.messageID)).count == 80)
        }
    }

    /// Rejections read back with their issues, newest first and by status; each takes one action, recorded
    /// with who, when and why, and a second one is refused naming the first; bad actions write nothing.
    @Test(arguments: Backend.allCases)
    func rejectionsTakeOneActionEach(_ backend: Backend) async throws {
        try await withStore(backend) { store in
            var ids: [Int64] = []
            for (n, body) in ["a", "b", "c"].enumerated() {
                let outcomes = try await store.recordDispatches([
                    rejection(amqp: "m-\(n)", messageID: "rej-\(n)", body: body, at: t0.addingTimeInterval(Double(n)))
                ])
                guard case .rejected(let id)? = outcomes.first else {
                    Issue.record("expected a rejection, got \(outcomes)")
                    return
                }
                ids.append(id)
            }
            let all = try await store.rejections(status: nil, limit: 100)
            #expect(all.map(\.id) == ids.reversed())
            let first = try #require(try await store.rejection(id: ids[0]))
            #expect(first.body == bytes("a") && first.amqpMessageID == "m-0" && first.at == t0 && first.status == .open)
            #expect(first.issues.map(\.path) == ["$"] && first.code == "invalid_json")
            #expect(try await store.rejection(id: 999_999) == nil)
            await #expect(throws: StoreError.self) { try await store.rejections(status: nil, limit: 0) }

            let at = t0.addingTimeInterval(60)
            let resubmitted = try await store.recordRejectionAction(
                id: ids[0], .resubmitted(by: "ops", at: at, messageID: "resubmit/1/x", body: bytes("fixed")))
            #expect(resubmitted.status == .resubmitted && resubmitted.action?.at == at)
            _ = try await store.recordRejectionAction(id: ids[1], .dropped(by: "bob", at: at, reason: "test traffic"))
            let twice = await #expect(throws: StoreError.self) {
                try await store.recordRejectionAction(id: ids[0], .dropped(by: "carol", at: at, reason: "x"))
            }
            #expect(twice?.code == .constraint && twice?.message.contains("resubmitted by ops") == true)
            let empty = await #expect(throws: StoreError.self) {
                try await store.recordRejectionAction(id: ids[2], .dropped(by: " ", at: at, reason: "x"))
            }
            #expect(empty?.code == .invalidArgument)
            await #expect(throws: StoreError.self) {
                try await store.recordRejectionAction(id: 999_999, .dropped(by: "ops", at: at, reason: "x"))
            }

            #expect(try await store.rejections(status: .open, limit: 100).map(\.id) == [ids[2]])
            #expect(try await store.rejections(status: .dropped, limit: 100).map(\.id) == [ids[1]])
            let reread = try #require(try await store.rejections(status: .resubmitted, limit: 100).first)
            #expect(reread.id == ids[0] && reread.action?.body == bytes("fixed") && reread.action?.actor == "ops")
            #expect(reread.action?.messageID == "resubmit/1/x" && reread.body == bytes("a"))
        }
    }
}
