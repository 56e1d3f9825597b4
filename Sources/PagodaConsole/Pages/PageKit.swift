import Foundation
import PagodaJSON
import PagodaLifecycle
import PagodaRules
import PagodaStore

/// The domain's words as the pages show them (zh-CN), and the small pieces every page draws: lights,
/// countdowns, badges, the units' places in the pagoda.
enum Words {
    static func phase(_ p: String) -> String {
        switch p {
        case "assigned": "待签收"
        case "signed": "办理中"
        case "return_requested": "退单审核"
        case "replied": "待回访"
        case "closed": "已办结"
        case "handed_off": "已转警情"
        default: p
        }
    }

    static func light(_ l: String?) -> String {
        switch l {
        case "red": "红灯"
        case "yellow": "黄灯"
        case "green": "绿灯"
        default: "—"
        }
    }

    static func clock(_ c: String) -> String {
        switch c {
        case "sign", "sign_by": "签收"
        case "contact", "contact_by": "联系"
        case "onsite", "onsite_by": "到场"
        case "answer", "answer_by": "初步答复"
        case "resolve", "resolve_by": "办结反馈"
        default: c
        }
    }

    static func desk(_ d: String) -> String {
        switch d {
        case "triage": "待人工派单"
        case "return": "退单申请"
        case "extension": "延期申请"
        case "callback": "待回访"
        default: d
        }
    }

    static func event(_ type: String) -> String {
        switch type {
        case "ticket.dispatched": "派单"
        case "ticket.signed": "签收"
        case "ticket.contacted": "联系市民"
        case "ticket.progress": "进展"
        case "ticket.reminder": "黄灯提醒"
        case "ticket.overdue": "红灯超期"
        case "ticket.escalated": "上提一级"
        case "ticket.return_requested": "申请退单"
        case "ticket.return_approved": "同意退单"
        case "ticket.return_rejected": "驳回退单"
        case "ticket.extension_requested": "申请延期"
        case "ticket.extension_approved": "同意延期"
        case "ticket.extension_rejected": "驳回延期"
        case "ticket.replied": "办结反馈"
        case "ticket.callback_requested": "待回访"
        case "ticket.callback_recorded": "回访"
        case "ticket.reopened": "重办"
        case "ticket.supervised": "督办"
        case "ticket.redispatched": "改派"
        case "ticket.closed": "办结"
        case "command.rejected": "操作被拒"
        default: type
        }
    }

    static func level(_ l: Level?) -> String {
        switch l {
        case .city?: "市级"
        case .district?: "区级"
        case .town?: "镇街"
        case .village?: "村居"
        case nil: "—"
        }
    }

    static func metric(_ m: UnitReport.Metric) -> String {
        switch m {
        case .response: "响应率"
        case .completion: "办结率"
        case .onTime: "按时办结率"
        case .satisfaction: "满意率"
        case .resolution: "解决率"
        }
    }

    static func percent(_ r: Double?) -> String { r.map { String(format: "%.1f%%", $0 * 100) } ?? "—" }
}

/// Small HTML pieces.
enum Piece {
    static func light(_ l: String?) -> String {
        guard let l else { return "<span class=\"light none\" title=\"—\"></span>" }
        return "<span class=\"light \(HTML.escape(l))\" title=\"\(Words.light(l))\"></span>"
    }

    /// A deadline that counts down in the browser (`data-due`, milliseconds since the epoch); the text
    /// drawn on the server is right at the moment of drawing.
    static func countdown(_ due: Date?, now: Date) -> String {
        guard let due else { return "<span class=\"countdown none\">—</span>" }
        let ms = Int64((due.timeIntervalSince1970 * 1000).rounded())
        let left = due.timeIntervalSince(now)
        return "<span class=\"countdown\(left < 0 ? " late" : "")\" data-due=\"\(ms)\">\(duration(left))</span>"
    }

    /// `剩 3天4小时`, `超 25分钟`.
    static func duration(_ seconds: TimeInterval) -> String {
        let s = Int(abs(seconds))
        let d = s / 86_400
        let h = (s % 86_400) / 3600
        let m = (s % 3600) / 60
        let text = d > 0 ? "\(d)天\(h)小时" : h > 0 ? "\(h)小时\(m)分" : "\(max(m, s > 0 ? 1 : 0))分钟"
        return (seconds < 0 ? "超 " : "剩 ") + text
    }

    static func badge(_ text: String, _ kind: String = "") -> String {
        "<span class=\"badge \(kind)\">\(HTML.escape(text))</span>"
    }

