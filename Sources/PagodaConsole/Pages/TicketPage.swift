import Foundation
import Hummingbird
import PagodaJSON
import PagodaLifecycle
import PagodaRules
import PagodaStore

/// `/tickets/{id}`: the ticket as received (the caller's phone masked except for the centre), the
/// decision with its explanation (rule, file:line), deadlines and clocks, co-handlers, the timeline with
/// who acted, and the forms of the actions the viewer may take now. Each form is one command of contract
/// v1 with a `command_id` drawn into the form, so submitting it twice has one effect
/// (`ConsoleCommands.submit`); a refusal is shown with its reason in Chinese. A worker sees only its
/// unit's tickets (held, co-handled or held before; 403 otherwise).
enum TicketPage {
    struct Data: Sendable {
        var history: TicketHistory
        var state: TicketState?
    }

    static func load(_ id: String, user: ConsoleUser, env: ConsoleEnvironment) async throws -> Data {
        let store = env.store
        guard let history = try await store.ticket(id: id) else { throw ConsoleError(.notFound, "没有工单 \(id)") }
        guard try await ConsoleAccess.canSee(ticketID: id, user: user, store: store) else {
            throw ConsoleError(.forbidden, "该工单不属于本单位，无权查看")
        }
        let state = try await store.lifecycle([id], withTicket: false)[id].flatMap {
            try? TicketState(encoded: $0.state)
        }
        return Data(history: history, state: state)
    }

    static func register(on group: RouterGroup<ConsoleRequestContext>, env: ConsoleEnvironment) {
        group.get("tickets/:id") { request, context in
            let user = try context.requireUser
            let id = try context.parameters.require("id")
            let data = try await load(id, user: user, env: env)
            let q = request.uri.queryParameters
            let done = q["done"].map(String.init).flatMap(CommandType.init(rawValue:))
            // A form sent again has no second effect, whatever the first one came to (perhaps a refusal):
            // the page says so rather than "submitted", and the timeline shows what happened.
            let again = q["duplicate"] == "1"
            let notice =
                done.map {
                    again
                        ? "<div class=\"notice\" id=\"notice\">“\(HTML.escape(ConsoleCommands.typeName($0)))”这张表单已提交过，未再次执行；结果见处理记录</div>"
                        : "<div class=\"notice ok\" id=\"notice\">已提交：\(HTML.escape(ConsoleCommands.typeName($0)))</div>"
                } ?? ""
            return HTML.response(page(data, notice: notice, env: env, context: context))
        }
        group.post("tickets/:id") { request, context in
            let user = try context.requireUser
            let id = try context.parameters.require("id")
            var request = request
            let form = try await FormData.read(&request)
            let rules = env.backend.ruleSet
            guard let unit = ConsoleCommands.unit(for: user, rules: rules) else {
                throw ConsoleError(.forbidden, "\(user.role.chinese)只能查看，不能办理工单")
            }
            let object = ConsoleCommands.object(form: form, ticketID: id, unit: unit, now: env.clock(), env: env)
            let result: ConsoleCommands.Result
            do {
                result = try await ConsoleCommands.submit(
                    object, ticketID: id, user: user, remote: context.remoteAddress, env: env)
            } catch let error as ConsoleError where error.code == .badRequest {
                // Not a valid command (a field left out): the page again, with what to fill in and the form as typed.
                let data = try await load(id, user: user, env: env)
                let notice = "<div class=\"notice error\" id=\"notice\">\(HTML.escape(formProblem(error)))</div>"
                return HTML.response(
                    page(data, notice: notice, draft: form, env: env, context: context), status: .badRequest)
            }
            switch result.outcome {
            case .applied where form["back"] == "centre":
                // Dispatched by hand from the centre's desk: back to the desk, for the next one.
                return HTML.redirect("/centre?dispatched=\(Path.escape(id))#desk-triage")
            case .applied:
                return HTML.redirect("/tickets/\(Path.escape(id))?done=\(result.command.action.type.rawValue)")
            case .duplicate:
                return HTML.redirect(
                    "/tickets/\(Path.escape(id))?done=\(result.command.action.type.rawValue)&duplicate=1")
            case .refused(let code, let reason):
                let data = try await load(id, user: user, env: env)
                let notice = """
                    <div class="notice error" id="notice">“\(HTML.escape(ConsoleCommands.typeName(result.command.action.type)))”被拒绝：\
                    \(HTML.escape(ConsoleCommands.refusalText(code)))<span class="muted small">（\(HTML.escape(code))：\(HTML.escape(reason))）</span></div>
                    """
                return HTML.response(
                    page(data, notice: notice, draft: form, env: env, context: context), status: .conflict)
            }
        }
    }

