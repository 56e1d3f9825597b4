import ArgumentParser
import Foundation
import Logging
import PagodaConsole
import PagodaJSON
import PagodaRules
import PagodaService
import PagodaTransport

/// Options for reaching the broker; the URLs may come from PAGODA_AMQP_URL.
struct BrokerOptions: ParsableArguments {
    @Option(
        help: ArgumentHelp(
            "AMQP URL (amqp:// or amqps://; TLS options as query parameters). Repeat it, or separate URLs with commas, "
                + "to name the nodes of a cluster: they are tried in turn when a connection fails or is lost. "
                + "Default: $PAGODA_AMQP_URL, else amqp://guest:guest@127.0.0.1:5672/"))
    var amqpURL: [String] = []

    @Option(help: "Prefix of every exchange and queue name.")
    var prefix: String = ProcessInfo.processInfo.environment["PAGODA_PREFIX"] ?? "pagoda"

    /// The URLs given, split at commas: the flags, else PAGODA_AMQP_URL, else the local default.
    var urls: [String] {
        let given = amqpURL.isEmpty ? [ProcessInfo.processInfo.environment["PAGODA_AMQP_URL"] ?? ""] : amqpURL
        let split = given.flatMap { $0.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) } }
            .filter { !$0.isEmpty }
        return split.isEmpty ? ["amqp://guest:guest@127.0.0.1:5672/"] : split
    }

    func configuration(name: String) throws -> AMQPConfiguration {
        do {
            var c = try AMQPConfiguration(urls: urls)
            c.connectionName = name
            return c
        } catch {
            throw ValidationError("--amqp-url: \(error)")
        }
    }
}

func bootstrapLogging(level: Logger.Level) {
    LoggingSystem.bootstrap { label in
        var handler = StreamLogHandler.standardError(label: label)
        handler.logLevel = level
        return handler
    }
}

// swift-format-ignore: AvoidRetroactiveConformances
extension Logger.Level: @retroactive ExpressibleByArgument {}

