import Foundation
import HTTPTypes
import Hummingbird
import PagodaStore

/// HTML escaping: every value put into a page goes through it.
public enum HTML {
    /// `&`, `<`, `>`, `"` and `'` as character references: safe in text and in quoted attributes.
    public static func escape(_ text: String) -> String {
        var out = ""
        out.reserveCapacity(text.utf8.count)
        for c in text.unicodeScalars {
            switch c {
            case "&": out += "&amp;"
            case "<": out += "&lt;"
            case ">": out += "&gt;"
            case "\"": out += "&quot;"
            case "'": out += "&#39;"
            default: out.unicodeScalars.append(c)
            }
        }
        return out
    }

    /// What a page may load and run: this site's scripts only (none written into the page), styles of this
    /// site or the page's own `<style>`, requests and forms to this site only, never framed.
    public static let contentSecurityPolicy =
        "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:;"
        + " connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'; object-src 'none'"

    /// A page as a response (`text/html; charset=utf-8`, not cached, not framed, `contentSecurityPolicy`).
    public static func response(_ html: String, status: HTTPResponse.Status = .ok) -> Response {
        Response(
            status: status,
            headers: [
                .contentType: "text/html; charset=utf-8", .cacheControl: "no-store",
                HTTPField.Name("Content-Security-Policy")!: contentSecurityPolicy,
                HTTPField.Name("X-Frame-Options")!: "DENY", HTTPField.Name("X-Content-Type-Options")!: "nosniff",
                HTTPField.Name("Referrer-Policy")!: "same-origin",
            ], body: .init(byteBuffer: ByteBuffer(string: html)))
    }

    /// A 303 redirect (after a form's POST, to the login page).
    public static func redirect(_ location: String) -> Response {
        Response(status: .seeOther, headers: [.location: location, .cacheControl: "no-store"])
    }
}

extension String.StringInterpolation {
    /// `"\(h: value)"`: the value HTML-escaped.
    public mutating func appendInterpolation(h value: String) { appendLiteral(HTML.escape(value)) }
    public mutating func appendInterpolation(h value: String?) { appendLiteral(HTML.escape(value ?? "")) }
}

/// The page chrome every console page uses.
public enum Layout {
    /// A navigation entry.
    public struct NavItem: Sendable {
        public var key: String
        public var title: String
        public var href: String
    }

    /// The navigation the user's role gives.
    public static func navigation(for user: ConsoleUser) -> [NavItem] {
        var items: [NavItem] = []
        switch user.role {
        case .worker:
            if let unit = user.unit { items.append(NavItem(key: "inbox", title: "本单位工单", href: "/units/\(unit)")) }
        case .centre:
            items += [
                NavItem(key: "board", title: "态势大屏", href: "/board"),
                NavItem(key: "centre", title: "中心工作台", href: "/centre"),
                NavItem(key: "reports", title: "考核报表", href: "/reports"),
            ]
        case .supervisor:
            items += [
                NavItem(key: "board", title: "态势大屏", href: "/board"),
                NavItem(key: "reports", title: "考核报表", href: "/reports"),
            ]
        case .admin:
            items += [
                NavItem(key: "board", title: "态势大屏", href: "/board"),
                NavItem(key: "reports", title: "考核报表", href: "/reports"),
                NavItem(key: "rules", title: "规则", href: "/rules"),
                NavItem(key: "users", title: "用户管理", href: "/admin/users"),
            ]
        }
        return items
    }

    /// The hidden form field carrying the session's CSRF token; put it in every form that changes something.
    public static func csrfField(_ context: ConsoleRequestContext) -> String {
        "<input type=\"hidden\" name=\"_csrf\" value=\"\(h: context.csrfToken)\">"
    }

