import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import PagodaConsole
import PagodaJSON
import PagodaLifecycle
import PagodaRules
import PagodaStore
import Testing

/// The pages (board, unit inbox, ticket, centre desk, reports, rules) in process, on a real SQLite file
/// with tickets dispatched through the real intake processor: each role sees what it should, a worker
/// gets 403 on another unit's inbox and ticket, a form is one command however often it is sent.
@Suite struct ConsolePagesTests {
    func world(_ backend: ConsoleFixture.Backend) async throws -> TwoUnitWorld { try await TwoUnitWorld(backend) }

    func page(_ client: some TestClientProtocol, _ uri: String, _ s: Session) async throws -> (
        HTTPResponse.Status, String
    ) {
        let r = try await client.execute(uri: uri, method: .get, headers: s.headers)
        return (r.status, String(buffer: r.body))
    }

    /// Pages run only this site's script files: none is written into a page, and the policy says so.
    @Test(arguments: ConsoleFixture.Backend.allCases)
    func pagesRunOnlyTheConsolesOwnScriptFiles(_ backend: ConsoleFixture.Backend) async throws {
        let w = try await world(backend)
        try await w.f.application(w.env).test(.router) { client in
            let centre = try await client.login("centre1")
            let admin = try await client.login("admin1")
            let pages = ["/board", "/centre", "/units/\(w.mineUnit)", "/tickets/FS-1", "/reports", "/login"].map {
                ($0, centre)
            }
            for (path, session) in pages + [("/rules", admin)] {
                let r = try await client.execute(uri: path, method: .get, headers: session.headers)
                #expect(r.status == .ok, "\(path)")
                let policy = try #require(r.headers[HTTPField.Name("Content-Security-Policy")!], "\(path)")
                #expect(policy.contains("script-src 'self';") && policy.contains("frame-ancestors 'none'"))
                let html = String(buffer: r.body)
                #expect(!html.contains("<script>"), "\(path)")
                #expect(
                    html.components(separatedBy: "<script").count - 1
                        == html.components(separatedBy: "<script src=\"/static/").count - 1, "\(path)")
            }
            for name in ["board", "countdown", "inbox"] {
                let r = try await client.execute(uri: "/static/\(name).js", method: .get)
                #expect(r.status == .ok && r.headers[.contentType]?.hasPrefix("text/javascript") == true, "\(name)")
                #expect(String(buffer: r.body).contains("function"))
            }
            #expect(try await client.execute(uri: "/static/nothing.js", method: .get).status == .notFound)
            #expect(try await client.execute(uri: "/static/board.css", method: .get).status == .notFound)
            let api = try await client.execute(uri: "/api/v1/session", method: .get, headers: centre.headers)
            #expect(api.headers[HTTPField.Name("X-Content-Type-Options")!] == "nosniff")
        }
    }

    @Test(arguments: ConsoleFixture.Backend.allCases)
    func theBoardCountsOpenTicketsForTheCentreAndRefusesWorkers(_ backend: ConsoleFixture.Backend) async throws {
        let w = try await world(backend)
        try await w.f.application(w.env).test(.router) { client in
            let centre = try await client.login("centre1")
            let (status, html) = try await page(client, "/board", centre)
            #expect(status == .ok)
            #expect(html.contains("态势大屏"))
            // Three open tickets, all received today: the counters say so.
            #expect(html.contains(#"<div class="kpi-value">3</div><div class="kpi-label">在办工单</div>"#))
            #expect(html.contains(#"<div class="kpi-value">3</div><div class="kpi-label">今日受理</div>"#))
            #expect(html.contains("南海区") && html.contains("顺德区"))
            #expect(html.contains(#"<script src="/static/board.js" defer></script>"#))
            let (liveStatus, live) = try await page(client, "/board/live", centre)
            #expect(liveStatus == .ok)
            #expect(!live.contains("<html"))
            #expect(live.contains("在办工单"))
            let sup = try await client.login("sup1")
            #expect(try await page(client, "/board", sup).0 == .ok)
            let worker = try await client.login("w1")
            #expect(try await page(client, "/board", worker).0 == .forbidden)
            #expect(try await page(client, "/board/live", worker).0 == .forbidden)
            #expect(try await page(client, "/board/events", worker).0 == .forbidden)
        }
    }

    @Test(arguments: ConsoleFixture.Backend.allCases)
    func aWorkerSeesItsInboxAndIsRefusedAnotherUnits(_ backend: ConsoleFixture.Backend) async throws {
        let w = try await world(backend)
        try await w.f.application(w.env).test(.router) { client in
            let worker = try await client.login("w1")
            let (status, html) = try await page(client, "/units/\(w.mineUnit)", worker)
            #expect(status == .ok)
            #expect(html.contains("data-ticket=\"FS-1\"") && html.contains("data-ticket=\"FS-3\""))
            #expect(!html.contains("data-ticket=\"FS-2\""))
            #expect(html.contains("class=\"countdown"))
            // Filters and search.
            #expect(try await page(client, "/units/\(w.mineUnit)?q=FS-3", worker).1.contains("data-ticket=\"FS-3\""))
            #expect(!(try await page(client, "/units/\(w.mineUnit)?q=FS-3", worker).1.contains("data-ticket=\"FS-1\"")))
            #expect(!(try await page(client, "/units/\(w.mineUnit)?light=red", worker).1.contains("data-ticket=")))
            #expect(try await page(client, "/units/\(w.mineUnit)/count", worker).1 == "2")
            // A page number past the end, however large, is an empty page, not an overflow.
            let (far, farHTML) = try await page(client, "/units/\(w.mineUnit)?page=9223372036854775807", worker)
            #expect(far == .ok && !farHTML.contains("data-ticket=") && farHTML.contains("回到第 1 页"))
            let (other, otherHTML) = try await page(client, "/units/\(w.theirUnit)", worker)
            #expect(other == .forbidden)
            #expect(!otherHTML.contains("FS-2"))
            #expect(try await page(client, "/units/\(w.theirUnit)/count", worker).0 == .forbidden)
            let (ticket, ticketHTML) = try await page(client, "/tickets/FS-2", worker)
            #expect(ticket == .forbidden)
            #expect(!ticketHTML.contains("路灯") && !ticketHTML.contains("1398") && !ticketHTML.contains("李先生"))
            // The centre sees every unit's inbox.
            let centre = try await client.login("centre1")
            #expect(try await page(client, "/units/\(w.theirUnit)", centre).1.contains("data-ticket=\"FS-2\""))
            #expect(try await page(client, "/units/no.such.unit", centre).0 == .notFound)
        }
    }

    @Test(arguments: ConsoleFixture.Backend.allCases)
    func theTicketPageMasksPhonesAndAFormIsOneCommand(_ backend: ConsoleFixture.Backend) async throws {
        let w = try await world(backend)
        try await w.f.application(w.env).test(.router) { client in
            let worker = try await client.login("w1")
            let (status, html) = try await page(client, "/tickets/FS-1", worker)
            #expect(status == .ok)
            #expect(html.contains("138****5678") && !html.contains("13812345678"))
            #expect(html.contains("id=\"rule-place\""))
            #expect(html.contains("城市管理（city_management）") && html.contains(" / 一般"))
            #expect(html.contains("data-type=\"sign\"") && html.contains("data-type=\"reply\""))
            #expect(!html.contains("data-type=\"callback_result\""))
            // The same form sent twice: one sign.
            let fields = [("_csrf", worker.csrf), ("command_id", "web-test-sign-1"), ("type", "sign")]
            for suffix in ["", "&duplicate=1"] {
                let r = try await client.execute(
                    uri: "/tickets/FS-1", method: .post,
                    headers: [.cookie: worker.cookie, .contentType: "application/x-www-form-urlencoded"],
                    body: form(fields))
                #expect(r.status == .seeOther)
                #expect(r.headers[.location] == "/tickets/FS-1?done=sign" + suffix)
            }
            let history = try #require(try await w.env.store.ticket(id: "FS-1"))
            #expect(history.events.filter { $0.type == "ticket.signed" }.count == 1)
            let signed = try await page(client, "/tickets/FS-1?done=sign", worker).1
            #expect(signed.contains("已提交") && signed.contains("办理中"))
            // The form sent again: not "submitted" (the first may have been refused), but said to be a repeat.
            let repeated = try await page(client, "/tickets/FS-1?done=sign&duplicate=1", worker).1
            #expect(repeated.contains("这张表单已提交过") && !repeated.contains("已提交：签收"))
            #expect(signed.contains("w1"))  // the timeline names who acted
            // Without the CSRF token: refused before anything happens.
            let forged = try await client.execute(
                uri: "/tickets/FS-1", method: .post,
                headers: [.cookie: worker.cookie, .contentType: "application/x-www-form-urlencoded"],
                body: form([("command_id", "web-test-2"), ("type", "contact")]))
            #expect(forged.status == .forbidden)
            // A refusal is shown with its reason in Chinese: signing again is not allowed.
            let again = try await client.execute(
                uri: "/tickets/FS-1", method: .post,
                headers: [.cookie: worker.cookie, .contentType: "application/x-www-form-urlencoded"],
                body: form([("_csrf", worker.csrf), ("command_id", "web-test-sign-2"), ("type", "sign")]))
            #expect(again.status == .conflict)
            #expect(String(buffer: again.body).contains("被拒绝"))
            // The centre sees the whole phone and its own actions; a supervisor none.
            let centre = try await client.login("centre1")
            let centreHTML = try await page(client, "/tickets/FS-1", centre).1
            #expect(centreHTML.contains("13812345678") && centreHTML.contains("data-type=\"redispatch\""))
            let sup = try await client.login("sup1")
            let supHTML = try await page(client, "/tickets/FS-1", sup).1
            #expect(!supHTML.contains("data-type=") && supHTML.contains("138****5678"))
            // A number written in a note is the centre's to read whole; others read it masked, page and API.
            let note = try await client.execute(
                uri: "/tickets/FS-1", method: .post,
                headers: [.cookie: worker.cookie, .contentType: "application/x-www-form-urlencoded"],
                body: form([
                    ("_csrf", worker.csrf), ("command_id", "web-test-progress-1"), ("type", "progress"),
                    ("note", "已联系市民，另一号码13911112222"),
                ]))
            #expect(note.status == .seeOther)
            #expect(try await page(client, "/tickets/FS-1", centre).1.contains("13911112222"))
            for s in [sup, worker] {
                let html = try await page(client, "/tickets/FS-1", s).1
                #expect(html.contains("另一号码139****2222") && !html.contains("13911112222"))
                let api = try await page(client, "/api/v1/tickets/FS-1", s).1
                #expect(api.contains("139****2222") && !api.contains("13911112222"))
            }
        }
    }

    @Test(arguments: ConsoleFixture.Backend.allCases)
    func theCentreDeskReportsAndRulesFollowTheRoles(_ backend: ConsoleFixture.Backend) async throws {
        let w = try await world(backend)
        try await w.f.application(w.env).test(.router) { client in
            let centre = try await client.login("centre1")
            let (status, html) = try await page(client, "/centre", centre)
            #expect(status == .ok)
            #expect(html.contains("待人工派单") && html.contains("拒收的受理消息"))
            let search = try await client.execute(uri: "/centre?q=FS-2", method: .get, headers: centre.headers)
            #expect(search.headers[.location] == "/tickets/FS-2")
            // A ticket from outside the city waits in triage; dispatched by hand from the desk, the centre is
            // back at the desk, told where it went.
            let triaged = try await w.f.dispatch(w.env, id: "FS-T", district: "天河区")
            #expect(triaged == "triage")
            let sent = try await client.execute(
                uri: "/tickets/FS-T", method: .post,
                headers: [.cookie: centre.cookie, .contentType: "application/x-www-form-urlencoded"],
                body: form([
                    ("_csrf", centre.csrf), ("command_id", "web-t-1"), ("type", "redispatch"), ("to_unit", w.mineUnit),
                    ("back", "centre"),
                ]))
            #expect(sent.headers[.location] == "/centre?dispatched=FS-T#desk-triage")
            let back = try await page(client, "/centre?dispatched=FS-T", centre).1
            let unitName = try #require(ConsoleFixture.rules.unit(id: w.mineUnit)).name
            #expect(back.contains("已派单") && back.contains(unitName))
            #expect(!(try await page(client, "/centre?dispatched=NOPE", centre).1.contains("已派单")))
            // A return request is listed with what it asks and the centre's own deadline (its review), not
            // the unit's nearest clock; the ticket page shows the same deadline.
            let worker1 = try await client.login("w1")
            let asked = try await client.execute(
                uri: "/api/v1/tickets/FS-1/commands", method: .post, headers: worker1.apiHeaders,
                body: ByteBuffer(string: #"{"command_id":"ret-1","type":"request_return","reason":"wrong_area"}"#))
            #expect(json(asked)?["outcome"] == .string("applied"), "\(String(buffer: asked.body))")
            let state = try #require(
                try await w.env.store.lifecycle(["FS-1"], withTicket: false)["FS-1"].flatMap {
                    try TicketState(encoded: $0.state)
                })
            let reviewDue = try #require(state.pendingReturn?.reviewDue)
            let desk = try await page(client, "/centre", centre).1
            let returns = try #require(desk.range(of: "id=\"desk-return\"")).lowerBound
            let row = desk[returns...].prefix(3000)
            #expect(row.contains("FS-1") && row.contains("非本辖区"))
            let millis = Int64((reviewDue.timeIntervalSince1970 * 1000).rounded())
            #expect(row.contains("data-due=\"\(millis)\""), "\(row)")
            #expect(try await page(client, "/tickets/FS-1", centre).1.contains("审核期限"))
            // While the return waits, the unit may still note its progress, and nothing else.
            let waiting = try await page(client, "/tickets/FS-1", worker1).1
            #expect(waiting.contains("data-type=\"progress\"") && !waiting.contains("data-type=\"reply\""))
            #expect(!waiting.contains("data-type=\"request_return\""))
            let (reportStatus, report) = try await page(client, "/reports?level=all&rank_by=response", centre)
            #expect(reportStatus == .ok)
            #expect(report.contains("<svg") && report.contains("id=\"report\""))
            let csv = try await client.execute(uri: "/reports?format=csv", method: .get, headers: centre.headers)
            #expect(csv.status == .ok)
            #expect(csv.headers[.contentType]?.hasPrefix("text/csv") == true)
            let lines = String(buffer: csv.body).split(separator: "\n")
            #expect(lines.first?.hasPrefix("unit,level,assigned,response_rate") == true)
            #expect(lines.count == 1 + 3 + 1)  // header, the two units and triage (FS-T was held there), the total
            #expect(try await page(client, "/reports?from=2026-13-01", centre).0 == .badRequest)
            #expect(try await page(client, "/rules", centre).0 == .forbidden)
            let worker = try await client.login("w1")
            #expect(try await page(client, "/centre", worker).0 == .forbidden)
            #expect(try await page(client, "/reports", worker).0 == .forbidden)
            let admin = try await client.login("admin1")
            let (rulesStatus, rules) = try await page(client, "/rules", admin)
            #expect(rulesStatus == .ok)
            #expect(rules.contains(ConsoleFixture.rules.hash))
            let tried = try await client.execute(
                uri: "/rules", method: .post,
                headers: [.cookie: admin.cookie, .contentType: "application/x-www-form-urlencoded"],
                body: form([("_csrf", admin.csrf), ("ticket", #"{"id":"T-1"}"#)]))
            #expect(tried.status == .ok)
            #expect(String(buffer: tried.body).contains("不是有效的工单"))
        }
    }
}
