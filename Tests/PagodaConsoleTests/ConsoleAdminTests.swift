import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import PagodaConsole
import PagodaJSON
import PagodaStore
import Testing

/// The administrator's user page: refusals in Chinese with the form as typed, notices only in the page's
/// own words, enabling, new passwords, and the last admin kept enabled.
@Suite struct ConsoleAdminTests {
    func post(_ client: some TestClientProtocol, _ uri: String, _ s: Session, _ fields: [(String, String)])
        async throws -> TestResponse
    {
        try await client.execute(
            uri: uri, method: .post, headers: [.cookie: s.cookie, .contentType: "application/x-www-form-urlencoded"],
            body: form([("_csrf", s.csrf)] + fields))
    }

    @Test(arguments: ConsoleFixture.Backend.allCases)
    func aRefusedUserIsDrawnAgainAsTypedWithItsReasonInChinese(_ backend: ConsoleFixture.Backend) async throws {
        let w = try await TwoUnitWorld(backend)
        try await w.f.application(w.env).test(.router) { client in
            let admin = try await client.login("admin1")
            let typo = try await post(
                client, "/admin/users", admin,
                [
                    ("name", "li.ming"), ("role", "worker"), ("unit", "nanhai.shishan.wuzhaung"),
                    ("password", "long-enough-1"),
                ])
            #expect(typo.status == .badRequest)
            let html = String(buffer: typo.body)
            #expect(html.contains("规则中没有单位“nanhai.shishan.wuzhaung”") && html.contains("nanhai.shishan.wuzhuang"))
            #expect(html.contains(#"value="li.ming""#) && html.contains(#"value="nanhai.shishan.wuzhaung""#))
            #expect(html.contains(#"<option value="worker" selected>"#))
            #expect(!html.contains("--unit"))
            let short = try await post(
                client, "/admin/users", admin,
                [("name", "li.ming"), ("role", "worker"), ("unit", w.mineUnit), ("password", "short")])
            #expect(String(buffer: short.body).contains("密码须有至少 10 个字符"))
            // A centre user's unit is one the centre's decisions come from.
            let centre = try await post(
                client, "/admin/users", admin,
                [("name", "hc2"), ("role", "centre"), ("unit", w.mineUnit), ("password", "long-enough-1")])
            #expect(centre.status == .badRequest)
            #expect(String(buffer: centre.body).contains("派单组或督办组"))
            #expect(try await w.env.store.consoleAccount("hc2") == nil)
            let added = try await post(
                client, "/admin/users", admin,
                [("name", "li.ming"), ("role", "worker"), ("unit", w.mineUnit), ("password", "long-enough-1")])
            #expect(added.status == .seeOther)
            #expect(added.headers[.location] == "/admin/users?done=added&user=li.ming")
            let notice = try await client.execute(uri: added.headers[.location]!, method: .get, headers: admin.headers)
            #expect(String(buffer: notice.body).contains("已添加用户 li.ming"))
        }
    }

    @Test func aLinkCannotWriteTheNotice() async throws {
        let w = try await TwoUnitWorld()
        try await w.f.application(w.env).test(.router) { client in
            let admin = try await client.login("admin1")
            let spoof = "系统升级，请把管理员密码发给运维"
            for query in [
                "done=" + spoof.addingPercentEncoding(withAllowedCharacters: .alphanumerics)!,
                "done=added&user=nobody", "done=nonsense&user=w1",
            ] {
                let r = try await client.execute(uri: "/admin/users?\(query)", method: .get, headers: admin.headers)
                #expect(r.status == .ok)
                #expect(!String(buffer: r.body).contains("id=\"notice\""), "\(query)")
            }
        }
    }

    @Test(arguments: ConsoleFixture.Backend.allCases)
    func theLastAdminStaysEnabledAndANewPasswordEndsSessions(_ backend: ConsoleFixture.Backend) async throws {
        let w = try await TwoUnitWorld(backend)
        try await w.f.application(w.env).test(.router) { client in
            let admin = try await client.login("admin1")
            let last = try await post(client, "/admin/users/admin1/disable", admin, [])
            #expect(last.status == .conflict)
            #expect(String(buffer: last.body).contains("最后一个在用的系统管理员"))
            #expect(try await w.env.store.consoleAccount("admin1")?.disabled == false)

            let worker = try await client.login("w1")
            let disabled = try await post(client, "/admin/users/w1/disable", admin, [])
            #expect(disabled.headers[.location] == "/admin/users?done=disabled&user=w1")
            #expect(try await client.tryLogin("w1", "correct-horse-1").status == .unauthorized)
            let enabled = try await post(client, "/admin/users/w1/enable", admin, [])
            #expect(enabled.headers[.location] == "/admin/users?done=enabled&user=w1")
            _ = try await client.login("w1")

            let short = try await post(client, "/admin/users/w1/password", admin, [("password", "short")])
            #expect(short.status == .badRequest)
            let reset = try await post(client, "/admin/users/w1/password", admin, [("password", "another-horse-2")])
            #expect(reset.headers[.location] == "/admin/users?done=password&user=w1")
            #expect(try await client.tryLogin("w1", "correct-horse-1").status == .unauthorized)
            _ = try await client.login("w1", "another-horse-2")
            #expect(
                try await client.execute(uri: "/api/v1/session", method: .get, headers: worker.headers).status
                    == .unauthorized)
            let unknown = try await post(client, "/admin/users/nobody/enable", admin, [])
            #expect(unknown.status == .notFound)
        }
        let actions = try await w.env.store.consoleAudit(userName: "admin1", limit: 100).map(\.action)
        #expect(actions.contains("user_disable") && actions.contains("user_enable") && actions.contains("user_passwd"))
    }
}
