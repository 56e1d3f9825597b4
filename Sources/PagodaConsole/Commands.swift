import Foundation
import Hummingbird
import Logging
import PagodaJSON
import PagodaLifecycle
import PagodaRules
import PagodaStore

/// Commands from the console: one command of contract v1 per form or API call, its `unit` (and the
/// actor recorded as `by`) taken from the user, applied synchronously through `ConsoleBackend`.
public enum ConsoleCommands {
    /// The fields a form may carry for a command, with how each is written in the command.
    enum FieldKind { case text, time, bool }
    static let formFields: [(String, FieldKind)] = [
        ("note", .text), ("milestone", .text), ("reason", .text), ("suggested_unit", .text), ("text", .text),
        ("until", .time),
        ("outcome", .text), ("new_unit", .text), ("reached", .bool), ("resolved", .bool), ("satisfaction", .text),
        ("to_unit", .text), ("into_ticket", .text),
    ]

    /// The command a form describes: `command_id` and `type` from the form (the id was put in the form when
    /// it was drawn, so submitting it twice is one command), the type's fields that are filled in,
    /// `ticket_id` from the path, `unit` from the user, `at` now. Times from `datetime-local` inputs
    /// (`2026-03-05T18:00`) are read at the console's offset.
    public static func object(form: FormData, ticketID: String, unit: String, now: Date, env: ConsoleEnvironment)
        -> JSONObject
    {
        var o = JSONObject()
        o.set("command_id", form.text("command_id").map { .string($0) } ?? .null)
        o.set("ticket_id", .string(ticketID))
        o.set("unit", .string(unit))
        o.set("type", form.text("type").map { .string($0) } ?? .null)
        o.set("at", .string(RFC3339.format(now, offsetSeconds: env.configuration.offsetSeconds)))
        let type = form.text("type").flatMap(CommandType.init(rawValue:))
        let allowed = Set(type.map(CommandContract.fields(of:)) ?? [])
        for (name, kind) in formFields where allowed.contains(name) {
            guard let value = form.text(name) else { continue }
            switch kind {
            case .text: o.set(name, .string(value))
            case .bool:
                o.set(
                    name,
                    value == "true" || value == "1" || value == "on"
                        ? .bool(true) : value == "false" || value == "0" ? .bool(false) : .string(value))
            case .time: o.set(name, .string(localTime(value, env) ?? value))
            }
        }
        return o
    }

    /// `2026-03-05T18:00` (a `datetime-local` value) at the console's offset as RFC 3339; nil when it
    /// is not of that shape (a full RFC 3339 time is kept as given).
    static func localTime(_ value: String, _ env: ConsoleEnvironment) -> String? {
        guard value.count == 16 || value.count == 19, RFC3339.parse(value) == nil else { return nil }
        let seconds = value.count == 16 ? value + ":00" : value
        let off = env.configuration.offsetSeconds
        let sign = off < 0 ? "-" : "+"
        let h = abs(off) / 3600
        let m = abs(off) % 3600 / 60
        let candidate = seconds + String(format: "%@%02d:%02d", sign, h, m)
        return RFC3339.parse(candidate) == nil ? nil : candidate
    }

    /// The command an API body describes (contract v1 without `unit`): `unit` from the user, `ticket_id`
    /// from the path (a different one in the body is refused), `at` now when absent. Throws 400 for a body
    /// that is not a JSON object or holds `unit`.
    public static func object(json bytes: [UInt8], ticketID: String, unit: String, now: Date, env: ConsoleEnvironment)
        throws -> JSONObject
    {
        let value: JSONValue
        do {
            value = try JSON.parse(bytes, limits: CommandContract.limits)
        } catch {
            throw ConsoleError(.badRequest, "the body is not JSON: \(error)", wireCode: "syntax")
        }
        guard case .object(var o) = value else {
            throw ConsoleError(.badRequest, "the body must be a JSON object", wireCode: "type")
        }
        if o["unit"] != nil {
            throw ConsoleError(.badRequest, "unit: comes from the user; leave it out", wireCode: "unknown_field")
        }
        if let given = o["ticket_id"], given != .string(ticketID) {
            throw ConsoleError(
                .badRequest, "ticket_id: the body names another ticket than the path", wireCode: "format")
        }
        var out = JSONObject()
        out.set("command_id", o["command_id"] ?? .null)
        out.set("ticket_id", .string(ticketID))
        out.set("unit", .string(unit))
        out.set("type", o["type"] ?? .null)
        out.set("at", o["at"] ?? .string(RFC3339.format(now, offsetSeconds: env.configuration.offsetSeconds)))
        for key in ["command_id", "ticket_id", "type", "at"] { o[key] = nil }
        for (k, v) in o { out.set(k, v) }
        return out
    }

    /// The unit a user's commands are sent as: a worker's unit; for the centre its unit, else the rules'
    /// triage unit. Nil for roles that change nothing.
    public static func unit(for user: ConsoleUser, rules: RuleSet) -> String? {
        switch user.role {
        case .worker: user.unit
        case .centre: user.unit ?? rules.units[rules.triageUnit].id
        case .supervisor, .admin: nil
        }
    }

