import Foundation
import Hummingbird
import PagodaJSON
import PagodaLifecycle
import PagodaRules
import PagodaStore

/// `/reports`: the units ranked on the five rates (响应率, 办结率, 按时办结率, 满意率, 解决率) for a period
/// and a level, as a table and as bar charts drawn on the server (SVG), with a CSV download
/// (`?format=csv`, the columns of `pagoda report --format csv`). The counting is `UnitReport`'s, fed the
/// timeline from the first row of the period's first day (`console_days`) to the last.
enum ReportsPage {
    struct Query: Sendable {
        var from: String
        var to: String
        var level: Level?
        var rankBy: UnitReport.Metric
        var csv: Bool
    }

    static func query(_ request: Request, now: Date, offsetSeconds: Int) throws -> Query {
        let q = request.uri.queryParameters
        func v(_ name: String) -> String? {
            guard let s = q[name[...]].map(String.init), !s.isEmpty else { return nil }
            return s
        }
        let today = day(now, offsetSeconds: offsetSeconds)
        func bad(_ name: String, _ message: String) -> ConsoleError {
            ConsoleError(.badRequest, "\(name)：\(message)", details: JSONObject([("parameter", .string(name))]))
        }
        let monthStart = day(LiveRates.monthStart(now, offsetSeconds: offsetSeconds), offsetSeconds: offsetSeconds)
        let from = v("from") ?? monthStart
        let to = v("to") ?? today
        for (name, value) in [("from", from), ("to", to)] where dayStart(value, offsetSeconds: offsetSeconds) == nil {
            throw bad(name, "“\(value)”不是日期（YYYY-MM-DD）")
        }
        var level: Level?
        if let l = v("level"), l != "all" {
            guard let parsed = Level(name: l) else {
                throw bad("level", "“\(l)”不是 city、district、town、village 之一")
            }
            level = parsed
        }
        var rankBy = UnitReport.Metric.satisfaction
        if let r = v("rank_by") {
            guard let m = UnitReport.Metric(rawValue: r) else {
                throw bad(
                    "rank_by", "“\(r)”不是 \(UnitReport.Metric.allCases.map(\.rawValue).joined(separator: "、")) 之一")
            }
            rankBy = m
        }
        return Query(from: from, to: to, level: level, rankBy: rankBy, csv: v("format") == "csv")
    }

    static func day(_ d: Date, offsetSeconds: Int) -> String {
        String(RFC3339.format(d, offsetSeconds: offsetSeconds).prefix(10))
    }

    static func dayStart(_ s: String, offsetSeconds: Int) -> Date? {
        guard s.count == 10 else { return nil }
        let sign = offsetSeconds < 0 ? "-" : "+"
        let off = String(format: "%@%02d:%02d", sign, abs(offsetSeconds) / 3600, abs(offsetSeconds) % 3600 / 60)
        return RFC3339.parse("\(s)T00:00:00\(off)")?.date
    }

    /// The report of assignments begun from the start of `from` to the end of `to`, judged at `asOf`.
    /// Reads the timeline in pages of 20,000 rows, awaiting the store between them.
    static func compute(store: any ConsoleStore, from: Date, to: Date, asOf: Date, offsetSeconds: Int)
        async throws -> UnitReport
    {
        var report = UnitReport(period: .init(from: from, to: to))
        guard var cursor = try await store.consoleFirstEventID(onOrAfter: ConsoleDay.of(from)) else {
            return report
        }
        cursor -= 1
        while true {
            let rows = try await store.consoleEvents(after: cursor, limit: 20_000)
            for row in rows {
                let object: JSONObject?
                if let d = row.intakeDispatch {
                    object = UnitReport.intakeDispatchEvent(
                        ticketID: row.ticketID, at: row.at, unit: d.unitID, level: d.level, signBy: d.signBy,
                        resolveBy: d.resolveBy, offsetSeconds: offsetSeconds)
                } else {
                    object = (try? JSON.parse(row.json))?.objectValue
                }
                if let object { try? report.add(object) }
            }
            guard let last = rows.last, rows.count == 20_000 else { break }
            cursor = last.rowID
        }
        return report
    }

    /// A report as the page and `GET /api/v1/report` show it: the query, the period's bounds, the units
    /// ranked (filtered by level) and their total, judged now.
    struct Report: Sendable {
        var query: Query
        var from: Date
        var to: Date
        var asOf: Date
        var ranked: [UnitReport.Row]
        var total: UnitReport.Row
    }

