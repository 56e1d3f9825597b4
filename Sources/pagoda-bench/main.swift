// Pipeline benchmark: (a) a bare pipe built from the same transport (consume intake, republish with
// confirms, ack after the confirm; no rules, no database), (b) `pagoda serve` end to end and (c) a matched
// pipe doing serve's broker work (MatchedPipe.swift), (b) and (c) paired in alternating rounds, on the same
// broker in one run; then publish-to-unit-queue latency at a fixed rate, and optionally a memory soak.
import ArgumentParser
import Foundation
import PagodaJSON
import PagodaRules
import PagodaService
import PagodaTransport

#if canImport(Glibc)
    import Glibc
#endif

struct Options {
    var url = "amqp://guest:guest@127.0.0.1:5676/"
    var pagoda = ".build/release/pagoda"
    var rules = "rules"
    var count = 20_000
    var rate = 500
    var latencySeconds = 20
    var soakSeconds = 0
    var synchronous = "full"
    /// Where (b) watches dispatches: `events`, the service's own events queue (which audit and analytics
    /// consumers read in production), or `own`, a queue of the benchmark's bound to the dispatch exchange
    /// (a third copy of every message, which the broker has to write too; figures before 2026-11-24).
    var watch = "events"
    /// Paired rounds of (b) serve and (c) the matched pipe.
    var rounds = 3
    /// Every `--amqp-url` given (the nodes of a cluster): serve gets them all, the benchmark's own
    /// connections the list too.
    var urls: [String] = []
    /// `--postgres URL`: serve runs on PostgreSQL, each round on a new database created through this URL's
    /// server (the URL's role needs CREATEDB), instead of a SQLite file.
    var postgres: String?
    /// `--serve-only`: (b) and the latency only, without (a) the bare pipe and (c) the matched pipe.
    var serveOnly = false

    init(_ args: [String]) {
        var it = args.dropFirst().makeIterator()
        while let a = it.next() {
            if a == "--serve-only" {
                serveOnly = true
                continue
            }
            let v = it.next() ?? ""
            switch a {
            case "--amqp-url":
                urls.append(v)
                url = urls[0]
            case "--postgres": postgres = v
            case "--pagoda": pagoda = v
            case "--rules": rules = v
            case "--count": count = Int(v) ?? count
            case "--rate": rate = Int(v) ?? rate
            case "--latency-seconds": latencySeconds = Int(v) ?? latencySeconds
            case "--soak-seconds": soakSeconds = Int(v) ?? soakSeconds
            case "--synchronous": synchronous = v
            case "--watch": watch = v == "own" ? "own" : "events"
            case "--rounds": rounds = Int(v) ?? rounds
            default:
                FileHandle.standardError.write(Data("unknown option \(a)\n".utf8))
                exit(2)
            }
        }
    }
}

final class Box<T: Sendable>: @unchecked Sendable {
    private let lock = NSLock()
    private var v: T
    init(_ v: T) { self.v = v }
    func with<R>(_ f: (inout T) -> R) -> R {
        lock.lock()
        defer { lock.unlock() }
        return f(&v)
    }
}

/// Benchmark tickets are received now, so their clocks run (tickets from the past would be overdue at
/// once and climb the pagoda while the benchmark measures).
let receivedAt: String = {
    let f = ISO8601DateFormatter()
    f.timeZone = TimeZone(secondsFromGMT: 8 * 3600)
    return f.string(from: Date())
}()

func ticket(_ n: Int, sentNanos: UInt64? = nil) -> [UInt8] {
    let districts = ["南海区", "顺德区", "禅城区", "三水区", "高明区"]
    let towns = ["桂城街道", "大良街道", "祖庙街道", "西南街道", "荷城街道"]
    let kinds = ["complaint", "help", "report", "consultation", "suggestion"]
    let cats = [
        "city_management", "living_environment", "consumer_rights", "social_livelihood", "city_management.roads",
    ]
    let extra = sentNanos.map { #","bench_sent_ns":\#($0)"# } ?? ""
    return Array(
        #"{"id":"B-\#(n)","received_at":"\#(receivedAt)","channel":"hotline","kind":"\#(kinds[n % 5])","text":"小区门口的路灯坏了很久，晚上出行很不方便，多次反映没人处理，希望尽快维修。","category":"\#(cats[(n / 5) % 5])","region":{"district":"\#(districts[n % 5])","town":"\#(towns[n % 5])"}\#(extra)}"#
            .utf8)
}

func now() -> UInt64 { DispatchTime.now().uptimeNanoseconds }

/// Publishes `bodies` to an exchange with confirms, `window` at a time, retrying unconfirmed ones.
func preload(_ publisher: AMQPPublisher, exchange: String, routingKey: String, bodies: [[UInt8]]) async throws {
    try await withThrowingTaskGroup(of: Void.self) { group in
        var it = bodies.enumerated().makeIterator()
        func add(_ g: inout ThrowingTaskGroup<Void, any Error>) {
            guard let (i, body) = it.next() else { return }
            g.addTask {
                while try await publisher.publish(
                    AMQPMessage(exchange: exchange, routingKey: routingKey, body: body, messageId: "m-\(i)"))
                    != .confirmed
                {}
            }
        }
        for _ in 0..<512 { add(&group) }
        while try await group.next() != nil { add(&group) }
    }
}

func rssKiB(_ pid: pid_t) -> Int {
    guard let s = try? String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8),
        let line = s.split(separator: "\n").first(where: { $0.hasPrefix("VmRSS:") })
    else { return -1 }
    return Int(line.split(separator: " ").dropFirst().first ?? "") ?? -1
}

