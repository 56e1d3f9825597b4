// Timer benchmark (ops/bench/timers.sh), two subcommands:
//
//   pagoda-bench timers-fill --db FILE [--rules DIR] [--count N] [--window-count N] [--window-seconds S]
//                            [--burst N] [--overdue N] [--lead S] [--phase all|background|measured]
//     fills a database directly (no broker) through the real intake path: real-looking tickets routed by
//     the rules, IntakeProcessor (Lifecycle.dispatch, LifecycleCodec.encode) and DispatchStore.recordDispatches,
//     5,000 per transaction, synchronous=normal; the outbox rows it writes are marked sent (they were
//     published long ago). Most tickets were received in the last minutes, so their first timer (the
//     sign clock's yellow light, 24 minutes or more after receipt) falls due after the run. The measured ones
//     get a received_at chosen so that their first timer falls due at a chosen moment: `--overdue` of them
//     just before the fill ends (they fell due while the service was down), `--window-count` spread evenly
//     over `--window-seconds` starting `--lead` seconds after the measured fill began, and `--burst` at the same second
//     in the middle of the window. Each measured ticket's id ends with its due time in milliseconds.
//     The last line printed is the plan: `plan window_start_ms=... window_end_ms=... expected=...`.
//
//   pagoda-bench timers-run --pagoda BIN --db FILE --window-end-ms MS --expected N [--rules DIR] [--amqp-url URL]
//                           [--prefix P] [--log FILE]
//     starts `pagoda serve` on the database and measures, through the broker:
//       restart to serving = from spawning the process until BOTH a probe ticket published to intake at
//         spawn time has come out dispatched AND the first timer event (of a timer that fell due while the
//         service was down) has been published;
//       timer lateness as seen on the events exchange (publish arrival minus the due time in the ticket
//         id) for the window's timers and for the overdue ones separately;
//       peak resident memory (VmHWM of /proc/PID/status, read every 250 ms until exit).
//     Then SIGTERM after the window, and waits for the exit.
import Foundation
import GRDB
import PagodaJSON
import PagodaLifecycle
import PagodaRules
import PagodaService
import PagodaStore
import PagodaTransport

#if canImport(Glibc)
    import Glibc
#endif

func argValue(_ args: [String], _ name: String) -> String? {
    guard let i = args.firstIndex(of: name), i + 1 < args.count else { return nil }
    return args[i + 1]
}

/// Unbuffered, so progress shows through a pipe.
private func say(_ s: String) { FileHandle.standardOutput.write(Data((s + "\n").utf8)) }

private func wallMs() -> Int64 { Int64((Date().timeIntervalSince1970 * 1000).rounded()) }

func timerBench(_ args: [String]) async throws {
    switch args[1] {
    case "timers-fill": try timersFill(args)
    case "timers-run": try await timersRun(args)
    default:
        FileHandle.standardError.write(Data("unknown subcommand \(args[1])\n".utf8))
        exit(2)
    }
}

// MARK: Fill

private let districts = ["南海区", "顺德区", "禅城区", "三水区", "高明区"]
private let towns = ["桂城街道", "大良街道", "祖庙街道", "西南街道", "荷城街道"]
private let kinds = ["complaint", "help", "report", "consultation", "suggestion"]
private let cats = [
    "city_management", "living_environment", "consumer_rights", "social_livelihood", "city_management.roads",
]
private let texts = [
    "小区门口的路灯坏了很久，晚上出行很不方便，多次反映没人处理，希望尽快维修。",
    "楼下餐馆油烟很大，每天中午和晚上都直接排到居民楼，影响生活，请相关部门处理。",
    "路边有一处井盖松动，车辆经过声音很大，存在安全隐患，希望尽快修复。",
    "装修工人晚上十点以后还在施工，噪音扰民，请派人查看。",
    "购买的电器出现质量问题，商家拒绝退换，请求协助维权。",
    "咨询社保转移接续需要准备哪些材料，在哪里办理。",
]

