import Foundation
import Hummingbird
import HummingbirdTesting
import PagodaConsole
import PagodaJSON
import PagodaLifecycle
import PagodaRules
import PagodaService
import PagodaStore
import Testing

/// `GET /api/v1/tickets` (the inbox's query), `GET /api/v1/board` and `GET /api/v1/report` in process, on a
/// real SQLite file with tickets dispatched through the real intake processor: each role gets what its
/// page shows, a worker nothing of another unit, bad parameters a 400 naming them.
@Suite struct ConsoleAPIReadsTests {
    func world(_ backend: ConsoleFixture.Backend) async throws -> TwoUnitWorld { try await TwoUnitWorld(backend) }

    func get(_ client: some TestClientProtocol, _ uri: String, _ s: Session?) async throws -> TestResponse {
        try await client.execute(uri: uri, method: .get, headers: s?.headers ?? [:])
    }

    func ids(_ r: TestResponse) -> [String] {
        (json(r)?["tickets"]?.arrayValue ?? []).compactMap { $0.objectValue?["ticket_id"]?.stringValue }.sorted()
    }

    @Test(arguments: ConsoleFixture.Backend.allCases)
    func theNewRoutesNeedASession(_ backend: ConsoleFixture.Backend) async throws {
        let w = try await world(backend)
        try await w.f.application(w.env).test(.router) { client in
            for path in [
                "/api/v1/board", "/api/v1/report", "/api/v1/report?from=2026-01-01", "/api/v1/tickets?light=red",
            ] {
                let r = try await get(client, path, nil)
                #expect(r.status == .unauthorized, "\(path)")
                #expect(json(r)?["code"] == .string("unauthenticated"), "\(path)")
                #expect(!String(buffer: r.body).contains("FS-"), "\(path)")
            }
        }
    }