/// The broker's process (ops/bench/pipeline.sh passes its pid file), to report its CPU per ticket too.
let brokerPID: pid_t? = ProcessInfo.processInfo.environment["PAGODA_BENCH_BROKER_PID_FILE"]
    .flatMap { try? String(contentsOfFile: $0, encoding: .utf8) }
    .flatMap { pid_t($0.trimmingCharacters(in: .whitespacesAndNewlines)) }

/// The broker's CPU per ticket over a phase, as text ("" when the broker's pid is unknown).
func brokerCPU(since start: Double, tickets: Int) -> String {
    guard let pid = brokerPID else { return "" }
    return String(format: "; broker CPU %.0f µs per ticket", 1e6 * (cpuSeconds(pid) - start) / Double(tickets))
}

/// User plus system CPU time a process has used so far (/proc/PID/stat).
func cpuSeconds(_ pid: pid_t) -> Double {
    guard let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
        let close = stat.lastIndex(of: ")")
    else { return .nan }
    let fields = stat[stat.index(after: close)...].split(separator: " ")
    // After the command name: state is field 3, utime field 14, stime field 15 (1-based, as in proc(5)).
    guard fields.count > 12, let user = Double(fields[11]), let system = Double(fields[12]) else { return .nan }
    return (user + system) / Double(sysconf(Int32(_SC_CLK_TCK)))
}

func percentile(_ sorted: [UInt64], _ p: Double) -> Double {
    sorted.isEmpty ? .nan : Double(sorted[min(sorted.count - 1, Int(Double(sorted.count) * p))]) / 1e6
}

if CommandLine.arguments.count > 1, CommandLine.arguments[1].hasPrefix("timers-") {
    try await timerBench(CommandLine.arguments)
    exit(0)
}
if CommandLine.arguments.count > 1, CommandLine.arguments[1] == "rules" {
    BenchRules.main(Array(CommandLine.arguments.dropFirst(2)))
    exit(0)
}
if CommandLine.arguments.count > 1, CommandLine.arguments[1] == "console-seed" {
    try await consoleSeed(CommandLine.arguments)
    exit(0)
}
if CommandLine.arguments.count > 1, CommandLine.arguments[1] == "console-intake" {
    try await consoleIntake(CommandLine.arguments)
    exit(0)
}
if CommandLine.arguments.count > 1, CommandLine.arguments[1] == "store" {
    try storeBench(CommandLine.arguments)
    exit(0)
}
let options = Options(CommandLine.arguments)
var config = try AMQPConfiguration(urls: options.urls.isEmpty ? [options.url] : options.urls)
config.connectionName = "pagoda-bench"
let run = "b\(UInt32.random(in: 0...UInt32.max))"
let bodies = (0..<options.count).map { ticket($0) }
print(
    "pipeline benchmark: \(options.count) tickets of \(bodies[0].count) bytes, broker \(config.endpointDescription), synchronous=\(options.synchronous)"
        + (options.postgres.map { ", store PostgreSQL at \(redactedDatabase($0))" } ?? ", store SQLite")
)

