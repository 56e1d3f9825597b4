import Foundation
import Hummingbird
import PagodaJSON
import PagodaRules

/// One load of the rule directory, as the rules page lists it.
public struct ConsoleRuleLoad: Sendable, Hashable {
    public enum Outcome: String, Sendable, Hashable {
        /// The rules put in force at start.
        case started
        /// A reload put new rules in force.
        case reloaded
        /// A reload found the rules in force unchanged.
        case unchanged
        /// A reload failed; the rules in force stayed.
        case failed
    }

    public var at: Date
    public var outcome: Outcome
    /// The rule set's hash (the one in force after it).
    public var hash: String
    /// Why a reload failed, in one line.
    public var reason: String?
    /// The diagnostics it gave (`file:line:column: severity: message`), at most 100.
    public var diagnostics: [String]

    public init(at: Date, outcome: Outcome, hash: String, reason: String? = nil, diagnostics: [String] = []) {
        self.at = at
        self.outcome = outcome
        self.hash = hash
        self.reason = reason
        self.diagnostics = diagnostics
    }
}

/// What the rules page shows of the loads of the rules; a `ConsoleBackend` that has it conforms
/// (the service's keeps the loads since it started).
public protocol ConsoleRulesHistory: Sendable {
    /// The rule directory the service reads.
    var rulesDirectory: String? { get }
    /// The loads since the service started, oldest first.
    func ruleLoads() -> [ConsoleRuleLoad]
}

/// `/rules` (admin): the rules in force (hash, loaded at, files), the history of loads with their
/// diagnostics, and "try a ticket": paste a ticket (contract v1 JSON), see the decision and its
/// explanation, as `pagoda route` gives them. Trying routes only; nothing is dispatched.
enum RulesPage {
    static func register(on group: RouterGroup<ConsoleRequestContext>, env: ConsoleEnvironment) {
        group.get("rules") { _, context in
            let user = try context.requireUser
            guard user.role == .admin else { throw ConsoleError(.forbidden, "只有系统管理员可以查看规则") }
            return HTML.response(page(tried: nil, input: sample(env.backend.ruleSet), env: env, context: context))
        }
        group.post("rules") { request, context in
            let user = try context.requireUser
            guard user.role == .admin else { throw ConsoleError(.forbidden, "只有系统管理员可以查看规则") }
            var request = request
            let form = try await FormData.read(&request)
            let input = form["ticket"] ?? ""
            return HTML.response(page(tried: tryTicket(input, env: env), input: input, env: env, context: context))
        }
    }

    /// A ticket to start from: the sample's shape with the rules' first region.
    static func sample(_ rules: RuleSet) -> String {
        let district = rules.regions.first { $0.level == .district }?.name ?? "南海区"
        let receivedAt = "2026-03-02T09:53:00+08:00"
        return """
            {"id": "TRY-0001", "received_at": "\(receivedAt)", "channel": "hotline", "kind": "complaint",
             "region": {"district": "\(district)"}, "text": "小区旁工地夜间施工噪音扰民，希望有关部门处理。"}
            """
    }

    /// The decision for a pasted ticket, or the contract's issues, as HTML.
    static func tryTicket(_ input: String, env: ConsoleEnvironment) -> String {
        let rules = env.backend.ruleSet
        switch TicketContract.decode(Array(input.utf8), isKnownCategory: rules.isKnownCategory) {
        case .failure(let error):
            return "<div class=\"notice error\" id=\"try-result\">不是有效的工单（契约 v1）：<ul>"
                + error.issues.map {
                    "<li><span class=\"mono\">\(HTML.escape($0.path.isEmpty ? "(根)" : $0.path))</span> \(HTML.escape($0.code.rawValue))：\(HTML.escape($0.message))</li>"
                }.joined() + "</ul></div>"
        case .success(let ticket):
            let d = rules.route(ticket, explainMisses: true)
            let dest: String =
                switch d.type {
                case .unit: d.unit.map { "\($0.name)（\($0.id)）" } ?? "—"
                case .platform: "平台直接答复"
                case .triage: "人工分拨（中心）"
                case .emergency: "转应急部门 \(d.emergencyLine ?? "")"
                }
            var out = "<div id=\"try-result\"><dl class=\"fields\">"
            out += "<dt>派往</dt><dd><b>\(HTML.escape(dest))</b></dd>"
            out +=
                "<dt>依据规则</dt><dd class=\"mono\">\(HTML.escape(d.rule.id)) · \(HTML.escape(d.rule.file)):\(d.rule.line)</dd>"
            out += "<dt>类别 / 紧急</dt><dd>\(HTML.escape(d.category ?? "—")) / \(HTML.escape(d.urgency.rawValue))</dd>"
            out += "<dt>时限方案</dt><dd>\(HTML.escape(d.slaProfile ?? "—"))</dd>"
            out +=
                "<dt>时限</dt><dd>"
                + d.deadlines.map {
                    "\(Words.clock($0.clock.rawValue)) \(HTML.escape(env.time($0.due)))"
                }.joined(separator: "；") + "</dd></dl>"
            out +=
                "<h3>判定说明</h3><ul class=\"explain\">"
                + d.explanation.map { "<li>\(HTML.escape($0.description))</li>" }.joined() + "</ul>"
            if !ticket.warnings.isEmpty {
                out +=
                    "<h3>被略去的字段</h3><ul class=\"explain\">"
                    + ticket.warnings.map {
                        "<li><span class=\"mono\">\(HTML.escape($0.path))</span> \(HTML.escape($0.message))</li>"
                    }.joined() + "</ul>"
            }
            return out + "</div>"
        }
    }