    /// What a form lacks or holds wrongly, in Chinese, from the contract's issues (`details.issues`).
    static func formProblem(_ error: ConsoleError) -> String {
        let labels = [
            "resolved": "问题是否解决", "satisfaction": "满意度", "reached": "是否联系上市民", "note": "说明",
            "text": "内容", "until": "延期至", "reason": "原因", "outcome": "办理结果", "to_unit": "改派单位",
            "new_unit": "改派单位", "into_ticket": "并入工单号", "suggested_unit": "建议承办单位", "milestone": "节点",
        ]
        let issues = error.details?["issues"]?.arrayValue?.compactMap(\.objectValue) ?? []
        let parts = issues.map { issue -> String in
            let path = issue["path"]?.stringValue ?? ""
            let label = labels[path].map { "“\($0)”" } ?? path
            let message = issue["message"]?.stringValue ?? ""
            return issue["code"]?.stringValue == "required" ? "请填写\(label)" : "\(label)填写有误（\(message)）"
        }
        return parts.isEmpty ? error.message : "未提交：" + parts.joined(separator: "；")
    }

    static func page(
        _ data: Data, notice: String, draft: FormData? = nil, env: ConsoleEnvironment, context: ConsoleRequestContext
    ) -> String {
        let h = data.history
        let state = data.state
        let hierarchy = env.hierarchy
        let now = env.clock()
        let user = context.user
        let phase = state?.phase.rawValue ?? h.ticket.state
        let light = state?.light?.rawValue
        var body = notice
        body += """
            <div class="ticket-head"><h1 class="mono">\(HTML.escape(h.ticket.id))</h1>\(Piece.light(light))\
            \(Piece.badge(Words.light(light), light ?? ""))\(Piece.badge(Words.phase(phase)))\
            \(state?.supervised == true ? Piece.badge("督办", "red") : "")\(state?.enterprise == true ? Piece.badge("企业", "yellow") : "")\
            <span class="muted">承办单位：\(state?.holder.map { "<a href=\"/units/\(HTML.escape(Path.escape($0.unit)))\">\(HTML.escape(hierarchy.name($0.unit)))</a>" } ?? "—")</span></div>
            <div class="grid grid-2" style="margin-top:1rem">
            """
        body +=
            "<section class=\"card\" id=\"ticket-received\"><h2>工单内容</h2>\(received(h.ticket, user: user, env: env))</section>"
        body +=
            "<section class=\"card\" id=\"decision\"><h2>派单决定</h2>\(decision(h.decisions.last, env: env))</section></div>"
        body +=
            "<div class=\"grid grid-2\"><section class=\"card\" id=\"clocks\"><h2>时限与计时</h2>\(clocks(state, history: h, now: now, env: env))</section>"
        body +=
            "<section class=\"card\" id=\"timeline\"><h2>处理记录</h2>\(timeline(h.events, user: user, env: env))</section></div>"
        if let user, let state {
            let forms = actions(state, user: user, context: context, env: env, draft: draft)
            if !forms.isEmpty {
                body +=
                    "<section class=\"card\" id=\"actions\"><h2>办理</h2><div class=\"actions\">\(forms)</div></section>"
            }
        }
        return Layout.page(
            title: "工单 \(h.ticket.id)", context: context, head: PageStyle.tag + Piece.scriptTag("countdown"), body: body
        )
    }