/// The URL without its password, for the output.
func redactedDatabase(_ url: String) -> String {
    url.replacingOccurrences(of: #":[^:@/]*@"#, with: "@", options: .regularExpression)
}

/// A new database on the server of `url` for one serve round; returns its URL.
func createDatabase(_ url: String, name: String) throws -> String {
    let p = Process()
    p.executableURL = URL(fileURLWithPath: "/usr/bin/env")
    p.arguments = ["psql", url, "-v", "ON_ERROR_STOP=1", "-q", "-c", "CREATE DATABASE \(name)"]
    try p.run()
    p.waitUntilExit()
    guard p.terminationStatus == 0 else {
        throw BenchError("psql could not create database \(name) on \(redactedDatabase(url))")
    }
    guard let slash = url.lastIndex(of: "/") else { throw BenchError("--postgres \(url): no database in the URL") }
    return String(url[...slash]) + name
}

// (a) The bare pipe.
if !options.serveOnly {
    let inQ = "\(run).pipe.in"
    let outQ = "\(run).pipe.out"
    let topo = Topology(queues: [.quorum(inQ), .init(name: outQ)])
    let loader = AMQPPublisher(configuration: config, topology: topo)
    try await preload(loader, exchange: "", routingKey: inQ, bodies: bodies)
    await loader.close()
    let consumer = AMQPConsumer(configuration: config, queue: inQ, topology: topo, prefetch: 512)
    let publisher = AMQPPublisher(configuration: config, topology: topo, window: 256)
    let done = Box(0)
    let start = now()
    let brokerStartA = brokerPID.map(cpuSeconds) ?? 0
    await withTaskGroup(of: Void.self) { group in
        var inflight = 0
        for await d in consumer.deliveries {
            inflight += 1
            group.addTask {
                while (try? await publisher.publish(
                    AMQPMessage(exchange: "", routingKey: outQ, body: d.body, messageId: d.messageId))) != .confirmed
                {}
                consumer.ack(d)
                done.with { $0 += 1 }
            }
            if inflight >= 512 {
                await group.next()
                inflight -= 1
            }
            if inflight + done.with({ $0 }) >= options.count { break }
        }
        await group.waitForAll()
    }
    let seconds = Double(now() - start) / 1e9
    print(
        String(
            format: "(a) bare pipe:      %7.0f tickets/s  (%d in %.2f s)", Double(options.count) / seconds,
            options.count, seconds)
            + brokerCPU(since: brokerStartA, tickets: options.count))
    setenv("PAGODA_BENCH_PIPE_RATE", String(Double(options.count) / seconds), 1)

    // The same pipe's latency at the fixed rate: the broker's share of the end-to-end figure below.
    let latencies = Box<[UInt64]>([])
    let outWatcher = AMQPConsumer(configuration: config, queue: outQ, topology: topo, prefetch: 1000)
    let drainOut = Task {
        for await d in outWatcher.deliveries {
            let t = now()
            if let r = d.body.firstRange(of: Array("\"bench_sent_ns\":".utf8)),
                let sent = UInt64(
                    String(decoding: d.body[r.upperBound...].prefix { $0 >= 48 && $0 <= 57 }, as: UTF8.self))
            {
                latencies.with { $0.append(t - sent) }
            }
            outWatcher.ack(d)
        }
    }
    let pipeTask = Task {
        await withTaskGroup(of: Void.self) { group in
            for await d in consumer.deliveries {
                group.addTask {
                    while (try? await publisher.publish(
                        AMQPMessage(exchange: "", routingKey: outQ, body: d.body, messageId: d.messageId)))
                        != .confirmed
                    {}
                    consumer.ack(d)
                }
            }
        }
    }
    let pacer = AMQPPublisher(configuration: config, topology: topo)
    let interval = 1e9 / Double(options.rate)
    let t0 = now()
    let total = options.rate * min(options.latencySeconds, 10)
    await withTaskGroup(of: Void.self) { group in
        for n in 0..<total {
            let due = t0 + UInt64(Double(n) * interval)
            let t = now()
            if due > t { try? await Task.sleep(for: .nanoseconds(Int(due - t))) }
            group.addTask {
                _ = try? await pacer.publish(
                    AMQPMessage(exchange: "", routingKey: inQ, body: ticket(n, sentNanos: now()), messageId: "p-\(n)"))
            }
        }
    }
    let until = now() + 20_000_000_000
    while latencies.with({ $0.count }) < total && now() < until { try await Task.sleep(for: .milliseconds(5)) }
    let lat = latencies.with { $0 }.sorted()
    print(
        String(
            format: "(a) bare pipe latency at %d tickets/s: p50 %.1f ms, p99 %.1f ms, max %.1f ms (%d samples)",
            options.rate, percentile(lat, 0.5), percentile(lat, 0.99), percentile(lat, 1.0), lat.count))
    await pacer.close()
    await consumer.close()
    pipeTask.cancel()
    await publisher.close()
    await outWatcher.close()
    drainOut.cancel()
}

// (b) pagoda serve end to end, paired with (c) the matched pipe: the same broker work as serve (MatchedPipe.swift).
// They alternate, serve first (the pipe's messages take the size of serve's), `--rounds` times each, on
// queues of their own each round; serve's share of the pipe is given per round and as the median.
let ruleSet: RuleSet = try {
    let compiled = RuleSetCompiler.compile(try RuleSetCompiler.readFiles(in: options.rules))
    guard let r = compiled.ruleSet else { throw BenchError("the rules in \(options.rules) do not compile") }
    return r
}()
let ownQueue = options.watch == "own"

/// One serve round: a fresh prefix and database, the tickets preloaded, serve started, the events counted.
struct ServeRound {
    let prefix: String
    let dir: String
    let serve: Process
    let watcher: EventsWatcher
    let loader: AMQPPublisher
    let rate: PhaseRate
    /// The broker's CPU per ticket during the round ("" when its pid is unknown).
    let broker: String

    /// `base`: the run's name, shared by every queue prefix of this run.
    @MainActor static func run(_ round: Int, base: String) async throws -> ServeRound {
        let prefix = "\(base)s\(round)"
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("pagoda-bench-\(prefix)").path
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        // Every dispatch reaches the events queue in the same routing step as its unit queue.
        let watched = ownQueue ? "\(prefix).bench.all" : "\(prefix).events"
        let topology = Topology(
            exchanges: [
                .init(name: "\(prefix).dispatch", type: "topic"), .init(name: "\(prefix).events", type: "topic"),
                .init(name: "\(prefix).intake", type: "fanout"),
            ],
            // The intake queue as serve declares it (single active consumer); serve publishes the events copy itself.
            queues: [
                Names.publishedQueue(watched), .quorum("\(prefix).intake", arguments: Names.singleActiveConsumer),
            ],
            bindings: [
                .init(queue: watched, exchange: ownQueue ? "\(prefix).dispatch" : "\(prefix).events", routingKey: "#"),
                .init(queue: "\(prefix).intake", exchange: "\(prefix).intake", routingKey: ""),
            ])
        let watcher = EventsWatcher(configuration: config, queue: watched, topology: topology)
        try await watcher.consumer.waitUntilConnected()
        let loader = AMQPPublisher(configuration: config, topology: topology)
        try await preload(loader, exchange: "\(prefix).intake", routingKey: "", bodies: bodies)
        let serve = Process()
        serve.executableURL = URL(fileURLWithPath: options.pagoda)
        let db = try options.postgres.map { try createDatabase($0, name: "bench_\(prefix)") } ?? "\(dir)/pagoda.sqlite"
        let brokers = (options.urls.isEmpty ? [options.url] : options.urls).flatMap { ["--amqp-url", $0] }
        serve.arguments =
            ["serve", "--rules", options.rules] + brokers + [
                "--db", db, "--prefix",
                prefix,
                "--log-level", ProcessInfo.processInfo.environment["PAGODA_BENCH_SERVE_LOG"] ?? "warning",
                "--synchronous", options.synchronous, "--console-address", "none",
            ]
        serve.standardError = FileHandle(
            forWritingAtPath: ProcessInfo.processInfo.environment["PAGODA_BENCH_SERVE_LOG_FILE"] ?? "/dev/null")
        let start = now()
        let brokerStart = brokerPID.map(cpuSeconds) ?? 0
        try serve.run()
        let rate = try await watcher.rate(of: options.count, since: start)
        return ServeRound(
            prefix: prefix, dir: dir, serve: serve, watcher: watcher, loader: loader, rate: rate,
            broker: brokerCPU(since: brokerStart, tickets: options.count))
    }

    func stop() async {
        serve.interrupt()
        serve.waitUntilExit()
        await loader.close()
        await watcher.close()
        try? FileManager.default.removeItem(atPath: dir)
    }
}

let rateA = Double(ProcessInfo.processInfo.environment["PAGODA_BENCH_PIPE_RATE"] ?? "") ?? .nan
var shares: [(total: Double, steady: Double)] = []
var lastRound: ServeRound?
for round in 1...max(1, options.rounds) {
    if let previous = lastRound { await previous.stop() }
    let r = try await ServeRound.run(round, base: run)
    lastRound = r
    let seconds = Double(options.count) / r.rate.total
    // Without the bare pipe (--serve-only) there is no (a) to compare with.
    let share = options.serveOnly ? "" : String(format: "; %.0f%% of (a)", 100 * r.rate.total / rateA)
    print(
        String(
            format: "(b) pagoda serve, round %d:   %7.0f tickets/s (%d in %.2f s, start-up included", round,
            r.rate.total,
            options.count, seconds) + share
            + String(format: "), %7.0f from the first event", r.rate.steady) + r.broker)
    if options.serveOnly { continue }
    let bytes = r.watcher.seen.with { $0.bytes / max(1, $0.count) }
    let brokerStartC = brokerPID.map(cpuSeconds) ?? 0
    let c = try await matchedPipe(
        config: config, prefix: "\(run)m\(round)", ruleSet: ruleSet, bodies: bodies, bodyBytes: bytes)
    print(
        String(
            format: "(c) matched pipe, round %d:  %7.0f tickets/s, %7.0f from the first event (messages of %d bytes)",
            round, c.total, c.steady, bytes) + brokerCPU(since: brokerStartC, tickets: options.count))
    shares.append((r.rate.total / c.total, r.rate.steady / c.steady))
    print(
        String(
            format: "    serve / matched pipe, round %d: %.0f%% (start-up included), %.0f%% from the first event",
            round, 100 * shares.last!.total, 100 * shares.last!.steady))
}
func median(_ xs: [Double]) -> Double {
    let s = xs.sorted()
    return s.count % 2 == 1 ? s[s.count / 2] : (s[s.count / 2 - 1] + s[s.count / 2]) / 2
}
if !shares.isEmpty {
    print(
        String(
            format:
                "serve / matched pipe over %d paired rounds: median %.0f%% (start-up included), %.0f%% from the first event",
            shares.count, 100 * median(shares.map(\.total)), 100 * median(shares.map(\.steady))))
}
let last = lastRound!
let serve = last.serve
let prefix = last.prefix
let loader = last.loader
let watcher = last.watcher
print("    serve resident memory after (b): \(rssKiB(serve.processIdentifier) / 1024) MiB")
print(
    String(
        format: "    serve CPU during (b), last round: %.2f s, %.0f µs per ticket (start-up included)",
        cpuSeconds(serve.processIdentifier),
        1e6 * cpuSeconds(serve.processIdentifier) / Double(options.count)))

// Latency at a fixed rate, then the soak.
func paced(seconds: Int, base: Int, sample: ((Int) -> Void)? = nil) async throws {
    let interval = 1e9 / Double(options.rate)
    let start = now()
    var n = 0
    await withTaskGroup(of: Void.self) { group in
        while true {
            let due = start + UInt64(Double(n) * interval)
            let t = now()
            if due > t { try? await Task.sleep(for: .nanoseconds(Int(due - t))) }
            if now() - start >= UInt64(seconds) * 1_000_000_000 { break }
            let i = base + n
            group.addTask {
                _ = try? await loader.publish(
                    AMQPMessage(
                        exchange: "\(prefix).intake", routingKey: "", body: ticket(i, sentNanos: now()),
                        messageId: "l-\(i)"))
            }
            n += 1
            if n % options.rate == 0 { sample?(n / options.rate) }
        }
        await group.waitForAll()
    }
}
watcher.seen.with { $0.latencies.removeAll() }
let before = watcher.count
try await paced(seconds: options.latencySeconds, base: options.count)
let expected = before + options.latencySeconds * options.rate
let deadline = now() + 30_000_000_000
while watcher.count < expected && now() < deadline { try await Task.sleep(for: .milliseconds(5)) }
let lat = watcher.seen.with { $0.latencies }.sorted()
print(
    String(
        format:
            "latency at %d tickets/s for %d s, publish -> unit queue: p50 %.1f ms, p99 %.1f ms, p99.9 %.1f ms, max %.1f ms (%d samples)",
        options.rate, options.latencySeconds, percentile(lat, 0.5), percentile(lat, 0.99), percentile(lat, 0.999),
        percentile(lat, 1.0), lat.count))

if options.soakSeconds > 0 {
    print("soak at \(options.rate) tickets/s for \(options.soakSeconds) s; serve resident memory (MiB) every 30 s:")
    var samples: [Int] = []
    try await paced(seconds: options.soakSeconds, base: options.count * 10) { second in
        if second % 30 == 0 {
            let mib = rssKiB(serve.processIdentifier) / 1024
            samples.append(mib)
            print("  t=\(second)s rss=\(mib) MiB dispatched=\(watcher.count)")
        }
    }
    if let first = samples.first, let last = samples.last {
        print("soak: first \(first) MiB, last \(last) MiB, max \(samples.max()!) MiB")
    }
}

await last.stop()
print("serve exited with \(serve.terminationStatus) after SIGINT")
