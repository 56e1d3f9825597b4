import CoreMetrics
import Foundation
import Logging
import PagodaConsole
import PagodaJSON
import PagodaLifecycle
import PagodaRules
import PagodaTransport
import ServiceLifecycle
import Synchronization
import UnixSignals

/// The rule set in force and what is built from it, replaced whole by a reload. Each batch of intake
/// deliveries, of commands or of due timers takes the current generation once and uses it throughout,
/// so a batch is never handled half under one rule set and half under the next.
///
/// A reload changes what happens to tickets from then on: new tickets are routed by the new rules, and
/// escalation uses the new calendar for the clocks it starts. Tickets already dispatched keep the SLA
/// profile, escalation policy and pagoda chain copied into their state at dispatch.
public final class LiveRules: Sendable {
    public struct Generation: Sendable {
        public let ruleSet: RuleSet
        public let processor: IntakeProcessor
        public let lifecycle: Lifecycle

        init(ruleSet: RuleSet, names: Names, startsLifecycle: Bool) {
            let lifecycle = Lifecycle(rules: ruleSet)
            self.ruleSet = ruleSet
            self.lifecycle = lifecycle
            processor = IntakeProcessor(ruleSet: ruleSet, names: names, lifecycle: startsLifecycle ? lifecycle : nil)
        }
    }

    private let box: Mutex<Generation>
    let names: Names
    let startsLifecycle: Bool
    /// The loads of the rules since start (the console's rules page).
    public let loads = RuleLoadLog()

    /// `startsLifecycle`: dispatches start each ticket's lifecycle (off only for the bare dispatch benchmark).
    public init(ruleSet: RuleSet, names: Names, startsLifecycle: Bool = true) {
        self.names = names
        self.startsLifecycle = startsLifecycle
        box = Mutex(Generation(ruleSet: ruleSet, names: names, startsLifecycle: startsLifecycle))
        loads.record(ConsoleRuleLoad(at: Date(), outcome: .started, hash: ruleSet.hash))
    }

    public var current: Generation { box.withLock { $0 } }

    /// Puts `ruleSet` in force.
    func replace(with ruleSet: RuleSet) {
        let next = Generation(ruleSet: ruleSet, names: names, startsLifecycle: startsLifecycle)
        box.withLock { $0 = next }
    }
}

/// Reloads the rule directory on SIGHUP, without stopping the service.
///
/// The files are read and compiled on a thread of their own, off the intake's and the lifecycle loop's
/// path: they keep taking the rules in force, which stay in force until a new rule set is complete. A rule
/// file over the limits (``RuleLimits``: its size, its aliases and what they expand to) is refused like any
/// other error. A rule set with errors is not put in force: each error is logged with its file, line and
/// column, and the rules in force stay. Before a new rule set is put in force, the queues of its units are
/// declared on the broker (on a connection of its own), so no dispatch can go to a queue that does not
/// exist yet; if the broker cannot be reached, the reload fails and can be asked for again. Queues of units
/// that a reload removes are kept, and stay in what the publisher declares on reconnecting: tickets held
/// by those units still reach them.
///
/// Graceful shutdown during a reload stops it: the reading and compiling look at a flag between files,
/// every few thousand YAML events and between the compiler's phases, and nothing is put in force after it
/// is set.
final class RulesReloader: Service {
    enum Outcome: Sendable, Equatable {
        /// The files compile to the rule set in force (same hash).
        case unchanged(hash: String)
        case reloaded(previousHash: String, hash: String)
        /// Nothing changed; why, in one line.
        case failed(String)
        /// Given up for a graceful shutdown; nothing changed.
        case stopped
    }

    let directory: String
    let live: LiveRules
    let publisher: AMQPPublisher
    let amqp: AMQPConfiguration
    let metrics: ServiceMetrics
    let logger: Logger
    let limits: RuleLimits
    /// SIGHUP, trapped from before the service says it is serving (its default action ends the process).
    let hangups: UnixSignalsSequence
    /// Reading, compiling and declaring block: they run here, never on the Swift concurrency pool.
    let queue = BlockingQueue(label: "pagoda.rules")
    /// The diagnostics of the last reload (`file:line:column: severity: message`), for the load log.
    let lastDiagnostics = Mutex<[String]>([])

    init(
        directory: String, live: LiveRules, publisher: AMQPPublisher, amqp: AMQPConfiguration, metrics: ServiceMetrics,
        logger: Logger,
        hangups: UnixSignalsSequence, limits: RuleLimits = .standard
    ) {
        self.hangups = hangups
        self.directory = directory
        self.live = live
        self.publisher = publisher
        self.amqp = amqp
        self.metrics = metrics
        self.logger = logger
        self.limits = limits
    }

    func run() async throws {
        for await _ in hangups.cancelOnGracefulShutdown() {
            logger.info("SIGHUP: reloading the rules", metadata: ["rules.directory": "\(directory)"])
            await reload()
        }
    }

