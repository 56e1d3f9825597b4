import Foundation
import PagodaJSON

extension Decision {
    /// The decision as a JSON object (the `route --json` line and the `decision` of a dispatch message).
    ///
    /// - Parameters:
    ///   - queuePrefix: prepended with a dot to the queue name (`pagoda` gives `pagoda.unit.nanhai`).
    ///   - offsetSeconds: the UTC offset deadlines are written with (the rule set's time zone).
    ///   - explain: include the explanation and warnings (`ticket_warnings` is always there).
    public func json(queuePrefix: String = "pagoda", offsetSeconds: Int, explain: Bool = true) -> JSONValue {
        var deadlineObject: [(String, JSONValue)] = []
        var warnObject: [(String, JSONValue)] = []
        for d in deadlines {
            deadlineObject.append((d.clock.deadlineKey, .string(RFC3339.format(d.due, offsetSeconds: offsetSeconds))))
            warnObject.append((d.clock.deadlineKey, .string(RFC3339.format(d.warnAt, offsetSeconds: offsetSeconds))))
        }
        let fullQueue = queuePrefix.isEmpty ? queue : "\(queuePrefix).\(queue)"
        var fields: [(String, JSONValue)] = [
            ("ticket_id", .string(ticketID)),
            (
                "destination",
                .object(
                    JSONObject([
                        ("type", .string(type.rawValue)),
                        ("unit", unit.map { .string($0.id) } ?? .null),
                        ("unit_name", unit.map { .string($0.name) } ?? .null),
                        ("level", unit.map { .string($0.level.name) } ?? .null),
                        ("queue", .string(fullQueue)),
                    ]))
            ),
            ("emergency", emergencyLine.map { .string($0) } ?? .null),
            ("enterprise", .bool(enterprise)),
            ("category", category.map { .string($0) } ?? .null),
            ("urgency", .string(urgency.rawValue)),
            ("region", region.map { .string($0) } ?? .null),
            (
                "rule",
                .object(
                    JSONObject([
                        ("id", .string(rule.id)), ("file", .string(rule.file)), ("line", .number(String(rule.line))),
                    ]))
            ),
            (
                "sla",
                .object(
                    JSONObject([
                        ("profile", slaProfile.map { .string($0) } ?? .null),
                        ("deadlines", .object(JSONObject(deadlineObject))),
                        ("warn_at", .object(JSONObject(warnObject))),
                    ]))
            ),
            ("co_handlers", .array(coHandlers.map { .string($0.id) })),
            ("escalation_chain", .array(escalationChain.map { .string($0.id) })),
            ("escalation_policy", .string(escalationPolicy)),
            ("priority", .number(String(priority))),
            ("rules_hash", .string(rulesHash)),
            ("ticket_warnings", .array(ticketWarnings.map(\.json))),
        ]
        if let superviseAt {
            fields.append(("supervise_at", .string(RFC3339.format(superviseAt, offsetSeconds: offsetSeconds))))
        }
        if explain {
            fields.append(("explanation", .array(explanation.map { .string($0.description) })))
            fields.append(("warnings", .array(warnings.map { .string($0) })))
        }
        return .object(JSONObject(fields))
    }
}

extension ValidationIssue {
    /// The issue as `{"path", "code", "message"}`, as rejections and ticket warnings write it.
    public var json: JSONValue {
        .object(JSONObject([("path", .string(path)), ("code", .string(code.rawValue)), ("message", .string(message))]))
    }
}