    static func received(_ t: TicketHistory.Ticket, user: ConsoleUser?, env: ConsoleEnvironment) -> String {
        guard let user, case .object(let o)? = ConsoleAccess.ticketJSON(t.body, for: user) else {
            return "<p class=\"muted\">工单原文无法解析</p>"
        }
        func s(_ v: JSONValue?) -> String? { v?.stringValue }
        var rows: [(String, String)] = []
        rows.append(("受理时间", HTML.escape(env.time(t.receivedAt))))
        if let c = s(o["channel"]) { rows.append(("渠道", HTML.escape(channel(c)))) }
        if let k = s(o["kind"]) { rows.append(("诉求类型", HTML.escape(kind(k)))) }
        if case .object(let r)? = o["region"] {
            let parts = ["district", "town", "village"].compactMap { r[$0]?.stringValue }
            rows.append(("区域", HTML.escape(parts.joined(separator: " / "))))
        }
        if let c = s(o["category"]) { rows.append(("类别", HTML.escape(categoryName(c, env)))) }
        if let u = s(o["urgency"]) {
            rows.append(("紧急程度", HTML.escape(u == "urgent" ? "紧急" : u == "emergency" ? "特急" : "一般")))
        }
        if case .object(let c)? = o["caller"] {
            let text = [s(c["name"]), s(c["phone"])].compactMap { $0 }.joined(separator: " · ")
            if !text.isEmpty { rows.append(("来电人", "<span id=\"caller\">\(HTML.escape(text))</span>")) }
        }
        if case .object(let e)? = o["enterprise"] {
            rows.append(
                ("企业", HTML.escape([s(e["name"]), s(e["credit_code"])].compactMap { $0 }.joined(separator: " · "))))
        }
        var out = "<dl class=\"fields\">" + rows.map { "<dt>\($0.0)</dt><dd>\($0.1)</dd>" }.joined() + "</dl>"
        if let title = s(o["title"]) { out += "<h3>\(HTML.escape(title))</h3>" }
        out += "<p class=\"ticket-text\">\(HTML.escape(s(o["text"]) ?? ""))</p>"
        return out
    }

    static func channel(_ c: String) -> String {
        [
            "hotline": "12345 热线", "web": "网站", "wechat": "微信", "app": "App", "media": "媒体", "mailbox": "市长信箱",
            "message_board": "留言板",
        ][c] ?? c
    }

    static func kind(_ k: String) -> String {
        ["consultation": "咨询", "help": "求助", "complaint": "投诉", "report": "举报", "suggestion": "建议"][k] ?? k
    }

    /// A category as people read it: its name and code (`水污染 living_environment.water`), or the code alone
    /// when the rules do not know it.
    static func categoryName(_ code: String, _ env: ConsoleEnvironment) -> String {
        guard let name = env.backend.ruleSet.category(code: code)?.name else { return code }
        return "\(name)（\(code)）"
    }

