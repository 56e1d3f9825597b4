import Foundation
import Hummingbird
import PagodaJSON
import PagodaLifecycle
import PagodaRules
import PagodaStore
import ServiceLifecycle

/// `/board`: the centre's big screen. Open tickets per district, town and unit by light, supervised
/// tickets, today's counters, the top overdue tickets, and the five rates of today and of the month per
/// district. Everything it reads is kept current incrementally (the open-ticket counters, the day
/// counters, partial indexes for the lists, `LiveRates`), so drawing it costs the same at any number of
/// tickets. It stays current without reloading: `/board/events` (Server-Sent Events) says when the
/// timeline grew, and the page fetches `/board/live` (the live part alone) again.
enum BoardPage {
    /// Who may see the board: everyone but a worker.
    static func allowed(_ user: ConsoleUser) -> Bool { user.role != .worker }

    struct Data: Sendable {
        var counts: [ConsoleOpenCount]
        var day: [String: Int]
        var red: [ConsoleListRow]
        var supervised: [ConsoleListRow]
        var desks: [String: Int]
        var rates: LiveRates.Snapshot
        var now: Date
    }

    static func load(_ env: ConsoleEnvironment, rates: LiveRates) async throws -> Data {
        let store = env.store
        let now = env.clock()
        let snapshot = rates.current()
        let day = ConsoleDay.of(now)
        return Data(
            counts: try await store.consoleOpenCounts(unit: nil),
            day: try await store.consoleDayCounts(day...day)[day] ?? [:],
            red: try await store.consoleList(.red, limit: 10),
            supervised: try await store.consoleList(.supervised, limit: 8),
            desks: try await store.consoleDeskCounts(), rates: snapshot, now: now)
    }

    /// Light counts of one group (a district, a town, a unit).
    struct Tally: Sendable {
        var green = 0, yellow = 0, red = 0, supervised = 0
        var total: Int { green + yellow + red }
        mutating func add(_ c: ConsoleOpenCount) {
            switch c.light {
            case "red": red += c.count
            case "yellow": yellow += c.count
            default: green += c.count
            }
            if c.supervised { supervised += c.count }
        }
    }

    /// The open-ticket counters grouped for the board: all, per district, per town of each district
    /// (`区级单位` for units above the towns), per unit. The page and `GET /api/v1/board` both draw from it.
    struct Tallies: Sendable {
        var all = Tally()
        var districts: [String: Tally] = [:]
        var towns: [String: [String: Tally]] = [:]
        var units: [String: Tally] = [:]

        init(_ counts: [ConsoleOpenCount], hierarchy: Hierarchy) {
            for c in counts {
                let place = hierarchy.place(c.unitID)
                all.add(c)
                districts[place.district, default: Tally()].add(c)
                towns[place.district, default: [:]][place.town ?? "区级单位", default: Tally()].add(c)
                units[c.unitID, default: Tally()].add(c)
            }
        }
    }

    /// Today's counters as the board shows them. Dispatches are intake's decisions plus the lifecycle's
    /// later dispatches (an approved return, a redispatch); a ticket's first dispatch has intake's row only.
    static func today(_ d: [String: Int]) -> [(key: String, label: String, value: Int)] {
        [
            ("intake", "今日受理", d["intake", default: 0]),
            ("dispatched", "今日派单", d["intake", default: 0] + d["ticket.dispatched", default: 0]),
            ("escalated", "今日上提", d["ticket.escalated", default: 0]),
            ("closed", "今日办结", d["ticket.closed", default: 0]),
            ("rejected", "今日拒收", d["rejected", default: 0]),
        ]
    }

    /// The rates of today and of the month per district (and for the whole city), as the board shows them.
    struct DistrictRates: Sendable {
        var today: [String: UnitReport.Row]
        var month: [String: UnitReport.Row]
        var names: [String]
        var cityToday: UnitReport.Row
        var cityMonth: UnitReport.Row

        init(_ s: LiveRates.Snapshot, hierarchy: Hierarchy) {
            func byDistrict(_ rows: [UnitReport.Row]) -> [String: UnitReport.Row] {
                Dictionary(grouping: rows, by: { hierarchy.place($0.unit).district }).mapValues(UnitReport.total)
            }
            today = byDistrict(s.today)
            month = byDistrict(s.month)
            names = Set(today.keys).union(month.keys).sorted()
            cityToday = UnitReport.total(s.today)
            cityMonth = UnitReport.total(s.month)
        }
    }

