import CoreMetrics
import Foundation
import Hummingbird
import Logging
import PagodaConsole
import PagodaJSON
import PagodaLifecycle
import PagodaPostgres
import PagodaRules
import PagodaStore
import PagodaTransport
import ServiceLifecycle
import Synchronization
import UnixSignals

/// Everything `pagoda serve` needs to know.
public struct ServerConfiguration: Sendable {
    public var rulesDirectory: String
    public var amqp: AMQPConfiguration
    public var databasePath: String
    public var synchronousFull: Bool = true
    public var names = Names()
    public var prefetch: UInt16 = 2000
    public var publishWindow: Int = 1024
    public var maxBatch: Int = 500
    /// Run the lifecycle (worker commands, timers); off only for the bare dispatch benchmark.
    public var lifecycle = true
    /// The longest the lifecycle loop sleeps without looking at the timer table. It sleeps until the next
    /// due timer and is woken by commands and new dispatches, so this only bounds how late a timer can be
    /// after a change the loop was not told of (the system clock set forward).
    public var timerPoll: Duration = .seconds(2)
    /// Where to serve `/metrics`, `/health` and `/ready` (`ServiceStatus`); nil: no HTTP endpoint.
    public var statusEndpoint: HostAndPort?
    /// The web console and its API (`--console-address`); nil: none. Needs the lifecycle.
    public var console: ConsoleConfiguration?
    /// How long messages the broker confirmed stay in the outbox before `OutboxRetention` deletes them.
    public var outboxRetention = OutboxRetentionPeriod.default
    /// Several nodes on PostgreSQL (`NodeLease`): how long the database keeps the lease after each renewal,
    /// how often the active node renews it, and how much sooner than the database's expiry the node itself
    /// stops (its local deadline).
    public var leaseTTL: Duration = .seconds(5)
    public var leaseRenewal: Duration = .seconds(1)
    public var leaseMargin: Duration = .seconds(1)

    public init(rulesDirectory: String, amqp: AMQPConfiguration, databasePath: String) {
        self.rulesDirectory = rulesDirectory
        self.amqp = amqp
        self.databasePath = databasePath
    }
}

/// The broker holds queues with other arguments than this version declares (an earlier version's: a
/// classic queue, or one without a single active consumer): the service refuses to start rather than
/// retrying forever, and names the command that moves the queues over.
public struct QueueArgumentsMismatch: Error, CustomStringConvertible, Sendable {
    public let queues: [String]
    public let brokerText: String

    public var description: String {
        "the broker holds \(queues.joined(separator: ", ")) with other arguments than this version declares (\(brokerText)); "
            + "stop every pagoda serve and every consumer of them and run `pagoda migrate-queues` with the same --amqp-url, "
            + "--prefix and --rules (docs/operations.md, \"Moving the queues over\")"
    }
}

/// A listening address, `HOST:PORT` (port 0: any free port, logged once listening).
public struct HostAndPort: Sendable, Equatable, CustomStringConvertible {
    public var host: String
    public var port: Int

    public init(host: String, port: Int) {
        self.host = host
        self.port = port
    }

    /// `HOST:PORT`, `[IPv6]:PORT` or `:PORT` (all interfaces); nil when it is none of these.
    public init?(parsing text: String) {
        guard let colon = text.lastIndex(of: ":"), let port = Int(text[text.index(after: colon)...]),
            (0...65_535).contains(port)
        else { return nil }
        var host = String(text[..<colon])
        if host.hasPrefix("[") && host.hasSuffix("]") { host = String(host.dropFirst().dropLast()) }
        if host.isEmpty { host = "0.0.0.0" }
        guard !host.contains(" ") else { return nil }
        self.init(host: host, port: port)
    }

    public var description: String { host.contains(":") ? "[\(host)]:\(port)" : "\(host):\(port)" }
}

