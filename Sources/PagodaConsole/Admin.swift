import Foundation
import Hummingbird
import PagodaJSON
import PagodaStore

/// User management for admins (`/admin/users`): the list, adding a user, disabling and enabling one, and
/// setting a new password (which also ends a lock). The same rules as `pagoda user` (password length,
/// units of the rule files, the last admin stays enabled), with the refusals in Chinese and the form
/// keeping what was typed.
enum ConsoleAdmin {
    /// What was done, as the page after the redirect says it: `?done=KIND&user=NAME`. The text is the
    /// page's own; a link cannot put words of its own on it.
    enum Done: String {
        case added, disabled, enabled, password

        func text(_ name: String) -> String {
            switch self {
            case .added: "已添加用户 \(name)"
            case .disabled: "已停用用户 \(name)（其会话与访问令牌已失效）"
            case .enabled: "已启用用户 \(name)"
            case .password: "已为用户 \(name) 设置新密码（其会话与访问令牌已失效，锁定已解除）"
            }
        }
    }

    /// What the add form held, drawn again after a refusal.
    struct Draft {
        var name = ""
        var role: ConsoleRole?
        var unit = ""
    }

    static func register(on group: RouterGroup<ConsoleRequestContext>, _ env: ConsoleEnvironment) {
        group.get("admin/users") { request, context in
            try requireAdmin(context)
            let q = request.uri.queryParameters
            var notice: (String, String)?
            if let done = q["done"].flatMap({ Done(rawValue: String($0)) }), let name = q["user"].map(String.init),
                try await env.store.consoleAccount(name) != nil
            {
                notice = ("ok", done.text(name))
            }
            return try await page(context, env, notice: notice)
        }
        group.post("admin/users") { request, context in
            let admin = try requireAdmin(context)
            var request = request
            let form = try await FormData.read(&request)
            let role = form.text("role").flatMap(ConsoleRole.init(rawValue:))
            let draft = Draft(name: form.text("name") ?? "", role: role, unit: form.text("unit") ?? "")
            guard let role else {
                return try await page(context, env, notice: ("error", "请选择角色"), draft: draft, status: .badRequest)
            }
            do {
                _ = try await env.accounts.add(
                    name: draft.name, role: role, unit: draft.unit.isEmpty ? nil : draft.unit,
                    password: form["password"] ?? "", rules: env.backend.ruleSet, by: admin.name)
            } catch let refusal as ConsoleAccounts.Refusal {
                let text = chinese(refusal, name: draft.name, unit: draft.unit)
                return try await page(context, env, notice: ("error", text), draft: draft, status: .badRequest)
            }
            return done(.added, draft.name)
        }
        group.post("admin/users/:name/disable") { _, context in
            let admin = try requireAdmin(context)
            let name = try context.parameters.require("name")
            return try await act(.disabled, name, context, env) {
                try await env.accounts.setDisabled(name: name, true, by: admin.name)
            }
        }
        group.post("admin/users/:name/enable") { _, context in
            let admin = try requireAdmin(context)
            let name = try context.parameters.require("name")
            return try await act(.enabled, name, context, env) {
                try await env.accounts.setDisabled(name: name, false, by: admin.name)
            }
        }
        group.post("admin/users/:name/password") { request, context in
            let admin = try requireAdmin(context)
            let name = try context.parameters.require("name")
            var request = request
            let password = try await FormData.read(&request)["password"] ?? ""
            return try await act(.password, name, context, env) {
                try await env.accounts.setPassword(name: name, password: password, by: admin.name)
            }
        }
    }

    /// Runs one action on a user: the list again with what was done, or with the refusal.
    static func act(
        _ done: Done, _ name: String, _ context: ConsoleRequestContext, _ env: ConsoleEnvironment,
        _ body: () async throws -> Void
    ) async throws -> Response {
        do {
            try await body()
        } catch let refusal as ConsoleAccounts.Refusal {
            let status: HTTPResponse.Status = refusal.code == .unknownUser ? .notFound : .conflict
            return try await page(
                context, env, notice: ("error", chinese(refusal, name: name, unit: "")),
                status: refusal.code == .password ? .badRequest : status)
        }
        return Self.done(done, name)
    }

    static func done(_ done: Done, _ name: String) -> Response {
        let user = name.addingPercentEncoding(withAllowedCharacters: .alphanumerics.union(["-", ".", "_"])) ?? ""
        return HTML.redirect("/admin/users?done=\(done.rawValue)&user=\(user)")
    }