struct Serve: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Run the dispatch service: consume intake, route, record durably, publish to unit queues.",
        discussion: """
            Stops gracefully on SIGTERM or SIGINT: stops consuming, finishes and acknowledges in-flight work, waits for publisher \
            confirms, exits 0. SIGHUP reloads the rule directory: rules with errors are logged (FILE:LINE:COLUMN) and not put in \
            force; tickets already dispatched keep the time limits they were dispatched with. On PostgreSQL any number of serve \
            may share the database: one holds the lease and is active, the others wait as standbys and take over within \
            seconds when it stops, dies or freezes (/ready says role: active or role: standby).
            """)

    @Option(help: "The rule directory. Default: $PAGODA_RULES, else rules.")
    var rules: String = ProcessInfo.processInfo.environment["PAGODA_RULES"] ?? "rules"

    @OptionGroup var broker: BrokerOptions

    @Option(
        help: ArgumentHelp(
            "The SQLite database file, or a PostgreSQL database as postgres://USER[:PASSWORD]@HOST:PORT/DB. Default: $PAGODA_DB, else pagoda.sqlite.",
            valueName: "file-or-url"))
    var db: String = ProcessInfo.processInfo.environment["PAGODA_DB"] ?? "pagoda.sqlite"

    @Option(help: "SQLite synchronous mode: full (every commit durable on power loss) or normal (SQLite only).")
    var synchronous: String = "full"

    @Option(help: "Log level: trace, debug, info, notice, warning, error, critical.")
    var logLevel: Logger.Level =
        Logger.Level(rawValue: ProcessInfo.processInfo.environment["PAGODA_LOG_LEVEL"] ?? "info") ?? .info

    @Option(
        help: ArgumentHelp(
            "The longest the lifecycle loop sleeps without looking at the timer table, in seconds.",
            discussion:
                "It sleeps until the next due timer and wakes for commands and new dispatches; this only bounds how late a timer can be after a change it was not told of (the system clock set forward)."
        ))
    var timerPoll: Double = 2

    @Option(
        help: ArgumentHelp(
            "Serve /metrics (Prometheus), /health and /ready over HTTP at HOST:PORT (port 0: any free port), or none. Default: $PAGODA_STATUS_ADDRESS, else none.",
            valueName: "host:port"))
    var statusAddress: String = ProcessInfo.processInfo.environment["PAGODA_STATUS_ADDRESS"] ?? "none"

    @Option(
        help: ArgumentHelp(
            "Serve the web console and its API (/api/v1) at HOST:PORT (port 0: any free port), or none. Default: $PAGODA_CONSOLE_ADDRESS, else 127.0.0.1:8345.",
            valueName: "host:port"))
    var consoleAddress: String = ProcessInfo.processInfo.environment["PAGODA_CONSOLE_ADDRESS"] ?? "127.0.0.1:8345"

    @Flag(
        help:
            "Mark the console's session cookie Secure: set when the console is reached through a TLS reverse proxy (ops/nginx-console.conf)."
    )
    var consoleSecureCookies = false

    @Option(
        help: ArgumentHelp(
            "How long messages the broker confirmed stay in the outbox: <n>d, <n>h, <n>m, <n>s, or none to keep them.",
            discussion:
                "Older ones are deleted in small batches; tickets, decisions, timelines and rejections are kept.",
            valueName: "period"))
    var retention: String = OutboxRetentionPeriod.default.description

    func run() async throws {
        bootstrapLogging(level: logLevel)
        let logger = Logger(label: "pagoda")
        guard let retentionPeriod = OutboxRetentionPeriod(parsing: retention) else {
            throw ValidationError(
                "--retention must be a whole number with a unit (7d, 36h, 90m, 30s) or none, got '\(retention)'")
        }
        guard ["full", "normal"].contains(synchronous) else {
            throw ValidationError("--synchronous must be full or normal")
        }
        guard timerPoll > 0, timerPoll <= 86_400 else {
            throw ValidationError("--timer-poll must be more than 0 and at most 86400 seconds, got \(timerPoll)")
        }
        /// `text` as an address to listen on, or nil for `none`.
        func listenAddress(_ option: String, _ text: String) throws -> HostAndPort? {
            if text == "none" { return nil }
            guard let a = HostAndPort(parsing: text) else {
                throw ValidationError(
                    "--\(option) must be HOST:PORT, [IPv6]:PORT or :PORT with a port from 0 to 65535, or none, got '\(text)'"
                )
            }
            return a
        }
        let status = try listenAddress("status-address", statusAddress)
        var console: ConsoleConfiguration?
        if let a = try listenAddress("console-address", consoleAddress) {
            var c = ConsoleConfiguration(host: a.host, port: a.port)
            c.secureCookies = consoleSecureCookies
            console = c
        }
        // Warnings (such as a calendar about to run out of holiday data) are shown: a service runs for months.
        let ruleSet = try loadRuleSet(rules, quietWarnings: false, today: Date())
        var config = ServerConfiguration(
            rulesDirectory: rules, amqp: try broker.configuration(name: "pagoda-serve"), databasePath: db)
        config.names = Names(prefix: broker.prefix)
        config.synchronousFull = synchronous == "full"
        config.timerPoll = .milliseconds(Int((timerPoll * 1000).rounded(.up)))
        config.statusEndpoint = status
        config.outboxRetention = retentionPeriod
        config.console = console
        do {
            try await PagodaServer(configuration: config, ruleSet: ruleSet, logger: logger).run()
        } catch let error as InstanceLock.Failure {
            printError("pagoda serve: \(error)\n")
            throw ExitCode.failure
        } catch let error as QueueArgumentsMismatch {
            printError("pagoda serve: \(error)\n")
            throw ExitCode.failure
        }
    }
}

