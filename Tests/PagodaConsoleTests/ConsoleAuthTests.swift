import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import Logging
import PagodaConsole
import PagodaJSON
import PagodaLifecycle
import PagodaPostgres
import PagodaRules
import PagodaService
import PagodaStore
import PagodaTesting
import Synchronization
import Testing

/// A clock the tests move by hand (lockout, idle sessions).
final class TestClock: Sendable {
    let now: Mutex<Date>
    init(_ date: Date = Date()) { now = Mutex(date) }
    var read: @Sendable () -> Date { { [self] in now.withLock { $0 } } }
    func advance(_ seconds: TimeInterval) { now.withLock { $0 = $0.addingTimeInterval(seconds) } }
}

/// The repository's root (Tests/PagodaConsoleTests/ is two levels down).
let repositoryRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
    .deletingLastPathComponent()

/// The world most console suites start from: FS-1 and FS-3 at one unit (南海区), FS-2 at another (顺德区),
/// a worker of each unit (w1, w2), and one user of every other role (centre1, sup1, admin1).
struct TwoUnitWorld {
    let f: ConsoleFixture
    let env: ConsoleEnvironment
    let mine = "FS-1"
    let mineUnit: String
    let theirs = "FS-2"
    let theirUnit: String

    init(_ backend: ConsoleFixture.Backend = .sqlite) async throws {
        f = try await ConsoleFixture(backend: backend)
        env = try await f.environment()
        mineUnit = try #require(try await f.dispatch(env, id: "FS-1", district: "南海区", phone: "13812345678"))
        try await f.dispatch(env, id: "FS-3", district: "南海区", phone: "13700001111")
        theirUnit = try #require(try await f.dispatch(env, id: "FS-2", district: "顺德区", phone: "13987654321"))
        #expect(mineUnit != theirUnit)
        try await f.addUser(env, "w1", .worker, unit: mineUnit)
        try await f.addUser(env, "w2", .worker, unit: theirUnit)
        try await f.addUser(env, "centre1", .centre)
        try await f.addUser(env, "sup1", .supervisor)
        try await f.addUser(env, "admin1", .admin)
    }
}

/// A console on a real SQLite file in a temporary directory, or on a new database of the test PostgreSQL
/// server, with the service's command desk, real bcrypt (cost 10 to keep the suite quick) and the
/// repository's rules; tickets dispatched through the real intake processor.
final class ConsoleFixture: Sendable {
    enum Backend: String, CaseIterable, Sendable, CustomTestStringConvertible {
        case sqlite, postgres
        var testDescription: String { rawValue }
    }

    static let rules: RuleSet = {
        let files = try! RuleSetCompiler.readFiles(in: repositoryRoot.appendingPathComponent("rules").path)
        return RuleSetCompiler.compile(files).ruleSet!
    }()

    let directory: URL
    let dbPath: String
    let clock: TestClock
    let configuration: ConsoleConfiguration
    /// The PostgreSQL database, for that backend.
    let postgres: PostgresStoreConfiguration?

