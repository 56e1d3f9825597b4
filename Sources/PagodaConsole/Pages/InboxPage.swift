import Foundation
import Hummingbird
import PagodaJSON
import PagodaLifecycle
import PagodaRules
import PagodaStore

/// `/units/{unit}`: a unit's open tickets, nearest deadline first, with lights and countdowns, filters
/// (phase, light, category, enterprise) and search by id or text, 50 to a page. A worker sees its own
/// unit's inbox only (403 for another's); the other roles see every unit's.
enum InboxPage {
    static let pageSize = 50

    struct Query: Sendable {
        var phase: String?
        var light: String?
        var category: String?
        var enterprise: Bool?
        var search: String?
        var page: Int

        init(_ request: Request) {
            let q = request.uri.queryParameters
            func v(_ name: String) -> String? {
                guard let s = q[name[...]].map(String.init)?.trimmingCharacters(in: .whitespaces), !s.isEmpty else {
                    return nil
                }
                return s
            }
            phase = v("phase").flatMap { Phase(rawValue: $0) != nil ? $0 : nil }
            light = v("light").flatMap { Light(rawValue: $0) != nil ? $0 : nil }
            category = v("category")
            enterprise = v("enterprise").map { $0 == "1" || $0 == "true" }
            search = v("q").map { String($0.prefix(200)) }
            // Bounded as the API's offset is (1,000,000 rows), so that no page number overflows the offset.
            page = min(max(1, v("page").flatMap(Int.init) ?? 1), 1_000_000 / InboxPage.pageSize + 1)
        }

        /// The query string of these filters on another page.
        func link(page: Int) -> String {
            var parts: [String] = []
            if let phase { parts.append("phase=\(Path.escape(phase))") }
            if let light { parts.append("light=\(Path.escape(light))") }
            if let category { parts.append("category=\(Path.escape(category))") }
            if let enterprise { parts.append("enterprise=\(enterprise ? 1 : 0)") }
            if let search { parts.append("q=\(Path.escape(search))") }
            parts.append("page=\(page)")
            return "?" + parts.joined(separator: "&")
        }
    }

    static func register(on group: RouterGroup<ConsoleRequestContext>, env: ConsoleEnvironment) {
        group.get("units/:unit") { request, context in
            let user = try context.requireUser
            let unit = try context.parameters.require("unit")
            if user.role == .worker && user.unit != unit {
                throw ConsoleError(.forbidden, "只能查看本单位的工单")
            }
            if user.role == .admin { throw ConsoleError(.forbidden, "系统管理员不查看工单") }
            let rules = env.backend.ruleSet
            guard rules.unit(id: unit) != nil else { throw ConsoleError(.notFound, "规则中没有单位 \(unit)") }
            let query = Query(request)
            let store = env.store
            let storeQuery = ConsoleInboxQuery(
                unitID: unit, phase: query.phase, light: query.light, category: query.category,
                enterprise: query.enterprise, search: query.search,
                searchScope: ConsoleAccess.searchScope(query.search, for: user), limit: pageSize,
                offset: (query.page - 1) * pageSize)
            let result = try await store.consoleInbox(storeQuery)
            let counts = try await store.consoleOpenCounts(unit: unit)
            return HTML.response(
                page(
                    unit: unit, query: query, rows: result.rows, total: result.total, counts: counts,
                    env: env, context: context))
        }
    }

