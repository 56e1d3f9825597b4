import Foundation
import Hummingbird
import PagodaJSON
import PagodaStore

/// User management for admins (`/admin/users`): the list, adding a user, disabling one. The same rules
/// as `pagoda user` (password length, units of the rule files).
enum ConsoleAdmin {
    static func register(on group: RouterGroup<ConsoleRequestContext>, _ env: ConsoleEnvironment) {
        group.get("admin/users") { request, context in
            try requireAdmin(context)
            return try await page(context, env, notice: request.uri.queryParameters["done"].map { ("ok", String($0)) })
        }
        group.post("admin/users") { request, context in
            let admin = try requireAdmin(context)
            var request = request
            let form = try await FormData.read(&request)
            guard let role = form.text("role").flatMap(ConsoleRole.init(rawValue:)) else {
                return try await page(context, env, notice: ("error", "请选择角色"), status: .badRequest)
            }
            let name = form.text("name") ?? ""
            let unit = form.text("unit")
            let password = form["password"] ?? ""
            let rules = env.backend.ruleSet
            do {
                _ = try await env.accounts.add(
                    name: name, role: role, unit: unit, password: password, rules: rules, by: admin.name)
            } catch let refusal as ConsoleAccounts.Refusal {
                return try await page(context, env, notice: ("error", refusal.message), status: .badRequest)
            }
            return HTML.redirect(
                "/admin/users?done="
                    + (("已添加用户 " + name).addingPercentEncoding(withAllowedCharacters: .alphanumerics) ?? ""))
        }
        group.post("admin/users/:name/disable") { _, context in
            let admin = try requireAdmin(context)
            let name = try context.parameters.require("name")
            do {
                try await env.accounts.setDisabled(name: name, true, by: admin.name)
            } catch let refusal as ConsoleAccounts.Refusal {
                throw ConsoleError(.notFound, refusal.message)
            }
            return HTML.redirect(
                "/admin/users?done="
                    + (("已停用用户 " + name).addingPercentEncoding(withAllowedCharacters: .alphanumerics) ?? ""))
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
        status: HTTPResponse.Status = .ok
    ) async throws -> Response {
        let accounts = try await env.store.consoleAccounts()
        let rows = accounts.map { a in
            let role = ConsoleRole(rawValue: a.role)?.chinese ?? a.role
            let state =
                a.disabled
                ? "<span class=\"badge\">已停用</span>"
                : (a.lockedUntil.map { $0 > env.clock() } ?? false)
                    ? "<span class=\"badge red\">已锁定</span>" : "<span class=\"badge green\">正常</span>"
            let action =
                a.disabled
                ? ""
                : """
                <form method="post" action="/admin/users/\(HTML.escape(a.name))/disable" class="inline">\(Layout.csrfField(context))\
                <button class="secondary" type="submit">停用</button></form>
                """
            return
                "<tr><td>\(HTML.escape(a.name))</td><td>\(HTML.escape(role))</td><td>\(HTML.escape(a.unitID ?? "—"))</td><td>\(state)</td><td>\(action)</td></tr>"
        }.joined()
        let options = ConsoleRole.allCases.map {
            "<option value=\"\($0.rawValue)\">\(HTML.escape($0.chinese))</option>"
        }.joined()
        let body = """
            <h1>用户管理</h1>
            \(notice.map { "<div class=\"notice \($0.0)\" role=\"status\">\(HTML.escape($0.1))</div>" } ?? "")
            <section class="card"><table><thead><tr><th>用户名</th><th>角色</th><th>单位</th><th>状态</th><th></th></tr></thead>
            <tbody>\(rows)</tbody></table></section>
            <section class="card"><h2>添加用户</h2>
            <form method="post" action="/admin/users">\(Layout.csrfField(context))
            <label for="name">用户名</label><input type="text" id="name" name="name" required>
            <label for="role">角色</label><select id="role" name="role">\(options)</select>
            <label for="unit">单位编码（承办人员必填）</label><input type="text" id="unit" name="unit">
            <label for="password">初始密码（至少 10 个字符）</label><input type="password" id="password" name="password" required minlength="10">
            <p><button type="submit">添加</button></p>
            </form></section>
            """
        return HTML.response(Layout.page(title: "用户管理", context: context, active: "users", body: body), status: status)
    }
}
