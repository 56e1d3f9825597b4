import Foundation
import Logging
import Metrics
import MetricsTestKit
import PagodaJSON
import PagodaRules
import PagodaTesting
import PagodaTransport
import Testing

@testable import PagodaService

/// The service's metrics through swift-metrics: which event counts where, with which labels (`TestMetrics`),
/// and the Prometheus page a service's own registry gives (`PrometheusExport`).
@Suite struct ServiceMetricsTests {
    /// Each counter of `ServiceMetrics` under its exported name (docs/operations.md's table).
    static var counters: [(KeyPath<ServiceMetrics, CoreMetrics.Counter>, String)] {
        [
            (\.dispatched, "pagoda_dispatched_total"), (\.duplicates, "pagoda_duplicates_total"),
            (\.rejected, "pagoda_rejected_total"), (\.processingFailures, "pagoda_processing_failures_total"),
            (\.published, "pagoda_published_total"), (\.republished, "pagoda_republished_total"),
            (\.returned, "pagoda_returned_total"), (\.queuesRedeclared, "pagoda_queue_redeclared_total"),
            (\.commandsApplied, "pagoda_commands_applied_total"), (\.commandsRefused, "pagoda_commands_refused_total"),
            (\.commandsDuplicate, "pagoda_commands_duplicate_total"), (\.timersFired, "pagoda_timers_fired_total"),
            (\.timersStale, "pagoda_timers_stale_total"), (\.timersUnreadable, "pagoda_timers_unreadable_total"),
            (\.rulesReloaded, "pagoda_rules_reloaded_total"),
            (\.rulesReloadFailed, "pagoda_rules_reload_failed_total"),
            (\.storeWriteFailures, "pagoda_store_write_failures_total"),
        ]
    }

    /// Each counter counts under its own name only, and every name has a help text.
    @Test func eachCounterCountsUnderItsName() throws {
        let test = TestMetrics()
        let metrics = ServiceMetrics(factory: test)
        for (i, (path, _)) in Self.counters.enumerated() { metrics[keyPath: path].increment(by: i + 1) }
        for (i, (_, name)) in Self.counters.enumerated() {
            #expect(try test.expectCounter(name).totalValue == Int64(i + 1), "\(name)")
            #expect(ServiceMetrics.help[name] != nil, "\(name) has no help text")
        }
        #expect(test.counters.count == Self.counters.count)
    }

    /// A dispatched ticket's warnings count by field and code, one series per pair.
    @Test func intakeWarningsCountByFieldAndCode() throws {
        let test = TestMetrics()
        let metrics = ServiceMetrics(factory: test)
        metrics.intakeWarnings.increment("caller.phone", "format")
        metrics.intakeWarnings.increment("category", "unknown_category")
        metrics.intakeWarnings.increment("caller.phone", "format")
        let name = "pagoda_intake_warnings_total"
        #expect(try test.expectCounter(name, [("field", "caller.phone"), ("code", "format")]).totalValue == 2)
        #expect(try test.expectCounter(name, [("field", "category"), ("code", "unknown_category")]).totalValue == 1)
        #expect(test.counters(label: name).count == 2)
    }

    /// Timer lateness is recorded in milliseconds into one aggregated recorder (a histogram), and kept for
    /// the stop log's quantiles.
    @Test func latenessIsRecordedInMilliseconds() throws {
        let test = TestMetrics()
        let metrics = ServiceMetrics(factory: test)
        for ms in [0, 100, 101, 999_999] { metrics.timerLateness.record(milliseconds: ms) }
        let recorder = try test.expectRecorder(LatenessLog.name)
        #expect(recorder.aggregate)
        #expect(recorder.values == [0, 100, 101, 999_999])
        #expect(metrics.timerLateness.quantiles([0, 1])?.values == [0, 999_999])
    }

    /// Timers that fell due during a month of downtime (or old tickets replayed) are late by more than
    /// 2^31 ms: the quantiles keep their values instead of saturating.
    @Test func latenessOfWeeksIsKeptWhole() {
        let metrics = ServiceMetrics(factory: TestMetrics())
        let month = 30 * 86_400_000
        for ms in [40, month, month + 1] { metrics.timerLateness.record(milliseconds: ms) }
        let q = metrics.timerLateness.quantiles([0.0, 0.5, 1.0])
        #expect(q?.count == 3 && q?.values == [40, month, month + 1])
    }

