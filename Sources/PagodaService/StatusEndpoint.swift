import CoreMetrics
import Foundation
import Hummingbird
import Logging
import PagodaJSON
import PagodaRules
import PagodaStore
import PagodaTransport
import ServiceLifecycle
import Synchronization

/// The service's HTTP status endpoint, for monitoring and the hotline's live overview:
///
/// - `GET /metrics`: Prometheus text (version 0.0.4) from the service's own registry (swift-prometheus,
///   `PrometheusExport`): the service's counters, timer lateness as a histogram, and gauges set at each
///   scrape: the rules in force, the broker connections, the store's files, the outbox backlog, pending
///   and due timers, and open tickets by holding unit and phase.
/// - `GET /health`: 200 while the process serves HTTP at all (liveness).
/// - `GET /ready`: 200 when every broker connection is up and the store can write, else 503 naming the
///   connections that are not up and the store's failure (`StoreHealth`). With several nodes on PostgreSQL
///   the page also names the node's role: 200 `role: active` on the node that holds the lease, 503
///   `role: standby` on the others (`pagoda_node_active` 1 or 0), whose consuming connections do not exist.
///
/// The store's counts are read on its reader connections (GRDB's async access) and kept for `storeTTL`, so
/// frequent scrapes of a large database do not add up. A series a scrape no longer has (a unit's phase with
/// no tickets left, the store's counts when it cannot be read) is dropped from the page.
public final class ServiceStatus: Sendable {
    let metrics: ServiceMetrics
    let export: PrometheusExport
    let rules: LiveRules
    let store: any StatusStore
    let health: StoreHealth
    /// Each broker connection's role and how to read its state.
    let connections: [(role: String, state: @Sendable () -> ConnectionState)]
    /// With several nodes: `active` or `standby` now (`NodeLease`); nil with one node.
    let nodeRole: (@Sendable () -> String)?
    /// The connections a standby does not have (intake, commands): left out while it is not active.
    let consumingRoles: Set<String>
    let storeTTL: Duration
    private let cached = Mutex<(at: ContinuousClock.Instant, counts: StoreFigures)?>(nil)
    private let gauges: ScrapedGauges

    struct StoreFigures: Sendable {
        var outboxUnsent: Int
        var overview: LifecycleOverview
    }

    /// `metrics` must have been made by `export`, whose registry's text is the page.
    init(
        metrics: ServiceMetrics, export: PrometheusExport, rules: LiveRules, store: any StatusStore,
        health: StoreHealth,
        connections: [(role: String, state: @Sendable () -> ConnectionState)], storeTTL: Duration = .seconds(5),
        nodeRole: (@Sendable () -> String)? = nil, consumingRoles: Set<String> = []
    ) {
        self.nodeRole = nodeRole
        self.consumingRoles = consumingRoles
        self.metrics = metrics
        self.export = export
        self.rules = rules
        self.store = store
        self.health = health
        self.connections = connections
        self.storeTTL = storeTTL
        gauges = ScrapedGauges(factory: metrics.factory)
    }

    /// The roles of the connections that are not up now.
    var notConnected: [String] {
        current.filter { if case .connected = $0.state() { false } else { true } }.map(\.role)
    }

    /// The connections the node has in its role now.
    var current: [(role: String, state: @Sendable () -> ConnectionState)] {
        guard let nodeRole, nodeRole() != "active" else { return connections }
        return connections.filter { !consumingRoles.contains($0.role) }
    }

    /// The `/ready` page: its status and text.
    var readiness: (ready: Bool, text: String) {
        let role = nodeRole?()
        var lines: [String] = []
        if let problem = notReady { lines.append(problem) }
        if let role, role != "active" { lines.append("role: \(role)\n") }
        if lines.isEmpty { return (true, role.map { "ready\nrole: \($0)\n" } ?? "ready\n") }
        if let role, role == "active" { lines.append("role: active\n") }
        return (false, lines.joined())
    }

    /// Why the service is not ready (each line ending in a newline), or nil when it is.
    var notReady: String? {
        var lines: [String] = []
        let down = notConnected
        if !down.isEmpty { lines.append("not connected: \(down.joined(separator: ", "))\n") }
        if let problem = health.problem { lines.append("store cannot write: \(problem)\n") }
        return lines.isEmpty ? nil : lines.joined()
    }

    /// The metrics page; a store that cannot be read gives `pagoda_store_up 0` and no store counts.
    func exposition() async -> String {
        var counts: StoreFigures?
        if let c = cached.withLock({ $0 }), ContinuousClock.now - c.at < storeTTL {
            counts = c.counts
        } else {
            let store = self.store
            // Two reads on the store's reader connections (GRDB's async access), one after the other.
            if let unsent = try? await store.outboxBacklog(),
                let overview = try? await store.lifecycleOverview(now: Date())
            {
                counts = StoreFigures(outboxUnsent: unsent, overview: overview)
            }
            if let counts { cached.withLock { $0 = (ContinuousClock.now, counts) } }
        }
        gauges.show(samples(counts))
        return export.text()
    }