    @Test(arguments: ConsoleFixture.Backend.allCases)
    func callersNumbersAreMaskedAndUnsearchableButForTheCentre(_ backend: ConsoleFixture.Backend) async throws {
        let w = try await world(backend)
        try await w.f.dispatch(w.env, id: "FS-4", phone: "13600001234", text: "请回电13912340000，地址三元里")
        // A text whose summary (its first 80 characters) cuts a number short.
        try await w.f.dispatch(w.env, id: "FS-5", text: String(repeating: "灯", count: 75) + "13912345678")
        // A message rejected at intake, with a caller's number in it.
        let processor = IntakeProcessor(ruleSet: ConsoleFixture.rules, names: Names())
        _ = try await w.env.servingStore.recordDispatches([
            processor.process(
                body: Array(#"{"id":"BAD-1","caller":{"phone":"13812349999"}}"#.utf8), messageID: "m-bad",
                now: w.f.clock.read())
        ])
        try await w.f.application(w.env).test(.router) { client in
            let worker = try await client.login("w1")
            let ticket = String(buffer: try await get(client, "/api/v1/tickets/FS-4", worker).body)
            #expect(ticket.contains("139****0000") && !ticket.contains("13912340000"))
            #expect(ticket.contains("136****1234") && !ticket.contains("13600001234"))
            let list = String(
                buffer: try await get(client, "/api/v1/tickets?q=%E4%B8%89%E5%85%83%E9%87%8C", worker).body)  // 三元里
            #expect(list.contains("FS-4") && list.contains("139****0000") && !list.contains("13912340000"))
            let cut = String(buffer: try await get(client, "/api/v1/tickets?q=FS-5", worker).body)
            #expect(cut.contains("灯139**\"") && !cut.contains("13912"))
            // Digits look at ticket ids alone; the caller's details are not searched.
            #expect(ids(try await get(client, "/api/v1/tickets?q=1391234", worker)).isEmpty)
            #expect(ids(try await get(client, "/api/v1/tickets?q=1360000", worker)).isEmpty)
            #expect(ids(try await get(client, "/api/v1/tickets?q=%E6%9D%8E%E5%85%88%E7%94%9F", worker)).isEmpty)  // 李先生
            #expect(ids(try await get(client, "/api/v1/tickets?q=FS-4", worker)) == ["FS-4"])
            let supervisor = try await client.login("sup1")
            let desk = String(buffer: try await get(client, "/centre", supervisor).body)
            #expect(desk.contains("138****9999") && !desk.contains("13812349999"))

            let centre = try await client.login("centre1")
            #expect(ids(try await get(client, "/api/v1/tickets?q=1391234", centre)) == ["FS-4", "FS-5"])
            #expect(ids(try await get(client, "/api/v1/tickets?q=13600001234", centre)) == ["FS-4"])
            #expect(ids(try await get(client, "/api/v1/tickets?q=%E6%9D%8E%E5%85%88%E7%94%9F", centre)).count == 5)
            #expect(String(buffer: try await get(client, "/api/v1/tickets/FS-4", centre).body).contains("13912340000"))
            #expect(String(buffer: try await get(client, "/centre", centre).body).contains("13812349999"))
        }
    }

    @Test(arguments: ConsoleFixture.Backend.allCases)
    func theTicketListIsTheInboxQueryWithTheRolesRules(_ backend: ConsoleFixture.Backend) async throws {
        let w = try await world(backend)
        try await w.f.application(w.env).test(.router) { client in
            // A worker: its own unit's open tickets, phones masked; naming another unit is 403.
            let worker = try await client.login("w1")
            let own = try await get(client, "/api/v1/tickets", worker)
            #expect(own.status == .ok, "\(String(buffer: own.body))")
            #expect(ids(own) == ["FS-1", "FS-3"])
            #expect(json(own)?["total"] == .number("2"))
            let first = try #require(json(own)?["tickets"]?.arrayValue?.first?.objectValue)
            #expect(first["unit"] == .string(w.mineUnit))
            #expect(first["light"] == .string("green"))
            #expect(first["phase"] == .string("assigned"))
            #expect(first["due_at"]?.stringValue?.hasSuffix("+08:00") == true)
            #expect(first["category"] == .string("city_management"))
            let ownText = String(buffer: own.body)
            #expect(ownText.contains("138****5678") && !ownText.contains("13812345678"))
            #expect(!ownText.contains("1398"))
            #expect(ids(try await get(client, "/api/v1/tickets?unit=\(w.mineUnit)", worker)) == ["FS-1", "FS-3"])
            let foreign = try await get(client, "/api/v1/tickets?unit=\(w.theirUnit)", worker)
            #expect(foreign.status == .forbidden)
            #expect(json(foreign)?["code"] == .string("forbidden"))
            #expect(!String(buffer: foreign.body).contains("FS-2"))

            // The centre: every unit, phones whole; filters as the inbox's.
            let centre = try await client.login("centre1")
            let all = try await get(client, "/api/v1/tickets", centre)
            #expect(ids(all) == ["FS-1", "FS-2", "FS-3"])
            #expect(json(all)?["total"] == .number("3"))
            #expect(String(buffer: all.body).contains("13987654321"))
            #expect(ids(try await get(client, "/api/v1/tickets?unit=\(w.theirUnit)", centre)) == ["FS-2"])
            #expect(ids(try await get(client, "/api/v1/tickets?q=FS-3", centre)) == ["FS-3"])
            #expect(ids(try await get(client, "/api/v1/tickets?q=%E8%B7%AF%E7%81%AF", centre)).count == 3)  // 路灯
            #expect(ids(try await get(client, "/api/v1/tickets?q=nowhere-to-be-found", centre)).isEmpty)
            #expect(ids(try await get(client, "/api/v1/tickets?light=red", centre)).isEmpty)
            #expect(ids(try await get(client, "/api/v1/tickets?light=green", centre)).count == 3)
            #expect(ids(try await get(client, "/api/v1/tickets?enterprise=true", centre)).isEmpty)
            #expect(ids(try await get(client, "/api/v1/tickets?enterprise=false", centre)).count == 3)
            #expect(ids(try await get(client, "/api/v1/tickets?category=city_management", centre)).count == 3)
            #expect(ids(try await get(client, "/api/v1/tickets?phase=signed", centre)).isEmpty)
            // Paging: nearest deadline first, the total whatever the page.
            let page1 = try await get(client, "/api/v1/tickets?limit=2", centre)
            let page2 = try await get(client, "/api/v1/tickets?limit=2&offset=2", centre)
            #expect(ids(page1).count == 2 && ids(page2).count == 1)
            #expect(Set(ids(page1) + ids(page2)) == ["FS-1", "FS-2", "FS-3"])
            #expect(json(page2)?["total"] == .number("3") && json(page2)?["offset"] == .number("2"))

            // A sign moves the ticket to the signed filter.
            let sign = try await client.execute(
                uri: "/api/v1/tickets/FS-1/commands", method: .post, headers: worker.apiHeaders,
                body: ByteBuffer(string: #"{"command_id":"list-sign-1","type":"sign"}"#))
            #expect(sign.status == .ok)
            #expect(ids(try await get(client, "/api/v1/tickets?phase=signed", centre)) == ["FS-1"])
            #expect(json(try await get(client, "/api/v1/tickets?phase=assigned", centre))?["total"] == .number("2"))

            // The supervisor sees every unit with phones masked.
            let sup = try await client.login("sup1")
            let supAll = try await get(client, "/api/v1/tickets", sup)
            #expect(ids(supAll).count == 3)
            #expect(
                String(buffer: supAll.body).contains("139****4321")
                    && !String(buffer: supAll.body).contains("13987654321"))
        }
    }

    @Test(arguments: ConsoleFixture.Backend.allCases)
    func badTicketListParametersAre400NamingThem(_ backend: ConsoleFixture.Backend) async throws {
        let w = try await world(backend)
        try await w.f.application(w.env).test(.router) { client in
            let centre = try await client.login("centre1")
            for (query, parameter) in [
                ("phase=closed", "phase"), ("phase=nope", "phase"), ("light=blue", "light"), ("limit=0", "limit"),
                ("limit=abc", "limit"), ("limit=1001", "limit"), ("offset=-1", "offset"),
                ("enterprise=maybe", "enterprise"),
                ("category=no.such.category", "category"), ("unit=no.such.unit", "unit"),
            ] {
                let r = try await get(client, "/api/v1/tickets?\(query)", centre)
                #expect(r.status == .badRequest, "\(query)")
                #expect(json(r)?["code"] == .string("bad_request"), "\(query)")
                #expect(json(r)?["parameter"] == .string(parameter), "\(query)")
                #expect(json(r)?["message"]?.stringValue?.hasPrefix(parameter) == true, "\(query)")
            }
        }
    }

    @Test(arguments: ConsoleFixture.Backend.allCases)
    func theBoardIsTheCentresAndSupervisorsNotTheWorkers(_ backend: ConsoleFixture.Backend) async throws {
        let w = try await world(backend)
        try await w.f.application(w.env).test(.router) { client in
            let centre = try await client.login("centre1")
            let r = try await get(client, "/api/v1/board", centre)
            #expect(r.status == .ok, "\(String(buffer: r.body))")
            let board = try #require(json(r))
            let open = board["open"]?.objectValue
            #expect(open?["total"] == .number("3") && open?["green"] == .number("3") && open?["red"] == .number("0"))
            #expect(board["today"]?.objectValue?["intake"] == .number("3"))
            #expect(board["today"]?.objectValue?["dispatched"] == .number("3"))
            #expect(board["today"]?.objectValue?["closed"] == .number("0"))
            let districts = board["districts"]?.arrayValue?.compactMap { $0.objectValue } ?? []
            #expect(Set(districts.compactMap { $0["name"]?.stringValue }) == ["南海区", "顺德区"])
            #expect(districts.first { $0["name"] == .string("南海区") }?["total"] == .number("2"))
            #expect(districts.allSatisfy { $0["towns"]?.arrayValue?.isEmpty == false })
            let units = board["units"]?.arrayValue?.compactMap { $0.objectValue } ?? []
            #expect(units.first { $0["unit"] == .string(w.mineUnit) }?["total"] == .number("2"))
            #expect(units.first { $0["unit"] == .string(w.theirUnit) }?["total"] == .number("1"))
            #expect(board["top_overdue"]?.arrayValue?.isEmpty == true)
            #expect(board["supervised"]?.arrayValue?.isEmpty == true)
            #expect(board["desks"]?.objectValue?["triage"] == .number("0"))
            #expect(board["rates"]?.objectValue?["ready"] != nil)
            // The page draws the same counters.
            let html = String(buffer: try await get(client, "/board/live", centre).body)
            #expect(html.contains(#"<div class="kpi-value">3</div><div class="kpi-label">在办工单</div>"#))

            let sup = try await client.login("sup1")
            #expect(try await get(client, "/api/v1/board", sup).status == .ok)
            // FS-1 reopened twice by an unsatisfied citizen: under supervision. Its summary is listed for the
            // centre, not for an administrator, whose board shows no citizen's text.
            let w1 = try await client.login("w1")
            for round in 1...2 {
                for (s, body) in [
                    (w1, #"{"command_id":"r-\#(round)","type":"reply","outcome":"resolved","text":"已修复"}"#),
                    (
                        centre,
                        #"{"command_id":"cb-\#(round)","type":"callback_result","reached":true,"resolved":false,"satisfaction":"unsatisfied"}"#
                    ),
                ] {
                    w.f.clock.advance(60)
                    let r = try await client.execute(
                        uri: "/api/v1/tickets/FS-1/commands", method: .post, headers: s.apiHeaders,
                        body: ByteBuffer(string: body))
                    #expect(json(r)?["outcome"] == .string("applied"), "\(String(buffer: r.body))")
                }
            }
            func supervised(_ s: Session) async throws -> [JSONObject] {
                let board = json(try await get(client, "/api/v1/board", s))
                return board?["supervised"]?.arrayValue?.compactMap(\.objectValue) ?? []
            }
            let seen = try await supervised(centre).first { $0["ticket_id"] == .string("FS-1") }
            #expect(seen?["summary"]?.stringValue?.contains("路灯") == true)
            let admin = try await client.login("admin1")
            #expect(try await get(client, "/api/v1/board", admin).status == .ok)
            // The ticket page names the supervision's reason in words, not its code.
            let page = String(buffer: try await get(client, "/tickets/FS-1", centre).body)
            #expect(page.contains("市民不满意2次") && !page.contains("unsatisfied_2_times"))
            let adminRow = try await supervised(admin).first { $0["ticket_id"] == .string("FS-1") }
            #expect(adminRow?["summary"] == .string(""))
            let worker = try await client.login("w1")
            let refused = try await get(client, "/api/v1/board", worker)
            #expect(refused.status == .forbidden)
            #expect(json(refused)?["code"] == .string("forbidden"))
            #expect(!String(buffer: refused.body).contains("南海区"))
        }
    }

    @Test(arguments: ConsoleFixture.Backend.allCases)
    func theReportRanksUnitsAndNamesABadParameter(_ backend: ConsoleFixture.Backend) async throws {
        let w = try await world(backend)
        try await w.f.application(w.env).test(.router) { client in
            let centre = try await client.login("centre1")
            let r = try await get(client, "/api/v1/report?level=all&rank_by=response", centre)
            #expect(r.status == .ok, "\(String(buffer: r.body))")
            let report = try #require(json(r))
            #expect(report["ranked_by"] == .string("response"))
            #expect(report["total"]?.objectValue?["assigned"] == .number("3"))
            let units = report["units"]?.arrayValue?.compactMap { $0.objectValue } ?? []
            #expect(Set(units.compactMap { $0["unit"]?.stringValue }) == [w.mineUnit, w.theirUnit])
            #expect(units.first { $0["unit"] == .string(w.mineUnit) }?["assigned"] == .number("2"))
            #expect(units.allSatisfy { $0["name"]?.stringValue?.isEmpty == false })
            #expect(report["from"]?.stringValue?.hasSuffix("T00:00:00+08:00") == true)
            // A level no unit is at: no rows; a period before the tickets: none either.
            let city = try await get(client, "/api/v1/report?level=city", centre)
            #expect(
                json(city)?["units"]?.arrayValue?.allSatisfy { $0.objectValue?["level"] == .string("city") } == true)
            let old = try await get(client, "/api/v1/report?from=2020-01-01&to=2020-01-31", centre)
            #expect(old.status == .ok)
            #expect(json(old)?["units"]?.arrayValue?.isEmpty == true)
            for (query, parameter) in [
                ("from=2026-13-45", "from"), ("from=yesterday", "from"), ("to=2026/01/01", "to"),
                ("from=2026-02-02&to=2026-02-01", "to"), ("level=galaxy", "level"), ("rank_by=speed", "rank_by"),
            ] {
                let bad = try await get(client, "/api/v1/report?\(query)", centre)
                #expect(bad.status == .badRequest, "\(query)")
                #expect(json(bad)?["code"] == .string("bad_request"), "\(query)")
                #expect(
                    json(bad)?["message"]?.stringValue?.hasPrefix(parameter) == true,
                    "\(query): \(String(buffer: bad.body))")
                #expect(json(bad)?["parameter"] == .string(parameter), "\(query)")
            }
            let sup = try await client.login("sup1")
            #expect(try await get(client, "/api/v1/report", sup).status == .ok)
            let worker = try await client.login("w1")
            #expect(try await get(client, "/api/v1/report", worker).status == .forbidden)
        }
    }

    @Test(arguments: ConsoleFixture.Backend.allCases)
    func bearerTokensReadTheBoardReportAndListAsTheirUser(_ backend: ConsoleFixture.Backend) async throws {
        let w = try await world(backend)
        let supToken = try await w.env.accounts.makeToken(name: "sup1", by: "test").token
        let workerToken = try await w.env.accounts.makeToken(name: "w1", by: "test").token
        try await w.f.application(w.env).test(.router) { client in
            func bearer(_ uri: String, _ token: String) async throws -> TestResponse {
                try await client.execute(uri: uri, method: .get, headers: [.authorization: "Bearer \(token)"])
            }
            let board = try await bearer("/api/v1/board", supToken)
            #expect(board.status == .ok)
            #expect(json(board)?["open"]?.objectValue?["total"] == .number("3"))
            #expect(try await bearer("/api/v1/report", supToken).status == .ok)
            let list = try await bearer("/api/v1/tickets", workerToken)
            #expect(list.status == .ok)
            #expect(ids(list) == ["FS-1", "FS-3"])
            #expect(try await bearer("/api/v1/tickets?unit=\(w.theirUnit)", workerToken).status == .forbidden)
            #expect(try await bearer("/api/v1/board", workerToken).status == .forbidden)
            #expect(try await bearer("/api/v1/board", "pgd_not-a-token").status == .unauthorized)
        }
    }
}
