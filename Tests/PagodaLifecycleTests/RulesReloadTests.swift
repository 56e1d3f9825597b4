import Foundation
import PagodaJSON
import PagodaLifecycle
import PagodaRules
import Testing

/// A rules reload while tickets are open: the service puts a `Lifecycle` of the new rules in force, and a
/// ticket dispatched before runs on the SLA profile, escalation policy and pagoda chain it was dispatched
/// with.
@Suite struct RulesReloadTests {
    /// The Foshan rules with other urgent time limits, another urgent escalation policy and a new unit,
    /// city.lighting, that takes over the village's urgent help.
    static func changedRules() throws -> RuleSet {
        let dir = LC.repositoryRoot.appendingPathComponent("rules").path
        let files = try RuleSetCompiler.readFiles(in: dir).map { f -> RuleFile in
            var text = f.text
            switch URL(fileURLWithPath: f.path).lastPathComponent {
            case "sla.yaml":
                text = text.replacingOccurrences(
                    of: "clocks: {sign: 30m, contact: 1h, onsite: 2h, answer: 1wd, resolve: 3wd}",
                    with: "clocks: {sign: 10m, contact: 20m, onsite: 40m, answer: 2wd, resolve: 5wd}")
            case "escalation.yaml":
                text = text.replacingOccurrences(
                    of:
                        "clocks: [sign, contact, resolve]\n    to_parent: true\n    at_top: {action: supervise, remind_every: 1h}",
                    with: "clocks: [resolve]\n    to_parent: true\n    at_top: {action: supervise, remind_every: 3h}")
            case "units.yaml":
                text = text.replacingOccurrences(
                    of: "units:\n",
                    with: "units:\n  - id: city.lighting\n    name: 佛山市路灯管理所\n    level: city\n    function: lighting\n"
                )
            default: break
            }
            return RuleFile(path: f.path, text: text)
        }
        let result = RuleSetCompiler.compile(files)
        return try #require(
            result.ruleSet, "\(DiagnosticRenderer.text(result.diagnostics.filter { $0.severity == .error }))")
    }

    @Test func openTicketsKeepTheRulesTheyWereDispatchedUnder() throws {
        let newRules = try Self.changedRules()
        let old = try LC.rules()
        #expect(newRules.hash != old.hash)
        #expect(newRules.unit(id: "city.lighting") != nil && old.unit(id: "city.lighting") == nil)

        // The reload really changes what a new dispatch gets: other deadlines, another policy.
        let ticket = try LC.ticket(LC.Sample.villageUrgent)
        let before = try #require(
            Lifecycle(rules: old).dispatch(
                DispatchInput(decision: old.route(ticket), receivedAt: LC.monday), now: LC.monday
            ).state)
        let after = try #require(
            Lifecycle(rules: newRules).dispatch(
                DispatchInput(decision: newRules.route(ticket), receivedAt: LC.monday), now: LC.monday
            ).state)
        #expect(before.clocks.map { $0.due } != after.clocks.map { $0.due })
        #expect(before.policy.clocks != after.policy.clocks)

        // One ticket with nobody acting, climbing from the village to supervision: under the old rules
        // throughout, and with the new rules put in force right after its dispatch.
        var kept = try LC.run(LC.Sample.villageUrgent)
        var reloaded = kept
        reloaded.lifecycle = Lifecycle(rules: newRules)
        for _ in 0..<12 {
            kept.fireNext()
            reloaded.fireNext()
        }
        #expect(kept.holder == "city.supervision" && kept.state.supervised)
        #expect(kept.log.contains { $0.type == .escalated })
        #expect(
            reloaded.log.map { $0.json(offsetSeconds: LC.offset) } == kept.log.map { $0.json(offsetSeconds: LC.offset) }
        )
        #expect(reloaded.state.clocks.map { $0.due } == kept.state.clocks.map { $0.due })
        #expect(reloaded.state.nextTimer == kept.state.nextTimer)
    }
}
