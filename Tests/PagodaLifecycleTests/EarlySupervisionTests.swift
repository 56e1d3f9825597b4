import Foundation
import PagodaJSON
import PagodaLifecycle
import PagodaRules
import Testing

/// `supervise_at` (issue 22, part 3): a ticket still open at the point of its clock the rules name goes to
/// supervision (督办) with the reason `supervise_at`.
@Suite struct EarlySupervisionTests {
    /// The Foshan rules with their enterprise policy also supervising at half of the resolve clock.
    static func rules() throws -> RuleSet {
        var files = try RuleSetCompiler.readFiles(in: LC.repositoryRoot.appendingPathComponent("rules").path)
        files.removeAll { $0.path.hasSuffix("/policies.yaml") }
        files.append(
            RuleFile(
                path: "zz-policies.yaml",
                text: """
                    policies:
                      - {id: pol-urgent, when: {urgency: [urgent, emergency]}, escalation: urgent}
                      - {id: pol-enterprise, when: {enterprise: true}, escalation: enterprise, supervise_at: 50%}

                    """))
        let result = RuleSetCompiler.compile(files)
        return try #require(result.ruleSet, "\(result.diagnostics.filter { $0.severity == .error })")
    }

    @Test func aTicketStillOpenAtSuperviseAtIsSupervised() throws {
        let rules = try Self.rules()
        let d = rules.route(try LC.ticket(LC.Sample.enterprise))
        let at = try #require(d.superviseAt)
        let resolve = try #require(d.deadline(.resolve))
        #expect(at > LC.monday && at < resolve)
        let lifecycle = Lifecycle(rules: rules)
        let t = lifecycle.dispatch(DispatchInput(decision: d, receivedAt: LC.monday), now: LC.monday)
        var r = Run(lifecycle: lifecycle, state: try #require(t.state), now: LC.monday, log: t.events, dispatch: t)
        // The unit signs and calls in time, so nothing but the early supervision is due before it.
        r.send(.sign, time: LC.at("2026-03-02T09:10:00+08:00"))
        r.send(.contact(note: nil), time: LC.at("2026-03-02T09:30:00+08:00"))
        while !r.state.supervised, r.fireNext() != nil {}
        #expect(r.now == at)
        let e = try #require(r.log.last)
        #expect(e.type == .supervised && e.string("reason") == "supervise_at")
    }
}