    static func page(_ data: Data, env: ConsoleEnvironment, context: ConsoleRequestContext) -> String {
        let body = """
            <div class="page-head"><h1>态势大屏</h1><span class="live-state" id="live-state">实时 · \(h: env.time(data.now))</span></div>
            <div id="board-live">\(live(data, env: env, user: context.user))</div>
            """
        return Layout.page(
            title: "态势大屏", context: context, active: "board", head: PageStyle.tag + Piece.scriptTag("board"), body: body
        )
    }

    /// The board's script (served at `/static/board.js`): redraws the live part on each `update` event. When
    /// the session has ended (401) it reloads the page, which leads to the login page; when the stream is
    /// closed for good it shows the figures as stale and connects again after 5 s.
    static let script = """
        (function () {
          var busy = false, again = false;
          function refresh() {
            if (busy) { again = true; return; }
            busy = true;
            fetch("/board/live", { credentials: "same-origin", cache: "no-store" }).then(function (r) {
              if (r.status === 200) return r.text();
              if (r.status === 401) location.reload();
              throw new Error("HTTP " + r.status);
            }).then(function (html) {
              document.getElementById("board-live").innerHTML = html;
              var s = document.getElementById("live-state");
              s.textContent = "实时 · " + new Date().toLocaleTimeString("zh-CN", { hour12: false });
              s.classList.remove("stale");
            }).catch(function () {
              document.getElementById("live-state").classList.add("stale");
            }).finally(function () {
              busy = false;
              if (again) { again = false; refresh(); }
            });
          }
          function connect() {
            var source = new EventSource("/board/events");
            source.addEventListener("update", refresh);
            source.onerror = function () {
              document.getElementById("live-state").classList.add("stale");
              if (source.readyState === EventSource.CLOSED) { refresh(); setTimeout(connect, 5000); }
            };
          }
          if (window.EventSource) connect();
        })();
        """

