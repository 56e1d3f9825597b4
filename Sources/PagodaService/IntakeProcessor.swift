import Foundation
import PagodaJSON
import PagodaLifecycle
import PagodaRules
import PagodaStore

/// Turns one intake message into what must be stored and published: a dispatch, or a rejection.
///
/// Pure: no I/O, `now` is a parameter. Validation failures, and messages that failed processing too
/// often (poison), become rejections carrying the original body byte for byte and the reason.
public struct IntakeProcessor: Sendable {
    public let ruleSet: RuleSet
    public let names: Names
    /// Starts each dispatched ticket's lifecycle (clocks, timers) in the dispatch transaction; nil: no
    /// lifecycle rows (the pipeline benchmark's bare dispatch).
    public let lifecycle: Lifecycle?
    public let codec: LifecycleCodec

    public init(ruleSet: RuleSet, names: Names, lifecycle: Bool = true) {
        self.init(ruleSet: ruleSet, names: names, lifecycle: lifecycle ? Lifecycle(rules: ruleSet) : nil)
    }

    /// With `lifecycle` built from the same `ruleSet` (nil: no lifecycle rows).
    public init(ruleSet: RuleSet, names: Names, lifecycle: Lifecycle?) {
        self.ruleSet = ruleSet
        self.names = names
        self.lifecycle = lifecycle
        self.codec = LifecycleCodec(
            names: names,
            offsetSeconds: ruleSet.calendar.utcOffsetSeconds(at: Date(timeIntervalSince1970: 1_767_225_600)))
    }

    /// Processes one message body.
    public func process(body: [UInt8], messageID: String?, now: Date) -> IntakeRecord {
        switch TicketContract.decode(body, isKnownCategory: ruleSet.isKnownCategory) {
        case .failure(let error):
            return rejection(body: body, messageID: messageID, issues: error.issues, now: now)
        case .success(let ticket):
            return .dispatch(dispatch(ticket, body: body, messageID: messageID, now: now))
        }
    }

    /// A rejection for a message that kept failing for reasons other than its content.
    public func poison(body: [UInt8], messageID: String?, attempts: Int, error: String, now: Date) -> IntakeRecord {
        rejection(
            body: body, messageID: messageID,
            issues: [
                ValidationIssue(path: "", code: .poison, message: "processing failed \(attempts) times: \(error)")
            ], now: now)
    }

