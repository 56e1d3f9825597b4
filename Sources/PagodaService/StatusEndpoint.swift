import Foundation
import Hummingbird
import Logging
import PagodaRules
import PagodaStore
import PagodaTransport
import ServiceLifecycle
import Synchronization

/// The service's HTTP status endpoint, for monitoring and the hotline's live overview:
///
/// - `GET /metrics`: Prometheus text (version 0.0.4): the service's counters, timer lateness as a
///   histogram, the rules in force, the broker connections, the outbox backlog, pending and due timers,
///   and open tickets by holding unit and phase.
/// - `GET /health`: 200 while the process serves HTTP at all (liveness).
/// - `GET /ready`: 200 when every broker connection is up and the store can write, else 503 naming the
///   connections that are not up and the store's failure (`StoreHealth`).
///
/// The store's counts are read on its reader connections (GRDB's async access) and kept for `storeTTL`, so
/// frequent scrapes of a large database do not add up.
public final class ServiceStatus: Sendable {
    let metrics: ServiceMetrics
    let rules: LiveRules
    let store: DispatchStore
    let health: StoreHealth
    /// Each broker connection's role and how to read its state.
    let connections: [(role: String, state: @Sendable () -> ConnectionState)]
    let storeTTL: Duration
    private let cached = Mutex<(at: ContinuousClock.Instant, counts: StoreFigures)?>(nil)

    struct StoreFigures: Sendable {
        var outboxUnsent: Int
        var overview: LifecycleOverview
    }

    init(metrics: ServiceMetrics, rules: LiveRules, store: DispatchStore, health: StoreHealth,
         connections: [(role: String, state: @Sendable () -> ConnectionState)], storeTTL: Duration = .seconds(5)) {
        self.metrics = metrics
        self.rules = rules
        self.store = store
        self.health = health
        self.connections = connections
        self.storeTTL = storeTTL
    }

    /// The roles of the connections that are not up now.
    var notConnected: [String] {
        connections.filter { if case .connected = $0.state() { false } else { true } }.map(\.role)
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
        let g = rules.current.ruleSet
        var p = PrometheusText()
        for (key, value) in metrics.summary.sorted(by: { $0.key < $1.key }) {
            p.family("pagoda_\(key)_total", "counter", Self.counterHelp[key] ?? key.replacingOccurrences(of: "_", with: " "))
            p.sample("pagoda_\(key)_total", value)
        }
        p.family("pagoda_intake_warnings_total", "counter",
                 "Optional ticket fields left out of routing (dispatched with a warning), by field and code.")
        for w in metrics.intakeWarnings.counted {
            p.sample("pagoda_intake_warnings_total", ["field": w.first, "code": w.second], w.count)
        }
        p.histogram("pagoda_timer_lateness_milliseconds", "How late timers fired: from due to committed.",
                    bounds: LatenessLog.bucketBounds, metrics.timerLateness.histogram)
        p.family("pagoda_rules_info", "gauge", "The rule set in force, by hash.")
        p.sample("pagoda_rules_info", ["hash": g.hash], 1)
        p.family("pagoda_rules_units", "gauge", "Handling units in the rules in force.")
        p.sample("pagoda_rules_units", g.units.count)
        p.family("pagoda_amqp_connected", "gauge", "1 while the broker connection is up, by role.")
        for c in connections { p.sample("pagoda_amqp_connected", ["role": c.role], { if case .connected = c.state() { 1 } else { 0 } }()) }
        p.family("pagoda_store_writable", "gauge",
                 "0 while the store cannot write (disk full, I/O error, read-only) and work is held.")
        p.sample("pagoda_store_writable", health.writable ? 1 : 0)
        p.family("pagoda_store_write_failures_total", "counter",
                 "Writes that failed for the store's reasons and were tried again.")
        p.sample("pagoda_store_write_failures_total", health.failedWrites.count)
        let sizes = store.fileSizes()
        p.family("pagoda_store_bytes", "gauge", "Size of the database's files: the database and its write-ahead log.")
        p.sample("pagoda_store_bytes", ["file": "database"], Int(sizes.database))
        p.sample("pagoda_store_bytes", ["file": "wal"], Int(sizes.wal))
        if let available = sizes.available {
            p.family("pagoda_store_available_bytes", "gauge", "Room left on the database's file system.")
            p.sample("pagoda_store_available_bytes", Int(available))
        }
        p.family("pagoda_store_up", "gauge", "1 when the store's counts below could be read.")
        p.sample("pagoda_store_up", counts == nil ? 0 : 1)
        if let counts {
            p.family("pagoda_outbox_unsent", "gauge", "Messages recorded and not yet confirmed by the broker.")
            p.sample("pagoda_outbox_unsent", counts.outboxUnsent)
            p.family("pagoda_timers_pending", "gauge", "Tickets with a pending timer.")
            p.sample("pagoda_timers_pending", counts.overview.timers)
            p.family("pagoda_timers_due", "gauge", "Timers due now and not yet fired.")
            p.sample("pagoda_timers_due", counts.overview.timersDue)
            p.family("pagoda_tickets", "gauge", "Tickets by holding unit and lifecycle phase (unit empty: handed off).")
            for t in counts.overview.tickets.sorted(by: { ($0.unit ?? "", $0.phase) < ($1.unit ?? "", $1.phase) }) {
                p.sample("pagoda_tickets", ["unit": t.unit ?? "", "phase": t.phase], t.count)
            }
        }
        return p.text
    }