    /// The live part of the board.
    /// An administrator's board shows the lists' tickets by id, unit and time left, without their text.
    static func live(_ data: Data, env: ConsoleEnvironment, user: ConsoleUser?) -> String {
        let text = user?.role.seesAll == true
        let hierarchy = env.hierarchy
        let tallies = Tallies(data.counts, hierarchy: hierarchy)
        let (all, districts, towns, units) = (tallies.all, tallies.districts, tallies.towns, tallies.units)
        func kpi(_ label: String, _ value: Int, _ kind: String = "") -> String {
            "<div class=\"kpi \(kind)\"><div class=\"kpi-value\">\(value)</div><div class=\"kpi-label\">\(label)</div></div>"
        }
        var out = "<section class=\"kpis\">"
        out +=
            kpi("在办工单", all.total) + kpi("红灯", all.red, "red") + kpi("黄灯", all.yellow, "yellow")
            + kpi("绿灯", all.green, "green")
        out += kpi("督办", all.supervised, "red")
        out += "<div class=\"kpi-sep\"></div>"
        for c in today(data.day) { out += kpi(c.label, c.value) }
        out += "</section>"

        // Districts by light, with their towns and units folded under them.
        out += "<div class=\"grid board-grid\"><section class=\"card\"><h2>各区在办工单（按灯色）</h2>"
        out +=
            "<table class=\"lights\"><thead><tr><th>区域</th><th class=\"num\">在办</th><th class=\"num\">绿灯</th><th class=\"num\">黄灯</th>"
        out += "<th class=\"num\">红灯</th><th class=\"num\">督办</th><th class=\"barcol\">分布</th></tr></thead><tbody>"
        let maxTotal = max(1, districts.values.map(\.total).max() ?? 1)
        for (name, t) in districts.sorted(by: {
            ($0.value.red, $0.value.total, $1.key) > ($1.value.red, $1.value.total, $0.key)
        }) {
            out += row(name, t, maxTotal: maxTotal, cls: "district")
            for (town, tt) in (towns[name] ?? [:]).sorted(by: {
                ($0.value.red, $0.value.total) > ($1.value.red, $1.value.total)
            }).prefix(6) {
                out += row(town, tt, maxTotal: maxTotal, cls: "town")
            }
        }
        if districts.isEmpty { out += "<tr><td colspan=\"7\" class=\"muted\">暂无在办工单</td></tr>" }
        out += "</tbody></table></section>"

        // The top overdue tickets.
        out += "<section class=\"card\"><h2>红灯超期 TOP 10</h2>"
        out += list(data.red, hierarchy: hierarchy, now: data.now, text: text, empty: "没有红灯工单")
        out += "</section></div>"

        out += "<div class=\"grid board-grid\"><section class=\"card\"><h2>五率 · 今日 / 本月（各区）</h2>"
        out += rates(data.rates, hierarchy: hierarchy)
        out += "</section><section class=\"card\"><h2>督办工单</h2>"
        out += list(data.supervised, hierarchy: hierarchy, now: data.now, text: text, empty: "没有督办工单")
        out += "<h2 class=\"sub\">中心待办</h2><div class=\"desk-mini\">"
        for desk in ["triage", "return", "extension", "callback"] {
            out += "<div><span class=\"n\">\(data.desks[desk, default: 0])</span><span>\(Words.desk(desk))</span></div>"
        }
        out += "</div></section></div>"

        // Units with the most red lights.
        let worst = units.filter { $0.value.total > 0 }.sorted {
            ($0.value.red, $0.value.yellow, $1.key) > ($1.value.red, $1.value.yellow, $0.key)
        }.prefix(12)
        out += "<section class=\"card\"><h2>承办单位（红灯最多的 12 个）</h2><div class=\"unit-grid\">"
        for (unit, t) in worst {
            let place = hierarchy.place(unit)
            out += """
                <a class="unit-tile" href="/units/\(h: Path.escape(unit))"><div class="unit-name">\(h: place.name)</div>\
                <div class="muted small">\(h: place.district)\(h: place.town.map { " · " + $0 } ?? "")</div>\
                \(bar(t, maxTotal: max(1, t.total)))<div class="small"><span class="c-red">红 \(t.red)</span> · \
                <span class="c-yellow">黄 \(t.yellow)</span> · <span class="c-green">绿 \(t.green)</span></div></a>
                """
        }
        if worst.isEmpty { out += "<p class=\"muted\">暂无在办工单</p>" }
        out += "</div></section>"
        return out
    }

    static func row(_ name: String, _ t: Tally, maxTotal: Int, cls: String) -> String {
        """
        <tr class="\(cls)"><td>\(h: name)</td><td class="num">\(t.total)</td><td class="num c-green">\(t.green)</td>\
        <td class="num c-yellow">\(t.yellow)</td><td class="num c-red">\(t.red)</td><td class="num">\(t.supervised)</td>\
        <td class="barcol">\(bar(t, maxTotal: maxTotal))</td></tr>
        """
    }

    /// A bar whose length is the group's share of the largest, split by light.
    static func bar(_ t: Tally, maxTotal: Int) -> String {
        func w(_ n: Int) -> String { String(format: "%.2f", Double(n) * 100 / Double(maxTotal)) }
        return
            "<div class=\"stack\"><span class=\"g\" style=\"width:\(w(t.green))%\"></span><span class=\"y\" style=\"width:\(w(t.yellow))%\"></span>"
            + "<span class=\"r\" style=\"width:\(w(t.red))%\"></span></div>"
    }

    static func list(_ rows: [ConsoleListRow], hierarchy: Hierarchy, now: Date, text: Bool, empty: String) -> String {
        guard !rows.isEmpty else { return "<p class=\"muted\">\(empty)</p>" }
        var out = "<ol class=\"ticket-list\">"
        for r in rows {
            out += """
                <li>\(Piece.light(r.light))\(Piece.ticketLink(r.ticketID)) <span class="muted">\(h: hierarchy.name(r.unitID))</span>\
                \(r.supervised ? Piece.badge("督办", "red") : "")<div class="summary">\(h: text ? ConsoleAccess.summary(r.summary) : "")</div>\
                <div class="right">\(Piece.countdown(r.dueAt, now: now))</div></li>
                """
        }
        return out + "</ol>"
    }

