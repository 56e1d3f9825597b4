import Foundation
import HTTPTypes
import Hummingbird
import Logging
import PagodaJSON
import PagodaRules
import PagodaStore

/// A form body (`application/x-www-form-urlencoded`) as name → value (the last value of a repeated name).
public struct FormData: Sendable {
    public var values: [String: String]

    public init(_ buffer: ByteBuffer) {
        values = [:]
        for pair in String(buffer: buffer).split(separator: "&", omittingEmptySubsequences: true) {
            let parts = pair.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            let key = Self.decode(parts[0])
            values[key] = parts.count > 1 ? Self.decode(parts[1]) : ""
        }
    }

    static func decode(_ s: Substring) -> String {
        let plus = s.replacingOccurrences(of: "+", with: " ")
        return plus.removingPercentEncoding ?? plus
    }

    public subscript(_ name: String) -> String? { values[name] }

    /// The value, trimmed; nil when absent or empty.
    public func text(_ name: String) -> String? {
        guard let v = values[name]?.trimmingCharacters(in: .whitespacesAndNewlines), !v.isEmpty else { return nil }
        return v
    }

    /// Reads a request's form body (at most 256 KiB).
    public static func read(_ request: inout Request) async throws -> FormData {
        FormData(try await request.collectBody(upTo: 256 * 1024))
    }
}

/// Compares two secrets in time independent of where they differ.
func constantTimeEquals(_ a: String, _ b: String) -> Bool {
    let x = Array(a.utf8)
    let y = Array(b.utf8)
    guard x.count == y.count else { return false }
    var diff: UInt8 = 0
    for i in x.indices { diff |= x[i] ^ y[i] }
    return diff == 0
}

/// Authenticates every request behind it: an `Authorization: Bearer` token (API clients), else the
/// session cookie. Without either, an API call is answered 401 (`{code, message}`) and a page redirects
/// to `/login?next=...`. A state-changing request (POST, PUT, PATCH, DELETE) made with a session cookie
/// must carry the session's CSRF token, as the form field `_csrf` or the `X-CSRF-Token` header, or it is
/// refused with 403 before any handler runs (and audited).
public struct ConsoleAuthMiddleware: RouterMiddleware {
    public typealias Context = ConsoleRequestContext
    let env: ConsoleEnvironment

    public init(env: ConsoleEnvironment) { self.env = env }

    static let csrfHeader = HTTPField.Name("X-CSRF-Token")!

    /// The paths a page's script reads (the board's stream and live part, an inbox's count): without a
    /// session they are answered 401, not sent to the login page, so that the script sees the session
    /// ended and reloads its page (which then goes to the login page) instead of drawing the login form.
    static func readByScript(_ path: String) -> Bool {
        path == "/board/events" || path == "/board/live" || (path.hasPrefix("/units/") && path.hasSuffix("/count"))
    }

    public func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response)
        async throws -> Response
    {
        var request = request
        var context = context
        let env = self.env
        if let auth = request.headers[.authorization], auth.count > 7, auth.prefix(7).lowercased() == "bearer " {
            let token = String(auth.dropFirst(7)).trimmingCharacters(in: .whitespaces)
            guard let user = try await env.accounts.tokenUser(token) else {
                throw ConsoleError(.unauthenticated, "访问令牌无效或已停用")
            }
            context.user = user
            context.logger[metadataKey: "console.user"] = "\(user.name)"
            return try await next(request, context)
        }
        if let token = request.cookies[ConsoleLogin.cookieName]?.value,
            let s = try await env.accounts.session(token: token)
        {
            context.user = s.user
            context.csrfToken = s.csrf
            context.sessionTokenHash = s.tokenHash
            context.logger[metadataKey: "console.user"] = "\(s.user.name)"
            if [.post, .put, .patch, .delete].contains(request.method) {
                var given = request.headers[Self.csrfHeader]
                if given == nil, request.headers[.contentType]?.hasPrefix("application/x-www-form-urlencoded") == true {
                    given = try await FormData.read(&request)["_csrf"]
                }
                guard let given, constantTimeEquals(given, s.csrf) else {
                    let remote = context.remoteAddress
                    let path = request.uri.path
                    try? await env.store.appendConsoleAudit(
                        .init(
                            at: env.clock(), userName: s.user.name, action: "csrf_refused", outcome: "forbidden",
                            detail: path, remote: remote))
                    throw ConsoleError(.csrf, "表单校验失败（缺少或错误的 CSRF 令牌），请刷新页面后重试")
                }
            }
            return try await next(request, context)
        }
        if request.uri.path.hasPrefix("/api/") || request.method != .get || Self.readByScript(request.uri.path) {
            throw ConsoleError(.unauthenticated, "请先登录")
        }
        let target = request.uri.description
        return HTML.redirect(
            "/login?next=" + (target.addingPercentEncoding(withAllowedCharacters: .alphanumerics) ?? "/"))
    }
}

