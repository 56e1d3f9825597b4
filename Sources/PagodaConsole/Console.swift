import Foundation
import HTTPTypes
import Hummingbird
import Logging
import PagodaJSON
import PagodaLifecycle
import PagodaRules
import PagodaStore

/// The web console of `pagoda serve` and its JSON API (`/api/v1`): people log in with a role, see the
/// tickets their role allows and act on them through commands of contract v1.
///
/// Architecture: the console is an HTTP adapter beside the status endpoint. It reads the store through
/// `ConsoleStore` (SQLite's `DispatchStore` or PostgreSQL's `PostgresStore`) and applies commands through
/// `ConsoleBackend`, which `PagodaService` implements on the lifecycle's own path (one command, one transaction, serialized with the lifecycle
/// loop's commits). So it depends on the store and the core only; the service starts it
/// (`--console-address`), and tests start it on a real SQLite file or PostgreSQL database with a backend
/// of their own or the service's.
///
/// For page authors:
/// - Rendering is plain Swift: build HTML with string interpolation, escaping EVERY value with
///   `HTML.escape` (or `"\(h: value)"` inside `HTML` literals) and wrap the page in
///   `Layout.page(title:context:active:body:)`, which draws the chrome (header with the user's name
///   and role, logout, navigation by role, zh-CN) and links the stylesheet served at
///   `/static/console.css` (`Layout.stylesheet`; add page styles there or in a `<style>` of the page).
/// - Scripts are served from `/static/NAME.js` (`Piece.scripts`, loaded with `Piece.scriptTag`); a page
///   writes none of its own: its Content-Security-Policy (`HTML.response`) runs this site's files only.
/// - Register routes in `PageRoutes.register(on:env:rates:)` (Pages/PageRoutes.swift). They run behind
///   the authentication middleware: `context.user` is set (a page without a session was redirected to
///   `/login`, an API call answered 401), `context.csrfToken` holds the session's CSRF token.
/// - Every form that changes something carries `Layout.csrfField(context)`; the middleware refuses a
///   POST without the right token (403) before any handler runs. API clients with a session cookie send
///   it as the `X-CSRF-Token` header; bearer-token clients need none.
/// - Access: `ConsoleAccess` says whether a user may see a ticket (a worker: its unit's tickets, held,
///   co-handled or held before; an administrator: none; 403 otherwise, never another unit's text), what
///   of a caller's number it reads (`phone`, `ticketJSON`, `summary`: masked except for the centre) and
///   where its search looks (`searchScope`).
/// - Commands: `ConsoleCommands.submit` builds one command of contract v1 from a form or JSON body,
///   with the unit and actor from the user, and applies it (200 with events, 409 with the refusal).
/// - Store calls are awaited (`ConsoleStore`); neither store holds a thread of the concurrency pool.
public struct ConsoleConfiguration: Sendable {
    public var host: String = "127.0.0.1"
    public var port: Int = 8345
    /// Mark the session cookie `Secure` (set when the console is behind a TLS reverse proxy).
    public var secureCookies = false
    /// A session unused this long is over.
    public var sessionIdle: TimeInterval = 8 * 3600
    /// A session this old is over however much it is used (a board left open logs in again daily).
    public var sessionMaxAge: TimeInterval = 24 * 3600
    /// Failed logins in a row that lock an account, and for how long.
    public var maxFailedLogins = 5
    public var lockout: TimeInterval = 15 * 60
    /// Password checks (bcrypt) that may run at once; a login beyond them is answered 429 at once, so that
    /// a burst of guesses cannot take the cores.
    public var concurrentLogins = 8
    /// bcrypt's cost (log2 rounds).
    public var bcryptCost: UInt8 = 12
    /// The offset times are shown at (the hotline's local time, +08:00).
    public var offsetSeconds = 8 * 3600

    public init(host: String = "127.0.0.1", port: Int = 8345) {
        self.host = host
        self.port = port
    }
}

/// What every console handler can reach: the store, the backend, the settings, the clock.
public struct ConsoleEnvironment: Sendable {
    public let store: any ConsoleStore
    public let backend: any ConsoleBackend
    public let configuration: ConsoleConfiguration
    public let logger: Logger
    public let clock: @Sendable () -> Date
    public let accounts: ConsoleAccounts

    public init(
        store: any ConsoleStore, backend: any ConsoleBackend, configuration: ConsoleConfiguration, logger: Logger,
        clock: @escaping @Sendable () -> Date = { Date() }
    ) {
        self.store = store
        self.backend = backend
        self.configuration = configuration
        self.logger = logger
        self.clock = clock
        self.accounts = ConsoleAccounts(store: store, configuration: configuration, clock: clock)
    }
}

/// Builds the console's application: public routes (login, stylesheet), then everything else behind
/// `ConsoleAuthMiddleware`.
public enum ConsoleApplication {
    public static func router(_ env: ConsoleEnvironment) -> Router<ConsoleRequestContext> {
        let router = Router(context: ConsoleRequestContext.self)
        router.add(middleware: ConsoleErrorMiddleware())
        ConsoleLogin.register(on: router, env)
        router.get("static/console.css") { _, _ in
            Response(
                status: .ok, headers: [.contentType: "text/css; charset=utf-8", .cacheControl: "max-age=3600"],
                body: .init(byteBuffer: ByteBuffer(string: Layout.stylesheet)))
        }
        router.get("static/:script") { _, context in
            let file = try context.parameters.require("script")
            guard file.hasSuffix(".js"), let script = Piece.scripts[String(file.dropLast(3))] else {
                throw ConsoleError(.notFound, "没有这个文件")
            }
            return Response(
                status: .ok,
                headers: [
                    .contentType: "text/javascript; charset=utf-8", .cacheControl: "max-age=3600",
                    HTTPField.Name("X-Content-Type-Options")!: "nosniff",
                ], body: .init(byteBuffer: ByteBuffer(string: script)))
        }
        let api = router.group("api/v1")
        ConsoleAPI.registerPublic(on: api, env)
        let authenticated = router.group().add(middleware: ConsoleAuthMiddleware(env: env))
        ConsoleLogin.registerAuthenticated(on: authenticated, env)
        // The rates of today and of the month, fed on a thread of their own while the routes live; the
        // board page and `GET /api/v1/board` read the same figures.
        let rates = LiveRates(
            store: env.store, logger: env.logger, offsetSeconds: env.configuration.offsetSeconds, clock: env.clock)
        rates.start()
        ConsoleAPI.register(on: authenticated.group("api/v1"), env, rates: rates)
        ConsoleAdmin.register(on: authenticated, env)
        PageRoutes.register(on: authenticated, env: env, rates: rates)
        return router
    }

    /// The HTTP application, listening on the configured address; logs the address once listening.
    public static func application(_ env: ConsoleEnvironment) -> some ApplicationProtocol {
        let c = env.configuration
        let logger = env.logger
        return Application(
            router: router(env),
            configuration: .init(address: .hostname(c.host, port: c.port), serverName: "pagoda-console"),
            onServerRunning: { channel in
                logger.info(
                    "console listening",
                    metadata: [
                        "http.host": "\(c.host)", "http.port": "\(channel.localAddress?.port ?? c.port)",
                    ])
            },
            logger: logger)
    }
}