private func timerTicket(id: String, n: Int, receivedAt: Date) -> [UInt8] {
    let at = RFC3339.format(receivedAt, offsetSeconds: 8 * 3600)
    return Array(
        #"{"id":"\#(id)","received_at":"\#(at)","channel":"hotline","kind":"\#(kinds[n % 5])","text":"\#(texts[n % texts.count])","category":"\#(cats[(n / 5) % 5])","region":{"district":"\#(districts[(n / 25) % 5])","town":"\#(towns[(n / 25) % 5])"}}"#
            .utf8)
}

private func timersFill(_ args: [String]) throws {
    guard let db = argValue(args, "--db") else {
        say("timers-fill: --db is required")
        exit(2)
    }
    let rulesDir = argValue(args, "--rules") ?? "rules"
    let count = Int(argValue(args, "--count") ?? "") ?? 1_000_000
    let windowCount = Int(argValue(args, "--window-count") ?? "") ?? 75_000
    let windowSeconds = Int(argValue(args, "--window-seconds") ?? "") ?? 90
    let burst = Int(argValue(args, "--burst") ?? "") ?? 20_000
    let overdue = Int(argValue(args, "--overdue") ?? "") ?? 100
    // Time from the start of the measured fill to the window: the measured fill itself (about 1,000
    // tickets/s) and the restart must fit in it.
    let lead = Int(argValue(args, "--lead") ?? "") ?? (45 + (windowCount + burst + overdue) / 800)
    let batchSize = 5_000
    // all; background (only the tickets with far timers, into a base database copied for each run: they
    // stay far for over an hour); measured (only the measured ones, added to such a copy).
    let phaseOption = argValue(args, "--phase") ?? "all"

    let compiled = RuleSetCompiler.compile(try RuleSetCompiler.readFiles(in: rulesDir))
    guard let rules = compiled.ruleSet else {
        say("timers-fill: the rules do not compile")
        exit(1)
    }
    let processor = IntakeProcessor(ruleSet: rules, names: Names(), lifecycle: true)
    let lifecycle = Lifecycle(rules: rules)
    let store = try DispatchStore(StoreConfiguration(path: db, synchronous: .normal))

    let start = Date()
    let background = max(0, count - windowCount - burst - overdue)
    say(
        "timers-fill: \(count) tickets into \(db): \(background) with far timers, \(overdue) overdue at start, \(windowCount) over a \(windowSeconds) s window, a burst of \(burst)"
    )

    var sentConfig = Configuration()
    sentConfig.prepareDatabase { try $0.execute(sql: "PRAGMA synchronous = NORMAL") }
    sentConfig.busyMode = .timeout(10)
    let sent = try DatabaseQueue(path: db, configuration: sentConfig)
    var written = 0
    func write(_ records: [IntakeRecord]) throws {
        let outcomes = try store.recordDispatches(records)
        for o in outcomes {
            if case .recorded = o {
            } else {
                say("timers-fill: unexpected outcome \(o)")
                exit(1)
            }
        }
        // The dispatch messages went out long ago (a second connection: the store has no bulk call for it).
        try sent.write { try $0.execute(sql: "UPDATE outbox SET sent_at = created_at WHERE sent_at IS NULL") }
        written += records.count
        if written % 100_000 < records.count {
            say(String(format: "  %d tickets, %.0f s", written, Date().timeIntervalSince(start)))
        }
    }

    // Background: received in the last minute, so their first timer (24 minutes or more after receipt)
    // falls due well after the run: a base database stays usable for about 15 minutes after its fill.
    var batch: [IntakeRecord] = []
    batch.reserveCapacity(batchSize)
    var firstBackgroundTimer = Date.distantFuture
    for n in 0..<(phaseOption == "measured" ? 0 : background) {
        let now = Date()
        let receivedAt = Date(
            timeIntervalSince1970: (now.timeIntervalSince1970 - Double((n * 7919) % 60)).rounded(.down))
        let record = processor.process(
            body: timerTicket(id: "TB-B-\(n)", n: n, receivedAt: receivedAt), messageID: "TB-B-\(n)", now: now)
        if n % 997 == 0, case .dispatch(let d) = record, let t = d.lifecycle?(nil).state.timer {
            firstBackgroundTimer = min(firstBackgroundTimer, t)
        }
        batch.append(record)
        if batch.count == batchSize {
            try write(batch)
            batch.removeAll(keepingCapacity: true)
        }
    }
    if !batch.isEmpty {
        try write(batch)
        batch.removeAll(keepingCapacity: true)
    }

    // Measured: received_at chosen so that the first timer falls due at `due` (whole seconds; sign clocks
    // run in natural time, so one correction lands it exactly).
    let phase = Date()
    let windowStart = (phase.timeIntervalSince1970 + Double(lead)).rounded(.down)
    let burstAt = windowStart + Double(windowSeconds / 2)
    var targets: [(kind: String, due: Double)] = []
    for _ in 0..<overdue { targets.append(("O", phase.timeIntervalSince1970.rounded(.down) - 1)) }
    for i in 0..<windowCount {
        targets.append(
            ("W", windowStart + (Double(i) * Double(windowSeconds) / Double(max(1, windowCount))).rounded(.down)))
    }
    for _ in 0..<burst { targets.append(("W", burstAt)) }
    if phaseOption == "background" { targets.removeAll() }
    var missed = 0
    var n = background
    for target in targets {
        while true {
            n += 1
            let now = Date()
            var receivedAt = Date(timeIntervalSince1970: target.due - 1800)
            var timer: Date?
            for _ in 0..<3 {
                guard
                    case .success(let ticket) = TicketContract.decode(
                        timerTicket(id: "x", n: n, receivedAt: receivedAt), isKnownCategory: rules.isKnownCategory),
                    let t = lifecycle.dispatch(
                        DispatchInput(decision: rules.route(ticket), receivedAt: receivedAt), now: now
                    ).state?.nextTimer
                else { break }
                timer = t
                if abs(t.timeIntervalSince1970 - target.due) < 0.0005 { break }
                receivedAt = receivedAt.addingTimeInterval(target.due - t.timeIntervalSince1970)
            }
            guard let timer else { continue }  // routed where no clock runs (triage, emergency): another ticket
            if abs(timer.timeIntervalSince1970 - target.due) >= 0.0005 { missed += 1 }
            let dueMs = Int64((timer.timeIntervalSince1970 * 1000).rounded())
            let id = "TB-\(target.kind)-\(n)-\(dueMs)"
            batch.append(
                processor.process(body: timerTicket(id: id, n: n, receivedAt: receivedAt), messageID: id, now: now))
            if batch.count == batchSize {
                try write(batch)
                batch.removeAll(keepingCapacity: true)
            }
            break
        }
    }
    if !batch.isEmpty { try write(batch) }
    let counts = try store.lifecycleCounts()
    try store.close()
    try sent.close()
    let end = Date()
    let bytes = ((try? FileManager.default.attributesOfItem(atPath: db))?[.size] as? Int) ?? 0
    say(
        String(
            format:
                "timers-fill: %d tickets in %.1f s (%.0f/s); %d timers pending; database %.0f MiB; %d measured timers off target",
            written, end.timeIntervalSince(start), Double(written) / end.timeIntervalSince(start), counts.timers,
            Double(bytes) / 1_048_576, missed))
    if firstBackgroundTimer < .distantFuture {
        say(
            String(
                format: "timers-fill: earliest far timer %.0f s after the fill",
                firstBackgroundTimer.timeIntervalSince(end)))
    }
    if !targets.isEmpty {
        say(
            String(
                format: "timers-fill: window %d..%d s after the fill, burst at %d s",
                Int(windowStart - end.timeIntervalSince1970),
                Int(windowStart - end.timeIntervalSince1970) + windowSeconds, Int(burstAt - end.timeIntervalSince1970)))
    }
    say(
        "plan window_start_ms=\(Int64(windowStart * 1000)) window_end_ms=\(Int64((windowStart + Double(windowSeconds)) * 1000)) expected=\(targets.count) overdue=\(overdue)"
    )
}