    /// The five rates of today and of the month, per district.
    static func rates(_ s: LiveRates.Snapshot, hierarchy: Hierarchy) -> String {
        guard s.ready || !s.month.isEmpty else { return "<p class=\"muted\">正在统计本月数据…</p>" }
        let r = DistrictRates(s, hierarchy: hierarchy)
        let (today, month, names) = (r.today, r.month, r.names)
        var out = "<table class=\"rates\"><thead><tr><th rowspan=\"2\">区域</th>"
        for m in UnitReport.Metric.allCases { out += "<th colspan=\"2\" class=\"num\">\(Words.metric(m))</th>" }
        out +=
            "</tr><tr>" + String(repeating: "<th class=\"num sub\">今日</th><th class=\"num sub\">本月</th>", count: 5)
            + "</tr></thead><tbody>"
        for name in names {
            out += "<tr><td>\(HTML.escape(name))</td>"
            for m in UnitReport.Metric.allCases {
                out +=
                    "<td class=\"num\">\(rateCell(today[name]?.rate(m)))</td><td class=\"num\">\(rateCell(month[name]?.rate(m)))</td>"
            }
            out += "</tr>"
        }
        let (t, mo) = (r.cityToday, r.cityMonth)
        out += "<tr class=\"total\"><td>全市</td>"
        for m in UnitReport.Metric.allCases {
            out += "<td class=\"num\">\(rateCell(t.rate(m)))</td><td class=\"num\">\(rateCell(mo.rate(m)))</td>"
        }
        out += "</tr></tbody></table>"
        if names.isEmpty { out += "<p class=\"muted\">本月尚无派单</p>" }
        return out
    }

    static func rateCell(_ r: Double?) -> String {
        guard let r else { return "<span class=\"muted\">—</span>" }
        let cls = r >= 0.95 ? "c-green" : r >= 0.85 ? "c-yellow" : "c-red"
        return "<span class=\"\(cls)\">\(Words.percent(r))</span>"
    }

    static func register(on group: RouterGroup<ConsoleRequestContext>, env: ConsoleEnvironment, rates: LiveRates) {
        group.get("board") { _, context in
            let user = try context.requireUser
            guard allowed(user) else { throw ConsoleError(.forbidden, "承办人员不能查看态势大屏") }
            return HTML.response(page(try await load(env, rates: rates), env: env, context: context))
        }
        group.get("board/live") { _, context in
            let user = try context.requireUser
            guard allowed(user) else { throw ConsoleError(.forbidden, "承办人员不能查看态势大屏") }
            return HTML.response(live(try await load(env, rates: rates), env: env, user: user))
        }
        group.get("board/events") { _, context in
            let user = try context.requireUser
            guard allowed(user) else { throw ConsoleError(.forbidden, "承办人员不能查看态势大屏") }
            return Response(
                status: .ok, headers: [.contentType: "text/event-stream", .cacheControl: "no-store"],
                body: ResponseBody { writer in try await events(&writer, env: env) })
        }
    }

    /// The board's event stream: `update` (with the last timeline row's id) at once and then whenever the
    /// timeline grew, looked at every 250 ms; a comment every 10 s keeps proxies from closing it. It ends
    /// after 60 s (the browser's EventSource connects again within a second, through the session check, so
    /// a session that ended stops being served) and at once when the service shuts down gracefully.
    static func events(_ writer: inout any ResponseBodyWriter, env: ConsoleEnvironment) async throws {
        let store = env.store
        var last: Int64 = -1
        let start = ContinuousClock.now
        var lastWrite = ContinuousClock.now
        try await writer.write(ByteBuffer(string: "retry: 1000\n\n"))
        while ContinuousClock.now - start < .seconds(60), !Task.isCancelled, !Task.isShuttingDownGracefully {
            let id = try await store.consoleLastEventID()
            if id != last {
                try await writer.write(ByteBuffer(string: "event: update\ndata: \(id)\n\n"))
                last = id
                lastWrite = .now
            } else if ContinuousClock.now - lastWrite > .seconds(10) {
                try await writer.write(ByteBuffer(string: ": keep-alive\n\n"))
                lastWrite = .now
            }
            try await Task.sleep(for: .milliseconds(250))
        }
        try await writer.finish(nil)
    }
}