    /// Reads the request's parameters (400 naming the bad one) and computes the report. Workers: 403.
    static func run(_ request: Request, user: ConsoleUser, env: ConsoleEnvironment) async throws -> Report {
        guard user.role != .worker else { throw ConsoleError(.forbidden, "承办人员不能查看考核报表") }
        let now = env.clock()
        let off = env.configuration.offsetSeconds
        let q = try query(request, now: now, offsetSeconds: off)
        guard let from = dayStart(q.from, offsetSeconds: off), let toStart = dayStart(q.to, offsetSeconds: off)
        else {
            throw ConsoleError(
                .badRequest, "from：日期无效", details: JSONObject([("parameter", .string("from"))]))
        }
        let to = toStart.addingTimeInterval(86_400)
        guard to > from else {
            throw ConsoleError(
                .badRequest, "to：结束日期早于开始日期", details: JSONObject([("parameter", .string("to"))]))
        }
        let store = env.store
        let report = try await compute(store: store, from: from, to: to, asOf: now, offsetSeconds: off)
        var rows = report.units(asOf: now)
        if let level = q.level { rows = rows.filter { $0.level == level } }
        return Report(
            query: q, from: from, to: to, asOf: now, ranked: UnitReport.ranked(rows, by: q.rankBy),
            total: UnitReport.total(rows))
    }

    static func register(on group: RouterGroup<ConsoleRequestContext>, env: ConsoleEnvironment) {
        group.get("reports") { request, context in
            let user = try context.requireUser
            let result = try await run(request, user: user, env: env)
            let (q, ranked, total) = (result.query, result.ranked, result.total)
            if q.csv {
                return Response(
                    status: .ok,
                    headers: [
                        .contentType: "text/csv; charset=utf-8",
                        .contentDisposition: "attachment; filename=\"pagoda-report-\(q.from)-\(q.to).csv\"",
                        .cacheControl: "no-store",
                    ], body: .init(byteBuffer: ByteBuffer(string: UnitReport.csv(ranked, total: total))))
            }
            return HTML.response(page(q, ranked: ranked, total: total, request: request, env: env, context: context))
        }
    }

    static func page(
        _ q: Query, ranked: [UnitReport.Row], total: UnitReport.Row, request: Request, env: ConsoleEnvironment,
        context: ConsoleRequestContext
    ) -> String {
        let hierarchy = env.hierarchy
        func option(_ value: String, _ label: String, _ selected: Bool) -> String {
            "<option value=\"\(HTML.escape(value))\"\(selected ? " selected" : "")>\(HTML.escape(label))</option>"
        }
        var levels = option("all", "全部层级", q.level == nil)
        for l in Level.allCases { levels += option(l.name, Words.level(l), q.level == l) }
        var metrics = ""
        for m in UnitReport.Metric.allCases { metrics += option(m.rawValue, Words.metric(m), q.rankBy == m) }
        let csvLink =
            "/reports?from=\(Path.escape(q.from))&to=\(Path.escape(q.to))&level=\(q.level?.name ?? "all")&rank_by=\(q.rankBy.rawValue)&format=csv"
        var body = """
            <div class="page-head"><h1>考核报表</h1><span class="meta">\(HTML.escape(q.from)) 至 \(HTML.escape(q.to)) · \
            按\(Words.metric(q.rankBy))排名</span></div>
            <section class="card"><form method="get" class="filters" id="report-form">
            <div><label for="r-from">开始日期</label><input type="text" id="r-from" name="from" value="\(HTML.escape(q.from))" pattern="\\d{4}-\\d{2}-\\d{2}"></div>
            <div><label for="r-to">结束日期</label><input type="text" id="r-to" name="to" value="\(HTML.escape(q.to))" pattern="\\d{4}-\\d{2}-\\d{2}"></div>
            <div><label for="r-level">层级</label><select id="r-level" name="level">\(levels)</select></div>
            <div><label for="r-rank">排名依据</label><select id="r-rank" name="rank_by">\(metrics)</select></div>
            <div><button type="submit">生成报表</button> <a class="button secondary" id="csv" href="\(HTML.escape(csvLink))">下载 CSV</a></div>
            </form></section>
            """
        let rated = ranked.filter { $0.rate(q.rankBy) != nil }
        body += "<div class=\"grid grid-2\">"
        body +=
            "<section class=\"card\"><h2>\(Words.metric(q.rankBy))排名（前 15）</h2>\(chart(rated.prefix(15), metric: q.rankBy, hierarchy: hierarchy))</section>"
        body += "<section class=\"card\"><h2>五率总览（全部单位）</h2>\(overview(total))</section></div>"
        body += "<section class=\"card\"><h2>单位排名（\(ranked.count) 个单位）</h2>"
        if ranked.isEmpty {
            body += "<p class=\"muted\">这一期间没有派单。</p>"
        } else {
            body +=
                "<table id=\"report\"><thead><tr><th class=\"num\">名次</th><th>单位</th><th>层级</th><th class=\"num\">派单</th>"
            for m in UnitReport.Metric.allCases { body += "<th class=\"num\">\(Words.metric(m))</th>" }
            body +=
                "<th class=\"num\">红灯</th><th class=\"num\">上提</th><th class=\"num\">退单</th><th class=\"num\">督办</th><th class=\"num\">在办</th></tr></thead><tbody>"
            for (i, r) in ranked.enumerated() {
                body += "<tr><td class=\"num\">\(r.rate(q.rankBy) == nil ? "—" : "\(i + 1)")</td>"
                body +=
                    "<td><a href=\"/units/\(HTML.escape(Path.escape(r.unit)))\">\(HTML.escape(hierarchy.name(r.unit)))</a></td>"
                body += "<td>\(Words.level(r.level))</td><td class=\"num\">\(r.received)</td>"
                for m in UnitReport.Metric.allCases {
                    body += "<td class=\"num\">\(BoardPage.rateCell(r.rate(m)))</td>"
                }
                body +=
                    "<td class=\"num\">\(r.overdue)</td><td class=\"num\">\(r.escalatedAway)</td><td class=\"num\">\(r.returned)</td>"
                body += "<td class=\"num\">\(r.supervised)</td><td class=\"num\">\(r.held)</td></tr>"
            }
            body += "<tr class=\"total\"><td></td><td>合计</td><td></td><td class=\"num\">\(total.received)</td>"
            for m in UnitReport.Metric.allCases {
                body += "<td class=\"num\">\(BoardPage.rateCell(total.rate(m)))</td>"
            }
            body +=
                "<td class=\"num\">\(total.overdue)</td><td class=\"num\">\(total.escalatedAway)</td><td class=\"num\">\(total.returned)</td>"
            body +=
                "<td class=\"num\">\(total.supervised)</td><td class=\"num\">\(total.held)</td></tr></tbody></table>"
        }
        body += "</section>"
        return Layout.page(title: "考核报表", context: context, active: "reports", head: PageStyle.tag, body: body)
    }

