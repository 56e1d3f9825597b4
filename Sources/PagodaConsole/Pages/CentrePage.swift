import Foundation
import Hummingbird
import PagodaJSON
import PagodaLifecycle
import PagodaRules
import PagodaStore

/// `/centre`: the hotline centre's desk. The triage queue (dispatched by hand: choose a unit, with
/// search), pending return (退单) and extension (延期) requests, replies waiting for the callback (回访),
/// and the intake messages rejected as not tickets, with their reasons. Each list comes from the desk
/// index (`lifecycle_console_desk`), nearest deadline first; the requests by their review deadline (the
/// centre's own), with what they ask. The centre decides on the ticket's page or, for triage, right here
/// (one `redispatch` command). Supervisors see it without the forms.
enum CentrePage {
    static let listSize = 30
    /// How many requests and replies a desk reads to order them by the centre's own deadline.
    static let readSize = 300

    struct Data: Sendable {
        var desks: [String: [ConsoleListRow]]
        var counts: [String: Int]
        var rejections: [RejectionEntry]
        /// For the return and extension desks: each listed ticket's request (what is asked, by when the
        /// centre decides), from its lifecycle state.
        var requests: [String: Request] = [:]
    }

    struct Request: Sendable {
        var reviewDue: Date?
        var text: String
    }

    static func register(on group: RouterGroup<ConsoleRequestContext>, env: ConsoleEnvironment) {
        group.get("centre") { request, context in
            let user = try context.requireUser
            guard user.role.seesAll else { throw ConsoleError(.forbidden, "只有热线中心和督查人员可以进入中心工作台") }
            if let q = request.uri.queryParameters["q"].map(String.init)?.trimmingCharacters(in: .whitespaces),
                !q.isEmpty
            {
                return HTML.redirect("/tickets/\(Path.escape(q))")
            }
            let store = env.store
            var desks: [String: [ConsoleListRow]] = [:]
            var requests: [String: Request] = [:]
            for d in CentreDesk.allCases {
                switch d {
                case .returnRequest, .extensionRequest:
                    // The desk index orders by the unit's nearest clock; the centre's deadline is the
                    // request's review: read more, and list the nearest reviews first.
                    let rows = try await store.consoleList(.desk(d.rawValue), limit: readSize)
                    let states = try await store.lifecycle(rows.map(\.ticketID), withTicket: false)
                    for r in rows {
                        guard let s = states[r.ticketID].flatMap({ try? TicketState(encoded: $0.state) }) else {
                            continue
                        }
                        requests[r.ticketID] = Self.request(s, d, env: env)
                    }
                    let far = Date.distantFuture
                    desks[d.rawValue] = Array(
                        rows.sorted {
                            (requests[$0.ticketID]?.reviewDue ?? far) < (requests[$1.ticketID]?.reviewDue ?? far)
                        }.prefix(listSize))
                default:
                    desks[d.rawValue] = try await store.consoleList(.desk(d.rawValue), limit: listSize)
                }
            }
            let data = Data(
                desks: desks, counts: try await store.consoleDeskCounts(),
                rejections: try await store.rejections(status: .open, limit: 20), requests: requests)
            // Back from a dispatch by hand: where the ticket is now, as the store has it (a link cannot
            // put words of its own on the page).
            var notice = ""
            if let id = request.uri.queryParameters["dispatched"].map(String.init),
                let held = try await store.lifecycle([id], withTicket: false)[id]
            {
                notice = """
                    <div class="notice ok" id="notice">已派单：\(Piece.ticketLink(id)) 现由\
                    \(HTML.escape(env.hierarchy.name(held.unitID)))承办</div>
                    """
            }
            return HTML.response(page(data, user: user, notice: notice, env: env, context: context))
        }
    }

