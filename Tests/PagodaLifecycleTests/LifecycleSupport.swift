import Foundation
import PagodaJSON
import PagodaLifecycle
import PagodaRules
import Testing

/// Fixtures shared by the lifecycle tests: the Foshan rule set of `rules/`, sample tickets, and a driver
/// that feeds one ticket's commands and timers through the state machine. Every time is explicit: nothing
/// here reads the wall clock.
enum LC {
    /// The repository root, found from this file (which may be reached through a symlink).
    static let repositoryRoot = URL(fileURLWithPath: #filePath).resolvingSymlinksInPath()
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    /// The Foshan rule set, compiled once for all tests.
    private static let compiled: Result<RuleSet, LoadFailure> = {
        let dir = repositoryRoot.appendingPathComponent("rules").path
        let files: [RuleFile]
        do { files = try RuleSetCompiler.readFiles(in: dir) } catch { return .failure(LoadFailure(text: "\(error)")) }
        let result = RuleSetCompiler.compile(files)
        let errors = result.diagnostics.filter { $0.severity == .error }
        guard errors.isEmpty, let ruleSet = result.ruleSet else {
            return .failure(LoadFailure(text: DiagnosticRenderer.text(errors, limit: 10)))
        }
        return .success(ruleSet)
    }()

    struct LoadFailure: Error, CustomStringConvertible {
        let text: String
        var description: String { text }
    }

    static func rules(sourceLocation: Testing.SourceLocation = #_sourceLocation) throws -> RuleSet {
        switch compiled {
        case .success(let r): return r
        case .failure(let e):
            Issue.record("rules/ does not compile: \(e)", sourceLocation: sourceLocation)
            throw e
        }
    }

    static func lifecycle(sourceLocation: Testing.SourceLocation = #_sourceLocation) throws -> Lifecycle {
        Lifecycle(rules: try rules(sourceLocation: sourceLocation))
    }

    // MARK: Time

    /// Foshan local time (+08:00).
    static let offset = 28_800

    /// An RFC 3339 literal as a date (`"2026-03-02T09:00:00+08:00"`).
    static func at(_ text: String, sourceLocation: Testing.SourceLocation = #_sourceLocation) -> Date {
        guard let parsed = RFC3339.parse(text) else {
            Issue.record("bad time literal \(text)", sourceLocation: sourceLocation)
            return .distantPast
        }
        return parsed.date
    }

    static func format(_ date: Date?) -> String? { date.map { RFC3339.format($0, offsetSeconds: offset) } }

    /// Monday 2026-03-02 09:00, an ordinary working day: the default receipt time.
    static let monday = at("2026-03-02T09:00:00+08:00")

    // MARK: Tickets

    /// Sample tickets of the Foshan rules, as intake fields laid over `T-1`, a complaint received `monday`.
    enum Sample {
        /// Consumer rights in 禅城区/祖庙街道 -> chancheng.market (district), `appeal`, policy `default`.
        static let complaint: [String: JSONValue] = [
            "category": "consumer_rights", "region": ["district": "禅城区", "town": "祖庙街道"], "text": "商家拒绝退货。",
        ]
        /// A livelihood matter of a town -> chancheng.zumiao (town), `appeal`, policy `default`.
        static let town: [String: JSONValue] = [
            "category": "social_livelihood", "region": ["district": "禅城区", "town": "祖庙街道"], "text": "小区长者饭堂长期关闭。",
        ]
        /// Urgent help in a village -> nanhai.shishan.wuzhuang (village), `urgent-1213`, policy `urgent`.
        static let villageUrgent: [String: JSONValue] = [
            "kind": "help", "category": "social_livelihood", "urgency": "urgent",
            "region": ["district": "南海区", "town": "狮山镇", "village": "务庄社区"], "text": "独居老人家里水管爆裂，屋内水浸。",
        ]
        /// An enterprise's help request -> chancheng.enterprise (district), `enterprise`, policy `enterprise`.
        static let enterprise: [String: JSONValue] = [
            "kind": "help", "category": "enterprise_services", "region": ["district": "禅城区", "town": "祖庙街道"],
            "enterprise": ["name": "佛山市禅城区祖庙贸易有限公司", "credit_code": "91440604MA4X00E90F"],
            "text": "企业用电报装迟迟未通电。",
        ]
        /// A fire: handed to 119.
        static let fire: [String: JSONValue] = ["region": ["district": "禅城区", "town": "祖庙街道"], "text": "仓库起火了，浓烟很大。"]
    }

    static func ticket(
        _ fields: [String: JSONValue], receivedAt: Date = monday, id: String = "T-1",
        sourceLocation: Testing.SourceLocation = #_sourceLocation
    ) throws -> Ticket {
        var object = JSONObject([
            ("id", .string(id)), ("received_at", .string(RFC3339.format(receivedAt, offsetSeconds: offset))),
            ("channel", "hotline"), ("kind", "complaint"), ("text", "有问题需要处理"),
        ])
        for key in fields.keys.sorted() { object.set(key, fields[key]!) }
        switch TicketContract.validate(.object(object)) {
        case .success(let t): return t
        case .failure(let e):
            Issue.record("invalid test ticket: \(e.issues)", sourceLocation: sourceLocation)
            throw e
        }
    }

    static func decision(
        _ fields: [String: JSONValue], receivedAt: Date = monday,
        sourceLocation: Testing.SourceLocation = #_sourceLocation
    ) throws -> Decision {
        try rules(sourceLocation: sourceLocation).route(
            ticket(fields, receivedAt: receivedAt, sourceLocation: sourceLocation))
    }

    /// Dispatches a sample ticket at its receipt time and returns the driver holding it.
    static func run(
        _ fields: [String: JSONValue], receivedAt: Date = monday, repeatOf: String? = nil,
        enterpriseRepeat: Bool = false,
        configure: (inout Lifecycle) -> Void = { _ in },
        sourceLocation: Testing.SourceLocation = #_sourceLocation
    ) throws -> Run {
        var lifecycle = try lifecycle(sourceLocation: sourceLocation)
        configure(&lifecycle)
        let d = try decision(fields, receivedAt: receivedAt, sourceLocation: sourceLocation)
        let t = lifecycle.dispatch(
            DispatchInput(decision: d, receivedAt: receivedAt, repeatOf: repeatOf, enterpriseRepeat: enterpriseRepeat),
            now: receivedAt)
        #expect(t.outcome == .applied, sourceLocation: sourceLocation)
        let state = try #require(t.state, sourceLocation: sourceLocation)
        return Run(lifecycle: lifecycle, state: state, now: receivedAt, log: t.events, dispatch: t)
    }
}

/// One ticket driven through the lifecycle: commands and timers, with the time moving forward.
struct Run {
    var lifecycle: Lifecycle
    var state: TicketState
    /// The dispatcher's clock; every input is given this time.
    var now: Date
    /// Every event so far.
    var log: [LifecycleEvent]
    /// The dispatch transition.
    var dispatch: Transition
    private var counter = 0

