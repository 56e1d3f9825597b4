import Foundation
import PagodaJSON
import PagodaRules
import PagodaService
import PagodaStore
import PagodaTesting
import PagodaTransport
import Testing

@Suite struct TopologyTests {
    static let rules = try! RuleSetCompiler.compile(
        RuleSetCompiler.readFiles(in: repositoryRoot.appendingPathComponent("rules").path)
    ).ruleSet!

    @Test func definitionsFileMatchesTheCode() throws {
        let committed = try String(
            contentsOf: repositoryRoot.appendingPathComponent("ops/rabbitmq-definitions.json"), encoding: .utf8)
        #expect(
            committed.trimmingCharacters(in: .whitespacesAndNewlines) == Names().definitions(for: Self.rules),
            "regenerate with: pagoda topology --rules rules > ops/rabbitmq-definitions.json")
    }

    @Test func everyUnitHasAQueueBoundByItsSuffix() {
        let t = Names().topology(for: Self.rules)
        for u in Self.rules.units {
            #expect(
                t.bindings.contains {
                    $0.queue == "pagoda.\(u.queue)" && $0.exchange == "pagoda.dispatch" && $0.routingKey == u.queue
                })
        }
        for s in ["triage", "emergency", "platform"] { #expect(t.queues.contains { $0.name == "pagoda.\(s)" }) }
        // The copy to the events exchange is the relay's own publish; the binding of earlier versions is removed.
        #expect(t.exchangeBindings.isEmpty)
        #expect(
            t.removedExchangeBindings == [
                .init(destination: "pagoda.events", source: "pagoda.dispatch", routingKey: "#")
            ])
        for q in ["pagoda.intake", "pagoda.commands"] {
            let queue = t.queues.first { $0.name == q }
            #expect(queue?.arguments["x-queue-type"]?.stringValue == "quorum")
            #expect(
                queue?.arguments["x-single-active-consumer"] == .bool(true), "\(q) has one active consumer at a time")
        }
    }

    @Test func aConsumerDeclaresItsOwnQueueOnly() {
        let names = Names()
        let t = names.topology(for: Self.rules)
        let intake = t.consuming(names.intakeQueue)
        #expect(intake.queues.map(\.name) == [names.intakeQueue])
        #expect(!intake.bindings.isEmpty && intake.bindings.allSatisfy { $0.queue == names.intakeQueue })
        #expect(intake.exchanges == t.exchanges, "the bindings' exchanges exist before the bindings")
        #expect(intake.removedExchangeBindings == t.removedExchangeBindings)
        #expect(t.queues.count > 100, "the unit queues stay the publisher's: \(t.queues.count)")
    }

    @Test func processorRejectsWithTheFirstIssueAndKeepsTheBody() {
        let p = IntakeProcessor(ruleSet: Self.rules, names: Names())
        let body = Array(#"{"id":"X","channel":"fax"}"#.utf8)
        guard case .rejection(let r) = p.process(body: body, messageID: "m-1", now: Date()) else {
            Issue.record("expected a rejection")
            return
        }
        #expect(r.body == body)
        #expect(r.message.body == body)
        #expect(r.message.routingKey == "pagoda.rejected")
        #expect(r.message.headers["x-pagoda-original-message-id"] == "m-1")
        #expect(r.message.headers["x-pagoda-errors"]?.contains("channel") == true)
    }

    /// The header holds what fits in a frame; the stored rejection keeps every issue.
    @Test func aRejectionKeepsEveryIssueItsHeaderCannotHold() throws {
        let p = IntakeProcessor(ruleSet: Self.rules, names: Names())
        let keys = (0..<120).map { "\"\(String(repeating: "k", count: 150))\($0)\":1" }.joined(separator: ",")
        let body = Array(#"{"channel":"fax","caller":{"#.utf8) + Array(keys.utf8) + Array("}}".utf8)
        guard case .rejection(let r) = p.process(body: body, messageID: "m-big", now: Date()) else {
            Issue.record("expected a rejection")
            return
        }
        let header = try #require(r.message.headers["x-pagoda-errors"])
        #expect(header.utf8.count <= IntakeProcessor.issuesHeaderLimit)
        let issuesJSON = try #require(r.issuesJSON)
        let stored = try #require(try JSON.parse(Array(issuesJSON.utf8)).arrayValue)
        let sent = try #require(try JSON.parse(Array(header.utf8)).arrayValue)
        #expect(stored.count == TicketContract.maxIssues && sent.count < stored.count, "\(stored.count), \(sent.count)")
    }

    @Test func issueHeadersStayWithinAFrame() {
        let issues = (0..<100).map { i in
            ValidationIssue(
                path: "attachments[\(i)]", code: .type, message: String(repeating: "很长的说明", count: 60))
        }
        let header = IntakeProcessor.issuesHeader(issues)
        #expect(header.utf8.count <= IntakeProcessor.issuesHeaderLimit)
        guard case .array(let kept)? = try? JSON.parse(Array(header.utf8)) else {
            Issue.record("not a JSON array: \(header.prefix(80))")
            return
        }
        #expect(kept.count > 5 && kept.count < 100 && kept.first == issues[0].json)
        #expect(
            IntakeProcessor.issuesHeader(Array(issues.prefix(2)))
                == JSON.serializeToString(.array([issues[0].json, issues[1].json])))
    }

    @Test func dispatchMessagesCarryTheSequenceAndDecision() throws {
        let p = IntakeProcessor(ruleSet: Self.rules, names: Names())
        let body = Array(
            #"{"id":"FS-1","received_at":"2026-03-02T09:53:00+08:00","channel":"wechat","kind":"complaint","region":{"district":"南海区","town":"狮山镇","village":"务庄社区"},"text":"河涌受到污染","category":"living_environment"}"#
                .utf8)
        guard case .dispatch(let d) = p.process(body: body, messageID: nil, now: Date()) else {
            Issue.record("expected a dispatch")
            return
        }
        let messages = d.messages(42)
        #expect(messages.map(\.exchange) == ["pagoda.dispatch"], "one outbox row; the relay publishes the events copy")
        #expect(messages[0].routingKey == "unit.nanhai.shishan")
        #expect(messages[0].messageID == "FS-1/dispatch/42")
        guard case .object(let o) = try JSON.parse(messages[0].body) else {
            Issue.record("not an object")
            return
        }
        #expect(o["dispatch_seq"] == .number("42"))
        #expect(o["ticket"] == (try JSON.parse(body)), "the ticket goes out as intake sent it")
        #expect(messages[0].body.firstRange(of: body) != nil, "byte for byte")
        #expect(o["type"] == .string("ticket.dispatched"))
        guard case .object(let decision)? = o["decision"], case .object(let dest)? = decision["destination"] else {
            Issue.record("no decision")
            return
        }
        #expect(dest["queue"] == .string("pagoda.unit.nanhai.shishan"))
        #expect(d.decision.deadlines["resolve_by"] != nil)
    }
}
