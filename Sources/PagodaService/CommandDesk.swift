import CoreMetrics
import Foundation
import PagodaConsole
import PagodaJSON
import PagodaLifecycle
import PagodaRules
import PagodaStore
import ServiceLifecycle

/// Applies one command at a time, synchronously, for the web console: the same engine, codec and store
/// write as commands from `pagoda.commands` (`LifecycleService`), in one transaction per command.
///
/// Its write is version-checked like the lifecycle loop's: when the loop (or another writer) changed the
/// ticket between the desk's read and its write, the write is refused as a conflict and the desk reads
/// again; a timer batch the loop computed before and commits after finds the version moved on and leaves
/// those timers due for its next look (nothing lost, nothing doubled). Each event records the user as `by`. After the commit the relay is woken (the events' messages) and so is the
/// lifecycle loop (the ticket's timer changed).
public final class CommandDesk: ConsoleBackend {
    let store: any LifecycleStore
    let rules: LiveRules
    let codec: LifecycleCodec
    let metrics: ServiceMetrics
    let changed: @Sendable () -> Void
    let clock: @Sendable () -> Date

    /// `changed`: wakes the relay and the lifecycle loop.
    public init(
        store: any LifecycleStore, rules: LiveRules, codec: LifecycleCodec, metrics: ServiceMetrics,
        changed: @escaping @Sendable () -> Void, clock: @escaping @Sendable () -> Date = { Date() }
    ) {
        self.store = store
        self.rules = rules
        self.codec = codec
        self.metrics = metrics
        self.changed = changed
        self.clock = clock
    }

    public var ruleSet: RuleSet { rules.current.ruleSet }

    public func apply(_ command: Command, by user: String) async throws -> ConsoleCommandOutcome {
        // A conflict means the ticket changed between the read and the write: read again.
        for _ in 0..<5 {
            let now = clock()
            let lifecycle = rules.current.lifecycle
            let record = try await store.lifecycle([command.ticketID], withTicket: true)[command.ticketID]
            let (change, result) = try compute(command, record: record, lifecycle: lifecycle, by: user, now: now)
            guard let change else {
                metrics.commandsDuplicate.increment()
                return .duplicate
            }
            let outcome = try await store.applyLifecycle([change])[0]
            switch outcome {
            case .conflict: continue
            case .duplicateCommand:
                metrics.commandsDuplicate.increment()
                return .duplicate
            case .reusedCommandID:
                metrics.commandsRefused.increment()
                return .refused(
                    code: ValidationCode.reusedCommandID.rawValue,
                    reason: "command_id \(command.id) was used before for another command; send it under a new id")
            case .applied:
                if case .refused = result {
                    metrics.commandsRefused.increment()
                } else {
                    metrics.commandsApplied.increment()
                }
                changed()
                return result
            }
        }
        throw ConsoleError(.conflict, "工单状态正在变化，请稍后重试")
    }

    /// The change one command makes (nil for a command already applied) and what the console shows.
    private func compute(
        _ command: Command, record: LifecycleRecord?, lifecycle: Lifecycle, by user: String, now: Date
    ) throws -> (LifecycleChange?, ConsoleCommandOutcome) {
        let state = try record.map { try codec.decode($0.state) }
        var t = lifecycle.handle(command, state: state, now: now) { excluding in
            LifecycleService.reroute(record?.ticketBody, excluding: excluding, rules: lifecycle.rules)
        }
        if t.outcome == .duplicate { return (nil, .duplicate) }
        for i in t.events.indices {
            var fields = t.events[i].fields
            fields.set("by", .string(user))
            t.events[i].fields = fields
        }
        let write: StateWrite? = t.changed ? t.state.map(codec.encode) : nil
        var (rows, messages) = codec.encode(t.events, ticket: record?.ticketBody)
        if record == nil {
            for i in messages.indices { messages[i].messageID = "command/\(command.id)/\(i)" }
        }
        let change = LifecycleChange(
            ticketID: command.ticketID, expectedVersion: record?.version, state: write, events: rows,
            messages: messages,
            command: (command.id, command.action.type.rawValue, t.outcome.rawValue), at: now)
        if t.outcome == .refused, let refusal = t.events.first(where: { $0.type == .commandRejected }) {
            return (
                change,
                .refused(
                    code: refusal.fields["code"]?.stringValue ?? "refused",
                    reason: refusal.fields["reason"]?.stringValue ?? "")
            )
        }
        return (change, .applied(events: rows.map { (try? JSON.parse(Array($0.payloadJSON.utf8))) ?? .null }))
    }
}

/// The console's HTTP server, run as a service of the group. An address it cannot listen on fails the
/// group with an error naming the address and the flag.
struct ConsoleEndpoint: Service {
    let address: HostAndPort
    let server: any Service

    func run() async throws {
        do {
            try await server.run()
        } catch {
            throw StatusEndpoint.ListenError(
                description: "the console cannot listen on \(address) (--console-address): \(error)")
        }
    }
}

extension CommandDesk: ConsoleRulesHistory {
    public var rulesDirectory: String? { rules.loads.directory }
    public func ruleLoads() -> [ConsoleRuleLoad] { rules.loads.all }
}