/// Turns errors into answers: `{code, message}` JSON with the status on `/api/v1`, a page elsewhere
/// (a 401 on a page goes to the login page). Unexpected errors are logged and answered 500 without
/// their text.
struct ConsoleErrorMiddleware: RouterMiddleware {
    typealias Context = ConsoleRequestContext

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws
        -> Response
    {
        var context = context
        context.viaHTTPS =
            ConsoleRequestContext.isLoopback(context.remoteAddress)
            && request.headers[HTTPField.Name("X-Forwarded-Proto")!]?.lowercased() == "https"
        context.remoteAddress = ConsoleRequestContext.clientAddress(
            peer: context.remoteAddress, forwardedFor: request.headers[HTTPField.Name("X-Forwarded-For")!])
        do {
            return try await next(request, context)
        } catch let error as ConsoleError {
            if request.uri.path.hasPrefix("/api/") { return ConsoleAPI.error(error) }
            if error.code == .unauthenticated {
                if ConsoleAuthMiddleware.readByScript(request.uri.path) {
                    return HTML.response(
                        Layout.message(title: "请先登录", text: error.message, context: context), status: .unauthorized)
                }
                return HTML.redirect("/login")
            }
            let title =
                switch error.code {
                case .forbidden, .csrf: "无权操作"
                case .notFound: "未找到"
                case .refused, .conflict: "操作未执行"
                default: "请求有误"
                }
            return HTML.response(
                Layout.message(title: title, text: error.message, context: context), status: error.status)
        } catch let error as any HTTPResponseError {
            throw error
        } catch {
            context.logger.error(
                "console request failed", metadata: ["http.path": "\(request.uri.path)", "error": "\(error)"])
            let e = ConsoleError(.unavailable, "服务暂时不可用，请稍后重试")
            if request.uri.path.hasPrefix("/api/") {
                var r = ConsoleAPI.error(e)
                r.status = .internalServerError
                return r
            }
            return HTML.response(
                Layout.message(title: "服务暂时不可用", text: e.message, context: context), status: .internalServerError)
        }
    }
}

/// The login and logout pages and the home redirect.
public enum ConsoleLogin {
    /// The session cookie.
    public static let cookieName = "pagoda_session"
    /// The login form's own CSRF cookie (double submit: there is no session yet).
    static let loginCookieName = "pagoda_login"

    /// The session cookie: `HttpOnly`, `SameSite=Lax` (a link to a ticket from another site, an OA system or
    /// a mail, opens it logged in; every change needs the CSRF token anyway), `Secure` when the console is
    /// configured so or the request came over TLS through the proxy.
    static func sessionCookie(_ token: String, _ env: ConsoleEnvironment, _ context: ConsoleRequestContext) -> Cookie {
        Cookie(
            name: cookieName, value: token, path: "/", secure: secure(env, context), httpOnly: true, sameSite: .lax)
    }

    static func clearedCookie(_ name: String, _ env: ConsoleEnvironment, _ context: ConsoleRequestContext) -> Cookie {
        Cookie(
            name: name, value: "", maxAge: 0, path: name == cookieName ? "/" : "/login", secure: secure(env, context),
            httpOnly: true, sameSite: .lax)
    }

    static func secure(_ env: ConsoleEnvironment, _ context: ConsoleRequestContext) -> Bool {
        env.configuration.secureCookies || context.viaHTTPS
    }

    /// Where a user goes after login: a worker to its unit's inbox, the centre to its desk, others to the board.
    public static func home(_ user: ConsoleUser) -> String {
        switch user.role {
        case .worker: user.unit.map { "/units/\($0)" } ?? "/board"
        case .centre: "/centre"
        case .supervisor, .admin: "/board"
        }
    }