    static func decision(_ d: TicketHistory.Decision?, env: ConsoleEnvironment) -> String {
        guard let d else { return "<p class=\"muted\">没有派单记录</p>" }
        let r = d.row
        let dest: String =
            switch r.destinationType {
            case .unit: env.hierarchy.name(r.unitID)
            case .platform: "平台直接答复"
            case .triage: "人工分拨（中心）"
            case .emergency: "转应急部门"
            }
        var out = "<dl class=\"fields\">"
        out +=
            "<dt>派往</dt><dd>\(HTML.escape(dest))\(r.unitID.map { " <span class=\"muted mono\">\(HTML.escape($0))</span>" } ?? "")</dd>"
        out += "<dt>依据规则</dt><dd><span class=\"mono\" id=\"rule\">\(HTML.escape(r.ruleID))</span> · "
        out += "<span class=\"mono\" id=\"rule-place\">\(HTML.escape(r.ruleFile)):\(r.ruleLine)</span></dd>"
        out += "<dt>规则版本</dt><dd class=\"mono small\">\(HTML.escape(String(r.rulesHash.prefix(23))))</dd>"
        out += "<dt>时限方案</dt><dd>\(HTML.escape(r.slaProfile ?? "—"))</dd>"
        let urgency = ["normal": "一般", "urgent": "紧急", "emergency": "特急"][r.urgency] ?? r.urgency
        out +=
            "<dt>类别 / 紧急</dt><dd>\(HTML.escape(r.category.map { categoryName($0, env) } ?? "—")) / \(HTML.escape(urgency))</dd>"
        out += "<dt>派单时间</dt><dd>\(HTML.escape(env.time(d.createdAt)))</dd></dl>"
        if case .object(let o)? = try? JSON.parse(r.decisionJSON), let steps = o["explanation"]?.arrayValue,
            !steps.isEmpty
        {
            out += "<h3>判定说明</h3><ul class=\"explain\">"
            for s in steps { out += "<li>\(HTML.escape(s.stringValue ?? ""))</li>" }
            out += "</ul>"
        }
        return out
    }

    static func clocks(_ state: TicketState?, history: TicketHistory, now: Date, env: ConsoleEnvironment) -> String {
        guard let state else {
            // No lifecycle state (handed off, or written before the lifecycle): the decision's deadlines.
            if history.deadlines.isEmpty { return "<p class=\"muted\">无计时</p>" }
            return "<dl class=\"fields\">"
                + history.deadlines.map {
                    "<dt>\(HTML.escape(Words.clock($0.clock)))</dt><dd>\(HTML.escape(env.time($0.dueAt)))</dd>"
                }.joined() + "</dl>"
        }
        var out = "<table><thead><tr><th>时限</th><th>开始</th><th>期限</th><th>状态</th></tr></thead><tbody>"
        for c in state.clocks {
            let status: String
            if let stopped = c.stoppedAt {
                status =
                    "<span class=\"ok-mark\">已完成</span> <span class=\"muted small\">\(HTML.escape(env.time(stopped)))</span>"
                    + (c.overdue ? " " + Piece.badge("曾超期", "red") : "")
            } else if c.pausedAt != nil {
                status = Piece.badge("暂停（待中心审核）")
            } else {
                status =
                    (c.overdue ? Piece.badge("红灯", "red") + " " : c.warned ? Piece.badge("黄灯", "yellow") + " " : "")
                    + Piece.countdown(c.due, now: now)
            }
            out +=
                "<tr><td>\(HTML.escape(Words.clock(c.clock.rawValue)))</td><td>\(HTML.escape(env.time(c.started)))</td>"
            out += "<td>\(HTML.escape(env.time(c.due)))</td><td>\(status)</td></tr>"
        }
        if state.clocks.isEmpty { out += "<tr><td colspan=\"4\" class=\"muted\">无计时</td></tr>" }
        out += "</tbody></table><dl class=\"fields\" style=\"margin-top:1rem\">"
        out += "<dt>转来时间</dt><dd>\(HTML.escape(env.time(state.assignedAt)))</dd>"
        if let p = state.pendingReturn {
            out +=
                "<dt>退单申请</dt><dd>\(HTML.escape(reasonText(p.reason.rawValue)))\(p.suggestedUnit.map { "，建议 " + HTML.escape(env.hierarchy.name($0)) } ?? "")"
            out += p.reviewDue.map { "，审核期限 " + HTML.escape(env.time($0)) } ?? ""
            out += "</dd>"
        }
        if let e = state.pendingExtension {
            out += "<dt>延期申请</dt><dd>至 \(HTML.escape(env.time(e.until)))：\(HTML.escape(e.reason))"
            out += e.reviewDue.map { "，审核期限 " + HTML.escape(env.time($0)) } ?? ""
            out += "</dd>"
        }
        let co = state.coHandlers.map { HTML.escape(env.hierarchy.name($0)) }
        out += "<dt>协办单位</dt><dd id=\"co-handlers\">\(co.isEmpty ? "—" : co.joined(separator: "、"))</dd>"
        if !state.returnedBy.isEmpty {
            out +=
                "<dt>退单单位</dt><dd>\(state.returnedBy.map { HTML.escape(env.hierarchy.name($0)) }.joined(separator: "、"))</dd>"
        }
        out += "<dt>升级 / 重办</dt><dd>上提 \(state.escalations) 次 · 重办 \(state.reworks) 次 · 退单 \(state.returns) 次</dd>"
        if let r = state.repeatOf { out += "<dt>重复件</dt><dd>\(Piece.ticketLink(r))</dd>" }
        if let m = state.mergedInto { out += "<dt>并入</dt><dd>\(Piece.ticketLink(m))</dd>" }
        return out + "</dl>"
    }

    /// A coded value of an event in Chinese (return reasons, reply outcomes, satisfaction); text as it is.
    static func valueText(_ key: String, _ v: String) -> String {
        switch key {
        case "reason": reasonText(v)
        case "outcome":
            ["resolved": "已解决", "partially_resolved": "部分解决", "unresolvable": "无法解决", "answered": "已答复"][v] ?? v
        case "satisfaction": ["satisfied": "满意", "basically_satisfied": "基本满意", "unsatisfied": "不满意"][v] ?? v
        default: v
        }
    }

    /// A `reason` as people read it: a return's, a supervision's, a move's or a closing's; a reason written
    /// by a unit (an extension's) as written.
    static func reasonText(_ r: String) -> String {
        let known = [
            "wrong_area": "非本辖区", "not_our_duty": "非本单位职责", "unclear_ownership": "职责不清",
            "incomplete_information": "信息不全",
            "overdue_at_top": "最高层级仍超时", "supervise_at": "到达督办节点", "enterprise_repeat": "企业重复诉求",
            "enterprise_unsatisfied": "企业对办理结果不满意", "enterprise_open_7_days": "企业诉求7天未办结",
            "return_review_overdue": "退单审核超时", "extension_review_overdue": "延期审核超时",
            "return": "退单后改派", "redispatch": "热线中心改派", "merged": "并入其他工单", "callback": "回访满意后办结",
        ]
        if let text = known[r] { return text }
        for (prefix, word) in [("returned_", "已退单"), ("unsatisfied_", "市民不满意")] where r.hasPrefix(prefix) {
            let n = r.dropFirst(prefix.count).dropLast("_times".count)
            if r.hasSuffix("_times"), Int(n) != nil { return "\(word)\(n)次" }
        }
        return r
    }

    static func timeline(_ events: [TicketHistory.Event], user: ConsoleUser?, env: ConsoleEnvironment) -> String {
        guard !events.isEmpty else { return "<p class=\"muted\">暂无记录</p>" }
        var out = "<ol class=\"timeline\">"
        for e in events {
            let payload = (try? JSON.parse(e.payloadJSON)).map { ConsoleAccess.eventJSON($0, for: user) }
            let o = payload?.objectValue ?? JSONObject()
            // The intake's own dispatch row repeats the lifecycle's dispatch event: shown as 受理.
            let isIntake = o["event"] == nil && e.type == "ticket.dispatched"
            let cls =
                switch e.type {
                case "ticket.overdue", "ticket.supervised", "command.rejected": "red"
                case "ticket.reminder": o["light"]?.stringValue == "red" ? "red" : "yellow"
                case "ticket.closed", "ticket.replied": "done"
                default: ""
                }
            var detail: [String] = []
            if let u = o["unit"]?.stringValue, !isIntake { detail.append("单位：" + env.hierarchy.name(u)) }
            if let c = o["clock"]?.stringValue { detail.append("时限：" + Words.clock(c)) }
            for (key, label) in [
                ("note", "说明"), ("text", "内容"), ("reason", "原因"), ("outcome", "结果"), ("satisfaction", "满意度"),
                ("code", "代码"), ("message", "原因"),
            ] {
                if let v = o[key]?.stringValue, !v.isEmpty { detail.append("\(label)：\(valueText(key, v))") }
            }
            if let reached = o["reached"]?.boolValue { detail.append(reached ? "已联系上市民" : "未联系上市民") }
            if let resolved = o["resolved"]?.boolValue { detail.append(resolved ? "问题已解决" : "问题未解决") }
            let by = o["by"]?.stringValue
            out += """
                <li class="\(cls)"><span class="when">\(HTML.escape(env.time(e.at)))</span><span class="what">\(isIntake ? "受理" : HTML.escape(cls == "red" && e.type == "ticket.reminder" ? "督办提醒" : Words.event(e.type)))</span>\
                \(by.map { " <span class=\"badge by\">\(HTML.escape($0))</span>" } ?? "")\
                \(detail.isEmpty ? "" : "<div class=\"detail\">\(HTML.escape(detail.joined(separator: "；")))</div>")</li>
                """
        }
        return out + "</ol>"
    }

    /// The forms of the actions `user` may take on the ticket now. `draft`, a form sent back (refused or
    /// not valid), fills the form of its type again with what was typed, under a fresh command id.
    static func actions(
        _ state: TicketState, user: ConsoleUser, context: ConsoleRequestContext, env: ConsoleEnvironment,
        draft: FormData? = nil
    ) -> String {
        guard !state.phase.isFinal else { return "" }
        let rules = env.backend.ruleSet
        // The draft while the form of its type is drawn.
        var filling: FormData?
        func typed(_ name: String) -> String? { filling?[name].flatMap { $0.isEmpty ? nil : $0 } }
        func form(_ type: CommandType, button: String? = nil, danger: Bool = false, _ fields: () -> String) -> String {
            filling = draft?.text("type") == type.rawValue ? draft : nil
            defer { filling = nil }
            return """
                <form method="post" action="/tickets/\(HTML.escape(Path.escape(state.ticketID)))" class="action" data-type="\(type.rawValue)">\
                <h3>\(HTML.escape(ConsoleCommands.typeName(type)))</h3>\(Layout.csrfField(context))\
                <input type="hidden" name="command_id" value="\(ConsoleCommands.freshID())">\
                <input type="hidden" name="type" value="\(type.rawValue)">\(fields())\
                <button type="submit" name="submit" value="\(type.rawValue)"\(danger ? " class=\"danger\"" : "")>\(HTML.escape(button ?? ConsoleCommands.typeName(type)))</button></form>
                """
        }
        func select(_ name: String, _ label: String, _ options: [(String, String)], required: Bool = true) -> String {
            let chosen = typed(name)
            return "<label>\(label)</label><select name=\"\(name)\"\(required ? " required" : "")>"
                + (required ? "" : "<option value=\"\">（不指定）</option>")
                + options.map {
                    "<option value=\"\(HTML.escape($0.0))\"\(chosen == $0.0 ? " selected" : "")>\(HTML.escape($0.1))</option>"
                }.joined()
                + "</select>"
        }
        func text(_ name: String, _ label: String, area: Bool = false, required: Bool = false, list: String? = nil)
            -> String
        {
            let value = typed(name) ?? ""
            return area
                ? "<label>\(label)</label><textarea name=\"\(name)\"\(required ? " required" : "")>\(HTML.escape(value))</textarea>"
                : "<label>\(label)</label><input type=\"text\" name=\"\(name)\" value=\"\(HTML.escape(value))\"\(required ? " required" : "")\(list.map { " list=\"\($0)\"" } ?? "")>"
        }
        func time(_ name: String, _ label: String, required: Bool) -> String {
            "<label>\(label)</label><input type=\"datetime-local\" name=\"\(name)\" value=\"\(HTML.escape(typed(name) ?? ""))\"\(required ? " required" : "")>"
        }
        var out = ""
        let holds = state.holder?.unit == user.unit
        if user.role == .worker && holds {
            // The forms the lifecycle takes in this state (CommandHandling): progress also while a return
            // waits; a return while an extension waits; an extension only before the resolution deadline.
            let working = state.phase == .assigned || state.phase == .signed
            if state.phase == .assigned { out += form(.sign) { "<p class=\"muted small\">确认本单位承办此工单。</p>" } }
            if working { out += form(.contact) { text("note", "联系情况") } }
            if working || state.phase == .returnRequested {
                out += form(.progress) {
                    text("note", "进展说明", area: true, required: true)
                        + select("milestone", "节点", [("onsite", "已到场"), ("answer", "已初步答复")], required: false)
                }
            }
            if working {
                out += form(.reply) {
                    select(
                        "outcome", "办理结果",
                        [
                            ("resolved", "已解决"), ("partially_resolved", "部分解决"),
                            ("unresolvable", "无法解决（已解释）"), ("answered", "已答复"),
                        ])
                        + text("text", "办结反馈内容", area: true, required: true)
                }
                if state.pendingReturn == nil {
                    out += form(.requestReturn, danger: true) {
                        select(
                            "reason", "退单原因",
                            [
                                ("wrong_area", "非本辖区"), ("not_our_duty", "非本单位职责"),
                                ("unclear_ownership", "职责不清"), ("incomplete_information", "信息不全"),
                            ])
                            + text("suggested_unit", "建议承办单位（单位编号）", list: "units") + text("text", "说明", area: true)
                    }
                }
                if state.pendingExtension == nil {
                    if let resolve = state.clock(.resolve), resolve.isRunning, !resolve.overdue,
                        env.clock() <= resolve.due
                    {
                        out += form(.requestExtension) {
                            time("until", "延期至", required: true) + text("reason", "延期理由", area: true, required: true)
                        }
                    } else {
                        out += "<p class=\"muted small\" id=\"no-extension\">办结时限已过或未在计时，不能申请延期。</p>"
                    }
                }
            }
        }
        if user.role == .centre {
            if state.pendingReturn != nil || state.phase == .returnRequested {
                out += form(.approveReturn) {
                    text("new_unit", "改派单位（留空则按规则重新派单）", list: "units") + text("note", "审核意见")
                }
                out += form(.rejectReturn, danger: true) { text("note", "驳回理由") }
            }
            if state.pendingExtension != nil {
                out += form(.approveExtension) {
                    time("until", "同意延期至（留空按申请）", required: false) + text("note", "审核意见")
                }
                out += form(.rejectExtension, danger: true) { text("note", "驳回理由") }
            }
            if state.phase == .replied {
                // Whether solved and how satisfied are asked when the citizen was reached (the lifecycle
                // refuses the record without them); left unset for a citizen not reached.
                out += form(.callbackResult, button: "记录回访") {
                    select("reached", "是否联系上市民", [("true", "已联系上"), ("false", "未联系上")])
                        + select("resolved", "问题是否解决（联系上时必填）", [("true", "已解决"), ("false", "未解决")], required: false)
                        + select(
                            "satisfaction", "满意度（联系上时必填）",
                            [
                                ("satisfied", "满意"), ("basically_satisfied", "基本满意"),
                                ("unsatisfied", "不满意"),
                            ], required: false)
                        + text("note", "回访记录")
                }
            }
            out += form(.redispatch) {
                text("to_unit", "改派至（单位编号，可搜索）", required: true, list: "units") + text("note", "说明")
            }
            out += form(.merge) { text("into_ticket", "并入工单号", required: true) + text("note", "说明") }
        }
        if !out.isEmpty && out.contains("list=\"units\"") {
            out +=
                "<datalist id=\"units\">"
                + rules.units.map {
                    "<option value=\"\(HTML.escape($0.id))\">\(HTML.escape($0.name))</option>"
                }.joined() + "</datalist>"
        }
        return out
    }
}