    /// A horizontal bar chart of one rate, best first, in SVG.
    static func chart(_ rows: ArraySlice<UnitReport.Row>, metric: UnitReport.Metric, hierarchy: Hierarchy) -> String {
        guard !rows.isEmpty else { return "<p class=\"muted\">没有可排名的单位（该项无应计数）</p>" }
        let barH = 22
        let gap = 8
        let labelW = 190
        let barW = 300
        let top = 8
        let height = top + rows.count * (barH + gap)
        var svg =
            "<svg class=\"chart\" id=\"chart\" viewBox=\"0 0 \(labelW + barW + 70) \(height)\" role=\"img\" aria-label=\"\(Words.metric(metric))排名\">"
        for (i, r) in rows.enumerated() {
            let rate = r.rate(metric) ?? 0
            let y = top + i * (barH + gap)
            let w = max(1, Int((rate * Double(barW)).rounded()))
            let color = rate >= 0.95 ? "#2e7d32" : rate >= 0.85 ? "#f9a825" : "#c62828"
            let name = hierarchy.name(r.unit)
            svg +=
                "<text x=\"\(labelW - 8)\" y=\"\(y + 16)\" text-anchor=\"end\">\(HTML.escape(String(name.prefix(14))))</text>"
            svg += "<rect x=\"\(labelW)\" y=\"\(y)\" width=\"\(barW)\" height=\"\(barH)\" rx=\"4\" fill=\"#eef1f4\"/>"
            svg +=
                "<rect x=\"\(labelW)\" y=\"\(y)\" width=\"\(w)\" height=\"\(barH)\" rx=\"4\" fill=\"\(color)\"><title>\(HTML.escape(name)) \(Words.percent(rate))</title></rect>"
            svg += "<text x=\"\(labelW + barW + 8)\" y=\"\(y + 16)\">\(Words.percent(rate))</text>"
        }
        return svg + "</svg>"
    }

    /// The five rates of all units together, as columns.
    static func overview(_ total: UnitReport.Row) -> String {
        let w = 90
        let h = 180
        let base = 200
        var svg =
            "<svg class=\"chart\" id=\"overview\" viewBox=\"0 0 \(w * 5 + 20) \(base + 40)\" role=\"img\" aria-label=\"五率总览\">"
        svg += "<line x1=\"10\" y1=\"\(base)\" x2=\"\(w * 5 + 10)\" y2=\"\(base)\" stroke=\"#cbd2d9\"/>"
        for (i, m) in UnitReport.Metric.allCases.enumerated() {
            let x = 10 + i * w + 20
            if let rate = total.rate(m) {
                let bh = max(1, Int((rate * Double(h)).rounded()))
                let color = rate >= 0.95 ? "#2e7d32" : rate >= 0.85 ? "#f9a825" : "#c62828"
                svg += "<rect x=\"\(x)\" y=\"\(base - bh)\" width=\"50\" height=\"\(bh)\" rx=\"4\" fill=\"\(color)\"/>"
                svg +=
                    "<text x=\"\(x + 25)\" y=\"\(base - bh - 6)\" text-anchor=\"middle\">\(Words.percent(rate))</text>"
            } else {
                svg += "<text x=\"\(x + 25)\" y=\"\(base - 6)\" text-anchor=\"middle\">—</text>"
            }
            svg += "<text x=\"\(x + 25)\" y=\"\(base + 22)\" text-anchor=\"middle\">\(Words.metric(m))</text>"
        }
        return svg + "</svg>"
    }
}