    /// Reads and compiles the rule directory and puts the result in force (see the type's comment).
    /// Returns `.stopped`, having changed nothing, when graceful shutdown or cancellation comes first.
    @discardableResult
    func reload() async -> Outcome {
        let stop = StopFlag()
        let outcome: Outcome
        do {
            outcome = try await withTaskCancellationHandler {
                try await withGracefulShutdownHandler {
                    try await queue.run { [self] in reloadBlocking(stop: stop) }
                } onGracefulShutdown: {
                    stop.set()
                }
            } onCancel: {
                stop.set()
            }
        } catch {
            outcome = .failed("\(error)")
        }
        live.loads.record(outcome, diagnostics: lastDiagnostics.withLock { $0 }, inForce: live.current.ruleSet.hash)
        switch outcome {
        case .unchanged(let hash):
            logger.info("rules unchanged", metadata: ["rules.hash": "\(hash.prefix(12))"])
        case .reloaded:
            metrics.rulesReloaded.increment()
        case .failed(let why):
            metrics.rulesReloadFailed.increment()
            logger.error(
                "rules reload failed; the rules in force stay",
                metadata: [
                    "rules.hash": "\(live.current.ruleSet.hash.prefix(12))", "reason": "\(why)",
                ])
        case .stopped:
            logger.info(
                "rules reload stopped for shutdown; the rules in force stay",
                metadata: [
                    "rules.hash": "\(live.current.ruleSet.hash.prefix(12))"
                ])
        }
        return outcome
    }

    private func reloadBlocking(stop: StopFlag) -> Outcome {
        lastDiagnostics.withLock { $0 = [] }
        let files: [RuleFile]
        do {
            files = try RuleSetCompiler.readFiles(in: directory, limits: limits)
        } catch {
            return .failed("cannot read the rule directory '\(directory)': \(error)")
        }
        if stop.isSet { return .stopped }
        // today: the calendar-coverage warning
        let result = RuleSetCompiler.compile(files, today: Date(), limits: limits, shouldStop: { stop.isSet })
        if result.stopped { return .stopped }
        lastDiagnostics.withLock { $0 = result.diagnostics.prefix(100).map { "\($0)" } }
        let errors = result.diagnostics.filter { $0.severity == .error }
        for d in errors.prefix(50) { logger.error("\(d)") }
        if errors.count > 50 { logger.error("... and \(errors.count - 50) more errors") }
        guard let ruleSet = result.ruleSet else {
            return .failed("\(errors.count) error\(errors.count == 1 ? "" : "s") in the rule directory '\(directory)'")
        }
        for d in result.diagnostics where d.severity != .error { logger.warning("\(d)") }
        let previous = live.current.ruleSet
        if ruleSet.hash == previous.hash { return .unchanged(hash: ruleSet.hash) }

        if stop.isSet { return .stopped }
        let topology = live.names.topology(for: ruleSet)
        do {
            try topology.declare(configuration: amqp, logger: logger)
        } catch {
            return .failed("cannot declare the new rules' queues on the broker: \(error)")
        }
        if stop.isSet { return .stopped }
        publisher.setTopology(publisher.topology.adding(topology))
        live.replace(with: ruleSet)

        let before = Set(previous.units.map(\.id))
        let after = Set(ruleSet.units.map(\.id))
        let added = ruleSet.units.map(\.id).filter { !before.contains($0) }
        let removed = previous.units.map(\.id).filter { !after.contains($0) }
        var metadata: Logger.Metadata = [
            "rules.hash": "\(ruleSet.hash.prefix(12))", "rules.previous_hash": "\(previous.hash.prefix(12))",
            "units": "\(ruleSet.units.count)", "routes": "\(ruleSet.routes.count)",
        ]
        if !added.isEmpty {
            metadata["units.added"] = "\(added.prefix(20).joined(separator: ","))\(added.count > 20 ? ",..." : "")"
        }
        if !removed.isEmpty {
            metadata["units.removed"] =
                "\(removed.prefix(20).joined(separator: ","))\(removed.count > 20 ? ",..." : "")"
        }
        logger.info("rules reloaded", metadata: metadata)
        return .reloaded(previousHash: previous.hash, hash: ruleSet.hash)
    }
}

/// Set once, from any thread, to ask a reload in progress to stop; read by the reloading thread.
final class StopFlag: Sendable {
    private let value = Atomic<Bool>(false)
    func set() { value.store(true, ordering: .relaxed) }
    var isSet: Bool { value.load(ordering: .relaxed) }
}

/// The loads of the rules since the service started, newest last, at most 100 (the console's rules page).
public final class RuleLoadLog: Sendable {
    private let entries = Mutex<[ConsoleRuleLoad]>([])
    private let directoryPath = Mutex<String?>(nil)

    /// The rule directory the rules are loaded from (set by the server).
    public var directory: String? {
        get { directoryPath.withLock { $0 } }
        set { directoryPath.withLock { $0 = newValue } }
    }

    public func record(_ load: ConsoleRuleLoad) {
        entries.withLock {
            $0.append(load)
            if $0.count > 100 { $0.removeFirst($0.count - 100) }
        }
    }

    /// A reload's outcome, with the diagnostics it gave and the hash in force after it.
    func record(_ outcome: RulesReloader.Outcome, diagnostics: [String], inForce: String) {
        switch outcome {
        case .unchanged(let hash):
            record(ConsoleRuleLoad(at: Date(), outcome: .unchanged, hash: hash, diagnostics: diagnostics))
        case .reloaded(_, let hash):
            record(ConsoleRuleLoad(at: Date(), outcome: .reloaded, hash: hash, diagnostics: diagnostics))
        case .failed(let why):
            record(ConsoleRuleLoad(at: Date(), outcome: .failed, hash: inForce, reason: why, diagnostics: diagnostics))
        case .stopped: break
        }
    }

    public var all: [ConsoleRuleLoad] { entries.withLock { $0 } }
}