struct Publish: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract:
            "Publish tickets (or, with --commands, worker commands; one JSON object per line) with publisher confirms.",
        discussion:
            "Each line is sent as it is, byte for byte, to the intake exchange (the commands exchange with --commands); its message id is the line's id (command_id) when it has one. Exit 1 if any publish was not confirmed."
    )

    @OptionGroup var broker: BrokerOptions

    @Argument(help: "A JSONL file, or - for standard input.")
    var file: String = "-"

    @Flag(help: "The lines are worker commands: publish them to the commands exchange (message id = command_id).")
    var commands = false

    @Option(help: "With --commands: the queue refusals are also sent to (AMQP reply_to).")
    var replyTo: String?

    @Option(help: "Give up (exit 1, nothing published) when the broker cannot be reached within this many seconds.")
    var connectTimeout: Double = 30

    func run() async throws {
        bootstrapLogging(level: .warning)
        let data: Data
        if file == "-" {
            data = FileHandle.standardInput.readDataToEndOfFile()
        } else {
            guard let d = FileManager.default.contents(atPath: file) else {
                throw ValidationError("cannot read \(file)")
            }
            data = d
        }
        let names = Names(prefix: broker.prefix)
        let exchange = commands ? names.commandsExchange : names.intakeExchange
        let configuration = try broker.configuration(name: "pagoda-publish")
        let publisher = AMQPPublisher(
            configuration: configuration,
            topology: Topology(exchanges: [.init(name: exchange, type: commands ? "topic" : "fanout")]), window: 256)
        do {
            try await publisher.waitUntilConnected(timeout: .milliseconds(Int(connectTimeout * 1000)))
        } catch {
            await publisher.close(timeout: .zero)
            printError(
                "pagoda publish: cannot connect to \(configuration.endpointDescription) within \(connectTimeout) s (see the warnings above); nothing was published\n"
            )
            throw ExitCode.failure
        }
        let idKey = commands ? "command_id" : "id"
        let replyTo = self.replyTo
        let lines = data.split(separator: UInt8(ascii: "\n")).map { Array($0) }.filter {
            !$0.allSatisfy { $0 == 32 || $0 == 13 || $0 == 9 }
        }
        let outcomes = await withTaskGroup(of: PublishOutcome.self, returning: [PublishOutcome].self) { group in
            for line in lines {
                let id: String? =
                    if case .object(let o)? = try? JSON.parse(line), case .string(let s)? = o[idKey] { s } else { nil }
                var message = AMQPMessage(
                    exchange: exchange, routingKey: commands ? "command" : "", body: line, messageId: id,
                    mandatory: true)
                message.properties.replyTo = replyTo
                group.addTask { (try? await publisher.publish(message)) ?? .outcomeUnknown }
            }
            return await group.reduce(into: []) { $0.append($1) }
        }
        await publisher.close()
        let confirmed = outcomes.count { $0 == .confirmed }
        print(
            "published \(lines.count) \(commands ? "commands" : "tickets") to \(exchange): \(confirmed) confirmed, \(lines.count - confirmed) not confirmed"
        )
        if confirmed != lines.count { throw ExitCode.failure }
    }
}

struct MigrateQueues: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "migrate-queues",
        abstract: "Move the queues an earlier version declared to this version's arguments, keeping their messages.",
        discussion: """
            Every queue is a quorum queue, and the intake and commands queues have a single active consumer. RabbitMQ \
            cannot change a queue's arguments, so each queue declared otherwise is emptied into NAME.migrating (which \
            takes its bindings meanwhile), deleted, declared again and filled back; every message is moved with a \
            publisher confirm before its original is acknowledged. Stop every pagoda serve and every consumer of the \
            destination queues first: it refuses while a queue has consumers. Safe to run again, and after an \
            interruption it finishes the job.
            """)

    @OptionGroup var broker: BrokerOptions
    @OptionGroup var rules: RulesOption

    func run() throws {
        bootstrapLogging(level: .warning)
        let logger = Logger(label: "pagoda")
        let names = Names(prefix: broker.prefix)
        let ruleSet = try loadRuleSet(rules.rules)
        let configuration = try broker.configuration(name: "pagoda-migrate-queues")
        let topology = names.topology(for: ruleSet)
        var failed = false
        do {
            try Topology(exchanges: topology.exchanges).declare(configuration: configuration, logger: logger)
        } catch {
            printError(
                "pagoda migrate-queues: cannot declare the exchanges on \(configuration.endpointDescription): \(error)\n"
            )
            throw ExitCode.failure
        }
        for migration in names.queueMigrations(for: ruleSet) {
            let name = migration.queue.name
            do {
                let outcome = try migration.run(configuration: configuration, logger: logger)
                if outcome.redeclared {
                    print("\(name): declared again (\(Self.describe(migration.queue))), \(outcome.moved) messages kept")
                } else if outcome.moved > 0 {
                    print("\(name): finished an interrupted move, \(outcome.moved) messages moved back")
                } else {
                    print("\(name): \(Self.describe(migration.queue)) (nothing to move)")
                }
            } catch {
                printError("pagoda migrate-queues: \(name): \(error)\n")
                failed = true
            }
        }
        if failed { throw ExitCode.failure }
    }

    /// "quorum", "quorum, single active consumer": the arguments a queue is declared with, in words.
    static func describe(_ queue: Topology.Queue) -> String {
        var words = [queue.arguments["x-queue-type"]?.stringValue ?? "classic"]
        if queue.arguments["x-single-active-consumer"] != nil { words.append("single active consumer") }
        return words.joined(separator: ", ")
    }
}