    func dispatch(_ ticket: Ticket, body: [UInt8], messageID: String?, now: Date) -> TicketDispatch {
        let decision = ruleSet.route(ticket)
        let offset = ruleSet.calendar.utcOffsetSeconds(at: ticket.receivedAt)
        let decisionJSON = decision.json(queuePrefix: names.prefix, offsetSeconds: offset)
        let decisionBytes = JSON.serialize(decisionJSON)
        var deadlines: [String: Date] = [:]
        for d in decision.deadlines { deadlines[d.clock.deadlineKey] = d.due }
        let row = DecisionRow(
            destinationType: DecisionRow.DestinationType(rawValue: decision.type.rawValue) ?? .triage,
            unitID: decision.unit?.id, level: decision.unit?.level.name,
            queue: names.queue(decision.queue), ruleID: decision.rule.id, ruleFile: decision.rule.file,
            ruleLine: decision.rule.line,
            rulesHash: decision.rulesHash, slaProfile: decision.slaProfile, category: decision.category,
            urgency: decision.urgency.rawValue, decisionJSON: decisionBytes, deadlines: deadlines)
        let names = self.names
        let at = RFC3339.format(now, offsetSeconds: offset)
        let routingKey = decision.queue
        let ticketID = ticket.id
        let rulesHash = decision.rulesHash
        let unitID = decision.unit?.id
        // Optional fields the contract left out: the decision carries them, and so does a header, so that a
        // consumer sees them without reading the body. Their messages never hold a phone number unmasked.
        let warningsHeader = ticket.warnings.isEmpty ? nil : Self.issuesHeader(ticket.warnings)
        let messages: @Sendable (Int64) -> [OutboxMessage] = { seq in
            var headers = [
                "x-pagoda-ticket-id": ticketID, "x-pagoda-dispatch-seq": String(seq),
                "x-pagoda-rules-hash": rulesHash, "x-pagoda-message-type": "ticket.dispatched",
            ]
            if let warningsHeader { headers["x-pagoda-warnings"] = warningsHeader }
            // Templated units may share their parent's queue: the unit is named where a worker filters cheaply.
            if let unitID { headers["x-pagoda-unit-id"] = unitID }
            // The ticket goes out exactly as intake sent it, and the decision as it was serialized for the
            // store: the body is put together from those bytes rather than encoded again.
            var dispatchBody: [UInt8] = []
            dispatchBody.reserveCapacity(body.count + decisionBytes.count + 128)
            dispatchBody += Array(#"{"type":"ticket.dispatched","version":1,"dispatch_seq":"#.utf8)
            dispatchBody += Array(String(seq).utf8)
            dispatchBody += Array(#","at":""#.utf8)
            dispatchBody += Array(at.utf8)
            dispatchBody += Array(#"","ticket":"#.utf8)
            dispatchBody += body
            dispatchBody += Array(#","decision":"#.utf8)
            dispatchBody += decisionBytes
            dispatchBody.append(UInt8(ascii: "}"))
            return [
                OutboxMessage(
                    exchange: names.dispatchExchange, routingKey: routingKey, messageID: "\(ticketID)/dispatch/\(seq)",
                    contentType: "application/json", headers: headers, body: dispatchBody, mandatory: true)
            ]
        }
        var dispatch = TicketDispatch(
            ticketID: ticket.id, receivedAt: ticket.receivedAt, ticketJSON: body, decision: row,
            amqpMessageID: messageID, at: now, messages: messages)
        dispatch.warnings = ticket.warnings
        if let lifecycle {
            dispatch.repeatKeys =
                decision.type == .emergency ? [] : RepeatKeys.keys(for: ticket, category: decision.category)
            let codec = self.codec
            let start: @Sendable (RepeatMatch?) -> LifecycleStart = { match in
                let t = lifecycle.dispatch(
                    DispatchInput(
                        decision: decision, receivedAt: ticket.receivedAt, repeatOf: match?.ticketID,
                        enterpriseRepeat: match?.enterpriseRepeat ?? false), now: now)
                // The dispatch message itself is the ticket.dispatched event (written by the store with it);
                // the rest (a repeat link, supervision of an enterprise's repeat) is added here.
                let rest = t.events.filter { $0.type != .dispatched }
                var (rows, messages) = codec.encode(rest, ticket: body)
                if let match {
                    rows.insert(
                        EventWrite(
                            type: "ticket.repeat_linked", at: now,
                            payloadJSON: JSON.serializeToString(
                                .object(
                                    JSONObject([
                                        ("ticket_id", .string(ticket.id)), ("repeat_of", .string(match.ticketID)),
                                        ("key", .string(String(match.key.prefix { $0 != ":" }))),
                                    ])))), at: 0)
                }
                return LifecycleStart(state: codec.encode(t.state!), events: rows, messages: messages)
            }
            // Most tickets repeat nothing: their first state is built here, outside the store's write
            // transaction, and only a repeat is worked out again once the store found the earlier ticket.
            let unrepeated = start(nil)
            dispatch.lifecycle = { match in match == nil ? unrepeated : start(match) }
        }
        return dispatch
    }

    /// Issues as a header's JSON array: as many as fit in `issuesHeaderLimit` bytes, in order (the decision and
    /// the stored rejection keep them all). A message's headers travel in one AMQP frame (128 KiB unless the
    /// broker says otherwise), and a publish past it fails for good: the outbox would stop at that row.
    package static func issuesHeader(_ issues: [ValidationIssue]) -> String {
        var items: [JSONValue] = []
        var size = 2
        for issue in issues {
            let item = issue.json
            size += JSON.serializeToString(item).utf8.count + 1
            if size > issuesHeaderLimit { break }
            items.append(item)
        }
        return JSON.serializeToString(.array(items))
    }

    /// The most bytes `x-pagoda-warnings` and `x-pagoda-errors` hold.
    package static let issuesHeaderLimit = 16_384

    /// The most of a rejected message's body that is kept (stored, and published to the rejected queue): the
    /// contract's size limit, so only a body rejected as `too_large` is cut, to its first 262,144 bytes.
    public static let rejectedBodyLimit = JSONLimits().maxBytes

    func rejection(body fullBody: [UInt8], messageID: String?, issues: [ValidationIssue], now: Date) -> IntakeRecord {
        let first = issues[0]
        var body = fullBody
        let original = body.count
        if original > Self.rejectedBodyLimit { body = Array(body.prefix(Self.rejectedBodyLimit)) }
        var headers = [
            "x-pagoda-error-code": first.code.rawValue, "x-pagoda-error-path": first.path,
            "x-pagoda-error-reason": first.message,
            "x-pagoda-errors": Self.issuesHeader(issues), "x-pagoda-rejected-at": RFC3339.format(now, offsetSeconds: 0),
        ]
        if let messageID { headers["x-pagoda-original-message-id"] = messageID }
        if original > body.count { headers["x-pagoda-body-truncated"] = String(original) }
        // A message without an id is known by its bytes, so that its redelivery (after a crash, or a commit
        // whose outcome was lost) is a duplicate and not a second rejection.
        let key = messageID ?? "sha256:\(Digest.sha256Hex(fullBody))"
        let id = "rejected/\(key)"
        let message = OutboxMessage(
            exchange: "", routingKey: names.rejectedQueue, messageID: id, contentType: "application/octet-stream",
            headers: headers, body: body, mandatory: true)
        // The message names its path already ("caller.phone: ...", "(root): ..." or a parser message).
        return .rejection(
            Rejection(
                amqpMessageID: key, body: body, code: first.code.rawValue, reason: first.message,
                at: now, message: message, issuesJSON: JSON.serializeToString(.array(issues.map(\.json)))))
    }
}