    static func ticketLink(_ id: String) -> String {
        "<a class=\"mono\" href=\"/tickets/\(HTML.escape(Path.escape(id)))\">\(HTML.escape(id))</a>"
    }

    /// The script that keeps every `.countdown[data-due]` current, once a second (`/static/countdown.js`).
    static let countdownScript = """
        (function () {
          function fmt(ms) {
            var s = Math.floor(Math.abs(ms) / 1000), d = Math.floor(s / 86400), h = Math.floor(s % 86400 / 3600),
                m = Math.floor(s % 3600 / 60);
            var t = d > 0 ? d + "天" + h + "小时" : h > 0 ? h + "小时" + m + "分" : Math.max(m, s > 0 ? 1 : 0) + "分钟";
            return (ms < 0 ? "超 " : "剩 ") + t;
          }
          function tick() {
            var now = Date.now();
            document.querySelectorAll(".countdown[data-due]").forEach(function (el) {
              var left = Number(el.getAttribute("data-due")) - now;
              el.textContent = fmt(left);
              el.classList.toggle("late", left < 0);
              el.classList.toggle("soon", left >= 0 && left < 3600 * 1000);
            });
          }
          tick();
          setInterval(tick, 1000);
        })();
        """

    /// The scripts the pages load from `/static/NAME.js` (no script is written into a page, so the pages'
    /// Content-Security-Policy allows scripts of this site only).
    static let scripts: [String: String] = [
        "board": BoardPage.script, "countdown": countdownScript, "inbox": InboxPage.script,
    ]

    /// A page's `<script>` element for `/static/NAME.js`, run once the page is read; `data` become its
    /// `data-` attributes, which the script reads from `document.currentScript`.
    static func scriptTag(_ name: String, data: [(String, String)] = []) -> String {
        let attributes = data.map { " data-\($0.0)=\"\(HTML.escape($0.1))\"" }.joined()
        return "<script src=\"/static/\(name).js\" defer\(attributes)></script>"
    }
}

/// Percent-escaping of a path segment or query value.
enum Path {
    static func escape(_ s: String) -> String {
        var allowed = CharacterSet.alphanumerics
        allowed.insert(charactersIn: "-._~")
        return s.addingPercentEncoding(withAllowedCharacters: allowed) ?? s
    }
}

/// Where each unit sits in the pagoda: its district and town (by its region), for the board's grouping.
struct Hierarchy: Sendable {
    struct Place: Sendable, Hashable {
        var unit: String
        var name: String
        var level: Level
        /// The district's name; `市级` for a unit of the city.
        var district: String
        /// The town's name, for units at or below a town.
        var town: String?
    }

    private var places: [String: Place] = [:]
    let rulesHash: String

    init(_ rules: RuleSet) {
        rulesHash = rules.hash
        for u in rules.units {
            var district: String?
            var town: String?
            var r: Int? = u.region
            while let i = r {
                let region = rules.regions[i]
                if region.level == .district { district = region.name }
                if region.level == .town { town = region.name }
                r = region.parent
            }
            places[u.id] = Place(unit: u.id, name: u.name, level: u.level, district: district ?? "市级", town: town)
        }
    }

    /// The unit's place; a unit no longer in the rules (or none) is put under `其他`.
    func place(_ unit: String) -> Place {
        places[unit]
            ?? Place(unit: unit, name: unit.isEmpty ? "（无承办单位）" : unit, level: .city, district: "其他", town: nil)
    }

    func name(_ unit: String?) -> String {
        guard let unit else { return "—" }
        return places[unit]?.name ?? unit
    }

    /// Every unit id, ordered by district, town, level, id.
    var units: [Place] {
        places.values.sorted {
            ($0.district, $0.town ?? "", $0.level, $0.unit) < ($1.district, $1.town ?? "", $1.level, $1.unit)
        }
    }
}

extension ConsoleEnvironment {
    /// The pagoda of the rules in force, built once per rule-set hash.
    var hierarchy: Hierarchy {
        let rules = backend.ruleSet
        return HierarchyCache.shared.get(rules)
    }

    /// `2026-03-02 09:53` at the console's offset.
    func time(_ d: Date) -> String { ConsoleFormat.time(d, self) }
}

/// The last built `Hierarchy`, rebuilt when the rules' hash changes.
final class HierarchyCache: @unchecked Sendable {
    static let shared = HierarchyCache()
    private let lock = NSLock()
    private var last: Hierarchy?

    func get(_ rules: RuleSet) -> Hierarchy {
        lock.lock()
        defer { lock.unlock() }
        if let last, last.rulesHash == rules.hash { return last }
        let h = Hierarchy(rules)
        last = h
        return h
    }
}