    /// The gauges read at this scrape.
    func samples(_ counts: StoreFigures?) -> [ScrapedGauges.Sample] {
        let g = rules.current.ruleSet
        var s: [ScrapedGauges.Sample] = [
            .init("pagoda_rules_info", [("hash", g.hash)], 1),
            .init("pagoda_rules_units", [], Double(g.units.count)),
        ]
        if let nodeRole { s.append(.init("pagoda_node_active", [], nodeRole() == "active" ? 1 : 0)) }
        for c in current {
            s.append(
                .init(
                    "pagoda_amqp_connected", [("role", c.role)], { if case .connected = c.state() { 1 } else { 0 } }()))
        }
        s.append(.init("pagoda_store_writable", [], health.writable ? 1 : 0))
        // SQLite's files; a PostgreSQL store has none here (the server's own monitoring covers its disk).
        if let sizes = store.storeFileSizes() {
            s.append(.init("pagoda_store_bytes", [("file", "database")], Double(sizes.database)))
            s.append(.init("pagoda_store_bytes", [("file", "wal")], Double(sizes.wal)))
            if let available = sizes.available {
                s.append(.init("pagoda_store_available_bytes", [], Double(available)))
            }
        }
        s.append(.init("pagoda_store_up", [], counts == nil ? 0 : 1))
        if let counts {
            s.append(.init("pagoda_outbox_unsent", [], Double(counts.outboxUnsent)))
            s.append(.init("pagoda_timers_pending", [], Double(counts.overview.timers)))
            s.append(.init("pagoda_timers_due", [], Double(counts.overview.timersDue)))
            for t in counts.overview.tickets.sorted(by: { ($0.unit ?? "", $0.phase) < ($1.unit ?? "", $1.phase) }) {
                s.append(.init("pagoda_tickets", [("unit", t.unit ?? ""), ("phase", t.phase)], Double(t.count)))
            }
        }
        return s
    }
}

/// Gauges whose values are read when the page is asked for: each `show` sets the series it is given and
/// destroys (drops from the page) those an earlier `show` had and this one has not.
final class ScrapedGauges: Sendable {
    struct Sample: Sendable {
        let name: String
        let labels: [(String, String)]
        let value: Double

        init(_ name: String, _ labels: [(String, String)], _ value: Double) {
            self.name = name
            self.labels = labels
            self.value = value
        }

        var key: [String] { [name] + labels.flatMap { [$0.0, $0.1] } }
    }

    let factory: any MetricsFactory
    private let shown = Mutex<[[String]: CoreMetrics.Gauge]>([:])

    init(factory: any MetricsFactory) { self.factory = factory }

    func show(_ samples: [Sample]) {
        shown.withLock { shown in
            var next: [[String]: CoreMetrics.Gauge] = [:]
            for s in samples {
                let gauge = shown[s.key] ?? CoreMetrics.Gauge(label: s.name, dimensions: s.labels, factory: factory)
                gauge.record(s.value)
                next[s.key] = gauge
            }
            for (key, gauge) in shown where next[key] == nil { gauge.destroy() }
            shown = next
        }
    }
}

/// The HTTP server of `ServiceStatus`, run as a service of the group. An address it cannot listen on
/// fails the group (the service stops and exits non-zero) with an error naming the address.
struct StatusEndpoint: Service {
    let address: HostAndPort
    let server: any Service

    init(address: HostAndPort, status: ServiceStatus, logger: Logger) {
        self.address = address
        server = Self.application(host: address.host, port: address.port, status: status, logger: logger)
    }

    struct ListenError: Error, CustomStringConvertible {
        let description: String
    }

    func run() async throws {
        do {
            try await server.run()
        } catch {
            throw ListenError(
                description: "the status endpoint cannot listen on \(address) (--status-address): \(error)")
        }
    }

    static func application(host: String, port: Int, status: ServiceStatus, logger: Logger) -> some ApplicationProtocol
    {
        let router = Router()
        router.get("metrics") { _, _ -> Response in
            let text = await status.exposition()
            return Response(
                status: .ok, headers: [.contentType: "text/plain; version=0.0.4; charset=utf-8"],
                body: ResponseBody(byteBuffer: ByteBuffer(string: text)))
        }
        router.get("health") { _, _ in "ok\n" }
        router.get("ready") { _, _ -> Response in
            let (ready, body) = status.readiness
            return Response(
                status: ready ? .ok : .serviceUnavailable,
                headers: [.contentType: "text/plain; charset=utf-8"],
                body: ResponseBody(byteBuffer: ByteBuffer(string: body)))
        }
        return Application(
            router: router, configuration: .init(address: .hostname(host, port: port), serverName: "pagoda"),
            onServerRunning: { channel in
                logger.info(
                    "status endpoint listening",
                    metadata: [
                        "http.host": "\(host)", "http.port": "\(channel.localAddress?.port ?? port)",
                    ])
            },
            logger: logger)
    }
}