    /// The page: help and type lines, counters as integers, label values escaped, the lateness histogram
    /// cumulative over its buckets.
    @Test func thePageHasHelpTypesEscapedLabelsAndCumulativeBuckets() {
        let export = PrometheusExport()
        let metrics = ServiceMetrics(factory: export)
        metrics.dispatched.increment(by: 2)
        metrics.intakeWarnings.increment(#"a"b\c"#, "line\nbreak")
        for ms in [100, 101, 250, 999_999] { metrics.timerLateness.record(milliseconds: ms) }
        let text = export.text()
        for line in [
            "# HELP pagoda_dispatched_total Tickets dispatched.", "# TYPE pagoda_dispatched_total counter",
            "pagoda_dispatched_total 2", "pagoda_duplicates_total 0",
            #"pagoda_intake_warnings_total{field="a\"b\\c",code="line\nbreak"} 1"#,
            "# TYPE pagoda_timer_lateness_milliseconds histogram",
            #"pagoda_timer_lateness_milliseconds_bucket{le="100.0"} 1"#,
            #"pagoda_timer_lateness_milliseconds_bucket{le="250.0"} 3"#,
            #"pagoda_timer_lateness_milliseconds_bucket{le="300000.0"} 3"#,
            #"pagoda_timer_lateness_milliseconds_bucket{le="+Inf"} 4"#,
            "pagoda_timer_lateness_milliseconds_sum 1000450.0", "pagoda_timer_lateness_milliseconds_count 4",
        ] {
            #expect(text.split(separator: "\n").contains { $0 == line }, "no '\(line)' in\n\(text)")
        }
    }

    /// Gauges read at scrape time: set each time, and a series a scrape no longer has leaves the page.
    @Test func scrapedGaugesDropWhatIsGone() throws {
        let export = PrometheusExport()
        let test = TestMetrics()
        let gauges = ScrapedGauges(factory: MultiplexMetricsHandler(factories: [export, test]))
        gauges.show([
            .init("pagoda_tickets", [("unit", "a"), ("phase", "assigned")], 2),
            .init("pagoda_tickets", [("unit", "b"), ("phase", "assigned")], 1), .init("pagoda_store_up", [], 1),
        ])
        var page = MetricsPage(export.text())
        #expect(page[#"pagoda_tickets{unit="a",phase="assigned"}"#] == 2)
        #expect(page[#"pagoda_tickets{unit="b",phase="assigned"}"#] == 1)
        gauges.show([
            .init("pagoda_tickets", [("unit", "a"), ("phase", "assigned")], 3), .init("pagoda_store_up", [], 0),
        ])
        page = MetricsPage(export.text())
        #expect(page[#"pagoda_tickets{unit="a",phase="assigned"}"#] == 3)
        #expect(page[#"pagoda_tickets{unit="b",phase="assigned"}"#] == nil, "\(page.samples)")
        #expect(page["pagoda_store_up"] == 0)
        #expect(try test.expectGauge("pagoda_tickets", [("unit", "a"), ("phase", "assigned")]).lastValue == 3)
        #expect(test.recorders(label: "pagoda_tickets").count == 1)
        gauges.show([])
        #expect(!export.text().contains("pagoda_tickets"))
    }

    /// Two services in one process (as the tests run them) count apart: each has its own registry, and the
    /// global `MetricsSystem` is left alone.
    @Test func twoServicesInOneProcessCountApart() {
        let (a, b) = (PrometheusExport(), PrometheusExport())
        let (ma, mb) = (ServiceMetrics(factory: a), ServiceMetrics(factory: b))
        ma.dispatched.increment(by: 3)
        mb.dispatched.increment()
        #expect(MetricsPage(a.text())["pagoda_dispatched_total"] == 3)
        #expect(MetricsPage(b.text())["pagoda_dispatched_total"] == 1)
    }

    /// The stop log's counters come from the page: the unlabelled `pagoda_..._total` series by short name.
    @Test func thePageReadsBack() {
        let page = MetricsPage(
            """
            # HELP pagoda_dispatched_total Tickets dispatched.
            # TYPE pagoda_dispatched_total counter
            pagoda_dispatched_total 7
            pagoda_intake_warnings_total{field="category",code="type"} 2
            pagoda_store_up 1.0
            not a sample

            """)
        #expect(
            page["pagoda_store_up"] == 1 && page[#"pagoda_intake_warnings_total{field="category",code="type"}"#] == 2)
        #expect(page.counters.map(\.name) == ["dispatched"] && page.counters.first?.value == 7)
    }
}

extension ServiceTests {
    /// A service run in this process, on the real broker and a real database, counts its events where
    /// `TestMetrics` sees them: a ticket dispatched, one sent twice (a duplicate), one with malformed
    /// optional fields (dispatched, its warnings by field and code), and a body that is no ticket (rejected);
    /// its outbox's messages confirmed. Its own registry's page says the same.
    @Test func aServiceCountsItsEventsWithTheirLabels() async throws {
        try await Self.started.value
        let prefix = TestPrefixes.take("m", on: Self.broker).prefix
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("pagoda-\(prefix)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        var config = ServerConfiguration(
            rulesDirectory: repositoryRoot.appendingPathComponent("rules").path,
            amqp: try Self.broker.configuration,
            databasePath: dir.appendingPathComponent("pagoda.sqlite").path)
        config.names = Names(prefix: prefix)
        let test = TestMetrics()
        let server = PagodaServer(
            configuration: config, ruleSet: Self.rules, logger: Logger(label: "pagoda.test"), alsoTo: test)
        let running = Task { try await server.run() }

        let publisher = AMQPPublisher(
            configuration: try Self.broker.configuration,
            topology: Topology(exchanges: [.init(name: config.names.intakeExchange, type: "fanout")]))
        func publish(_ body: [UInt8], id: String) async throws {
            let deadline = ContinuousClock.now + .seconds(60)
            // Returned until the service has declared and bound its intake queue.
            while try await publisher.publish(
                AMQPMessage(
                    exchange: config.names.intakeExchange, routingKey: "", body: body,
                    messageId: id)) != .confirmed
            {
                guard ContinuousClock.now < deadline else { throw TestFailure("publish of \(id) never confirmed") }
                try await Task.sleep(for: .milliseconds(50))
            }
        }
        let degraded = Array(
            (#"{"id":"MET-2","received_at":"\#(Self.now)","channel":"hotline","kind":"complaint","#
                + #""text":"河涌有污水，气味很大","category":"no_such","region":{"district":"南海区"},"#
                + #""caller":{"phone":"138-1234-567x"}}"#).utf8)
        try await publish(Self.ticket(1, prefix: "MET").1, id: "MET-1")
        try await publish(degraded, id: "MET-2")
        try await publish(Array("not a ticket".utf8), id: "MET-3")
        func count(_ name: String, _ labels: [(String, String)] = []) -> Int64 {
            (try? test.expectCounter(name, labels).totalValue) ?? 0
        }
        #expect(await eventually { count("pagoda_dispatched_total") == 2 && count("pagoda_rejected_total") == 1 })
        try await publish(Self.ticket(1, prefix: "MET").1, id: "MET-1-again")
        #expect(await eventually { count("pagoda_duplicates_total") == 1 })
        // Outbox messages confirmed: one per dispatch (its unit queue and events copy), one for the rejection.
        #expect(
            await eventually { count("pagoda_published_total") >= 3 }, "published \(count("pagoda_published_total"))")

        #expect(count("pagoda_dispatched_total") == 2 && count("pagoda_rejected_total") == 1)
        #expect(count("pagoda_intake_warnings_total", [("field", "category"), ("code", "unknown_category")]) == 1)
        #expect(count("pagoda_intake_warnings_total", [("field", "caller.phone"), ("code", "format")]) == 1)
        #expect(test.counters(label: "pagoda_intake_warnings_total").count == 2)
        #expect(count("pagoda_processing_failures_total") == 0 && count("pagoda_returned_total") == 0)
        let page = MetricsPage(server.export.text())
        #expect(page["pagoda_dispatched_total"] == 2 && page["pagoda_duplicates_total"] == 1, "\(page.samples)")
        #expect(page[#"pagoda_intake_warnings_total{field="caller.phone",code="format"}"#] == 1, "\(page.samples)")

        running.cancel()
        _ = await running.result
        await publisher.close()
    }
}