    /// A `next` target that stays on this site: a path (not `//host`) of printable ASCII without
    /// backslashes or white space, which browsers would otherwise drop or read as a slash.
    static func safeNext(_ next: String?) -> String? {
        guard let next, next.hasPrefix("/"), !next.hasPrefix("//"),
            next.unicodeScalars.allSatisfy({ $0.value > 0x20 && $0.value < 0x7f && $0 != "\\" })
        else { return nil }
        return next
    }

    static func loginPage(
        _ env: ConsoleEnvironment, context: ConsoleRequestContext, next: String?, name: String = "",
        error: String? = nil, status: HTTPResponse.Status = .ok
    ) -> Response {
        let token = ConsoleAccounts.randomHex(16)
        let body = """
            <section class="card login">
            <h1>12345 工单调度平台</h1>
            \(error.map { "<div class=\"notice error\" role=\"alert\">\(HTML.escape($0))</div>" } ?? "")
            <form method="post" action="/login">
            <input type="hidden" name="_login" value="\(h: token)">
            <input type="hidden" name="next" value="\(h: next)">
            <label for="name">用户名</label><input type="text" id="name" name="name" value="\(h: name)" autocomplete="username" required autofocus>
            <label for="password">密码</label><input type="password" id="password" name="password" autocomplete="current-password" required>
            <button type="submit">登录</button>
            </form>
            </section>
            """
        var response = HTML.response(Layout.page(title: "登录", context: context, body: body), status: status)
        response.setCookie(
            Cookie(
                name: loginCookieName, value: token, path: "/login", secure: secure(env, context), httpOnly: true,
                sameSite: .strict))
        return response
    }

    static func register(on router: Router<ConsoleRequestContext>, _ env: ConsoleEnvironment) {
        router.get("login") { request, context in
            loginPage(env, context: context, next: safeNext(request.uri.queryParameters["next"].map(String.init)))
        }
        router.post("login") { request, context in
            var request = request
            let form = try await FormData.read(&request)
            let next = safeNext(form["next"])
            guard let given = form["_login"], let cookie = request.cookies[loginCookieName]?.value,
                constantTimeEquals(given, cookie)
            else {
                return loginPage(env, context: context, next: next, error: "登录表单已过期，请重新输入", status: .forbidden)
            }
            let name = form.text("name") ?? ""
            let password = form["password"] ?? ""
            let remote = context.remoteAddress
            let result = try await env.accounts.login(name: name, password: password, remote: remote)
            switch result {
            case .success(let user, let token, _):
                env.logger.info(
                    "console login",
                    metadata: ["console.user": "\(user.name)", "console.role": "\(user.role.rawValue)"])
                var response = HTML.redirect(next ?? home(user))
                response.setCookie(sessionCookie(token, env, context))
                response.setCookie(clearedCookie(loginCookieName, env, context))
                return response
            case .refused:
                env.logger.notice("console login failed", metadata: ["console.user": "\(name)"])
                return loginPage(
                    env, context: context, next: next, name: name, error: "用户名或密码错误", status: .unauthorized)
            case .locked(let until):
                env.logger.notice("console login refused: locked", metadata: ["console.user": "\(name)"])
                return loginPage(
                    env, context: context, next: next, name: name,
                    error: "连续登录失败次数过多，账号已锁定至 \(ConsoleFormat.time(until, env))", status: .unauthorized)
            case .busy:
                return loginPage(
                    env, context: context, next: next, name: name, error: "登录请求过多，请稍后重试",
                    status: .tooManyRequests)
            }
        }
    }

    static func registerAuthenticated(on group: RouterGroup<ConsoleRequestContext>, _ env: ConsoleEnvironment) {
        group.get("/") { _, context in HTML.redirect(home(try context.requireUser)) }
        group.post("logout") { _, context in
            let user = try context.requireUser
            if let digest = context.sessionTokenHash {
                let remote = context.remoteAddress
                try await env.accounts.logout(tokenHash: digest, user: user.name, remote: remote)
            }
            var response = HTML.redirect("/login")
            response.setCookie(clearedCookie(cookieName, env, context))
            return response
        }
    }
}

/// Formatting shared by pages.
public enum ConsoleFormat {
    /// `2026-03-02 09:53` at the console's offset.
    public static func time(_ date: Date, _ env: ConsoleEnvironment) -> String {
        let s = RFC3339.format(date, offsetSeconds: env.configuration.offsetSeconds)
        return String(s.prefix(16)).replacingOccurrences(of: "T", with: " ")
    }
}