    init(lifecycle: Lifecycle, state: TicketState, now: Date, log: [LifecycleEvent], dispatch: Transition) {
        self.lifecycle = lifecycle
        self.state = state
        self.now = now
        self.log = log
        self.dispatch = dispatch
    }

    var holder: String? { state.holder?.unit }

    /// A fresh command id.
    mutating func nextID() -> String {
        counter += 1
        return "cmd-\(counter)"
    }

    /// Builds a command of `unit` (default: the holder) dated `at` (default: now).
    mutating func command(
        _ action: Command.Action, from unit: String? = nil, at: Date? = nil, id: String? = nil,
        replyTo: String? = nil
    ) -> Command {
        Command(
            id: id ?? nextID(), ticketID: state.ticketID, unit: unit ?? holder ?? "nobody", at: at ?? now,
            action: action, replyTo: replyTo)
    }

    /// Sends a command at `now` (moved to `time` first when given) and keeps the new state.
    @discardableResult
    mutating func send(
        _ action: Command.Action, from unit: String? = nil, time: Date? = nil, at: Date? = nil,
        id: String? = nil, expect outcome: Transition.Outcome = .applied,
        reroute: (Set<String>) -> String? = { _ in nil },
        sourceLocation: Testing.SourceLocation = #_sourceLocation
    ) -> Transition {
        if let time { now = time }
        let c = command(action, from: unit, at: at, id: id)
        return apply(c, expect: outcome, reroute: reroute, sourceLocation: sourceLocation)
    }

    @discardableResult
    mutating func apply(
        _ c: Command, expect outcome: Transition.Outcome = .applied,
        reroute: (Set<String>) -> String? = { _ in nil },
        sourceLocation: Testing.SourceLocation = #_sourceLocation
    ) -> Transition {
        let t = lifecycle.handle(c, state: state, now: now, reroute: reroute)
        #expect(
            t.outcome == outcome, "\(c.action.type.rawValue) from \(c.unit): \(t.refusalCode ?? "-")",
            sourceLocation: sourceLocation)
        if let s = t.state { state = s }
        log += t.events
        return t
    }

    /// Fires the ticket's timer at `time` with the current token.
    @discardableResult
    mutating func fire(at time: Date, sourceLocation: Testing.SourceLocation = #_sourceLocation) -> Transition {
        now = time
        let t = lifecycle.fire(state, token: state.version, now: time)
        #expect(t.outcome == .applied, sourceLocation: sourceLocation)
        if let s = t.state { state = s }
        log += t.events
        return t
    }

    /// Fires the timer when it falls due; nil when the ticket waits for nothing.
    @discardableResult
    mutating func fireNext(sourceLocation: Testing.SourceLocation = #_sourceLocation) -> Transition? {
        guard let at = state.nextTimer else { return nil }
        #expect(at >= now, "a timer in the past: \(LC.format(at) ?? "")", sourceLocation: sourceLocation)
        return fire(at: at, sourceLocation: sourceLocation)
    }

    /// Fires the timer when it falls due; a test failure when no timer is pending.
    @discardableResult
    mutating func fireDue(sourceLocation: Testing.SourceLocation = #_sourceLocation) throws -> Transition {
        let t = fireNext(sourceLocation: sourceLocation)
        return try #require(t, "no timer is pending", sourceLocation: sourceLocation)
    }

    /// The due time of a clock, formatted in Foshan time.
    func due(_ clock: Clock) -> String? { LC.format(state.clock(clock)?.due) }
}

extension Transition {
    var types: [EventType] { events.map(\.type) }
    /// The refusal code of a refused command.
    var refusalCode: String? { events.first { $0.type == .commandRejected }?.fields["code"]?.stringValue }
}

extension LifecycleEvent {
    func string(_ key: String) -> String? { fields[key]?.stringValue }
}