    /// What a submission ended in.
    public struct Result: Sendable {
        public var command: Command
        public var outcome: ConsoleCommandOutcome
    }

    /// Checks the user may act and may see the ticket, validates the command against contract v1, applies
    /// it and audits it. Throws 403 (role, or a worker and another unit's ticket), 404 (no such ticket),
    /// 400 with the contract's issues (an invalid command); a refusal by the lifecycle is an outcome.
    public static func submit(
        _ object: JSONObject, ticketID: String, user: ConsoleUser, remote: String?,
        env: ConsoleEnvironment
    ) async throws -> Result {
        let rules = env.backend.ruleSet
        guard unit(for: user, rules: rules) != nil else {
            throw ConsoleError(.forbidden, "\(user.role.chinese)只能查看，不能办理工单")
        }
        let store = env.store
        guard try await store.lifecycle([ticketID], withTicket: false)[ticketID] != nil else {
            throw ConsoleError(.notFound, "没有工单 \(ticketID)")
        }
        guard try await ConsoleAccess.canSee(ticketID: ticketID, user: user, store: store) else {
            throw ConsoleError(.forbidden, "该工单不属于本单位")
        }
        let command: Command
        switch CommandContract.validate(object) {
        case .failure(let error):
            var details = JSONObject()
            details.set(
                "issues",
                .array(
                    error.issues.map(\.json)))
            throw ConsoleError(
                .badRequest, "命令不符合约定：" + error.issues.map(\.message).joined(separator: "; "),
                wireCode: error.issues[0].code.rawValue, details: details)
        case .success(let c):
            command = c
        }
        guard ConsoleAccess.mayCommand(user, command.action.type) else {
            throw ConsoleError(.forbidden, "\(user.role.chinese)不能执行“\(typeName(command.action.type))”")
        }
        // A merge closes the ticket for good: the ticket it goes into must exist and be open (a mistyped id
        // would close it into nothing).
        if case .merge(let into, _) = command.action {
            let target = try await store.lifecycle([into], withTicket: false)[into]
            guard let target, target.phase != Phase.closed.rawValue, target.phase != Phase.handedOff.rawValue else {
                throw ConsoleError(
                    .badRequest, "并入工单号 \(into) \(target == nil ? "不存在" : "已办结")，请核对后再提交",
                    wireCode: "invalid_merge")
            }
        }
        let outcome = try await env.backend.apply(command, by: user.name)
        let auditOutcome =
            switch outcome {
            case .applied: "applied"
            case .duplicate: "duplicate"
            case .refused(let code, _): code
            }
        let entry = ConsoleAuditEntry(
            at: env.clock(), userName: user.name, action: "command", ticketID: ticketID, outcome: auditOutcome,
            detail: "\(command.action.type.rawValue) \(command.id)", remote: remote)
        try await store.appendConsoleAudit(entry)
        env.logger.info(
            "console command",
            metadata: [
                "console.user": "\(user.name)", "ticket.id": "\(ticketID)",
                "command.type": "\(command.action.type.rawValue)",
                "command.id": "\(command.id)", "command.outcome": "\(auditOutcome)",
            ])
        return Result(command: command, outcome: outcome)
    }

    /// A fresh command id for a form (`web-<24 hex>`).
    public static func freshID() -> String { "web-" + ConsoleAccounts.randomHex(12) }

    /// The Chinese name of a command type.
    public static func typeName(_ type: CommandType) -> String {
        switch type {
        case .sign: "签收"
        case .contact: "联系市民"
        case .progress: "进展"
        case .requestReturn: "退单申请"
        case .requestExtension: "延期申请"
        case .reply: "办结反馈"
        case .approveReturn: "退单审核通过"
        case .rejectReturn: "退单驳回"
        case .approveExtension: "延期审核通过"
        case .rejectExtension: "延期驳回"
        case .callbackResult: "回访结果"
        case .redispatch: "重派"
        case .merge: "合并"
        }
    }

    /// A refusal code of `command.rejected` in Chinese.
    public static func refusalText(_ code: String) -> String {
        switch code {
        case "unknown_ticket": "工单不存在"
        case "ticket_closed": "工单已办结，不能再操作"
        case "handed_off": "工单已移交应急部门"
        case "not_holder": "本单位不是该工单的承办单位"
        case "not_authorized": "只有热线中心可以执行此操作"
        case "stale": "命令早于工单转来（或早于所审核的申请），已过时"
        case "future": "命令时间晚于当前时间"
        case "invalid_state": "工单当前状态不允许此操作"
        case "already_signed": "工单已签收"
        case "already_pending": "已有待审核的退单或延期申请"
        case "invalid_extension": "延期时间无效（须晚于当前办结时限）"
        case "unknown_unit": "单位不存在"
        case "same_unit": "不能转给当前承办单位"
        case "invalid_merge": "不能合并到该工单"
        case "reused_command_id": "命令编号已被另一条命令使用，请刷新页面后重新提交"
        default: "命令被拒绝（\(code)）"
        }
    }
}