    init(secureCookies: Bool = false, concurrentLogins: Int = 8, backend: Backend = .sqlite) async throws {
        if backend == .postgres {
            // Two connections per store: a suite's stores stay well inside the server's connection limit.
            var c = try await TestPostgres.createDatabase()
            c.maximumConnections = 2
            postgres = c
        } else {
            postgres = nil
        }
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("pagoda-console-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        dbPath = directory.appendingPathComponent("pagoda.sqlite").path
        clock = TestClock()
        var c = ConsoleConfiguration(host: "127.0.0.1", port: 0)
        c.bcryptCost = 10
        c.secureCookies = secureCookies
        c.concurrentLogins = concurrentLogins
        configuration = c
    }

    deinit {
        try? FileManager.default.removeItem(at: directory)
        // The database goes with its open connections (`WITH (FORCE)`).
        if let name = postgres?.database { Task.detached { await TestPostgres.dropDatabase(name) } }
    }

    /// A new store and environment on the fixture's file or database (a "restart" when called again).
    func environment() async throws -> ConsoleEnvironment {
        let store: any ServingStore & ConsoleStore =
            if let postgres {
                try await PostgresStore.open(postgres, logger: TestPostgres.logger)
            } else {
                try DispatchStore(StoreConfiguration(path: dbPath))
            }
        let names = Names()
        let live = LiveRules(ruleSet: Self.rules, names: names)
        let desk = CommandDesk(
            store: store, rules: live,
            codec: live.current.processor.codec, metrics: ServiceMetrics(factory: PrometheusExport()), changed: {},
            clock: clock.read)
        return ConsoleEnvironment(
            store: store, backend: desk, configuration: configuration, logger: Logger(label: "test.console"),
            clock: clock.read)
    }

    /// Closes an environment's store (a "restart" follows with `environment()`).
    func close(_ env: ConsoleEnvironment) async throws {
        if let store = env.store as? PostgresStore { await store.close() }
        if let store = env.store as? DispatchStore { try store.close() }
    }

    func application(_ env: ConsoleEnvironment) -> some ApplicationProtocol {
        Application(router: ConsoleApplication.router(env))
    }

    /// Dispatches a ticket through the intake processor, received now; returns the holding unit.
    @discardableResult
    func dispatch(
        _ env: ConsoleEnvironment, id: String, district: String = "南海区", phone: String = "13812345678",
        text: String = "路灯坏了很久没人修，晚上很危险"
    ) async throws -> String? {
        let received = RFC3339.format(clock.read(), offsetSeconds: 28800)
        let body =
            #"{"id":"\#(id)","received_at":"\#(received)","channel":"hotline","kind":"complaint","text":"\#(text)","category":"city_management","region":{"district":"\#(district)"},"caller":{"name":"李先生","phone":"\#(phone)"}}"#
        let processor = IntakeProcessor(ruleSet: Self.rules, names: Names())
        _ = try await env.servingStore.recordDispatches([
            processor.process(body: Array(body.utf8), messageID: "m-\(id)", now: clock.read())
        ])
        return try await env.store.lifecycle([id], withTicket: false)[id]?.unitID
    }

    func addUser(
        _ env: ConsoleEnvironment, _ name: String, _ role: ConsoleRole, unit: String? = nil,
        password: String = "correct-horse-1"
    ) async throws {
        _ = try await env.accounts.add(
            name: name, role: role, unit: unit, password: password, rules: Self.rules, by: "test")
    }
}

/// A logged-in client's cookie and CSRF token.
struct Session {
    var cookie: String
    var csrf: String
    var headers: HTTPFields { [.cookie: cookie] }
    var apiHeaders: HTTPFields {
        [.cookie: cookie, .contentType: "application/json", HTTPField.Name("X-CSRF-Token")!: csrf]
    }
}

extension TestClientProtocol {
    /// One `POST /api/v1/session` with a name and password, whatever comes of it.
    func tryLogin(_ name: String, _ password: String) async throws -> TestResponse {
        try await execute(
            uri: "/api/v1/session", method: .post, headers: [.contentType: "application/json"],
            body: ByteBuffer(string: #"{"name":"\#(name)","password":"\#(password)"}"#))
    }

    /// Logs in through `POST /api/v1/session`.
    func login(_ name: String, _ password: String = "correct-horse-1") async throws -> Session {
        let r = try await tryLogin(name, password)
        #expect(r.status == .ok, "login of \(name): \(String(buffer: r.body))")
        let setCookie = try #require(r.headers[.setCookie])
        let cookie = String(setCookie.split(separator: ";")[0])
        guard case .object(let o)? = try? JSON.parse(Array(r.body.readableBytesView)),
            let csrf = o["csrf_token"]?.stringValue
        else {
            Issue.record("no csrf_token in \(String(buffer: r.body))")
            return Session(cookie: cookie, csrf: "")
        }
        return Session(cookie: cookie, csrf: csrf)
    }
}

func json(_ r: TestResponse) -> JSONObject? { try? JSON.parse(Array(r.body.readableBytesView)).objectValue }

func form(_ pairs: [(String, String)]) -> ByteBuffer {
    ByteBuffer(
        string: pairs.map { "\($0.0)=\($0.1.addingPercentEncoding(withAllowedCharacters: .alphanumerics) ?? "")" }
            .joined(separator: "&"))
}

@Suite struct ConsoleAuthTests {
    @Test(arguments: ConsoleFixture.Backend.allCases)
    func unauthenticatedRequestsAreRefusedOrSentToLogin(_ backend: ConsoleFixture.Backend) async throws {
        let f = try await ConsoleFixture(backend: backend)
        let env = try await f.environment()
        try await f.application(env).test(.router) { client in
            let api = try await client.execute(uri: "/api/v1/tickets", method: .get)
            #expect(api.status == .unauthorized)
            #expect(json(api)?["code"] == .string("unauthenticated"))
            for path in ["/api/v1/tickets/X-1", "/api/v1/session"] {
                #expect(try await client.execute(uri: path, method: .get).status == .unauthorized, "\(path)")
            }
            let post = try await client.execute(
                uri: "/api/v1/tickets/X-1/commands", method: .post, headers: [.contentType: "application/json"],
                body: ByteBuffer(string: #"{"command_id":"c1","type":"sign"}"#))
            #expect(post.status == .unauthorized)
            // What a page's script reads is answered 401, so that the script reloads its page.
            for path in ["/board/live", "/board/events", "/units/nanhai.shishan/count"] {
                #expect(try await client.execute(uri: path, method: .get).status == .unauthorized, "\(path)")
            }
            for path in ["/admin/users", "/", "/board"] {
                let page = try await client.execute(uri: path, method: .get)
                #expect(page.status == .seeOther, "\(path)")
                #expect(
                    page.headers[.location]?.hasPrefix("/login?next=") == true,
                    "\(path): \(page.headers[.location] ?? "-")")
            }
            let login = try await client.execute(uri: "/login", method: .get)
            #expect(login.status == .ok)
            #expect(String(buffer: login.body).contains("<html lang=\"zh-CN\">"))
            #expect(try await client.execute(uri: "/static/console.css", method: .get).status == .ok)
        }
    }

    @Test(arguments: ConsoleFixture.Backend.allCases)
    func formLoginSetsALaxHttpOnlyCookieAndLogoutEndsTheSession(_ backend: ConsoleFixture.Backend) async throws {
        let f = try await ConsoleFixture(backend: backend)
        let env = try await f.environment()
        try await f.addUser(env, "centre1", .centre)
        try await f.application(env).test(.router) { client in
            let page = try await client.execute(uri: "/login?next=/centre", method: .get)
            let loginCookie = String(try #require(page.headers[.setCookie]).split(separator: ";")[0])
            let token = String(loginCookie.split(separator: "=")[1])
            #expect(String(buffer: page.body).contains(token))
            // Without the login form's own token: refused.
            let forged = try await client.execute(
                uri: "/login", method: .post, headers: [.contentType: "application/x-www-form-urlencoded"],
                body: form([("name", "centre1"), ("password", "correct-horse-1")]))
            #expect(forged.status == .forbidden)
            let r = try await client.execute(
                uri: "/login", method: .post,
                headers: [.contentType: "application/x-www-form-urlencoded", .cookie: loginCookie],
                body: form([
                    ("_login", token), ("next", "/centre"), ("name", "centre1"), ("password", "correct-horse-1"),
                ]))
            #expect(r.status == .seeOther)
            #expect(r.headers[.location] == "/centre")
            let set = try #require(r.headers[values: .setCookie].first { $0.hasPrefix("pagoda_session=") })
            #expect(set.contains("HttpOnly"))
            #expect(set.contains("SameSite=Lax"))
            #expect(!set.contains("Secure"))
            // The login form's cookie is cleared where it was set.
            let cleared = try #require(r.headers[values: .setCookie].first { $0.hasPrefix("pagoda_login=") })
            #expect(cleared.contains("Path=/login") && cleared.contains("Max-Age=0"))
            let cookie = String(set.split(separator: ";")[0])
            let home = try await client.execute(uri: "/", method: .get, headers: [.cookie: cookie])
            #expect(home.status == .seeOther)
            #expect(home.headers[.location] == "/centre")
            let me = try await client.execute(uri: "/api/v1/session", method: .get, headers: [.cookie: cookie])
            #expect(me.status == .ok)
            let csrf = try #require(json(me)?["csrf_token"]?.stringValue)
            // Logout is a state-changing form: without the CSRF token it is refused and the session lives on.
            let noToken = try await client.execute(
                uri: "/logout", method: .post,
                headers: [.cookie: cookie, .contentType: "application/x-www-form-urlencoded"], body: form([]))
            #expect(noToken.status == .forbidden)
            #expect(
                try await client.execute(uri: "/api/v1/session", method: .get, headers: [.cookie: cookie]).status == .ok
            )
            let out = try await client.execute(
                uri: "/logout", method: .post,
                headers: [.cookie: cookie, .contentType: "application/x-www-form-urlencoded"],
                body: form([("_csrf", csrf)]))
            #expect(out.status == .seeOther)
            #expect(out.headers[.location] == "/login")
            #expect(
                try await client.execute(uri: "/api/v1/session", method: .get, headers: [.cookie: cookie]).status
                    == .unauthorized)
        }
        let audit = try await env.store.consoleAudit(userName: "centre1", limit: 100)
        #expect(audit.map(\.action).contains("login"))
        #expect(audit.map(\.action).contains("logout"))
        #expect(audit.contains { $0.action == "csrf_refused" })
    }

    @Test(arguments: ConsoleFixture.Backend.allCases)
    func secureFlagMarksTheCookieSecure(_ backend: ConsoleFixture.Backend) async throws {
        let f = try await ConsoleFixture(secureCookies: true, backend: backend)
        let env = try await f.environment()
        try await f.addUser(env, "sup1", .supervisor)
        try await f.application(env).test(.router) { client in
            let r = try await client.tryLogin("sup1", "correct-horse-1")
            #expect(r.status == .ok)
            let set = try #require(r.headers[.setCookie])
            #expect(set.contains("Secure"))
            #expect(set.contains("HttpOnly"))
            #expect(set.contains("SameSite=Lax"))
        }
    }

    /// Behind the TLS proxy on loopback (`X-Forwarded-Proto: https`), the cookie is `Secure` without the flag;
    /// the same header from elsewhere would need the flag (checked by `isLoopback`).
    @Test func aProxyOnLoopbackSayingHTTPSGetsASecureCookie() async throws {
        let f = try await ConsoleFixture()
        let env = try await f.environment()
        try await f.addUser(env, "sup1", .supervisor)
        try await f.application(env).test(.live) { client in
            func cookie(_ headers: HTTPFields) async throws -> String {
                var h = headers
                h[.contentType] = "application/json"
                let r = try await client.execute(
                    uri: "/api/v1/session", method: .post, headers: h,
                    body: ByteBuffer(string: #"{"name":"sup1","password":"correct-horse-1"}"#))
                #expect(r.status == .ok)
                return try #require(r.headers[.setCookie])
            }
            let viaProxy = try await cookie([HTTPField.Name("X-Forwarded-Proto")!: "https"])
            let direct = try await cookie([:])
            #expect(viaProxy.contains("Secure") && !direct.contains("Secure"))
        }
        #expect(
            !ConsoleRequestContext.isLoopback("203.0.113.9") && ConsoleRequestContext.isLoopback("::ffff:127.0.0.1"))
    }

    @Test(arguments: ConsoleFixture.Backend.allCases)
    func fiveFailedLoginsLockTheAccountForFifteenMinutes(_ backend: ConsoleFixture.Backend) async throws {
        let f = try await ConsoleFixture(backend: backend)
        let env = try await f.environment()
        try await f.addUser(env, "worker1", .worker, unit: "nanhai")
        try await f.application(env).test(.router) { client in
            func attempt(_ password: String) async throws -> TestResponse {
                try await client.tryLogin("worker1", password)
            }
            for i in 1...4 {
                let r = try await attempt("wrong-password-\(i)")
                #expect(r.status == .unauthorized)
                #expect(json(r)?["code"] == .string("bad_credentials"))
            }
            let fifth = try await attempt("wrong-password-5")
            #expect(fifth.status == .unauthorized)
            #expect(json(fifth)?["code"] == .string("locked"))
            // Locked: even the right password is refused, and says so.
            let right = try await attempt("correct-horse-1")
            #expect(right.status == .unauthorized)
            #expect(json(right)?["code"] == .string("locked"))
            f.clock.advance(14 * 60)
            #expect(json(try await attempt("correct-horse-1"))?["code"] == .string("locked"))
            f.clock.advance(61)
            #expect(try await attempt("correct-horse-1").status == .ok)
        }
        let audit = try await env.store.consoleAudit(userName: "worker1", limit: 100)
        #expect(audit.filter { $0.action == "login_failed" && $0.outcome == "bad_password" }.count == 5)
        #expect(audit.filter { $0.action == "login_failed" && $0.outcome == "locked" }.count == 2)
        #expect(audit.first?.action == "login")
        #expect(try await env.store.consoleAccount("worker1")?.failedLogins == 0)
    }

    @Test(arguments: ConsoleFixture.Backend.allCases)
    func guessesSentAtOnceCannotOutrunTheLock(_ backend: ConsoleFixture.Backend) async throws {
        let f = try await ConsoleFixture(concurrentLogins: 100, backend: backend)
        let env = try await f.environment()
        try await f.addUser(env, "worker1", .worker, unit: "nanhai")
        let app = f.application(env)
        let codes = try await app.test(.router) { client in
            try await withThrowingTaskGroup(of: String.self) { group in
                for i in 0..<20 {
                    group.addTask {
                        let r = try await client.tryLogin("worker1", "wrong-password-\(i)")
                        #expect(r.status == .unauthorized)
                        return json(r)?["code"]?.stringValue ?? "?"
                    }
                }
                return try await group.reduce(into: [String]()) { $0.append($1) }
            }
        }
        // Five attempts were checked (the fifth locked the account); the other fifteen were refused unchecked.
        let audit = try await env.store.consoleAudit(userName: "worker1", limit: 100)
        #expect(audit.filter { $0.outcome == "bad_password" }.count == 5)
        #expect(audit.filter { $0.outcome == "locked" }.count == 15)
        #expect(codes.filter { $0 == "bad_credentials" }.count == 4)
        #expect(codes.filter { $0 == "locked" }.count == 16)
    }

    @Test(arguments: ConsoleFixture.Backend.allCases)
    func loginsBeyondTheChecksUnderWayAreAnsweredBusy(_ backend: ConsoleFixture.Backend) async throws {
        let f = try await ConsoleFixture(concurrentLogins: 0, backend: backend)
        let env = try await f.environment()
        try await f.addUser(env, "sup1", .supervisor)
        try await f.application(env).test(.router) { client in
            let r = try await client.tryLogin("sup1", "correct-horse-1")
            #expect(r.status == .tooManyRequests)
            #expect(json(r)?["code"] == .string("busy"))
        }
        // Nothing was counted against the account.
        #expect(try await env.store.consoleAccount("sup1")?.failedLogins == 0)
    }

    @Test(arguments: ConsoleFixture.Backend.allCases)
    func theLoginPageKeepsOnlyANextPathOfThisSite(_ backend: ConsoleFixture.Backend) async throws {
        let f = try await ConsoleFixture(backend: backend)
        let env = try await f.environment()
        try await f.application(env).test(.router) { client in
            func next(_ target: String) async throws -> Bool {
                let encoded = target.addingPercentEncoding(withAllowedCharacters: .alphanumerics) ?? ""
                let page = try await client.execute(uri: "/login?next=\(encoded)", method: .get)
                return String(buffer: page.body).contains("name=\"next\" value=\"/")
            }
            let kept = try await next("/centre?x=1")
            #expect(kept)
            // A tab, a space or a backslash would let a browser read the path as another host.
            for target in ["//evil.example", "/\t/evil.example", "/ /evil.example", "/\\evil.example", "https://x"] {
                let followed = try await next(target)
                #expect(!followed, "\(target)")
            }
        }
    }

    /// The audit records the client's address: behind a proxy on loopback (nginx), the one it saw.
    @Test func theClientAddressComesFromAProxyOnLoopbackOnly() {
        let address = ConsoleRequestContext.clientAddress
        #expect(address("127.0.0.1", "203.0.113.9") == "203.0.113.9")
        #expect(address("::1", "198.51.100.1, 203.0.113.9") == "203.0.113.9")
        #expect(address("198.51.100.7", "203.0.113.9") == "198.51.100.7")
        #expect(address("127.0.0.1", nil) == "127.0.0.1")
        #expect(address("127.0.0.1", " , ") == "127.0.0.1")
        #expect(address(nil, "203.0.113.9") == nil)
    }

    /// A name without an account locks after as many tries as an account does: a lock tells nothing of
    /// which names exist.
    @Test(arguments: ConsoleFixture.Backend.allCases)
    func anUnknownNameLocksAsAnAccountDoes(_ backend: ConsoleFixture.Backend) async throws {
        let f = try await ConsoleFixture(backend: backend)
        let env = try await f.environment()
        try await f.addUser(env, "worker1", .worker, unit: "nanhai")
        try await f.application(env).test(.router) { client in
            func codes(_ name: String, _ n: Int) async throws -> [String] {
                var out: [String] = []
                for i in 0..<n {
                    let r = try await client.tryLogin(name, "wrong-password-\(i)")
                    out.append(json(r)?["code"]?.stringValue ?? "\(r.status)")
                }
                return out
            }
            let known = try await codes("worker1", 6)
            #expect(
                known == [
                    "bad_credentials", "bad_credentials", "bad_credentials", "bad_credentials", "locked", "locked",
                ])
            #expect(try await codes("nobody", 6) == known)
            f.clock.advance(15 * 60 + 1)
            #expect(try await codes("nobody", 1) == ["bad_credentials"])
            #expect(try await codes("worker1", 1) == ["bad_credentials"])
        }
    }

    @Test(arguments: ConsoleFixture.Backend.allCases)
    func unknownNamesAndDisabledAccountsAreRefusedAlike(_ backend: ConsoleFixture.Backend) async throws {
        let f = try await ConsoleFixture(backend: backend)
        let env = try await f.environment()
        try await f.addUser(env, "gone", .supervisor)
        try await env.accounts.setDisabled(name: "gone", true, by: "test")
        try await f.application(env).test(.router) { client in
            for name in ["nobody", "gone"] {
                let r = try await client.tryLogin(name, "correct-horse-1")
                #expect(r.status == .unauthorized)
                #expect(json(r)?["code"] == .string("bad_credentials"))
            }
        }
    }

    @Test(arguments: ConsoleFixture.Backend.allCases)
    func sessionsSurviveARestartAndEndAfterEightIdleHours(_ backend: ConsoleFixture.Backend) async throws {
        let f = try await ConsoleFixture(backend: backend)
        let first = try await f.environment()
        try await f.addUser(first, "sup1", .supervisor)
        let session = try await f.application(first).test(.router) { client in try await client.login("sup1") }
        try await f.close(first)
        // A new application on a new store over the same file: the cookie still works.
        let second = try await f.environment()
        try await f.application(second).test(.router) { client in
            let me = try await client.execute(uri: "/api/v1/session", method: .get, headers: session.headers)
            #expect(me.status == .ok)
            #expect(json(me)?["user"]?.objectValue?["name"] == .string("sup1"))
            #expect(json(me)?["csrf_token"] == .string(session.csrf))
            f.clock.advance(7 * 3600)
            #expect(
                try await client.execute(uri: "/api/v1/session", method: .get, headers: session.headers).status == .ok)
            // Used an hour ago: the idle time started again then.
            f.clock.advance(8 * 3600 + 1)
            #expect(
                try await client.execute(uri: "/api/v1/session", method: .get, headers: session.headers).status
                    == .unauthorized)
        }
    }

