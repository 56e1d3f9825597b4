import Foundation
import HTTPTypes
import Hummingbird
import PagodaJSON
import PagodaLifecycle
import PagodaRules
import PagodaStore

/// The JSON API, `/api/v1` (docs/api.md): session cookie (with `X-CSRF-Token` on changes) or
/// `Authorization: Bearer`. Errors are `{code, message}` with 400/401/403/404/409.
public enum ConsoleAPI {
    /// A JSON response.
    public static func json(_ value: JSONValue, status: HTTPResponse.Status = .ok) -> Response {
        Response(
            status: status,
            headers: [
                .contentType: "application/json; charset=utf-8", .cacheControl: "no-store",
                HTTPField.Name("X-Content-Type-Options")!: "nosniff",
            ],
            body: .init(byteBuffer: ByteBuffer(bytes: JSON.serialize(value))))
    }

    /// `{code, message}` (and the error's details) with the error's status.
    public static func error(_ e: ConsoleError) -> Response {
        var o = JSONObject([("code", .string(e.wireCode ?? e.code.rawValue)), ("message", .string(e.message))])
        if let details = e.details { for (k, v) in details { o.set(k, v) } }
        return json(.object(o), status: e.status)
    }

    static func userJSON(_ u: ConsoleUser) -> JSONValue {
        .object(
            JSONObject([
                ("name", .string(u.name)), ("role", .string(u.role.rawValue)),
                ("unit", u.unit.map { .string($0) } ?? .null),
            ]))
    }

    /// Reads a JSON object body (at most 64 KiB); 400 otherwise.
    static func body(_ request: Request) async throws -> (bytes: [UInt8], object: JSONObject) {
        var request = request
        let buffer = try await request.collectBody(upTo: 65_536)
        let bytes = Array(buffer.readableBytesView)
        guard case .object(let o)? = try? JSON.parse(bytes) else {
            throw ConsoleError(.badRequest, "the body must be a JSON object", wireCode: "syntax")
        }
        return (bytes, o)
    }

    /// `POST /session`: needs no session.
    static func registerPublic(on api: RouterGroup<ConsoleRequestContext>, _ env: ConsoleEnvironment) {
        api.post("session") { request, context in
            guard request.headers[.contentType]?.hasPrefix("application/json") == true else {
                throw ConsoleError(
                    .badRequest, "send {\"name\", \"password\"} as application/json", wireCode: "content_type")
            }
            let (_, o) = try await body(request)
            guard let name = o["name"]?.stringValue, let password = o["password"]?.stringValue else {
                throw ConsoleError(.badRequest, "name and password are required strings", wireCode: "required")
            }
            let remote = context.remoteAddress
            switch try await env.accounts.login(name: name, password: password, remote: remote) {
            case .success(let user, let token, let csrf):
                var response = json(.object(JSONObject([("user", userJSON(user)), ("csrf_token", .string(csrf))])))
                response.setCookie(ConsoleLogin.sessionCookie(token, env, context))
                return response
            case .refused:
                throw ConsoleError(.unauthenticated, "wrong name or password", wireCode: "bad_credentials")
            case .locked(let until):
                throw ConsoleError(
                    .locked,
                    "too many failed logins; locked until \(RFC3339.format(until, offsetSeconds: env.configuration.offsetSeconds))",
                    wireCode: "locked")
            case .busy:
                throw ConsoleError(.busy, "too many logins under way; try again in a moment", wireCode: "busy")
            }
        }
    }

    static func register(on api: RouterGroup<ConsoleRequestContext>, _ env: ConsoleEnvironment, rates: LiveRates) {
        api.get("session") { _, context in
            let user = try context.requireUser
            return json(
                .object(
                    JSONObject([
                        ("user", userJSON(user)), ("csrf_token", context.csrfToken.map { .string($0) } ?? .null),
                    ])))
        }
        api.delete("session") { _, context in
            let user = try context.requireUser
            if let digest = context.sessionTokenHash {
                let remote = context.remoteAddress
                try await env.accounts.logout(tokenHash: digest, user: user.name, remote: remote)
            }
            var response = json(.object(JSONObject([("ok", .bool(true))])))
            response.setCookie(ConsoleLogin.clearedCookie(ConsoleLogin.cookieName, env, context))
            return response
        }
        registerReads(on: api, env, rates: rates)
        api.get("tickets/:id") { _, context in
            let user = try context.requireUser
            let id = try context.parameters.require("id")
            return json(try await ticketJSON(id, user: user, env))
        }
        api.post("tickets/:id/commands") { request, context in
            let user = try context.requireUser
            let id = try context.parameters.require("id")
            let (bytes, _) = try await body(request)
            guard let unit = ConsoleCommands.unit(for: user, rules: env.backend.ruleSet) else {
                throw ConsoleError(.forbidden, "\(user.role.rawValue) users change nothing")
            }
            let object = try ConsoleCommands.object(json: bytes, ticketID: id, unit: unit, now: env.clock(), env: env)
            let result = try await ConsoleCommands.submit(
                object, ticketID: id, user: user, remote: context.remoteAddress, env: env)
            return commandResponse(result)
        }
        api.post("rules/try") { request, context in
            let user = try context.requireUser
            guard user.role != .worker else {
                throw ConsoleError(.forbidden, "workers cannot try tickets on the rules")
            }
            var request = request
            let bytes = Array(try await request.collectBody(upTo: 262_144).readableBytesView)
            let rules = env.backend.ruleSet
            switch TicketContract.decode(bytes, isKnownCategory: rules.isKnownCategory) {
            case .failure(let error):
                var details = JSONObject()
                details.set(
                    "issues",
                    .array(
                        error.issues.map(\.json)))
                throw ConsoleError(
                    .badRequest, error.issues.map(\.message).joined(separator: "; "),
                    wireCode: error.issues[0].code.rawValue,
                    details: details)
            case .success(let ticket):
                let decision = rules.route(ticket, explainMisses: true)
                return json(decision.json(offsetSeconds: env.configuration.offsetSeconds))
            }
        }
    }

