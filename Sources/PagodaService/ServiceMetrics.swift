import CoreMetrics
import Synchronization

/// The service's metrics, made by the swift-metrics factory it is given (bounded: no per-ticket labels).
///
/// `pagoda serve` gives each service its own `PrometheusExport` (a registry of its own, so several services in
/// one process, as in the tests, do not share counts); tests of the services give a `TestMetrics`. The global
/// `MetricsSystem` is not used. Each metric's name and help text are in `ServiceMetrics.help`.
public final class ServiceMetrics: Sendable {
    /// The factory every metric here was made with; the status endpoint makes its gauges with it too.
    public let factory: any MetricsFactory
    public let dispatched: CoreMetrics.Counter
    public let duplicates: CoreMetrics.Counter
    public let rejected: CoreMetrics.Counter
    public let processingFailures: CoreMetrics.Counter
    public let published: CoreMetrics.Counter
    public let republished: CoreMetrics.Counter
    public let returned: CoreMetrics.Counter
    /// Destination queues declared again after the broker returned a publish for them (deleted by hand).
    public let queuesRedeclared: CoreMetrics.Counter
    public let commandsApplied: CoreMetrics.Counter
    public let commandsRefused: CoreMetrics.Counter
    public let commandsDuplicate: CoreMetrics.Counter
    public let timersFired: CoreMetrics.Counter
    public let timersStale: CoreMetrics.Counter
    /// Due timers left unfired because their ticket's stored state could not be read.
    public let timersUnreadable: CoreMetrics.Counter
    public let rulesReloaded: CoreMetrics.Counter
    public let rulesReloadFailed: CoreMetrics.Counter
    /// Writes that failed for the store's reasons and were tried again (`StoreHealth`).
    public let storeWriteFailures: CoreMetrics.Counter
    /// Changes of the node's role (active, standby) with several nodes on PostgreSQL (`NodeLease`), by role.
    public let roleChanges: PairCounter
    /// Timer lateness (fire time minus due time): a histogram, and the latest firings for the stop log.
    public let timerLateness: LatenessLog
    /// Warnings on dispatched tickets (optional fields left out), by field (`TicketContract.warningField`)
    /// and code: both from closed sets.
    public let intakeWarnings: PairCounter

    public init(factory: any MetricsFactory) {
        self.factory = factory
        func counter(_ name: String) -> CoreMetrics.Counter { CoreMetrics.Counter(label: name, factory: factory) }
        dispatched = counter("pagoda_dispatched_total")
        duplicates = counter("pagoda_duplicates_total")
        rejected = counter("pagoda_rejected_total")
        processingFailures = counter("pagoda_processing_failures_total")
        published = counter("pagoda_published_total")
        republished = counter("pagoda_republished_total")
        returned = counter("pagoda_returned_total")
        queuesRedeclared = counter("pagoda_queue_redeclared_total")
        commandsApplied = counter("pagoda_commands_applied_total")
        commandsRefused = counter("pagoda_commands_refused_total")
        commandsDuplicate = counter("pagoda_commands_duplicate_total")
        timersFired = counter("pagoda_timers_fired_total")
        timersStale = counter("pagoda_timers_stale_total")
        timersUnreadable = counter("pagoda_timers_unreadable_total")
        rulesReloaded = counter("pagoda_rules_reloaded_total")
        rulesReloadFailed = counter("pagoda_rules_reload_failed_total")
        storeWriteFailures = counter("pagoda_store_write_failures_total")
        roleChanges = PairCounter("pagoda_node_role_changes_total", labels: ("role", "reason"), factory: factory)
        timerLateness = LatenessLog(factory: factory)
        intakeWarnings = PairCounter("pagoda_intake_warnings_total", labels: ("field", "code"), factory: factory)
    }

