// swift-tools-version:6.1
import PackageDescription

let package = Package(
    name: "Pagoda",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "pagoda", targets: ["pagoda"]),
        .library(name: "PagodaRules", targets: ["PagodaRules"]),
    ],
    dependencies: [
        .package(url: "https://github.com/jpsim/Yams.git", from: "6.2.2"),
        .package(url: "https://github.com/apple/swift-argument-parser.git", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-log.git", from: "1.16.2"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle.git", from: "2.13.0"),
        .package(url: "https://github.com/groue/GRDB.swift.git", from: "7.10.0"),
        .package(url: "https://github.com/hummingbird-project/hummingbird.git", from: "2.28.1"),
        .package(url: "https://github.com/hummingbird-project/hummingbird-auth.git", from: "2.5.0"),
        .package(url: "https://github.com/apple/swift-http-types.git", from: "1.0.0"),
        .package(url: "https://github.com/apple/swift-metrics.git", from: "2.13.0"),
        .package(url: "https://github.com/swift-server/swift-prometheus.git", from: "2.4.1"),
        .package(url: "https://github.com/vapor/postgres-nio.git", from: "1.33.2"),
    ],
    targets: [
        // Strict RFC 8259 JSON (parser with limits and coded errors, value, compact serializer) and
        // RFC 3339 timestamps: the one JSON path of every target. Pure, no dependencies.
        .target(name: "PagodaJSON"),
        // The pure core: rule language, diagnostics, calendar, intake contract, engine. No I/O beyond
        // reading the rule files it is pointed at; `now` is always a parameter.
        .target(
            name: "PagodaRules",
            dependencies: ["PagodaJSON", .product(name: "Yams", package: "Yams")]
        ),
        // The ticket lifecycle after dispatch as a pure state machine: worker commands and their
        // contract, SLA clocks, escalation up the pagoda, callbacks, the stored state's codec and the
        // event encoder. No I/O; `now` is always a parameter.
        .target(name: "PagodaLifecycle", dependencies: ["PagodaRules", "PagodaJSON"]),
        // `pagoda simulate`: scenario lines, the simulator on a virtual clock, and the reader, simulating
        // and writer threads that run it over a file.
        .target(name: "PagodaSimulation", dependencies: ["PagodaLifecycle", "PagodaRules", "PagodaJSON"]),
        // rabbitmq-c (Debian's librabbitmq-dev) and the few C wrappers Swift cannot do without (its
        // login functions are variadic; some method ids are macros).
        .systemLibrary(name: "CAMQP", pkgConfig: "librabbitmq", providers: [.apt(["librabbitmq-dev"])]),
        .target(name: "CAMQPShim", dependencies: ["CAMQP"]),
        // AMQP 0-9-1 transport: one dedicated thread owns each connection; publisher confirms, manual
        // acks, reconnection with backoff, topology redeclared on every connect.
        .target(
            name: "PagodaTransport",
            dependencies: ["CAMQP", "CAMQPShim", .product(name: "Logging", package: "swift-log")]
        ),
        // Durable state on SQLite (GRDB): inbox for deduplication, tickets, decisions, outbox, events.
        // PagodaRules only for the contract's `ValidationIssue` (rejections, warnings).
        .target(
            name: "PagodaStore",
            dependencies: [
                "PagodaJSON", "PagodaRules", .product(name: "GRDB", package: "GRDB.swift"),
                .product(name: "GRDBSQLite", package: "GRDB.swift"),
            ]),
        // Durable state on PostgreSQL 15 (postgres-nio): the same seams and invariants as PagodaStore, and the
        // same stored bytes, so one service runs on either. PagodaStore for the shared models and errors only.
        .target(
            name: "PagodaPostgres",
            dependencies: [
                "PagodaJSON", "PagodaRules", "PagodaStore",
                .product(name: "PostgresNIO", package: "postgres-nio"),
                .product(name: "Logging", package: "swift-log"),
            ]),
        // The web console and its JSON API (an HTTP adapter, like the status endpoint): accounts, sessions,
        // roles, CSRF, the pages. It applies commands through `ConsoleBackend`, which the service implements,
        // so it depends on the store and the core only; `PagodaService` starts it.
        .target(
            name: "PagodaConsole",
            dependencies: [
                "PagodaJSON", "PagodaRules", "PagodaLifecycle", "PagodaStore",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HummingbirdAuth", package: "hummingbird-auth"),
                .product(name: "HummingbirdBcrypt", package: "hummingbird-auth"),
                .product(name: "HTTPTypes", package: "swift-http-types"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ]
        ),
        // Service wiring: intake pipeline, outbox relay, the service group.
        .target(
            name: "PagodaService",
            dependencies: [
                "PagodaJSON", "PagodaRules", "PagodaLifecycle", "PagodaTransport", "PagodaStore", "PagodaPostgres",
                "PagodaConsole", .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "UnixSignals", package: "swift-service-lifecycle"),
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "CoreMetrics", package: "swift-metrics"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "Prometheus", package: "swift-prometheus"),
            ]
        ),
        .executableTarget(
            name: "pagoda",
            dependencies: [
                "PagodaJSON", "PagodaRules", "PagodaLifecycle", "PagodaSimulation", "PagodaService", "PagodaTransport",
                "PagodaStore", "PagodaPostgres", "PagodaConsole",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        // Generated rule sets and tickets of any size, for the routing benchmark and the engine's tests
        // only (no production target depends on it).
        .target(name: "PagodaSynthetic", dependencies: ["PagodaRules", "PagodaJSON"]),
        .testTarget(name: "PagodaJSONTests", dependencies: ["PagodaJSON"]),
        .testTarget(
            name: "PagodaRulesTests", dependencies: ["PagodaRules", "PagodaJSON", "PagodaSynthetic"],
            exclude: ["Golden"]
        ),
        // The pipeline benchmark (ops/bench/pipeline.sh): bare transport pipe vs `pagoda serve`.
        // The timer benchmark (ops/bench/timers.sh) fills a database through the real intake path.
        // The routing benchmark (`pagoda-bench rules`) on a rule directory and on generated sets.
        .executableTarget(
            name: "pagoda-bench",
            dependencies: [
                "PagodaTransport", "PagodaStore", "PagodaLifecycle", "PagodaJSON", "PagodaRules", "PagodaService",
                "PagodaSynthetic", .product(name: "GRDB", package: "GRDB.swift"),
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ]),
        // Helpers shared by the test suites: private broker, child processes, collectors, and the in-memory
        // fakes of the service layer's seams (deliveries in, messages out, the store).
        .target(
            name: "PagodaTesting",
            dependencies: [
                "PagodaTransport", "PagodaJSON", "PagodaStore", "PagodaService", "PagodaPostgres",
                .product(name: "PostgresNIO", package: "postgres-nio"), .product(name: "Logging", package: "swift-log"),
            ]),
        .testTarget(
            name: "PagodaServiceTests",
            dependencies: [
                "PagodaService", "PagodaJSON", "PagodaRules", "PagodaLifecycle", "PagodaSimulation", "PagodaTransport",
                "PagodaStore", "PagodaPostgres", "PagodaTesting", "PagodaConsole", "pagoda",
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "MetricsTestKit", package: "swift-metrics"),
            ]
        ),
        // Handler tests of the console (HummingbirdTesting) on real SQLite files and real bcrypt.
        .testTarget(
            name: "PagodaConsoleTests",
            dependencies: [
                "PagodaConsole", "PagodaService", "PagodaStore", "PagodaJSON", "PagodaRules", "PagodaLifecycle",
                "PagodaPostgres", "PagodaTesting",
                .product(name: "HummingbirdTesting", package: "hummingbird"),
                .product(name: "HTTPTypes", package: "swift-http-types"),
            ]
        ),
        .testTarget(
            name: "PagodaLifecycleTests",
            dependencies: ["PagodaLifecycle", "PagodaSimulation", "PagodaRules", "PagodaJSON"]
        ),
        .testTarget(
            name: "PagodaStoreTests",
            dependencies: ["PagodaStore", "PagodaJSON", .product(name: "GRDB", package: "GRDB.swift")]
        ),
        // One store conformance suite: the same test bodies against SQLite files and a private PostgreSQL
        // (PAGODA_TEST_POSTGRES_URL; started with ops/postgres.sh when nothing answers there).
        .testTarget(
            name: "PagodaStoreConformanceTests",
            dependencies: [
                "PagodaStore", "PagodaPostgres", "PagodaService", "PagodaTesting", "PagodaRules",
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        .testTarget(
            name: "PagodaTransportTests",
            dependencies: ["PagodaTransport", "PagodaTesting", .product(name: "Logging", package: "swift-log")]
        ),
    ]
)

// Every Swift target turns on these upcoming language features early: existentials spelled `any P`, and
// members visible only from modules a file imports itself.
for target in package.targets where target.type != .system && target.name != "CAMQPShim" {
    target.swiftSettings =
        (target.swiftSettings ?? []) + [
            .enableUpcomingFeature("ExistentialAny"),
            .enableUpcomingFeature("MemberImportVisibility"),
        ]
}
