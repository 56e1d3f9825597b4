import Foundation
import PagodaService
import PagodaStore
import Testing

/// The console's store (`ConsoleStore`) as the same test bodies against each backend: the read model's
/// counters kept in the writing transaction, the inbox in deadline order with its filters, the lists and
/// day counters; accounts, sessions, tokens and the audit log; which tickets concern a unit.
@Suite struct ConsoleStoreConformanceTests {
    /// A dispatch starting a lifecycle with the console's columns.
    func opened(
        _ id: String, unit: String, light: String, due: Date?, desk: String? = nil, category: String = "city.noise",
        enterprise: Bool = false, body: String? = nil
    ) -> IntakeRecord {
        var d = dispatch(id)
        if let body { d.ticketJSON = bytes(body) }
        d.lifecycle = { _ in
            LifecycleStart(
                state: StateWrite(
                    version: 0, phase: "assigned", unitID: unit, state: bytes("{}"), timer: nil,
                    console: ConsoleColumns(
                        light: light, dueAt: due, desk: desk, category: category, enterprise: enterprise)),
                events: [EventWrite(type: "ticket.dispatched", at: t0, payloadJSON: #"{"event":"ticket.dispatched"}"#)],
                messages: [])
        }
        return .dispatch(d)
    }

    func moved(
        _ id: String, from version: Int, unit: String, phase: String = "signed", console: ConsoleColumns,
        event: String = "ticket.signed", payload: String? = nil
    ) -> LifecycleChange {
        LifecycleChange(
            ticketID: id, expectedVersion: version,
            state: StateWrite(
                version: version + 1, phase: phase, unitID: unit, state: bytes("{}"), timer: nil, console: console),
            events: [EventWrite(type: event, at: t0, payloadJSON: payload ?? #"{"event":"\#(event)"}"#)],
            messages: [], command: nil, at: t0)
    }

    func counts(_ store: any StoreUnderTest) async throws -> [String: Int] {
        var out: [String: Int] = [:]
        for c in try await store.consoleOpenCounts(unit: nil) {
            out["\(c.unitID)/\(c.light)\(c.supervised ? "/s" : "")", default: 0] += c.count
        }
        return out
    }

    @Test(arguments: Backend.allCases)
    func theSearchLooksAtTheCallerOnlyWhenAskedTo(_ backend: Backend) async throws {
        try await withStore(backend) { store in
            let body = #"""
                {"id":"P","text":"路灯坏了 \"caller\":{}","caller":{"name":"李先生","phone":"13812345678","x":{"y":"}"}},"title":"路灯"}
                """#
            _ = try await store.recordDispatches([
                opened("P", unit: "u1", light: "green", due: nil, body: body),
                opened("Q", unit: "u1", light: "green", due: nil, body: #"{"id":"Q","text":"电话13812345678"}"#),
            ])
            func found(_ term: String, _ scope: ConsoleSearchScope) async throws -> [String] {
                try await store.consoleInbox(ConsoleInboxQuery(unitID: "u1", search: term, searchScope: scope)).rows
                    .map(\.ticketID).sorted()
            }
            #expect(try await found("1381234", .wholeTicket) == ["P", "Q"])
            #expect(try await found("李先生", .wholeTicket) == ["P"])
            #expect(try await found("李先生", .withoutCaller) == [])
            #expect(try await found("1381234", .withoutCaller) == ["Q"])
            #expect(try await found("路灯", .withoutCaller) == ["P"])
            #expect(try await found("title", .withoutCaller) == ["P"])
            #expect(try await found("路灯", .idOnly) == [])
            #expect(try await found("Q", .idOnly) == ["Q"])
            #expect(try await found("P", .withoutCaller) == ["P"])
        }
    }

    @Test(arguments: Backend.allCases)
    func countersFollowDispatchesChangesAndClosures(_ backend: Backend) async throws {
        try await withStore(backend) { store in
            _ = try await store.recordDispatches([
                opened("A", unit: "u1", light: "green", due: t0.addingTimeInterval(300)),
                opened("B", unit: "u1", light: "green", due: t0.addingTimeInterval(100)),
                opened("C", unit: "u2", light: "green", due: nil),
            ])
            #expect(try await counts(store) == ["u1/green": 2, "u2/green": 1])
            // A turns red (a timer: phase and holder unchanged), B escalates to u2 under supervision, C closes.
            var red = moved(
                "A", from: 0, unit: "u1", phase: "assigned", console: ConsoleColumns(light: "red", dueAt: t0),
                event: "ticket.overdue")
            red.updatesTicket = false
            _ = try await store.applyLifecycle([
                red,
                moved(
                    "B", from: 0, unit: "u2", phase: "assigned",
                    console: ConsoleColumns(light: "red", dueAt: t0.addingTimeInterval(50), supervised: true),
                    event: "ticket.escalated"),
                moved("C", from: 0, unit: "u2", phase: "closed", console: ConsoleColumns(), event: "ticket.closed"),
            ])
            #expect(try await counts(store) == ["u1/red": 1, "u2/red/s": 1])
            #expect(try await store.consoleList(.red, limit: 10).map(\.ticketID) == ["A", "B"])
            #expect(try await store.consoleList(.supervised, limit: 10).map(\.ticketID) == ["B"])
            let day = ConsoleDay.of(t0)
            let days = try await store.consoleDayCounts(day...day)[day] ?? [:]
            #expect(days["intake"] == 3)
            #expect(days["ticket.dispatched"] == 3)
            #expect(days["ticket.escalated"] == 1)
            #expect(days["ticket.closed"] == 1)
            #expect(days["ticket.overdue"] == 1)
            #expect(try await store.consoleFirstEventID(onOrAfter: day) == 1)
            #expect(try await store.consoleFirstEventID(onOrAfter: day + 1) == nil)
            // The timeline in pages, as the console's rates read it; the intake's own row with its decision.
            let timeline = try await store.consoleEvents(after: 0, limit: 100)
            #expect(timeline.map(\.rowID) == Array(1...9))
            #expect(timeline.filter { $0.intakeDispatch != nil }.count == 3)
            #expect(try await store.consoleEvents(after: 7, limit: 1).map(\.rowID) == [8])
            #expect(try await store.consoleLastEventID() == 9)
        }
    }

    @Test(arguments: Backend.allCases)
    func inboxIsSortedByDeadlineAndFiltered(_ backend: Backend) async throws {
        try await withStore(backend) { store in
            _ = try await store.recordDispatches([
                opened("A", unit: "u1", light: "green", due: t0.addingTimeInterval(300), category: "city.noise"),
                opened(
                    "B", unit: "u1", light: "yellow", due: t0.addingTimeInterval(100), category: "city",
                    enterprise: true),
                opened("C", unit: "u1", light: "green", due: nil, category: "env"),
                opened("D", unit: "u2", light: "red", due: t0, desk: "triage"),
                opened("E", unit: "u3", light: "green", due: nil, category: "city_x"),
            ])
            let all = try await store.consoleInbox(ConsoleInboxQuery(unitID: "u1"))
            #expect(all.rows.map(\.ticketID) == ["B", "A", "C"])
            #expect(all.total == 3)
            #expect(all.rows.last?.dueAt == nil)
            #expect(all.rows.first?.enterprise == true && all.rows.first?.category == "city")
            #expect(
                try await store.consoleInbox(ConsoleInboxQuery(unitID: "u1", light: "yellow")).rows.map(\.ticketID)
                    == ["B"])
            #expect(
                try await store.consoleInbox(ConsoleInboxQuery(unitID: "u1", category: "city")).rows.map(\.ticketID)
                    == ["B", "A"])
            // `_` in a category is a character, not LIKE's wildcard.
            #expect(try await store.consoleInbox(ConsoleInboxQuery(unitID: nil, category: "city_x")).total == 1)
            #expect(
                try await store.consoleInbox(ConsoleInboxQuery(unitID: "u1", enterprise: true)).rows.map(\.ticketID)
                    == ["B"])
            #expect(
                try await store.consoleInbox(ConsoleInboxQuery(unitID: "u1", search: "C")).rows.map(\.ticketID)
                    == ["C"])
            #expect(try await store.consoleInbox(ConsoleInboxQuery(unitID: "u1", search: "D")).total == 0)
            // Text of the ticket as received, Chinese included (and a `\u0000` escape in the body).
            #expect(try await store.consoleInbox(ConsoleInboxQuery(unitID: nil, search: "噪音")).total == 5)
            #expect(
                try await store.consoleInbox(ConsoleInboxQuery(unitID: nil, search: "噪音", searchScope: .wholeTicket))
                    .total == 5)
            let page = try await store.consoleInbox(ConsoleInboxQuery(unitID: "u1", limit: 1, offset: 1))
            #expect(page.rows.map(\.ticketID) == ["A"])
            #expect(page.total == 3)
            #expect(try await store.consoleList(.desk("triage"), limit: 5).map(\.ticketID) == ["D"])
            #expect(try await store.consoleDeskCounts()["triage"] == 1)
            #expect(try await store.consoleOpenCounts(unit: "u2").map(\.count) == [1])
        }
    }

    @Test(arguments: Backend.allCases)
    func deskCountersAndTheInboxWithoutAUnitFollowChanges(_ backend: Backend) async throws {
        try await withStore(backend) { store in
            _ = try await store.recordDispatches([
                opened("A", unit: "u1", light: "green", due: t0.addingTimeInterval(300)),
                opened("T", unit: "triage", light: "yellow", due: t0.addingTimeInterval(200), desk: "triage"),
                opened("U", unit: "triage", light: "green", due: t0.addingTimeInterval(400), desk: "triage"),
            ])
            #expect(try await store.consoleDeskCounts() == ["triage": 2, "return": 0, "extension": 0, "callback": 0])
            // Every unit's open tickets by deadline; totals from the counters and by counting agree.
            let all = try await store.consoleInbox(ConsoleInboxQuery(unitID: nil))
            #expect(all.rows.map(\.ticketID) == ["T", "A", "U"])
            #expect(all.total == 3)
            #expect(try await store.consoleInbox(ConsoleInboxQuery(unitID: nil, light: "green")).total == 2)
            #expect(try await store.consoleInbox(ConsoleInboxQuery(unitID: nil, phase: "assigned")).total == 3)
            #expect(
                try await store.consoleInbox(ConsoleInboxQuery(unitID: nil, limit: 1, offset: 2)).rows.map(\.ticketID)
                    == ["U"])
            // T is dispatched by hand to u1, A replies (the callback desk), U closes.
            _ = try await store.applyLifecycle([
                moved("T", from: 0, unit: "u1", phase: "assigned", console: ConsoleColumns(light: "green", dueAt: t0)),
                moved(
                    "A", from: 0, unit: "u1", phase: "replied",
                    console: ConsoleColumns(light: "green", dueAt: t0.addingTimeInterval(900), desk: "callback"),
                    event: "ticket.replied"),
                moved("U", from: 0, unit: "triage", phase: "closed", console: ConsoleColumns(), event: "ticket.closed"),
            ])
            #expect(try await store.consoleDeskCounts() == ["triage": 0, "return": 0, "extension": 0, "callback": 1])
            #expect(try await store.consoleList(.desk("callback"), limit: 5).map(\.ticketID) == ["A"])
            let after = try await store.consoleInbox(ConsoleInboxQuery(unitID: nil))
            #expect(after.rows.map(\.ticketID) == ["T", "A"])
            #expect(after.total == 2)
            #expect(try await store.consoleInbox(ConsoleInboxQuery(unitID: "u1", phase: "replied")).total == 1)
        }
    }

    /// The summary is the title, else the text, cut at 80 characters (Unicode scalars).
    @Test(arguments: Backend.allCases)
    func listRowsSummariseTheTicket(_ backend: Backend) async throws {
        try await withStore(backend) { store in
            let long = String(repeating: "噪", count: 100)
            _ = try await store.recordDispatches([
                opened("A", unit: "u1", light: "red", due: t0, body: #"{"id":"A","title":"夜间施工","text":"x"}"#),
                opened(
                    "B", unit: "u1", light: "red", due: t0.addingTimeInterval(1), body: #"{"id":"B","text":"\#(long)"}"#
                ),
                opened("C", unit: "u1", light: "red", due: t0.addingTimeInterval(2), body: #"{"id":"C"}"#),
            ])
            let rows = try await store.consoleList(.red, limit: 10)
            #expect(rows.map(\.summary) == ["夜间施工", String(repeating: "噪", count: 80), ""])
            #expect(rows.map(\.receivedAt) == [t0, t0, t0])
            #expect(rows[0].dueAt == t0 && rows[0].phase == "assigned" && rows[0].unitID == "u1")
        }
    }

    /// A unit sees a ticket it holds, was given by a decision, or that an event names as holder, origin or
    /// co-handler; a refused command naming it does not count.
    @Test(arguments: Backend.allCases)
    func ticketsConcernTheUnitsTheyPassedThrough(_ backend: Backend) async throws {
        try await withStore(backend) { store in
            _ = try await store.recordDispatches([opened("A", unit: "u1", light: "green", due: nil)])
            _ = try await store.applyLifecycle([
                moved(
                    "A", from: 0, unit: "u2", console: ConsoleColumns(light: "green"), event: "ticket.escalated",
                    payload: #"{"event":"ticket.escalated","unit":"u2","from_unit":"u3","co_handlers":["u4",7]}"#)
            ])
            _ = try await store.applyLifecycle([
                moved(
                    "A", from: 1, unit: "u2", console: ConsoleColumns(light: "green"), event: "command.rejected",
                    payload: #"{"event":"command.rejected","unit":"u5"}"#)
            ])
            // u2 holds it, u3 and u4 are named by the escalation, the decision gave it to GZ-HZ-001; u1
            // held it before, but no event names it (only the holder column did).
            for unit in ["u2", "u3", "u4", "GZ-HZ-001"] {
                #expect(try await store.ticketConcernsUnit("A", unit: unit), "\(unit)")
            }
            for unit in ["u1", "u5", "u6", "7"] {
                #expect(try await !store.ticketConcernsUnit("A", unit: unit), "\(unit)")
            }
            #expect(try await !store.ticketConcernsUnit("Z", unit: "u2"))
        }
    }

    @Test(arguments: Backend.allCases)
    func accountsLockAfterFailuresAndPasswordsUnlockThem(_ backend: Backend) async throws {
        try await withStore(backend) { store in
            let audit = ConsoleAuditEntry(at: t0, userName: "cli:root", action: "user_add", outcome: "ok")
            try await store.addConsoleAccount(
                ConsoleAccount(name: "wang", role: "worker", unitID: "u1", passwordHash: "$2b$h1", createdAt: t0),
                audit: audit)
            try await store.addConsoleAccount(
                ConsoleAccount(name: "admin", role: "admin", unitID: nil, passwordHash: "$2b$h2", createdAt: t0),
                audit: nil)
            let taken = await #expect(throws: StoreError.self) {
                try await store.addConsoleAccount(
                    ConsoleAccount(name: "wang", role: "centre", unitID: nil, passwordHash: "x", createdAt: t0),
                    audit: nil)
            }
            #expect(taken?.code == .constraint)
            // A worker without a unit breaks the table's check.
            await #expect(throws: StoreError.self) {
                try await store.addConsoleAccount(
                    ConsoleAccount(name: "li", role: "worker", unitID: nil, passwordHash: "x", createdAt: t0),
                    audit: nil)
            }
            #expect(try await store.consoleAccounts().map(\.name) == ["admin", "wang"])
            let wang = try await store.consoleAccount("wang")
            #expect(
                wang
                    == ConsoleAccount(name: "wang", role: "worker", unitID: "u1", passwordHash: "$2b$h1", createdAt: t0)
            )
            #expect(try await store.consoleAccount("nobody") == nil)

            // Attempts are counted before the password is checked; the one reaching the limit locks.
            func attempt(_ name: String, _ n: Int) async throws -> LoginAttempt? {
                try await store.appendConsoleAudit(
                    ConsoleAuditEntry(at: t0, userName: name, action: "login_failed", outcome: "bad_password"))
                return try await store.countLoginAttempt(
                    name, at: t0.addingTimeInterval(Double(n)), limit: 3, lockFor: 900)
            }
            #expect(try await attempt("wang", 1) == .counted(attempts: 1, locksUntil: nil))
            #expect(try await attempt("wang", 2) == .counted(attempts: 2, locksUntil: nil))
            #expect(try await attempt("wang", 3) == .counted(attempts: 3, locksUntil: t0.addingTimeInterval(903)))
            #expect(try await attempt("wang", 4) == .locked(until: t0.addingTimeInterval(903)))
            #expect(try await attempt("nobody", 4) == nil)
            let locked = try await store.consoleAccount("wang")
            #expect(locked?.lockedUntil == t0.addingTimeInterval(903) && locked?.failedLogins == 0)

            // A session ends when the password changes; the new password clears the lock.
            try await store.startConsoleSession(
                tokenHash: "s1", userName: "wang", csrfToken: "c1", at: t0,
                audit: ConsoleAuditEntry(at: t0, userName: "wang", action: "login", outcome: "ok"))
            #expect(try await store.consoleSession(tokenHash: "s1")?.0.csrfToken == "c1")
            try await store.addConsoleToken(
                tokenHash: "k1", userName: "wang", at: t0, expiresAt: t0.addingTimeInterval(86400), audit: nil)
            #expect(try await store.consoleTokenAccount(tokenHash: "k1", at: t0)?.name == "wang")
            #expect(try await store.setConsolePassword("wang", hash: "$2b$h3", at: t0, audit: nil))
            #expect(try await store.consoleTokenAccount(tokenHash: "k1", at: t0) == nil)
            #expect(try await !store.setConsolePassword("nobody", hash: "x", at: t0, audit: nil))
            #expect(try await store.consoleSession(tokenHash: "s1") == nil)
            let reset = try await store.consoleAccount("wang")
            #expect(reset?.lockedUntil == nil && reset?.passwordHash == "$2b$h3")

            let lines = try await store.consoleAudit(userName: nil, limit: 100)
            #expect(
                lines.map(\.action) == [
                    "login", "login_failed", "login_failed", "login_failed", "login_failed", "login_failed",
                    "user_add",
                ])
            #expect(try await store.consoleAudit(userName: "nobody", limit: 10).map(\.outcome) == ["bad_password"])
            #expect(try await store.consoleAudit(userName: nil, limit: 2).count == 2)
        }
    }

    @Test(arguments: Backend.allCases)
    func sessionsAndTokensEndWithTheirAccount(_ backend: Backend) async throws {
        try await withStore(backend) { store in
            try await store.addConsoleAccount(
                ConsoleAccount(name: "zhao", role: "centre", unitID: nil, passwordHash: "h", createdAt: t0), audit: nil)
            let login = ConsoleAuditEntry(at: t0, userName: "zhao", action: "login", outcome: "ok", remote: "10.0.0.9")
            try await store.startConsoleSession(
                tokenHash: "s1", userName: "zhao", csrfToken: "c1", at: t0, audit: login)
            try await store.startConsoleSession(
                tokenHash: "s2", userName: "zhao", csrfToken: "c2", at: t0.addingTimeInterval(100), audit: login)
            guard let (session, account) = try await store.consoleSession(tokenHash: "s1") else {
                Issue.record("no session s1")
                return
            }
            #expect(
                session
                    == ConsoleSessionRecord(
                        tokenHash: "s1", userName: "zhao", csrfToken: "c1", createdAt: t0, lastSeen: t0))
            #expect(account.name == "zhao" && account.role == "centre")
            try await store.touchConsoleSession(tokenHash: "s1", at: t0.addingTimeInterval(200))
            #expect(try await store.consoleSession(tokenHash: "s1")?.0.lastSeen == t0.addingTimeInterval(200))
            // s2 was last seen at +100, s1 at +200: sessions idle since before +150 go.
            #expect(try await store.deleteIdleConsoleSessions(before: t0.addingTimeInterval(150)) == 1)
            #expect(try await store.consoleSession(tokenHash: "s2") == nil)
            try await store.endConsoleSession(
                tokenHash: "s1", audit: ConsoleAuditEntry(at: t0, userName: "zhao", action: "logout", outcome: "ok"))
            #expect(try await store.consoleSession(tokenHash: "s1") == nil)

            #expect(
                try await store.addConsoleToken(
                    tokenHash: "t1", userName: "zhao", at: t0, expiresAt: t0.addingTimeInterval(86400), audit: nil))
            #expect(
                try await !store.addConsoleToken(
                    tokenHash: "t2", userName: "nobody", at: t0, expiresAt: t0.addingTimeInterval(86400), audit: nil))
            #expect(try await store.consoleTokenAccount(tokenHash: "t1", at: t0)?.name == "zhao")
            #expect(try await store.consoleTokenAccount(tokenHash: "t2", at: t0) == nil)
            // A token is good until it expires, not from then on.
            #expect(
                try await store.consoleTokenAccount(tokenHash: "t1", at: t0.addingTimeInterval(86399))?.name == "zhao")
            #expect(try await store.consoleTokenAccount(tokenHash: "t1", at: t0.addingTimeInterval(86400)) == nil)
            // One token is revoked by the first 12 hex digits of its digest; the account's others stay.
            let first = String(repeating: "a", count: 64)
            let second = String(repeating: "b", count: 64)
            for (hash, at) in [(first, t0), (second, t0.addingTimeInterval(60))] {
                #expect(
                    try await store.addConsoleToken(
                        tokenHash: hash, userName: "zhao", at: at, expiresAt: at.addingTimeInterval(86400), audit: nil))
            }
            _ = try await store.consoleTokenAccount(tokenHash: second, at: t0.addingTimeInterval(120))
            let listed = try await store.consoleTokens(userName: "zhao")
            #expect(
                listed == [
                    ConsoleTokenRecord(
                        tokenHash: first, createdAt: t0, expiresAt: t0.addingTimeInterval(86400), lastUsed: nil),
                    ConsoleTokenRecord(
                        tokenHash: "t1", createdAt: t0, expiresAt: t0.addingTimeInterval(86400),
                        lastUsed: t0.addingTimeInterval(86399)),
                    ConsoleTokenRecord(
                        tokenHash: second, createdAt: t0.addingTimeInterval(60),
                        expiresAt: t0.addingTimeInterval(60 + 86400), lastUsed: t0.addingTimeInterval(120)),
                ], "\(listed)")
            #expect(listed.first?.id == "aaaaaaaaaaaa")
            #expect(try await !store.revokeConsoleToken(userName: "nobody", id: "aaaaaaaaaaaa", audit: nil))
            #expect(try await !store.revokeConsoleToken(userName: "zhao", id: "aaaa", audit: nil))
            #expect(
                try await store.revokeConsoleToken(
                    userName: "zhao", id: "aaaaaaaaaaaa",
                    audit: ConsoleAuditEntry(at: t0, userName: "cli:root", action: "token_revoke", outcome: "ok")))
            #expect(try await store.consoleTokenAccount(tokenHash: first, at: t0) == nil)
            #expect(
                try await store.consoleTokenAccount(tokenHash: second, at: t0.addingTimeInterval(120))?.name == "zhao")
            #expect(try await store.consoleTokens(userName: "zhao").map(\.id) == ["t1", "bbbbbbbbbbbb"])
            #expect(try await store.consoleAudit(userName: "cli:root", limit: 1).map(\.action) == ["token_revoke"])
            try await store.startConsoleSession(
                tokenHash: "s3", userName: "zhao", csrfToken: "c3", at: t0, audit: login)
            // Disabling ends the sessions and revokes the tokens; enabling brings neither back.
            #expect(try await store.setConsoleAccountDisabled("zhao", true, at: t0, audit: nil))
            #expect(try await !store.setConsoleAccountDisabled("nobody", true, at: t0, audit: nil))
            #expect(try await store.consoleAccount("zhao")?.disabled == true)
            #expect(try await store.consoleSession(tokenHash: "s3") == nil)
            #expect(try await store.consoleTokenAccount(tokenHash: "t1", at: t0) == nil)
            #expect(try await store.setConsoleAccountDisabled("zhao", false, at: t0, audit: nil))
            #expect(try await store.consoleAccount("zhao")?.disabled == false)
            #expect(try await store.consoleTokenAccount(tokenHash: "t1", at: t0) == nil)
            try await store.appendConsoleAudit(
                ConsoleAuditEntry(
                    at: t0, userName: "zhao", action: "command", ticketID: "A", outcome: "applied", detail: "sign c-1",
                    remote: "10.0.0.9"))
            let last = try await store.consoleAudit(userName: "zhao", limit: 1)
            #expect(
                last == [
                    ConsoleAuditEntry(
                        at: t0, userName: "zhao", action: "command", ticketID: "A", outcome: "applied",
                        detail: "sign c-1", remote: "10.0.0.9")
                ])
        }
    }
}