    /// A refusal as the page says it.
    static func chinese(_ refusal: ConsoleAccounts.Refusal, name: String, unit: String) -> String {
        switch refusal.code {
        case .name: return "用户名“\(name)”不可用：请用 1 到 64 个字符，只含字母、数字和 . _ @ -"
        case .password:
            return "密码须有至少 \(ConsoleAccounts.minimumPasswordLength) 个字符、不超过 72 字节，且不含控制字符"
        case .role: return "请选择角色"
        case .unit where unit.isEmpty: return "承办人员须填写所属单位编码"
        case .unit:
            let near = refusal.near.isEmpty ? "" : "，可用：" + refusal.near.joined(separator: "、")
            return "规则中没有单位“\(unit)”" + near
        case .centreUnit:
            return "热线中心用户的单位须为派单组或督办组，而不是“\(unit)”，可用：" + refusal.near.joined(separator: "、")
        case .exists: return "用户“\(name)”已存在"
        case .unknownUser, .unknownToken: return "没有用户“\(name)”"
        case .lastAdmin: return "“\(name)”是最后一个在用的系统管理员，不能停用；请先添加或启用另一个管理员"
        }
    }

    @discardableResult
    static func requireAdmin(_ context: ConsoleRequestContext) throws -> ConsoleUser {
        let user = try context.requireUser
        guard user.role == .admin else { throw ConsoleError(.forbidden, "只有系统管理员可以管理用户") }
        return user
    }

    static func page(
        _ context: ConsoleRequestContext, _ env: ConsoleEnvironment, notice: (String, String)? = nil,
        draft: Draft = Draft(), status: HTTPResponse.Status = .ok
    ) async throws -> Response {
        let accounts = try await env.store.consoleAccounts()
        let csrf = Layout.csrfField(context)
        let rows = accounts.map { a in
            let role = ConsoleRole(rawValue: a.role)?.chinese ?? a.role
            let locked = a.lockedUntil.map { $0 > env.clock() } ?? false
            let state =
                a.disabled
                ? "<span class=\"badge\">已停用</span>"
                : locked ? "<span class=\"badge red\">已锁定</span>" : "<span class=\"badge green\">正常</span>"
            let path = "/admin/users/\(Path.escape(a.name))"
            let toggle =
                a.disabled
                ? "<form method=\"post\" action=\"\(h: path)/enable\" class=\"inline\">\(csrf)<button class=\"secondary\" type=\"submit\">启用</button></form>"
                : "<form method=\"post\" action=\"\(h: path)/disable\" class=\"inline\">\(csrf)<button class=\"secondary\" type=\"submit\">停用</button></form>"
            let reset = """
                <form method="post" action="\(h: path)/password" class="inline">\(csrf)\
                <input type="password" name="password" aria-label="\(h: a.name) 的新密码" placeholder="新密码" minlength="\(ConsoleAccounts.minimumPasswordLength)" required autocomplete="new-password">\
                <button class="secondary" type="submit">设置密码</button></form>
                """
            return
                "<tr><td>\(h: a.name)</td><td>\(h: role)</td><td>\(h: a.unitID ?? "—")</td><td>\(state)</td><td>\(toggle) \(reset)</td></tr>"
        }.joined()
        let options = ConsoleRole.allCases.map {
            "<option value=\"\($0.rawValue)\"\(draft.role == $0 ? " selected" : "")>\(h: $0.chinese)</option>"
        }.joined()
        let body = """
            <h1>用户管理</h1>
            \(notice.map { "<div class=\"notice \($0.0)\" role=\"status\" id=\"notice\">\(h: $0.1)</div>" } ?? "")
            <section class="card"><table><thead><tr><th>用户名</th><th>角色</th><th>单位</th><th>状态</th><th></th></tr></thead>
            <tbody>\(rows)</tbody></table></section>
            <section class="card"><h2>添加用户</h2>
            <form method="post" action="/admin/users">\(csrf)
            <label for="name">用户名</label><input type="text" id="name" name="name" value="\(h: draft.name)" required>
            <label for="role">角色</label><select id="role" name="role">\(options)</select>
            <label for="unit">单位编码（承办人员必填；热线中心用户可填派单组或督办组）</label><input type="text" id="unit" name="unit" value="\(h: draft.unit)">
            <label for="password">初始密码（至少 \(ConsoleAccounts.minimumPasswordLength) 个字符）</label><input type="password" id="password" name="password" required minlength="\(ConsoleAccounts.minimumPasswordLength)" autocomplete="new-password">
            <p><button type="submit">添加</button></p>
            </form></section>
            """
        return HTML.response(Layout.page(title: "用户管理", context: context, active: "users", body: body), status: status)
    }
}