    @Test(arguments: ConsoleFixture.Backend.allCases)
    func aSessionEndsInItsTwentyFourthHourHoweverMuchItIsUsed(_ backend: ConsoleFixture.Backend) async throws {
        let f = try await ConsoleFixture(backend: backend)
        let env = try await f.environment()
        try await f.addUser(env, "sup1", .supervisor)
        try await f.application(env).test(.router) { client in
            let session = try await client.login("sup1")
            for _ in 0..<3 {
                f.clock.advance(7 * 3600)
                #expect(
                    try await client.execute(uri: "/api/v1/session", method: .get, headers: session.headers).status
                        == .ok)
            }
            f.clock.advance(3 * 3600 + 1)
            #expect(
                try await client.execute(uri: "/api/v1/session", method: .get, headers: session.headers).status
                    == .unauthorized)
        }
    }

    /// A NUL in a login name or a search term (which PostgreSQL refuses in text) is an unknown name and a
    /// search for what is around it, on both stores: not a failed request.
    @Test(arguments: ConsoleFixture.Backend.allCases)
    func aNulInANameOrSearchIsAnsweredAsAnyOther(_ backend: ConsoleFixture.Backend) async throws {
        let w = try await TwoUnitWorld(backend)
        try await w.f.application(w.env).test(.router) { client in
            let r = try await client.tryLogin("centre1\\u0000", "correct-horse-1")
            #expect(r.status == .unauthorized, "\(String(buffer: r.body))")
            let centre = try await client.login("centre1")
            let search = try await client.execute(
                uri: "/units/\(w.mineUnit)?q=FS-%001", method: .get, headers: centre.headers)
            #expect(search.status == .ok)
            #expect(String(buffer: search.body).contains("data-ticket=\"FS-1\""))
            let category = try await client.execute(
                uri: "/units/\(w.mineUnit)?category=city%00", method: .get, headers: centre.headers)
            #expect(category.status == .ok)
            let admin = try await client.login("admin1")
            let notice = try await client.execute(
                uri: "/admin/users?done=added&user=w1%00", method: .get, headers: admin.headers)
            #expect(notice.status == .ok)
        }
        let audit = try await w.env.store.consoleAudit(userName: "centre1\u{FFFD}", limit: 10)
        #expect(audit.map(\.outcome) == ["unknown_user"])
    }

    @Test(arguments: ConsoleFixture.Backend.allCases)
    func passwordsAndUnitsAreChecked(_ backend: ConsoleFixture.Backend) async throws {
        let f = try await ConsoleFixture(backend: backend)
        let env = try await f.environment()
        await #expect(throws: ConsoleAccounts.Refusal.self) {
            try await f.addUser(env, "short", .admin, password: "123456789")
        }
        do {
            try await f.addUser(env, "w", .worker, unit: "nanhai.shishan.wuzhaung")
            Issue.record("an unknown unit was accepted")
        } catch let r as ConsoleAccounts.Refusal {
            #expect(r.code == .unit)
            #expect(r.message.contains("nanhai.shishan.wuzhuang"), "\(r.message)")
        }
        await #expect(throws: ConsoleAccounts.Refusal.self) { try await f.addUser(env, "w", .worker) }
        try await f.addUser(env, "w", .worker, unit: "nanhai.shishan")
        await #expect(throws: ConsoleAccounts.Refusal.self) { try await f.addUser(env, "w", .centre) }
        let stored = try #require(try await env.store.consoleAccount("w"))
        #expect(stored.passwordHash.hasPrefix("$2"))
        #expect(!stored.passwordHash.contains("correct-horse-1"))
    }
}

extension ConsoleEnvironment {
    /// The store as the service's seams see it (the fixture's stores are both).
    var servingStore: any ServingStore { store as! any ServingStore }
}