/// The dispatch service: intake consumer, SQLite store, outbox relay, run as one service group with
/// graceful shutdown on SIGTERM and SIGINT, and the rule directory reloaded on SIGHUP (`RulesReloader`).
///
/// Shutdown order: intake stops consuming and settles what it received (every delivery acknowledged
/// after its commit), then the relay publishes what is left in the outbox and waits for confirms, then
/// the process exits 0. Whatever is still unsent is in the database and goes out at the next start.
public struct PagodaServer: Sendable {
    public let configuration: ServerConfiguration
    /// The rules at start; a reload replaces them in the running service only.
    public let ruleSet: RuleSet
    /// The service's metrics, in a Prometheus registry of its own (not the global `MetricsSystem`): several
    /// servers in one process count apart.
    public let metrics: ServiceMetrics
    /// The registry behind `metrics`, whose text the status endpoint serves.
    public let export: PrometheusExport
    let logger: Logger

    /// `alsoTo`: a further swift-metrics factory that sees every metric too (tests give a `TestMetrics`).
    public init(
        configuration: ServerConfiguration, ruleSet: RuleSet, logger: Logger,
        export: PrometheusExport = PrometheusExport(), alsoTo extra: (any MetricsFactory)? = nil
    ) {
        self.configuration = configuration
        self.ruleSet = ruleSet
        self.logger = logger
        self.export = export
        metrics = ServiceMetrics(factory: extra.map { MultiplexMetricsHandler(factories: [export, $0]) } ?? export)
    }

    /// Declares every queue of the topology once before starting, on a connection of its own: a queue an
    /// earlier version declared with other arguments (a classic queue, or one without a single active
    /// consumer) fails with 406 PRECONDITION_FAILED, and the queues that do are thrown, by name, as
    /// `QueueArgumentsMismatch`. A broker that cannot be reached is left to the consumers' reconnection
    /// (they log the broker's refusal if they meet it later).
    static func checkQueues(_ topology: Topology, amqp: AMQPConfiguration, logger: Logger) async throws {
        // Declaring is a blocking rabbitmq-c exchange on a connection of its own: off the concurrency pool.
        let declaring = BlockingQueue(label: "pagoda.check-queues")
        func declare(_ queues: [Topology.Queue]) async throws {
            try await declaring.run {
                try Topology(exchanges: topology.exchanges, queues: queues).declare(configuration: amqp, logger: logger)
            }
        }
        var mismatched: [String] = []
        var text = ""
        do {
            // All at once first; one at a time only to name the queues a refusal is about (a refusal closes
            // the channel, so each one takes a connection).
            try await declare(topology.queues)
            return
        } catch AMQPError.channelClosed(406, _, _) {
            for q in topology.queues {
                do {
                    try await declare([q])
                } catch AMQPError.channelClosed(406, let t, _) {
                    mismatched.append(q.name)
                    text = t
                }
            }
        } catch {
            logger.warning(
                "cannot check the queues' arguments now; the consumers declare them when the broker is reachable",
                metadata: ["error": "\(error)"])
            return
        }
        if !mismatched.isEmpty {
            let error = QueueArgumentsMismatch(queues: mismatched, brokerText: text)
            logger.critical(
                "queues have other arguments", metadata: ["queues": "\(mismatched)", "error": "\(error)"])
            throw error
        }
    }