// MARK: Run

private func procStatusKiB(_ pid: pid_t, _ key: String) -> Int? {
    guard let s = try? String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8),
        let line = s.split(separator: "\n").first(where: { $0.hasPrefix(key + ":") })
    else { return nil }
    return line.split(separator: " ").dropFirst().first.flatMap { Int($0) }
}

private func quantile(_ sorted: [Int64], _ q: Double) -> Int64 {
    sorted.isEmpty ? -1 : sorted[min(sorted.count - 1, Int(Double(sorted.count) * q))]
}

private func timersRun(_ args: [String]) async throws {
    guard let db = argValue(args, "--db"), let windowEnd = Int64(argValue(args, "--window-end-ms") ?? ""),
        let expected = Int(argValue(args, "--expected") ?? "")
    else {
        say("timers-run: --db, --window-end-ms and --expected are required")
        exit(2)
    }
    let pagoda = argValue(args, "--pagoda") ?? ".build/release/pagoda"
    let rulesDir = argValue(args, "--rules") ?? "rules"
    let url = argValue(args, "--amqp-url") ?? "amqp://guest:guest@127.0.0.1:5677/"
    let prefix = argValue(args, "--prefix") ?? "pagoda"
    let logPath = argValue(args, "--log") ?? "/dev/null"

    var config = try AMQPConfiguration(url: url)
    config.connectionName = "pagoda-bench-timers"
    let names = Names(prefix: prefix)
    // Every event reaches the service's events queue (which audit and analytics consumers read in
    // production) in the same routing step as its unit queue. With --watch own the benchmark binds a
    // queue of its own instead (a third copy of every event for the broker to write; figures before
    // 2026-11-24).
    let own = argValue(args, "--watch") == "own"
    let watched = own ? "\(prefix).bench.timers" : names.eventsQueue
    let topology = Topology(
        exchanges: [
            .init(name: names.dispatchExchange, type: "topic"), .init(name: names.eventsExchange, type: "topic"),
            .init(name: names.intakeExchange, type: "fanout"),
        ],
        queues: [Names.publishedQueue(watched), .quorum(names.intakeQueue, arguments: Names.singleActiveConsumer)],
        bindings: [
            .init(queue: watched, exchange: names.eventsExchange, routingKey: "#"),
            .init(queue: names.intakeQueue, exchange: names.intakeExchange, routingKey: ""),
        ],
        exchangeBindings: [.init(destination: names.eventsExchange, source: names.dispatchExchange, routingKey: "#")])
    say("timers-run: watching \(watched)")
    // Timer events: first arrival (wall ms) per ticket id; the probe's dispatch comes the same way.
    let firstSeen = Box<[String: Int64]>([:])
    let firstTimerAt = Box<UInt64?>(nil)
    let probeAt = Box<UInt64?>(nil)
    let watch = AMQPConsumer(configuration: config, queue: watched, topology: topology, prefetch: 2000)
    let t1 = Task {
        for await d in watch.deliveries {
            let t = now()
            let w = wallMs()
            if let id = d.headers["x-pagoda-ticket-id"]?.stringValue {
                if id == "TB-PROBE" {
                    probeAt.with { if $0 == nil { $0 = t } }
                } else {
                    firstSeen.with { if $0[id] == nil { $0[id] = w } }
                    firstTimerAt.with { if $0 == nil { $0 = t } }
                }
            }
            watch.ack(d)
        }
    }
    try await watch.waitUntilConnected()
    let publisher = AMQPPublisher(configuration: config, topology: topology)

    let serve = Process()
    serve.executableURL = URL(fileURLWithPath: pagoda)
    serve.arguments = [
        "serve", "--rules", rulesDir, "--amqp-url", url, "--db", db, "--prefix", prefix, "--log-level",
        ProcessInfo.processInfo.environment["SERVE_LOG_LEVEL"] ?? "info", "--synchronous", "normal",
        "--console-address", "none",
    ]
    _ = FileManager.default.createFile(atPath: logPath, contents: nil)
    serve.standardError = FileHandle(forWritingAtPath: logPath)
    let spawned = now()
    try serve.run()
    let pid = serve.processIdentifier
    let probe = timerTicket(id: "TB-PROBE", n: 0, receivedAt: Date())
    while try await publisher.publish(
        AMQPMessage(exchange: names.intakeExchange, routingKey: "", body: probe, messageId: "TB-PROBE")) != .confirmed
    {}

    let peak = Box<(hwm: Int, rss: Int)>((0, 0))
    let sampler = Task {
        while !Task.isCancelled {
            if let h = procStatusKiB(pid, "VmHWM") { peak.with { $0.hwm = max($0.hwm, h) } }
            if let r = procStatusKiB(pid, "VmRSS") { peak.with { $0.rss = max($0.rss, r) } }
            try? await Task.sleep(for: .milliseconds(250))
        }
    }
    while probeAt.with({ $0 }) == nil || firstTimerAt.with({ $0 }) == nil {
        if now() - spawned > 120_000_000_000 {
            say("timers-run: not serving after 120 s")
            break
        }
        if !serve.isRunning {
            say("timers-run: serve exited with \(serve.terminationStatus)")
            exit(1)
        }
        try await Task.sleep(for: .milliseconds(2))
    }
    let probeS = probeAt.with { $0 }.map { Double($0 - spawned) / 1e9 } ?? .nan
    let timerS = firstTimerAt.with { $0 }.map { Double($0 - spawned) / 1e9 } ?? .nan
    say(
        String(
            format:
                "restart to serving: %.2f s (probe ticket dispatched after %.2f s, first overdue timer event after %.2f s)",
            max(probeS, timerS), probeS, timerS))
    say(String(format: "  window ends in %.0f s; waiting", Double(windowEnd - wallMs()) / 1000))
    // Until the window is over and every measured timer was seen (or 60 s more).
    while wallMs() < windowEnd + 2000 || (firstSeen.with { $0.count } < expected && wallMs() < windowEnd + 60_000) {
        try await Task.sleep(for: .milliseconds(200))
    }
    try await Task.sleep(for: .seconds(1))
    kill(pid, SIGTERM)
    while serve.isRunning {
        if let h = procStatusKiB(pid, "VmHWM") { peak.with { $0.hwm = max($0.hwm, h) } }
        try await Task.sleep(for: .milliseconds(20))
    }
    sampler.cancel()
    say("serve exited with \(serve.terminationStatus) after SIGTERM")

    let seen = firstSeen.with { $0 }
    var window: [Int64] = []
    var overdue: [Int64] = []
    var others = 0
    for (id, at) in seen {
        let parts = id.split(separator: "-")
        guard parts.count == 4, let due = Int64(parts[3]) else {
            others += 1
            continue
        }
        if parts[1] == "O" { overdue.append(at - due) } else { window.append(at - due) }
    }
    window.sort()
    overdue.sort()
    say(
        "timer events seen for \(seen.count) tickets (expected \(expected)); \(others) not measured tickets (background timers that fired)"
    )
    say(
        "lateness as published (event on the broker minus due), window+burst: n=\(window.count) p50 \(quantile(window, 0.5)) ms, p99 \(quantile(window, 0.99)) ms, max \(quantile(window, 1.0)) ms"
    )
    say(
        "lateness as published, overdue at start: n=\(overdue.count) min \(quantile(overdue, 0)) ms, max \(quantile(overdue, 1.0)) ms"
    )
    let p = peak.with { $0 }
    say(String(format: "peak resident memory (VmHWM): %.0f MiB (%d kB)", Double(p.hwm) / 1024, p.hwm))
    await publisher.close()
    await watch.close()
    t1.cancel()
}