    static func page(tried: String?, input: String, env: ConsoleEnvironment, context: ConsoleRequestContext) -> String {
        let rules = env.backend.ruleSet
        let history = env.backend as? any ConsoleRulesHistory
        let loads = history?.ruleLoads() ?? []
        var files = Set<String>()
        for u in rules.units { files.insert(u.location.file) }
        for r in rules.regions { files.insert(r.location.file) }
        for r in rules.routes { files.insert(r.reference.file) }
        for c in rules.categories { files.insert(c.location.file) }
        for p in rules.profiles.values { files.insert(p.location.file) }
        let inForce = loads.last { $0.outcome != .failed && $0.hash == rules.hash }
        var body = """
            <div class="page-head"><h1>规则</h1><span class="meta">在用规则的版本、加载记录与试算</span></div>
            <div class="grid grid-2"><section class="card" id="in-force"><h2>在用规则</h2><dl class="fields">
            <dt>版本（哈希）</dt><dd class="mono small" id="rules-hash">\(HTML.escape(rules.hash))</dd>
            <dt>加载时间</dt><dd>\(inForce.map { HTML.escape(env.time($0.at)) } ?? "—")</dd>
            <dt>规则目录</dt><dd class="mono">\(HTML.escape(history?.rulesDirectory ?? "—"))</dd>
            <dt>规模</dt><dd>单位 \(rules.units.count) · 区域 \(rules.regions.count) · 路由 \(rules.routes.count) · 类别 \(rules.categories.count)</dd>
            <dt>文件</dt><dd class="mono small">\(files.sorted().map { HTML.escape($0) }.joined(separator: "<br>"))</dd>
            </dl></section>
            <section class="card" id="history"><h2>加载记录</h2>
            """
        if loads.isEmpty {
            body += "<p class=\"muted\">本服务未记录加载历史</p>"
        } else {
            body += "<ol class=\"timeline\">"
            for l in loads.reversed() {
                let (cls, label) =
                    switch l.outcome {
                    case .started: ("done", "启动加载")
                    case .reloaded: ("done", "重新加载成功")
                    case .unchanged: ("", "重新加载：无变化")
                    case .failed: ("red", "重新加载失败，继续使用原规则")
                    }
                body +=
                    "<li class=\"\(cls)\"><span class=\"when\">\(HTML.escape(env.time(l.at)))</span><span class=\"what\">\(label)</span>"
                body += " <span class=\"mono small muted\">\(HTML.escape(String(l.hash.prefix(19))))</span>"
                if let r = l.reason { body += "<div class=\"detail\">\(HTML.escape(r))</div>" }
                if !l.diagnostics.isEmpty {
                    body += "<pre class=\"diag\">\(HTML.escape(l.diagnostics.joined(separator: "\n")))</pre>"
                }
                body += "</li>"
            }
            body += "</ol>"
        }
        body += """
            </section></div>
            <section class="card" id="try"><h2>试算一张工单</h2>
            <form method="post" action="/rules">\(Layout.csrfField(context))
            <label for="try-ticket">工单 JSON（契约 v1）</label>
            <textarea id="try-ticket" name="ticket" class="mono" rows="7">\(HTML.escape(input))</textarea>
            <button type="submit">试算</button></form>
            \(tried.map { "<div style=\"margin-top:1rem\">\($0)</div>" } ?? "")
            </section>
            """
        return Layout.page(title: "规则", context: context, active: "rules", head: PageStyle.tag, body: body)
    }
}