    static func page(
        unit: String, query: Query, rows: [ConsoleListRow], total: Int, counts: [ConsoleOpenCount],
        env: ConsoleEnvironment, context: ConsoleRequestContext
    ) -> String {
        let rules = env.backend.ruleSet
        let hierarchy = env.hierarchy
        let place = hierarchy.place(unit)
        let now = env.clock()
        var tally = BoardPage.Tally()
        for c in counts { tally.add(c) }
        func option(_ value: String, _ label: String, _ selected: String?) -> String {
            "<option value=\"\(h: value)\"\(selected == value ? " selected" : "")>\(h: label)</option>"
        }
        var phases = option("", "全部", query.phase)
        for p in [Phase.assigned, .signed, .returnRequested, .replied] {
            phases += option(p.rawValue, Words.phase(p.rawValue), query.phase)
        }
        var lights = option("", "全部", query.light)
        for l in Light.allCases.reversed() { lights += option(l.rawValue, Words.light(l.rawValue), query.light) }
        var categories = option("", "全部", query.category)
        for c in rules.categories {
            categories += option(c.code, c.name.map { "\($0)（\(c.code)）" } ?? c.code, query.category)
        }
        let enterprise =
            option("", "全部", query.enterprise.map { $0 ? "1" : "0" })
            + option("1", "企业诉求", query.enterprise.map { $0 ? "1" : "0" })
            + option("0", "非企业", query.enterprise.map { $0 ? "1" : "0" })
        // Only the centre's search looks at digits in a ticket's text (they may be a caller's number).
        let searchLabel = context.user?.role == .centre ? "搜索（工单号或内容）" : "搜索（工单号或内容；含数字时只查工单号）"
        var body = """
            <div class="page-head"><h1>\(h: place.name)</h1><span class="meta">\(h: unit) · \(Words.level(place.level)) · \
            \(h: place.district)\(h: place.town.map { " · " + $0 } ?? "")</span>
            <div class="light-summary"><span>在办 <b>\(tally.total)</b></span><span class="c-red">红灯 \(tally.red)</span>\
            <span class="c-yellow">黄灯 \(tally.yellow)</span><span class="c-green">绿灯 \(tally.green)</span>\
            <span>督办 \(tally.supervised)</span></div></div>
            <section class="card"><form method="get" class="filters" id="filters">
            <div><label for="f-phase">状态</label><select id="f-phase" name="phase">\(phases)</select></div>
            <div><label for="f-light">灯色</label><select id="f-light" name="light">\(lights)</select></div>
            <div><label for="f-category">类别</label><select id="f-category" name="category">\(categories)</select></div>
            <div><label for="f-enterprise">企业</label><select id="f-enterprise" name="enterprise">\(enterprise)</select></div>
            <div class="grow"><label for="f-q">\(searchLabel)</label><input type="search" id="f-q" name="q" value="\(h: query.search)" \
            placeholder="如 FS-20260302-0001 或 “河涌”"></div>
            <div><button type="submit">筛选</button> <a class="button secondary" href="/units/\(h: Path.escape(unit))">清除</a></div>
            </form></section>
            <section class="card"><h2>工单（\(total) 件，按最近时限排序）</h2>
            """
        let pages = max(1, (total + pageSize - 1) / pageSize)
        if rows.isEmpty && total > 0 {
            // Past the last page (tickets closed since the page was drawn): a link back to the last one.
            body += """
                <p class="muted" id="inbox-empty">本页已无工单（共 \(total) 件，\(pages) 页）。\
                <a href="\(h: query.link(page: pages))">回到第 \(pages) 页</a></p>
                """
        } else if rows.isEmpty {
            body += "<p class=\"muted\" id=\"inbox-empty\">没有符合条件的在办工单。</p>"
        } else {
            body += """
                <table class="inbox" id="inbox"><thead><tr><th>灯</th><th>工单号</th><th>内容</th><th>状态</th><th>类别</th>\
                <th>受理时间</th><th>最近时限</th><th>剩余</th></tr></thead><tbody>
                """
            for r in rows {
                let cls = r.light.map { "row-\($0)" } ?? ""
                body += """
                    <tr class="\(cls)" data-ticket="\(h: r.ticketID)"><td>\(Piece.light(r.light))</td><td>\(Piece.ticketLink(r.ticketID))</td>\
                    <td class="summary" title="\(h: ConsoleAccess.summary(r.summary))">\(h: ConsoleAccess.summary(r.summary))\(r.enterprise ? " " + Piece.badge("企业", "yellow") : "")\
                    \(r.supervised ? " " + Piece.badge("督办", "red") : "")</td><td>\(h: Words.phase(r.phase))</td>\
                    <td>\(h: r.category.map { rules.category(code: $0)?.name ?? $0 } ?? "—")</td><td>\(h: env.time(r.receivedAt))</td>\
                    <td>\(h: r.dueAt.map { env.time($0) } ?? "—")</td><td>\(Piece.countdown(r.dueAt, now: now))</td></tr>
                    """
            }
            body += "</tbody></table>"
            if pages > 1 {
                body += "<div class=\"pager\">"
                if query.page > 1 { body += "<a href=\"\(h: query.link(page: query.page - 1))\">上一页</a>" }
                body += "<span>第 \(query.page) / \(pages) 页</span>"
                if query.page < pages { body += "<a href=\"\(h: query.link(page: query.page + 1))\">下一页</a>" }
                body += "</div>"
            }
        }
        body += "</section>"
        // The inbox follows new tickets by itself: it reloads when the unit's count changes (looked at every 3 s).
        body += Piece.scriptTag("inbox", data: [("unit", unit), ("seen", String(tally.total))])
        let active = context.user?.role == .worker ? "inbox" : nil
        return Layout.page(
            title: place.name, context: context, active: active, head: PageStyle.tag + Piece.scriptTag("countdown"),
            body: body
        )
    }

    /// The inbox's script (`/static/inbox.js`): reloads the page when the unit's open count changes,
    /// unless a form is being filled in, or when the session has ended (401: the reload leads to the login page).
    static let script = """
        (function () {
          var data = document.currentScript.dataset, seen = Number(data.seen), unit = data.unit;
          setInterval(function () {
            if (document.activeElement && document.activeElement.closest && document.activeElement.closest("form")) return;
            fetch("/units/" + encodeURIComponent(unit) + "/count", { credentials: "same-origin", cache: "no-store" })
              .then(function (r) { if (r.status === 401) location.reload(); return r.ok ? r.text() : null; })
              .then(function (t) { if (t !== null && Number(t) !== seen) location.reload(); })
              .catch(function () {});
          }, 3000);
        })();
        """

    static func registerCount(on group: RouterGroup<ConsoleRequestContext>, env: ConsoleEnvironment) {
        group.get("units/:unit/count") { _, context in
            let user = try context.requireUser
            let unit = try context.parameters.require("unit")
            if user.role == .worker && user.unit != unit { throw ConsoleError(.forbidden, "只能查看本单位的工单") }
            let store = env.store
            let n = try await store.consoleOpenCounts(unit: unit).reduce(0) { $0 + $1.count }
            return Response(
                status: .ok, headers: [.contentType: "text/plain; charset=utf-8", .cacheControl: "no-store"],
                body: .init(byteBuffer: ByteBuffer(string: "\(n)")))
        }
    }
}