    public func run() async throws {
        let c = configuration
        if PostgresStoreConfiguration.isURL(c.databasePath) {
            let pg = try PostgresStoreConfiguration(url: c.databasePath)
            let store: PostgresStore
            do {
                store = try await PostgresStore.open(pg, logger: logger)
            } catch {
                logger.critical("cannot open the database", metadata: ["db": "\(pg)", "error": "\(error)"])
                throw error
            }
            do {
                try await run(
                    store: store, lease: store, checkpointer: nil, console: store, databaseDescription: pg.description)
            } catch {
                await store.close()
                throw error
            }
            await store.close()
            return
        }
        // One serve per database: a second one would run a second relay over the same outbox. Held until
        // `run` returns; taken before the store is opened, so a refused start touches nothing.
        // The lock file lives beside the database: its directory is made first, as the store would.
        try DispatchStore.prepareFiles(at: c.databasePath)
        let lock: InstanceLock
        do {
            lock = try InstanceLock(database: c.databasePath)
        } catch {
            let message: Logger.Message =
                error.code == .held ? "another instance holds the database" : "cannot lock the database"
            logger.critical(
                message,
                metadata: [
                    "db.path": "\(c.databasePath)", "lock.path": "\(error.path)",
                    "lock.holder_pid": "\(error.holder.map(String.init) ?? "-")", "error": "\(error)",
                ])
            throw error
        }
        defer { withExtendedLifetime(lock) {} }
        let store = try DispatchStore(
            StoreConfiguration(
                path: c.databasePath, synchronous: c.synchronousFull ? .full : .normal,
                backgroundCheckpoints: true))
        try await run(
            store: store, lease: nil, checkpointer: Checkpointer(store: store, logger: logger), console: store,
            databaseDescription: c.databasePath)
    }