    static func page(
        _ data: Data, user: ConsoleUser, notice: String = "", env: ConsoleEnvironment, context: ConsoleRequestContext
    ) -> String {
        let now = env.clock()
        let hierarchy = env.hierarchy
        let rules = env.backend.ruleSet
        let acts = user.role == .centre
        var body = """
            <div class="page-head"><h1>中心工作台</h1>
            <form method="get" action="/centre" class="filters" style="margin-left:auto"><div class="grow">\
            <input type="search" name="q" placeholder="输入工单号直接打开" aria-label="工单号"></div><div><button type="submit">打开</button></div></form></div>
            \(notice)<section class="kpis">
            """
        for d in CentreDesk.allCases {
            body +=
                "<a class=\"kpi\" href=\"#desk-\(d.rawValue)\"><div class=\"kpi-value\">\(data.counts[d.rawValue, default: 0])</div>"
            body += "<div class=\"kpi-label\">\(Words.desk(d.rawValue))</div></a>"
        }
        body +=
            "<a class=\"kpi red\" href=\"#desk-rejected\"><div class=\"kpi-value\">\(data.rejections.count)\(data.rejections.count >= 20 ? "+" : "")</div>"
        body += "<div class=\"kpi-label\">拒收消息</div></a></section>"

        // Triage: dispatch by hand.
        body += "<section class=\"card\" id=\"desk-triage\"><h2>待人工派单（\(data.counts["triage", default: 0])）</h2>"
        let triage = data.desks["triage"] ?? []
        if triage.isEmpty {
            body += "<p class=\"muted\">分拨队列为空</p>"
        } else {
            body +=
                "<table><thead><tr><th>灯</th><th>工单号</th><th>内容</th><th>受理时间</th><th>剩余</th><th>派往</th></tr></thead><tbody>"
            for r in triage {
                let form =
                    acts
                    ? """
                    <form method="post" action="/tickets/\(HTML.escape(Path.escape(r.ticketID)))" class="filters">\(Layout.csrfField(context))\
                    <input type="hidden" name="command_id" value="\(ConsoleCommands.freshID())"><input type="hidden" name="type" value="redispatch">\
                    <input type="hidden" name="back" value="centre">\
                    <div class="grow"><input type="text" name="to_unit" list="units" required placeholder="搜索单位名称或编号" aria-label="派往单位"></div>\
                    <div><button type="submit">派单</button></div></form>
                    """ : "<a href=\"/tickets/\(HTML.escape(Path.escape(r.ticketID)))\">查看</a>"
                body += """
                    <tr><td>\(Piece.light(r.light))</td><td>\(Piece.ticketLink(r.ticketID))</td><td class="summary">\(HTML.escape(ConsoleAccess.summary(r.summary)))</td>\
                    <td>\(HTML.escape(env.time(r.receivedAt)))</td><td>\(Piece.countdown(r.dueAt, now: now))</td><td style="min-width:18rem">\(form)</td></tr>
                    """
            }
            body += "</tbody></table>"
            if acts {
                // Unit search: the browser's own suggestions over every unit's id and name.
                body +=
                    "<datalist id=\"units\">"
                    + rules.units.map {
                        "<option value=\"\(HTML.escape($0.id))\">\(HTML.escape($0.name))（\(HTML.escape(hierarchy.place($0.id).district))）</option>"
                    }.joined() + "</datalist>"
            }
        }
        body += "</section><div class=\"grid grid-2\">"
        body += list("return", "退单申请", data, env: env, now: now, dueLabel: "审核期限")
        body += list("extension", "延期申请", data, env: env, now: now, dueLabel: "审核期限")
        // Replies wait without a deadline of their own, oldest first.
        body += "</div>"
        body += list("callback", "待回访（已办结反馈）", data, env: env, now: now, dueLabel: "—")

        body += "<section class=\"card\" id=\"desk-rejected\"><h2>拒收的受理消息</h2>"
        if data.rejections.isEmpty {
            body += "<p class=\"muted\">没有待处理的拒收消息</p>"
        } else {
            body += "<table><thead><tr><th>编号</th><th>时间</th><th>原因</th><th>消息内容</th></tr></thead><tbody>"
            // A rejected message and its reasons may hold a caller's number: masked but for the centre.
            func shown(_ text: String) -> String {
                user.role == .centre ? text : PhoneMask.maskNumbers(in: Array(text.utf8))
            }
            for r in data.rejections {
                let issues =
                    r.issues.isEmpty
                    ? HTML.escape(shown(r.reason))
                    : r.issues.map {
                        "<span class=\"mono\">\(HTML.escape($0.path.isEmpty ? "(消息)" : $0.path))</span> \(HTML.escape(shown($0.message)))"
                    }.joined(separator: "<br>")
                let message = shown(String(decoding: r.body, as: UTF8.self))
                body += """
                    <tr><td class="mono">#\(r.id)</td><td>\(HTML.escape(env.time(r.at)))</td><td>\(Piece.badge(r.code, "red"))<div class="small">\(issues)</div></td>\
                    <td class="mono small">\(HTML.escape(String(message.prefix(160))))\(message.count > 160 ? "…" : "")</td></tr>
                    """
            }
            body +=
                "</tbody></table><p class=\"muted small\">重新提交或放弃：<span class=\"mono\">pagoda rejected resubmit|drop ID</span></p>"
        }
        body += "</section>"
        return Layout.page(
            title: "中心工作台", context: context, active: "centre", head: PageStyle.tag + Piece.scriptTag("countdown"),
            body: body)
    }