    static let counterHelp: [String: String] = [
        "dispatched": "Tickets dispatched.", "duplicates": "Tickets received again and not dispatched twice.",
        "rejected": "Intake messages rejected.", "processing_failures": "Deliveries returned to their queue after a failure.",
        "published": "Messages confirmed by the broker.", "republished": "Publishes sent again after an unknown outcome or a return.",
        "returned": "Publishes the broker returned as unroutable.",
        "queue_redeclared": "Destination queues declared again after the broker returned a publish for them.", "commands_applied": "Worker commands applied.",
        "commands_refused": "Worker commands refused.", "commands_duplicate": "Worker commands seen before.",
        "timers_fired": "Timers fired.", "timers_stale": "Timers that were stale when due.",
        "rules_reloaded": "Rule reloads put in force.", "rules_reload_failed": "Rule reloads that failed.",
    ]
}

/// The Prometheus text exposition format, version 0.0.4.
struct PrometheusText {
    private(set) var text = ""

    mutating func family(_ name: String, _ type: String, _ help: String) {
        text += "# HELP \(name) \(help.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\n", with: "\\n"))\n"
        text += "# TYPE \(name) \(type)\n"
    }

    mutating func sample(_ name: String, _ value: Int) { sample(name, [:], value) }

    mutating func sample(_ name: String, _ labels: KeyValuePairs<String, String>, _ value: Int) {
        text += name
        if !labels.isEmpty {
            text += "{" + labels.map { "\($0.key)=\"\(Self.escape($0.value))\"" }.joined(separator: ",") + "}"
        }
        text += " \(value)\n"
    }

    mutating func histogram(_ name: String, _ help: String, bounds: [Int], _ h: LatenessLog.Histogram) {
        family(name, "histogram", help)
        var cumulative = 0
        for (i, bound) in bounds.enumerated() {
            cumulative += h.counts[i]
            sample("\(name)_bucket", ["le": "\(bound)"], cumulative)
        }
        sample("\(name)_bucket", ["le": "+Inf"], h.count)
        sample("\(name)_sum", h.sum)
        sample("\(name)_count", h.count)
    }

    /// A label value: backslash, double quote and newline escaped.
    static func escape(_ value: String) -> String {
        var out = ""
        for c in value {
            switch c {
            case "\\": out += "\\\\"
            case "\"": out += "\\\""
            case "\n": out += "\\n"
            default: out.append(c)
            }
        }
        return out
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
            throw ListenError(description: "the status endpoint cannot listen on \(address) (--status-address): \(error)")
        }
    }

    static func application(host: String, port: Int, status: ServiceStatus, logger: Logger) -> some ApplicationProtocol {
        let router = Router()
        router.get("metrics") { _, _ -> Response in
            let text = await status.exposition()
            return Response(status: .ok, headers: [.contentType: "text/plain; version=0.0.4; charset=utf-8"],
                            body: ResponseBody(byteBuffer: ByteBuffer(string: text)))
        }
        router.get("health") { _, _ in "ok\n" }
        router.get("ready") { _, _ -> Response in
            let problem = status.notReady
            let body = problem ?? "ready\n"
            return Response(status: problem == nil ? .ok : .serviceUnavailable,
                            headers: [.contentType: "text/plain; charset=utf-8"],
                            body: ResponseBody(byteBuffer: ByteBuffer(string: body)))
        }
        return Application(
            router: router, configuration: .init(address: .hostname(host, port: port), serverName: "pagoda"),
            onServerRunning: { channel in
                logger.info("status endpoint listening", metadata: [
                    "http.host": "\(host)", "http.port": "\(channel.localAddress?.port ?? port)",
                ])
            },
            logger: logger)
    }
}
