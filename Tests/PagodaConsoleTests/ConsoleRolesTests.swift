import Foundation
import Hummingbird
import HummingbirdTesting
import PagodaConsole
import PagodaJSON
import PagodaLifecycle
import PagodaRules
import PagodaStore
import Testing

@Suite struct ConsoleRolesTests {
    func world(_ backend: ConsoleFixture.Backend) async throws -> TwoUnitWorld { try await TwoUnitWorld(backend) }

    @Test(arguments: ConsoleFixture.Backend.allCases)
    func aWorkerSeesItsUnitsTicketsAndNeverAnotherUnitsText(_ backend: ConsoleFixture.Backend) async throws {
        let w = try await world(backend)
        try await w.f.application(w.env).test(.router) { client in
            let s = try await client.login("w1")
            let own = try await client.execute(uri: "/api/v1/tickets/\(w.mine)", method: .get, headers: s.headers)
            #expect(own.status == .ok)
            let ticket = try #require(json(own)?["ticket"]?.objectValue)
            #expect(ticket["caller"]?.objectValue?["phone"] == .string("138****5678"))
            #expect(json(own)?["lifecycle"]?.objectValue?["unit"] == .string(w.mineUnit))
            let other = try await client.execute(uri: "/api/v1/tickets/\(w.theirs)", method: .get, headers: s.headers)
            #expect(other.status == .forbidden)
            #expect(json(other)?["code"] == .string("forbidden"))
            let text = String(buffer: other.body)
            #expect(!text.contains("路灯"))
            #expect(!text.contains("1398"))
            #expect(!text.contains("李先生"))
            let missing = try await client.execute(uri: "/api/v1/tickets/NOPE-1", method: .get, headers: s.headers)
            #expect(missing.status == .notFound)
            // The list holds its own unit's tickets only; asking for another unit is refused.
            let list = try await client.execute(uri: "/api/v1/tickets", method: .get, headers: s.headers)
            #expect(list.status == .ok)
            let ids = json(list)?["tickets"]?.arrayValue?.compactMap { $0.objectValue?["ticket_id"]?.stringValue }
            #expect(ids == ["FS-1", "FS-3"])
            #expect(
                try await client.execute(uri: "/api/v1/tickets?unit=\(w.theirUnit)", method: .get, headers: s.headers)
                    .status == .forbidden)
            // Acting on another unit's ticket: 403, and nothing happens to it.
            let act = try await client.execute(
                uri: "/api/v1/tickets/\(w.theirs)/commands", method: .post, headers: s.apiHeaders,
                body: ByteBuffer(string: #"{"command_id":"w1-x","type":"sign"}"#))
            #expect(act.status == .forbidden)
        }
        #expect(try await w.env.store.lifecycle([w.theirs], withTicket: false)[w.theirs]?.phase == "assigned")
    }

    @Test(arguments: ConsoleFixture.Backend.allCases)
    func theCentreSeesEverythingUnmaskedAndSupervisorsChangeNothing(_ backend: ConsoleFixture.Backend) async throws {
        let w = try await world(backend)
        try await w.f.application(w.env).test(.router) { client in
            let centre = try await client.login("centre1")
            let r = try await client.execute(uri: "/api/v1/tickets/\(w.theirs)", method: .get, headers: centre.headers)
            #expect(r.status == .ok)
            #expect(json(r)?["ticket"]?.objectValue?["caller"]?.objectValue?["phone"] == .string("13987654321"))
            let all = try await client.execute(uri: "/api/v1/tickets", method: .get, headers: centre.headers)
            #expect(json(all)?["tickets"]?.arrayValue?.count == 3)

            let sup = try await client.login("sup1")
            let seen = try await client.execute(uri: "/api/v1/tickets/\(w.theirs)", method: .get, headers: sup.headers)
            #expect(seen.status == .ok)
            #expect(json(seen)?["ticket"]?.objectValue?["caller"]?.objectValue?["phone"] == .string("139****4321"))
            let act = try await client.execute(
                uri: "/api/v1/tickets/\(w.theirs)/commands", method: .post, headers: sup.apiHeaders,
                body: ByteBuffer(string: #"{"command_id":"sup-1","type":"redispatch","to_unit":"\#(w.mineUnit)"}"#))
            #expect(act.status == .forbidden)
            #expect(
                try await client.execute(uri: "/admin/users", method: .get, headers: sup.headers).status == .forbidden)

            let admin = try await client.login("admin1")
            let users = try await client.execute(uri: "/admin/users", method: .get, headers: admin.headers)
            #expect(users.status == .ok)
            #expect(String(buffer: users.body).contains("w1"))
            let w1 = try await client.login("w1")
            #expect(
                try await client.execute(uri: "/admin/users", method: .get, headers: w1.headers).status == .forbidden)
            // A worker cannot make the centre's decisions.
            let decide = try await client.execute(
                uri: "/api/v1/tickets/\(w.mine)/commands", method: .post, headers: w1.apiHeaders,
                body: ByteBuffer(string: #"{"command_id":"w1-r","type":"redispatch","to_unit":"\#(w.theirUnit)"}"#))
            #expect(decide.status == .forbidden)
        }
        #expect(try await w.env.store.lifecycle([w.theirs], withTicket: false)[w.theirs]?.unitID == w.theirUnit)
    }

    /// An administrator keeps users and rules and reads no citizen's ticket: not a ticket, an inbox, the
    /// ticket list or the centre's desk. (The board, which it may see, lists red and supervised tickets by
    /// id without their text.)
    @Test(arguments: ConsoleFixture.Backend.allCases)
    func anAdministratorReadsNoTicket(_ backend: ConsoleFixture.Backend) async throws {
        let w = try await world(backend)
        try await w.f.application(w.env).test(.router) { client in
            let admin = try await client.login("admin1")
            for path in [
                "/tickets/\(w.mine)", "/api/v1/tickets/\(w.mine)", "/api/v1/tickets",
                "/api/v1/tickets?unit=\(w.mineUnit)",
                "/units/\(w.mineUnit)", "/centre",
            ] {
                let r = try await client.execute(uri: path, method: .get, headers: admin.headers)
                #expect(r.status == .forbidden, "\(path)")
                #expect(!String(buffer: r.body).contains("路灯"), "\(path)")
            }
            #expect(try await client.execute(uri: "/board/live", method: .get, headers: admin.headers).status == .ok)
            let sup = try await client.login("sup1")
            let seen = try await client.execute(uri: "/api/v1/tickets/\(w.mine)", method: .get, headers: sup.headers)
            #expect(seen.status == .ok && String(buffer: seen.body).contains("路灯"))
        }
    }

    @Test(arguments: ConsoleFixture.Backend.allCases)
    func apiCommandsNeedTheCsrfHeaderWithACookieButNotWithABearerToken(_ backend: ConsoleFixture.Backend) async throws {
        let w = try await world(backend)
        let token = try await w.env.accounts.makeToken(name: "w1", by: "test").token
        let digest = Digest.sha256Hex(token.utf8)
        #expect(try await w.env.store.consoleTokenAccount(tokenHash: digest, at: w.f.clock.read())?.name == "w1")
        try await w.f.application(w.env).test(.router) { client in
            let s = try await client.login("w1")
            let noCSRF = try await client.execute(
                uri: "/api/v1/tickets/\(w.mine)/commands", method: .post,
                headers: [.cookie: s.cookie, .contentType: "application/json"],
                body: ByteBuffer(string: #"{"command_id":"c-1","type":"sign"}"#))
            #expect(noCSRF.status == .forbidden)
            #expect(json(noCSRF)?["code"] == .string("csrf"))
            #expect(try await w.env.store.lifecycle([w.mine], withTicket: false)[w.mine]?.phase == "assigned")
            let bearer = try await client.execute(
                uri: "/api/v1/tickets/\(w.mine)/commands", method: .post,
                headers: [.authorization: "Bearer \(token)", .contentType: "application/json"],
                body: ByteBuffer(string: #"{"command_id":"c-2","type":"sign"}"#))
            #expect(bearer.status == .ok, "\(String(buffer: bearer.body))")
            #expect(json(bearer)?["outcome"] == .string("applied"))
            let events = json(bearer)?["events"]?.arrayValue ?? []
            #expect(events.first?.objectValue?["event"] == .string("ticket.signed"))
            #expect(events.first?.objectValue?["by"] == .string("w1"))
            let bad = try await client.execute(
                uri: "/api/v1/tickets", method: .get, headers: [.authorization: "Bearer pgd_nope"])
            #expect(bad.status == .unauthorized)
            // A refusal by the lifecycle: 409 with the code and a Chinese message.
            let again = try await client.execute(
                uri: "/api/v1/tickets/\(w.mine)/commands", method: .post, headers: s.apiHeaders,
                body: ByteBuffer(string: #"{"command_id":"c-3","type":"sign"}"#))
            #expect(again.status == .conflict)
            #expect(json(again)?["code"] == .string("already_signed"))
            #expect(json(again)?["message"] == .string("工单已签收"))
            // An invalid command: 400 with the contract's issues; a unit in the body is refused.
            let invalid = try await client.execute(
                uri: "/api/v1/tickets/\(w.mine)/commands", method: .post, headers: s.apiHeaders,
                body: ByteBuffer(string: #"{"command_id":"c-4","type":"reply","outcome":"done"}"#))
            #expect(invalid.status == .badRequest)
            #expect(json(invalid)?["issues"]?.arrayValue?.isEmpty == false)
            let unit = try await client.execute(
                uri: "/api/v1/tickets/\(w.mine)/commands", method: .post, headers: s.apiHeaders,
                body: ByteBuffer(string: #"{"command_id":"c-5","type":"sign","unit":"\#(w.theirUnit)"}"#))
            #expect(unit.status == .badRequest)
        }
        let audit = try await w.env.store.consoleAudit(userName: "w1", limit: 100).filter { $0.action == "command" }
        #expect(Set(audit.map(\.outcome)) == ["applied", "already_signed"])
    }

    @Test(arguments: ConsoleFixture.Backend.allCases)
    func aDoubleSubmittedFormHasOneEffect(_ backend: ConsoleFixture.Backend) async throws {
        let w = try await world(backend)
        try await w.f.application(w.env).test(.router) { client in
            let s = try await client.login("w1")
            let body = form([
                ("_csrf", s.csrf), ("command_id", "web-double-1"), ("type", "reply"), ("outcome", "resolved"),
                ("text", "已安排维修，路灯已修复。"),
            ])
            var locations: [String] = []
            for _ in 0..<2 {
                let r = try await client.execute(
                    uri: "/tickets/\(w.mine)", method: .post,
                    headers: [.cookie: s.cookie, .contentType: "application/x-www-form-urlencoded"], body: body)
                #expect(r.status == .seeOther)
                locations.append(r.headers[.location] ?? "")
            }
            #expect(locations == ["/tickets/\(w.mine)?done=reply", "/tickets/\(w.mine)?done=reply&duplicate=1"])
            // Without the CSRF field the form is refused before anything is applied.
            let forged = try await client.execute(
                uri: "/tickets/\(w.mine)", method: .post,
                headers: [.cookie: s.cookie, .contentType: "application/x-www-form-urlencoded"],
                body: form([("command_id", "web-forged"), ("type", "progress"), ("note", "x")]))
            #expect(forged.status == .forbidden)
        }
        let history = try #require(try await w.env.store.ticket(id: w.mine))
        #expect(history.events.filter { $0.type == "ticket.replied" }.count == 1)
        #expect(history.events.filter { $0.type == "ticket.progress" }.isEmpty)
        let replied = try #require(history.events.first { $0.type == "ticket.replied" })
        #expect(try JSON.parse(replied.payloadJSON).objectValue?["by"] == .string("w1"))
        #expect(try await w.env.store.lifecycle([w.mine], withTicket: false)[w.mine]?.phase == "replied")
    }

    @Test(arguments: ConsoleFixture.Backend.allCases)
    func theCentreRecordsTheCallbackAndTheTicketCloses(_ backend: ConsoleFixture.Backend) async throws {
        let w = try await world(backend)
        try await w.f.application(w.env).test(.router) { client in
            let worker = try await client.login("w1")
            let reply = try await client.execute(
                uri: "/api/v1/tickets/\(w.mine)/commands", method: .post, headers: worker.apiHeaders,
                body: ByteBuffer(string: #"{"command_id":"r-1","type":"reply","outcome":"resolved","text":"已修复"}"#))
            #expect(reply.status == .ok)
            let centre = try await client.login("centre1")
            // Reached, but whether solved and how satisfied left out: the page again, naming what to fill in,
            // with the note as typed and a fresh command id.
            let half = try await client.execute(
                uri: "/tickets/\(w.mine)", method: .post,
                headers: [.cookie: centre.cookie, .contentType: "application/x-www-form-urlencoded"],
                body: form([
                    ("_csrf", centre.csrf), ("command_id", "cb-0"), ("type", "callback_result"), ("reached", "true"),
                    ("note", "市民说路灯<仍>不亮"),
                ]))
            #expect(half.status == .badRequest)
            let halfHTML = String(buffer: half.body)
            #expect(halfHTML.contains("请填写“问题是否解决”") && halfHTML.contains("请填写“满意度”"), "\(halfHTML)")
            #expect(halfHTML.contains(#"value="市民说路灯&lt;仍&gt;不亮""#))
            #expect(halfHTML.contains(#"<option value="true" selected>已联系上"#))
            #expect(!halfHTML.contains(#"value="cb-0""#))
            // A merge into a ticket that does not exist would close this one into nothing: refused first.
            let merge = try await client.execute(
                uri: "/tickets/\(w.mine)", method: .post,
                headers: [.cookie: centre.cookie, .contentType: "application/x-www-form-urlencoded"],
                body: form([
                    ("_csrf", centre.csrf), ("command_id", "m-0"), ("type", "merge"), ("into_ticket", "FS-404"),
                ]))
            #expect(merge.status == .badRequest)
            #expect(String(buffer: merge.body).contains("并入工单号 FS-404 不存在"))
            #expect(try await w.env.store.lifecycle([w.mine], withTicket: false)[w.mine]?.phase == "replied")
            let body = form([
                ("_csrf", centre.csrf), ("command_id", "cb-1"), ("type", "callback_result"), ("reached", "true"),
                ("resolved", "true"), ("satisfaction", "satisfied"),
            ])
            let r = try await client.execute(
                uri: "/tickets/\(w.mine)", method: .post,
                headers: [.cookie: centre.cookie, .contentType: "application/x-www-form-urlencoded"], body: body)
            #expect(r.status == .seeOther)
            // A refused form shows the reason in Chinese (the ticket is closed now).
            let late = try await client.execute(
                uri: "/tickets/\(w.mine)", method: .post,
                headers: [.cookie: centre.cookie, .contentType: "application/x-www-form-urlencoded"],
                body: form([("_csrf", centre.csrf), ("command_id", "cb-2"), ("type", "reject_return")]))
            #expect(late.status == .conflict)
            #expect(String(buffer: late.body).contains("工单已办结"))
        }
        #expect(try await w.env.store.lifecycle([w.mine], withTicket: false)[w.mine]?.phase == "closed")
        let closed = try #require(try await w.env.store.ticket(id: w.mine)?.events.first { $0.type == "ticket.closed" })
        #expect(try JSON.parse(closed.payloadJSON).objectValue?["by"] == .string("centre1"))
    }

    @Test(arguments: ConsoleFixture.Backend.allCases)
    func rulesTryRoutesAPastedTicketForTheCentreAndAdminsOnly(_ backend: ConsoleFixture.Backend) async throws {
        let w = try await world(backend)
        let ticket =
            #"{"id":"TRY-1","received_at":"2026-03-02T09:00:00+08:00","channel":"hotline","kind":"complaint","text":"路灯坏了","category":"city_management","region":{"district":"南海区"}}"#
        try await w.f.application(w.env).test(.router) { client in
            let admin = try await client.login("admin1")
            let r = try await client.execute(
                uri: "/api/v1/rules/try", method: .post, headers: admin.apiHeaders, body: ByteBuffer(string: ticket))
            #expect(r.status == .ok)
            #expect(json(r)?["destination"]?.objectValue?["unit"] == .string(w.mineUnit))
            #expect(json(r)?["explanation"]?.arrayValue?.isEmpty == false)
            let bad = try await client.execute(
                uri: "/api/v1/rules/try", method: .post, headers: admin.apiHeaders,
                body: ByteBuffer(string: #"{"id":"TRY 2"}"#))
            #expect(bad.status == .badRequest)
            let worker = try await client.login("w1")
            #expect(
                try await client.execute(
                    uri: "/api/v1/rules/try", method: .post, headers: worker.apiHeaders,
                    body: ByteBuffer(string: ticket)
                ).status == .forbidden)
        }
    }
}

/// What `ConsoleAccess.ticketJSON` leaves of a caller's numbers, whatever the ticket's shape: a degraded
/// ticket is dispatched with a phone given as a number, or a caller given as one string.
@Suite struct ConsoleTicketMaskingTests {
    static let body = Array(
        #"""
        {"id":"T-1","caller":{"name":"王女士","phone":13812345678,"address":"桂城 139 1234 5678 号"},
        "text":"请回电 13712345678","contact":"+86 136-1234-5678","extra":{"phones":["13512345678"],"13312345678":"王"},
        "region":{"code":"440605124001"}}
        """#.utf8)

    @Test(arguments: [ConsoleRole.worker, .supervisor])
    func noMobileNumberReachesAnyoneButTheCentre(_ role: ConsoleRole) throws {
        let user = ConsoleUser(name: "u", role: role, unit: role == .worker ? "nanhai.shishan" : nil)
        let seen = JSON.serializeToString(try #require(ConsoleAccess.ticketJSON(Self.body, for: user)))
        for number in ["13812345678", "139 1234", "13712345678", "136-1234-5678", "13512345678", "13312345678"] {
            #expect(!seen.contains(number), "\(number) in \(seen)")
        }
        #expect(seen.contains(#""phone":"138****5678""#) && seen.contains("440605124001"), "\(seen)")
        let centre = ConsoleUser(name: "c", role: .centre, unit: nil)
        let whole = JSON.serializeToString(try #require(ConsoleAccess.ticketJSON(Self.body, for: centre)))
        #expect(whole.contains(#""phone":13812345678"#))
    }

    @Test func aStringCallerIsMaskedToo() throws {
        let body = Array(#"{"id":"T-2","caller":"王女士 13812345678"}"#.utf8)
        let user = ConsoleUser(name: "s", role: .supervisor, unit: nil)
        let seen = JSON.serializeToString(try #require(ConsoleAccess.ticketJSON(body, for: user)))
        #expect(!seen.contains("13812345678") && seen.contains("138****5678"), "\(seen)")
    }
}