    static func list(
        _ desk: String, _ title: String, _ data: Data, env: ConsoleEnvironment, now: Date, dueLabel: String
    ) -> String {
        let rows = data.desks[desk] ?? []
        let count = data.counts[desk, default: 0]
        var out = "<section class=\"card\" id=\"desk-\(desk)\"><h2>\(title)（\(count)）</h2>"
        guard !rows.isEmpty else { return out + "<p class=\"muted\">暂无</p></section>" }
        let isRequest = dueLabel != "—"
        out +=
            "<table><thead><tr><th>灯</th><th>工单号</th><th>承办单位</th><th>内容</th>"
            + (isRequest ? "<th>申请</th><th>\(dueLabel)</th>" : "<th>最近时限</th>") + "</tr></thead><tbody>"
        for r in rows {
            let request = data.requests[r.ticketID]
            let due = isRequest ? request?.reviewDue : r.dueAt
            out += """
                <tr><td>\(Piece.light(r.light))</td><td>\(Piece.ticketLink(r.ticketID))</td><td>\(HTML.escape(env.hierarchy.name(r.unitID)))</td>\
                <td class="summary">\(HTML.escape(ConsoleAccess.summary(r.summary)))</td>\
                \(isRequest ? "<td class=\"small\">\(HTML.escape(request?.text ?? "—"))</td>" : "")<td>\(Piece.countdown(due, now: now))</td></tr>
                """
        }
        out += "</tbody></table>"
        if count > rows.count {
            out += "<p class=\"muted small\">显示 \(rows.count) 件，共 \(count) 件；其余可在各单位的工单列表中查看。</p>"
        }
        return out + "</section>"
    }

    /// What a pending request asks, and by when the centre decides it.
    static func request(_ s: TicketState, _ desk: CentreDesk, env: ConsoleEnvironment) -> Request? {
        switch desk {
        case .returnRequest:
            guard let p = s.pendingReturn else { return nil }
            let suggested = p.suggestedUnit.map { "，建议 " + env.hierarchy.name($0) } ?? ""
            return Request(reviewDue: p.reviewDue, text: TicketPage.reasonText(p.reason.rawValue) + suggested)
        case .extensionRequest:
            guard let e = s.pendingExtension else { return nil }
            return Request(reviewDue: e.reviewDue, text: "延至 " + env.time(e.until))
        default:
            return nil
        }
    }
}