    /// The help text of every metric the service exports, by name: `PrometheusExport` writes it as `# HELP`.
    public static let help: [String: String] = [
        "pagoda_dispatched_total": "Tickets dispatched.",
        "pagoda_duplicates_total": "Tickets received again and not dispatched twice.",
        "pagoda_rejected_total": "Intake messages rejected.",
        "pagoda_processing_failures_total": "Deliveries returned to their queue after a failure.",
        "pagoda_published_total": "Messages confirmed by the broker.",
        "pagoda_republished_total": "Publishes sent again after an unknown outcome or a return.",
        "pagoda_returned_total": "Publishes the broker returned as unroutable.",
        "pagoda_queue_redeclared_total":
            "Destination queues declared again after the broker returned a publish for them.",
        "pagoda_commands_applied_total": "Worker commands applied.",
        "pagoda_commands_refused_total": "Worker commands refused.",
        "pagoda_commands_duplicate_total": "Worker commands seen before.",
        "pagoda_timers_fired_total": "Timers fired.",
        "pagoda_timers_stale_total": "Timers that were stale when due.",
        "pagoda_timers_unreadable_total": "Due timers left unfired because their ticket's state could not be read.",
        "pagoda_rules_reloaded_total": "Rule reloads put in force.",
        "pagoda_rules_reload_failed_total": "Rule reloads that failed.",
        "pagoda_store_write_failures_total": "Writes that failed for the store's reasons and were tried again.",
        "pagoda_intake_warnings_total":
            "Optional ticket fields left out of routing (dispatched with a warning), by field and code.",
        "pagoda_timer_lateness_milliseconds": "How late timers fired: from due to committed.",
        "pagoda_rules_info": "The rule set in force, by hash.",
        "pagoda_rules_units": "Handling units in the rules in force.",
        "pagoda_amqp_connected": "1 while the broker connection is up, by role.",
        "pagoda_node_active":
            "1 while this node holds the lease and serves (several nodes on PostgreSQL), 0 while it is a standby.",
        "pagoda_node_role_changes_total": "Changes of this node's role, by the role taken and the reason.",
        "pagoda_store_writable": "0 while the store cannot write (disk full, I/O error, read-only) and work is held.",
        "pagoda_store_bytes": "Size of the database's files: the database and its write-ahead log.",
        "pagoda_store_available_bytes": "Room left on the database's file system.",
        "pagoda_store_up": "1 when the store's counts below could be read.",
        "pagoda_outbox_unsent": "Messages recorded and not yet confirmed by the broker.",
        "pagoda_timers_pending": "Tickets with a pending timer.",
        "pagoda_timers_due": "Timers due now and not yet fired.",
        "pagoda_tickets": "Tickets by holding unit and lifecycle phase (unit empty: handed off).",
    ]

    /// Upper bounds of the histograms' buckets, by name (a last bucket, `+Inf`, takes the rest).
    public static let buckets: [String: [Double]] = [
        LatenessLog.name: [100, 250, 500, 1_000, 2_000, 5_000, 10_000, 30_000, 60_000, 300_000]
    ]
}

/// Counts by a pair of label values; the caller passes values from closed sets only.
public final class PairCounter: Sendable {
    let name: String
    let labels: (String, String)
    let factory: any MetricsFactory
    private let counters = Mutex<[Pair: CoreMetrics.Counter]>([:])

    struct Pair: Hashable { let first: String, second: String }

    init(_ name: String, labels: (String, String), factory: any MetricsFactory) {
        self.name = name
        self.labels = labels
        self.factory = factory
    }

    public func increment(_ first: String, _ second: String, by n: Int = 1) {
        let counter = counters.withLock { counters in
            let pair = Pair(first: first, second: second)
            if let c = counters[pair] { return c }
            let c = CoreMetrics.Counter(
                label: name, dimensions: [(labels.0, first), (labels.1, second)], factory: factory)
            counters[pair] = c
            return c
        }
        counter.increment(by: n)
    }
}

/// Timer lateness in milliseconds: the histogram `pagoda_timer_lateness_milliseconds`, and a bounded log of
/// the most recent 1,000,000 firings for the quantiles the service logs when it stops.
public final class LatenessLog: Sendable {
    public static let name = "pagoda_timer_lateness_milliseconds"
    /// Every lateness in milliseconds (at most the last million): a timer that fell due while the
    /// service was down for weeks is late by more than an `Int32` holds.
    private let values = Mutex<[Int]>([])
    private let histogram: CoreMetrics.Recorder

    init(factory: any MetricsFactory) {
        histogram = CoreMetrics.Recorder(label: Self.name, aggregate: true, factory: factory)
    }

    public func record(milliseconds: Int) {
        values.withLock { v in
            if v.count >= 1_000_000 { v.removeFirst(v.count / 2) }
            v.append(milliseconds)
        }
        histogram.record(milliseconds)
    }

    /// The given quantiles (0...1) of the recorded lateness, with the count; nil when empty.
    public func quantiles(_ qs: [Double]) -> (count: Int, values: [Int])? {
        let sorted = values.withLock { $0 }.sorted()
        guard !sorted.isEmpty else { return nil }
        return (sorted.count, qs.map { sorted[min(sorted.count - 1, Int(Double(sorted.count) * $0))] })
    }
}
