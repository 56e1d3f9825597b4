import CoreMetrics
import Prometheus

/// A swift-metrics factory over one service's own Prometheus registry (swift-prometheus), whose text is
/// the status endpoint's `/metrics`.
///
/// Unlike swift-prometheus's `PrometheusMetricsFactory`, it writes each metric's help text
/// (`ServiceMetrics.help`) and gives each histogram its own buckets (`ServiceMetrics.buckets`). A label
/// with no help text gets none; recorders that aggregate are histograms, the others and meters gauges.
/// A metric is registered once per name and labels: making it again returns the same series.
public struct PrometheusExport: MetricsFactory {
    public let registry: PrometheusCollectorRegistry

    public init(registry: PrometheusCollectorRegistry = PrometheusCollectorRegistry()) {
        self.registry = registry
    }

    /// The registry's samples in the Prometheus text format, version 0.0.4.
    public func text() -> String { registry.emitToString() }

    static let defaultBuckets: [Double] = [5, 10, 25, 50, 100, 250, 500, 1_000, 2_500, 5_000, 10_000]

    /// The metric's name as given (no namespace or unit added) with its help text.
    private func name(_ label: String) -> MetricNameDescriptor {
        MetricNameDescriptor(metricName: label, unitName: "", helpText: ServiceMetrics.help[label] ?? "")
    }

    public func makeCounter(label: String, dimensions: [(String, String)]) -> any CounterHandler {
        registry.makeCounter(descriptor: name(label), labels: dimensions)
    }

    public func makeFloatingPointCounter(label: String, dimensions: [(String, String)])
        -> any FloatingPointCounterHandler
    {
        registry.makeCounter(descriptor: name(label), labels: dimensions)
    }

    public func makeMeter(label: String, dimensions: [(String, String)]) -> any MeterHandler {
        registry.makeGauge(descriptor: name(label), labels: dimensions)
    }

    public func makeRecorder(label: String, dimensions: [(String, String)], aggregate: Bool) -> any RecorderHandler {
        guard aggregate else { return registry.makeGauge(descriptor: name(label), labels: dimensions) }
        return registry.makeValueHistogram(
            descriptor: name(label), labels: dimensions,
            buckets: ServiceMetrics.buckets[label] ?? Self.defaultBuckets)
    }

    public func makeTimer(label: String, dimensions: [(String, String)]) -> any TimerHandler {
        registry.makeDurationHistogram(
            descriptor: name(label), labels: dimensions,
            buckets: Self.defaultBuckets.map { .milliseconds($0) })
    }

    public func destroyCounter(_ handler: any CounterHandler) {
        if let c = handler as? Prometheus.Counter { registry.unregisterCounter(c) }
    }

    public func destroyFloatingPointCounter(_ handler: any FloatingPointCounterHandler) {
        if let c = handler as? Prometheus.Counter { registry.unregisterCounter(c) }
    }

    public func destroyMeter(_ handler: any MeterHandler) {
        if let g = handler as? Prometheus.Gauge { registry.unregisterGauge(g) }
    }

    public func destroyRecorder(_ handler: any RecorderHandler) {
        if let g = handler as? Prometheus.Gauge { registry.unregisterGauge(g) }
        if let h = handler as? ValueHistogram { registry.unregisterValueHistogram(h) }
    }

    public func destroyTimer(_ handler: any TimerHandler) {
        if let h = handler as? DurationHistogram { registry.unregisterDurationHistogram(h) }
    }
}

/// The samples of a page in the Prometheus text format, by series as written (`name` or
/// `name{label="value",...}`); comment lines are skipped, and a line that is not `series value` too.
public struct MetricsPage: Sendable {
    public let samples: [String: Double]

    public init(_ text: String) {
        var samples: [String: Double] = [:]
        for line in text.split(separator: "\n") where !line.hasPrefix("#") {
            guard let space = line.lastIndex(of: " "), let value = Double(line[line.index(after: space)...]) else {
                continue
            }
            samples[String(line[..<space])] = value
        }
        self.samples = samples
    }

    public subscript(_ series: String) -> Double? { samples[series] }

    /// The unlabelled `pagoda_..._total` counters by their short name (`dispatched`), for the stop log.
    public var counters: [(name: String, value: Int)] {
        samples.compactMap { key, value -> (String, Int)? in
            guard key.hasPrefix("pagoda_"), key.hasSuffix("_total"), !key.contains("{") else { return nil }
            return (String(key.dropFirst("pagoda_".count).dropLast("_total".count)), Int(value))
        }.sorted { $0.0 < $1.0 }
    }
}