    /// Runs the service group on `store`: SQLite's with its checkpointer, or PostgreSQL's (no checkpointer);
    /// `console` is the same store, read by the console.
    ///
    /// With one node (SQLite) the active services (intake, the lifecycle loop, the relay, retention, the
    /// console) run in the group from the start. On PostgreSQL (`lease`) any number of nodes may share the
    /// database, and the node starts as a standby: its pool and its publisher stay connected, `NodeLease`
    /// competes for the lease, and `ActiveRole` runs the active services for as long as the node holds it,
    /// building them again at each term (docs/architecture.md, "Several nodes, one active").
    private func run(
        store: any ServingStore, lease leaseStore: PostgresStore?, checkpointer: Checkpointer?,
        console consoleStore: any ConsoleStore, databaseDescription: String
    ) async throws {
        let c = configuration
        let (roleEvents, roleContinuation) = AsyncStream.makeStream(of: RoleEvent.self)
        let lease = leaseStore.map {
            NodeLease(
                store: $0, term: LeaseTerm(ttl: c.leaseTTL, margin: c.leaseMargin), renewEvery: c.leaseRenewal,
                events: roleContinuation, metrics: metrics, logger: logger)
        }
        let health = StoreHealth(
            logger: logger, failedWrites: metrics.storeWriteFailures, fenced: { [lease] in lease?.fenced($0) })
        let topology = c.names.topology(for: ruleSet)
        try await Self.checkQueues(topology, amqp: c.amqp, logger: logger)
        var consumerLogger = logger
        consumerLogger[metadataKey: "amqp.role"] = "consumer"
        // Several nodes: nothing is published unless this node holds the lease, asked right before each send
        // (this publisher publishes nothing itself then: it keeps the broker connection warm for the next
        // term and carries the topology the reloader extends).
        var active: (@Sendable () -> Bool)?
        var role: (@Sendable () -> String)?
        if let lease {
            active = { lease.isActive }
            role = { lease.role }
        }
        let publisher = AMQPPublisher(
            configuration: c.amqp, topology: topology, window: c.publishWindow, logger: logger, admit: active)
        let rules = LiveRules(ruleSet: ruleSet, names: c.names, startsLifecycle: c.lifecycle)
        rules.loads.directory = c.rulesDirectory
        // The relay's reads use SQLite's readers and need not wait behind intake commits; its marks, the
        // intake commits and the lifecycle loop's share the pool's single writer (GRDB's async access).
        // A destination queue found missing at publish time is declared again on a connection of its own,
        // on a thread of its own: declaring is a blocking rabbitmq-c exchange.
        let declareQueue = BlockingQueue(label: "pagoda.redeclare")
        let redeclare: @Sendable (Topology) async throws -> Void = { [logger] t in
            try await declareQueue.run { try t.declare(configuration: c.amqp, logger: logger) }
        }
        let consumers = ConsumerStates()
        let (intakeLogger, admitted) = (consumerLogger, active)
        // The active services, in the order the group starts them (it stops them in reverse: intake first,
        // then the lifecycle loop, then the relay drains the outbox).
        let makeActive: @Sendable () -> [ServiceGroupConfiguration.ServiceConfiguration] = {
            let consumer = AMQPConsumer(
                configuration: c.amqp, queue: c.names.intakeQueue, topology: topology.consuming(c.names.intakeQueue),
                prefetch: c.prefetch,
                logger: intakeLogger)
            consumers.set("intake", consumer)
            let wake = Signal()
            let priority = FiringPriority()
            // One node: the publisher. Several: a publisher of the term, which the relay closes when the term
            // ends (whatever it still holds then ends at once); the node's own publisher stays connected
            // while it is a standby, and gives each term the topology as reloads left it.
            let termPublisher =
                admitted == nil
                ? publisher
                : AMQPPublisher(
                    configuration: c.amqp, topology: publisher.topology, window: c.publishWindow, logger: logger,
                    admit: admitted)
            let relay = OutboxRelay(
                publisher: termPublisher, store: store, wake: wake, metrics: metrics, health: health,
                logger: logger, names: c.names,
                redeclare: redeclare, window: c.publishWindow, priority: c.lifecycle ? priority : nil,
                active: admitted)
            var services: [ServiceGroupConfiguration.ServiceConfiguration] = [.init(service: relay)]
            if let retention = c.outboxRetention.duration {
                services.append(.init(service: OutboxRetention(store: store, retention: retention, logger: logger)))
            }
            let codec = rules.current.processor.codec
            var lifecycleService: LifecycleService?
            if c.lifecycle {
                var commandLogger = logger
                commandLogger[metadataKey: "amqp.role"] = "commands"
                let commands = AMQPConsumer(
                    configuration: c.amqp, queue: c.names.commandsQueue,
                    topology: topology.consuming(c.names.commandsQueue),
                    prefetch: 500,
                    logger: commandLogger)
                consumers.set("commands", commands)
                let life = LifecycleService(
                    consumer: commands, store: store, rules: rules,
                    codec: codec, relay: wake, metrics: metrics, health: health, logger: logger,
                    pollInterval: c.timerPoll, priority: priority)
                lifecycleService = life
                services.append(.init(service: life))
            }
            let intake = IntakeService(
                consumer: consumer, store: store, rules: rules, relay: wake,
                timersChanged: { [lifecycleService] in lifecycleService?.timersChanged() },
                metrics: metrics, health: health, logger: logger, maxBatch: c.maxBatch)
            services.append(.init(service: intake))
            if let console = c.console, let life = lifecycleService {
                let desk = CommandDesk(
                    store: store, rules: rules, codec: codec, metrics: metrics,
                    changed: {
                        wake.notify()
                        life.timersChanged()
                    })
                var consoleLogger = logger
                consoleLogger[metadataKey: "http.role"] = "console"
                let env = ConsoleEnvironment(
                    store: consoleStore, backend: desk, configuration: console, logger: consoleLogger)
                // After intake in the group, so it stops first (services stop in reverse order): no command is
                // taken once the lifecycle loop and the relay are shutting down.
                services.append(
                    .init(
                        service: ConsoleEndpoint(
                            address: HostAndPort(host: console.host, port: console.port),
                            server: ConsoleApplication.application(env))))
            }
            return services
        }
        var services: [ServiceGroupConfiguration.ServiceConfiguration] = []
        if let checkpointer { services.append(.init(service: checkpointer)) }
        if let lease {
            // The lease is kept until the active services have stopped (it stops after them).
            services.append(.init(service: lease))
            services.append(
                .init(
                    service: ActiveRole(
                        events: roleEvents, continuation: roleContinuation, lease: lease, logger: logger,
                        stuck: { exit(ActiveRole.stuckExitStatus) },
                        make: {
                            ServiceGroup(
                                configuration: .init(
                                    services: makeActive(), gracefulShutdownSignals: [], cancellationSignals: [],
                                    logger: logger))
                        })))
        } else {
            services += makeActive()
        }
        var connections: [(role: String, state: @Sendable () -> ConnectionState)] = [
            ("intake", { consumers.state("intake") }), ("publisher", { publisher.state }),
        ]
        if c.lifecycle { connections.append(("commands", { consumers.state("commands") })) }
        if let address = c.statusEndpoint {
            // First in the group, so it stops last: the metrics stay readable while the rest shuts down.
            let status = ServiceStatus(
                metrics: metrics, export: export, rules: rules, store: store, health: health,
                connections: connections, nodeRole: role,
                consumingRoles: ["intake", "commands"])
            services.insert(.init(service: StatusEndpoint(address: address, status: status, logger: logger)), at: 0)
        }
        // Shut down first (services stop in reverse order): a reload does not start during shutdown.
        services.append(
            .init(
                service: RulesReloader(
                    directory: c.rulesDirectory, live: rules, publisher: publisher, amqp: c.amqp,
                    metrics: metrics, logger: logger, hangups: await UnixSignalsSequence(trapping: .sighup))))
        // "serving" is logged by a service of the group, so only once the group traps SIGTERM and SIGINT: a
        // supervisor (or a test) that stops the service as soon as it reads the line gets a graceful stop,
        // not the signal's default exit.
        let serving: Logger.Metadata = [
            "amqp.endpoint": "\(c.amqp.endpointDescription)", "db.path": "\(databaseDescription)",
            "outbox.retention": "\(c.outboxRetention)", "rules.hash": "\(ruleSet.hash.prefix(12))",
            "intake.exchange": "\(c.names.intakeExchange)", "intake.queue": "\(c.names.intakeQueue)",
            "units": "\(ruleSet.units.count)",
            "node.role": "\(lease == nil ? "active (one node)" : "standby until it holds the lease")",
        ]
        services.insert(.init(service: Announcement(logger: logger, metadata: serving)), at: 0)
        // Services shut down in reverse order: intake first, then the lifecycle loop, then the relay drains
        // the outbox.
        let group = ServiceGroup(
            configuration: .init(
                services: services,
                gracefulShutdownSignals: [.sigterm, .sigint],
                cancellationSignals: [],
                logger: logger))
        do {
            try await group.run()
        } catch {
            if lease != nil { await publisher.close(timeout: .seconds(5)) }
            logger.critical("stopped: a part of the service failed", metadata: ["error": "\(error)"])
            throw error
        }
        // Several nodes: the publisher outlived the relay of each term.
        if lease != nil { await publisher.close(timeout: .seconds(5)) }
        logger.info(
            "stopped",
            metadata: MetricsPage(export.text()).counters.reduce(into: Logger.Metadata()) {
                $0["count.\($1.name)"] = "\($1.value)"
            })
        if let q = metrics.timerLateness.quantiles([0.5, 0.99, 1.0]) {
            logger.info(
                "timer lateness",
                metadata: [
                    "timers.count": "\(q.count)", "lateness.p50_ms": "\(q.values[0])",
                    "lateness.p99_ms": "\(q.values[1])", "lateness.max_ms": "\(q.values[2])",
                ])
        }
    }
}

/// Logs "serving" once the service group runs (its signal handlers are in place by then), and then waits
/// for the graceful shutdown.
struct Announcement: Service {
    let logger: Logger
    let metadata: Logger.Metadata

    func run() async throws {
        logger.info("serving", metadata: metadata)
        try? await gracefulShutdown()
    }
}

/// The state of each consuming connection of the current term, by role (`intake`, `commands`): the
/// status endpoint reads them; a role without one yet (a standby) reads `closed`.
final class ConsumerStates: Sendable {
    private let consumers = Mutex<[String: AMQPConsumer]>([:])

    func set(_ role: String, _ consumer: AMQPConsumer) { consumers.withLock { $0[role] = consumer } }

    func state(_ role: String) -> ConnectionState { consumers.withLock { $0[role] }?.state ?? .closed }
}
