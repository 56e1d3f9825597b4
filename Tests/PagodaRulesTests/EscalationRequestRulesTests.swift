import Foundation
import PagodaJSON
import Testing

@testable import PagodaRules

/// The escalation policy's keys for requests and reminders: `return_review`, `extension_review`,
/// `request_pauses`, `at_top.remind_any_time`.
@Suite struct EscalationRequestRulesTests {
    static func compile(escalation: String, sourceLocation: Testing.SourceLocation = #_sourceLocation) throws
        -> RuleSet
    {
        let files = try Fixtures.goldenFiles(case: nil) + [RuleFile(path: "escalation.yaml", text: escalation)]
        return try Fixtures.compile(files, sourceLocation: sourceLocation)
    }

    @Test func theKeysAreReadIntoThePolicy() throws {
        let rules = try Self.compile(
            escalation: """
                escalation:
                  default:
                    clocks: [sign, resolve]
                    return_review: 2wh
                    extension_review: 1wd
                    request_pauses: [sign, contact, resolve]
                    at_top: {action: supervise, remind_every: 4h, remind_any_time: [emergency]}
                """)
        let p = try #require(rules.policies["default"])
        #expect(p.returnReview == .workingHours(minutes: 120))
        #expect(p.extensionReview == .workingDays(1))
        #expect(p.requestPauses == [.sign, .contact, .resolve])
        #expect(p.remindAnyTime == [.emergency])
    }

    @Test func withoutThemAPolicyHasNoReviewAndTheDefaults() throws {
        let rules = try Self.compile(
            escalation: """
                escalation:
                  default:
                    clocks: [sign, resolve]
                    at_top: {action: supervise, remind_every: 4h}
                  none:
                    request_pauses: []
                    at_top: {remind_any_time: []}
                """)
        let p = try #require(rules.policies["default"])
        #expect(p.returnReview == nil && p.extensionReview == nil)
        #expect(p.requestPauses == [.sign, .contact] && p.remindAnyTime == [.urgent, .emergency])
        let none = try #require(rules.policies["none"])
        #expect(none.requestPauses.isEmpty && none.remindAnyTime.isEmpty)
        // The built-in policy of a rule set without escalation.yaml has the defaults too.
        let bare = try Fixtures.baseRuleSet
        #expect(bare.policies["default"]?.requestPauses == [.sign, .contact])
        #expect(bare.policies["default"]?.returnReview == nil)
    }

    @Test func theRepositoryRulesSetThem() throws {
        let dir = Fixtures.repositoryRoot.appendingPathComponent("rules").path
        let rules = try Fixtures.compile(try RuleSetCompiler.readFiles(in: dir))
        #expect(rules.policies["default"]?.returnReview == .workingHours(minutes: 120))
        #expect(rules.policies["urgent"]?.returnReview == .natural(seconds: 3_600))
        #expect(rules.policies.values.allSatisfy { $0.returnReview != nil && $0.extensionReview != nil })
    }
}