    /// 200 `{outcome: applied, command_id, events}` / `{outcome: duplicate, command_id}`, or 409
    /// `{code, message, reason}` for a refusal (`message` in Chinese, `reason` the dispatcher's words).
    static func commandResponse(_ r: ConsoleCommands.Result) -> Response {
        switch r.outcome {
        case .applied(let events):
            return json(
                .object(
                    JSONObject([
                        ("outcome", .string("applied")), ("command_id", .string(r.command.id)),
                        ("events", .array(events)),
                    ])))
        case .duplicate:
            return json(
                .object(
                    JSONObject([
                        ("outcome", .string("duplicate")), ("command_id", .string(r.command.id)),
                        ("events", .array([])),
                    ])))
        case .refused(let code, let reason):
            return error(
                ConsoleError(
                    .refused, ConsoleCommands.refusalText(code), wireCode: code,
                    details: JSONObject([("reason", .string(reason)), ("command_id", .string(r.command.id))])))
        }
    }

    /// A ticket as the user may see it: the ticket as received (phone masked except for the centre), its
    /// decisions, deadlines, lifecycle (phase, holder, clocks, co-handlers) and timeline. 404 when unknown,
    /// 403 for a worker and another unit's ticket (nothing of it is shown).
    public static func ticketJSON(_ id: String, user: ConsoleUser, _ env: ConsoleEnvironment) async throws -> JSONValue
    {
        let store = env.store
        guard let history = try await store.ticket(id: id) else { throw ConsoleError(.notFound, "没有工单 \(id)") }
        guard try await ConsoleAccess.canSee(ticketID: id, user: user, store: store) else {
            throw ConsoleError(.forbidden, "该工单不属于本单位")
        }
        let life = try await store.lifecycle([id], withTicket: false)[id]
        let off = env.configuration.offsetSeconds
        func t(_ d: Date) -> JSONValue { .string(RFC3339.format(d, offsetSeconds: off)) }
        var o = JSONObject()
        o.set("ticket_id", .string(id))
        o.set("ticket", ConsoleAccess.ticketJSON(history.ticket.body, for: user) ?? .null)
        o.set("received_at", t(history.ticket.receivedAt))
        o.set(
            "decisions",
            .array(
                history.decisions.map { d in
                    var decision = (try? JSON.parse(d.row.decisionJSON)) ?? .null
                    if user.role != .centre, case .object(var x) = decision {
                        x["ticket"] = nil
                        decision = .object(x)
                    }
                    return decision
                }))
        o.set("deadlines", .object(JSONObject(history.deadlines.map { ($0.clock, t($0.dueAt)) })))
        if let life, let state = try? TicketState(encoded: life.state) {
            o.set(
                "lifecycle",
                .object(
                    JSONObject([
                        ("phase", .string(state.phase.rawValue)),
                        ("unit", state.holder.map { .string($0.unit) } ?? .null),
                        ("level", state.holder.map { .string($0.level.name) } ?? .null),
                        ("version", .number(String(state.version))),
                        ("supervised", .bool(state.supervised)),
                        ("co_handlers", .array(state.coHandlers.map { .string($0) })),
                        ("returns", .number(String(state.returns))), ("reworks", .number(String(state.reworks))),
                        (
                            "clocks",
                            .array(
                                state.clocks.map { c in
                                    .object(
                                        JSONObject([
                                            ("clock", .string(c.clock.rawValue)), ("due", t(c.due)),
                                            ("warn_at", t(c.warnAt)),
                                            ("stopped_at", c.stoppedAt.map(t) ?? .null),
                                            ("paused_at", c.pausedAt.map(t) ?? .null),
                                            ("overdue", .bool(c.overdue)), ("warned", .bool(c.warned)),
                                        ]))
                                })
                        ),
                    ])))
        } else {
            o.set("lifecycle", .null)
        }
        o.set(
            "timeline",
            .array(
                history.events.map { e in
                    var payload = (try? JSON.parse(e.payloadJSON)) ?? .null
                    if case .object(var p) = payload {
                        if p["event"] == nil { p.set("event", .string(e.type)) }
                        if p["at"] == nil { p.set("at", t(e.at)) }
                        payload = .object(p)
                    }
                    return ConsoleAccess.eventJSON(payload, for: user)
                }))
        return .object(o)
    }
}