    /// A whole page: header (title, the user's name and role, logout), navigation by role (`active` is
    /// the key of the current entry), the body as given (already escaped HTML), and `head` (extra
    /// elements for `<head>`: a page's own styles or scripts).
    public static func page(
        title: String, context: ConsoleRequestContext, active: String? = nil, head: String = "",
        body: String
    ) -> String {
        var nav = ""
        var userBox = ""
        if let user = context.user {
            nav = navigation(for: user).map {
                "<a href=\"\(h: $0.href)\"\($0.key == active ? " class=\"active\" aria-current=\"page\"" : "")>\(h: $0.title)</a>"
            }.joined()
            userBox = """
                <div class="who"><span class="name">\(h: user.name)</span><span class="role">\(h: user.role.chinese)\
                \(user.unit.map { " · \(HTML.escape($0))" } ?? "")</span>
                <form method="post" action="/logout" class="logout">\(csrfField(context))<button type="submit">退出</button></form></div>
                """
        }
        return """
            <!DOCTYPE html>
            <html lang="zh-CN">
            <head>
            <meta charset="utf-8">
            <meta name="viewport" content="width=device-width, initial-scale=1">
            <title>\(h: title) · 12345 工单调度</title>
            <link rel="stylesheet" href="/static/console.css">
            \(head)
            </head>
            <body>
            <header class="top"><a class="brand" href="/">12345 工单调度</a><nav>\(nav)</nav>\(userBox)</header>
            <main>
            \(body)
            </main>
            </body>
            </html>
            """
    }

    /// A small page for errors and messages (403, 404, a refusal) inside the chrome.
    public static func message(title: String, text: String, context: ConsoleRequestContext) -> String {
        page(
            title: title, context: context,
            body: "<section class=\"card message\"><h1>\(h: title)</h1><p>\(h: text)</p>"
                + "<p><a href=\"/\">返回首页</a></p></section>")
    }

    /// The console's stylesheet (served at `/static/console.css`).
    public static let stylesheet = """
        :root { --bg: #f4f6f9; --card: #fff; --ink: #1f2933; --muted: #616e7c; --line: #e4e7eb; --brand: #b71c1c;
          --accent: #1e5aa8; --green: #2e7d32; --yellow: #f9a825; --red: #c62828; --radius: 8px; }
        * { box-sizing: border-box; }
        html { font-size: 15px; }
        body { margin: 0; background: var(--bg); color: var(--ink);
          font-family: "PingFang SC", "Noto Sans CJK SC", "Microsoft YaHei", "Source Han Sans SC", system-ui, sans-serif; }
        a { color: var(--accent); text-decoration: none; } a:hover { text-decoration: underline; }
        header.top { display: flex; align-items: center; gap: 1.5rem; padding: 0 1.5rem; height: 56px; background: var(--brand);
          color: #fff; box-shadow: 0 2px 6px rgba(0,0,0,.15); }
        header.top .brand { color: #fff; font-weight: 700; font-size: 1.15rem; letter-spacing: .05em; }
        header.top nav { display: flex; gap: .25rem; flex: 1; }
        header.top nav a { color: rgba(255,255,255,.85); padding: .45rem .8rem; border-radius: 6px; }
        header.top nav a:hover { background: rgba(255,255,255,.12); text-decoration: none; }
        header.top nav a.active { background: rgba(255,255,255,.22); color: #fff; font-weight: 600; }
        .who { display: flex; align-items: center; gap: .6rem; font-size: .9rem; }
        .who .name { font-weight: 600; } .who .role { opacity: .85; }
        .who form.logout button { background: transparent; border: 1px solid rgba(255,255,255,.6); color: #fff; border-radius: 6px;
          padding: .25rem .7rem; cursor: pointer; }
        main { max-width: 1400px; margin: 1.5rem auto; padding: 0 1.5rem; }
        h1 { font-size: 1.4rem; margin: 0 0 1rem; } h2 { font-size: 1.15rem; margin: 0 0 .75rem; }
        .card { background: var(--card); border: 1px solid var(--line); border-radius: var(--radius); padding: 1.25rem 1.5rem;
          box-shadow: 0 1px 2px rgba(0,0,0,.04); margin-bottom: 1.25rem; }
        .message { max-width: 560px; margin: 3rem auto; }
        table { width: 100%; border-collapse: collapse; }
        th, td { text-align: left; padding: .55rem .6rem; border-bottom: 1px solid var(--line); vertical-align: top; }
        th { color: var(--muted); font-weight: 600; font-size: .88rem; background: #fafbfc; }
        tr:hover td { background: #f9fbff; }
        form.inline { display: inline; }
        label { display: block; font-size: .9rem; color: var(--muted); margin: .6rem 0 .25rem; }
        input[type=text], input[type=password], input[type=search], input[type=datetime-local], select, textarea {
          width: 100%; padding: .5rem .6rem; border: 1px solid #cbd2d9; border-radius: 6px; font: inherit; background: #fff; }
        textarea { min-height: 5rem; }
        button, .button { display: inline-block; background: var(--accent); color: #fff; border: 0; border-radius: 6px;
          padding: .5rem 1rem; font: inherit; cursor: pointer; }
        button.secondary { background: #e4e7eb; color: var(--ink); } button.danger { background: var(--red); }
        .light { display: inline-block; width: .8rem; height: .8rem; border-radius: 50%; vertical-align: middle; margin-right: .3rem; }
        .light.green { background: var(--green); } .light.yellow { background: var(--yellow); } .light.red { background: var(--red); }
        .badge { display: inline-block; padding: .1rem .5rem; border-radius: 999px; font-size: .8rem; background: #e4e7eb; }
        .badge.red { background: #fde2e2; color: var(--red); } .badge.yellow { background: #fff4d6; color: #8a6100; }
        .badge.green { background: #e3f4e4; color: var(--green); }
        .notice { padding: .75rem 1rem; border-radius: 6px; margin-bottom: 1rem; }
        .notice.error { background: #fde2e2; color: #7f1d1d; } .notice.ok { background: #e3f4e4; color: #14532d; }
        .muted { color: var(--muted); }
        .login { max-width: 380px; margin: 8vh auto; }
        .login h1 { text-align: center; color: var(--brand); }
        .login button { width: 100%; margin-top: 1.2rem; padding: .65rem; }
        @media (min-width: 1800px) { html { font-size: 18px; } main { max-width: 1840px; } }
        """
}
