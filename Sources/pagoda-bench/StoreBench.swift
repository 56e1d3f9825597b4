// Store benchmark: the intake path's CPU and SQLite work without a broker.
//
//   pagoda-bench store [--rules DIR] [--count N] [--batch B] [--synchronous full|normal] [--no-lifecycle] [--fire]
//                      [--without-console-read-model]
//
// Processes N generated tickets with IntakeProcessor (validate, route, lifecycle start), records them with
// DispatchStore.recordDispatches in batches of B (one transaction each), then does what the outbox relay
// does for the batch: reads the new outbox rows after its cursor and marks them sent (a second
// transaction). As in `pagoda serve`, a thread checkpoints the WAL every 250 ms beside the commits.
// Prints microseconds per ticket for each step, so a change to the store can be measured without the
// noise of a broker.
//
// With --fire, it then fires N timers as the lifecycle loop does, in batches of B: the earliest due timers
// (`dueTimers`, each firing at its own due time, so most are one yellow light), `TimerFiring.changes`
// (read the states, decode, fire, encode the states and events), `applyLifecycle` (one transaction),
// then the relay's read and mark of the batch's messages.
//
// With --without-console-read-model, the console's triggers (open-ticket and day counters) and its
// indexes on `lifecycle` are dropped before the run: paired with a run without it, it shows what the
// read model costs the intake and timer paths (the columns are still computed and written).
import Foundation
import GRDB
import PagodaJSON
import PagodaLifecycle
import PagodaRules
import PagodaService
import PagodaStore
import Synchronization

func storeBench(_ args: [String]) throws {
    let rulesDir = argValue(args, "--rules") ?? "rules"
    let count = Int(argValue(args, "--count") ?? "") ?? 50_000
    let batchSize = Int(argValue(args, "--batch") ?? "") ?? 500
    let synchronous = StoreConfiguration.Synchronous(rawValue: argValue(args, "--synchronous") ?? "full") ?? .full
    let lifecycle = !args.contains("--no-lifecycle")

    let compiled = RuleSetCompiler.compile(try RuleSetCompiler.readFiles(in: rulesDir))
    guard let rules = compiled.ruleSet else {
        print("store: the rules do not compile")
        exit(1)
    }
    let processor = IntakeProcessor(ruleSet: rules, names: Names(), lifecycle: lifecycle)
    let dir = FileManager.default.temporaryDirectory.appendingPathComponent(
        "pagoda-store-bench-\(UInt32.random(in: 0...UInt32.max))"
    ).path
    try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(atPath: dir) }
    let store = try DispatchStore(
        StoreConfiguration(path: "\(dir)/pagoda.sqlite", synchronous: synchronous, backgroundCheckpoints: true))
    if args.contains("--without-console-read-model") {
        let queue = try DatabaseQueue(path: "\(dir)/pagoda.sqlite")
        try queue.write { db in
            for trigger in [
                "console_open_insert", "console_open_update", "console_open_delete", "console_event_day",
                "console_rejection_day", "console_desk_insert", "console_desk_update", "console_desk_delete",
            ] {
                try db.execute(sql: "DROP TRIGGER \(trigger)")
            }
            for index in [
                "lifecycle_console_inbox", "lifecycle_console_red", "lifecycle_console_supervised",
                "lifecycle_console_desk", "lifecycle_console_open",
            ] {
                try db.execute(sql: "DROP INDEX \(index)")
            }
        }
        try queue.close()
        print("store: without the console's read model (its triggers and indexes dropped)")
    }
    let stop = Atomic<Bool>(false)
    let checkpointer = Thread {
        while !stop.load(ordering: .relaxed) {
            _ = try? store.checkpoint()
            Thread.sleep(forTimeInterval: 0.25)
        }
    }
    checkpointer.start()
    defer { stop.store(true, ordering: .relaxed) }
    let bodies = (0..<count).map { ticket($0) }

    let clock = ContinuousClock()
    var process = Duration.zero
    var commit = Duration.zero
    var read = Duration.zero
    var mark = Duration.zero
    var cursor: Int64 = 0
    var messages = 0
    let started = clock.now
    for start in stride(from: 0, to: count, by: batchSize) {
        let now = Date()
        let t0 = clock.now
        let records = bodies[start..<min(count, start + batchSize)].enumerated().map { i, body in
            processor.process(body: body, messageID: "S-\(start + i)", now: now)
        }
        let t1 = clock.now
        let outcomes = try store.recordDispatches(records)
        let t2 = clock.now
        for o in outcomes {
            if case .recorded = o {
            } else {
                print("store: unexpected outcome \(o)")
                exit(1)
            }
        }
        let rows = try store.pendingOutbox(after: cursor, limit: 100_000)
        let t3 = clock.now
        if let last = rows.last { cursor = last.id }
        messages += try store.markSent(rows.map(\.id), at: Date())
        let t4 = clock.now
        process += t1 - t0
        commit += t2 - t1
        read += t3 - t2
        mark += t4 - t3
    }
    let total = clock.now - started
    /// `d` spread over `n` items, in microseconds each.
    func micros(_ d: Duration, per n: Int, _ unit: String) -> String {
        String(
            format: "%8.1f µs/\(unit)",
            (Double(d.components.seconds) * 1e6 + Double(d.components.attoseconds) / 1e12) / Double(max(1, n)))
    }
    func perTicket(_ d: Duration) -> String { micros(d, per: count, "ticket") }
    print(
        "store benchmark: \(count) tickets, batches of \(batchSize), synchronous=\(synchronous.rawValue), lifecycle \(lifecycle ? "on" : "off"), \(messages) outbox messages"
    )
    print("  process (validate, route, lifecycle start)  \(perTicket(process))")
    print("  recordDispatches (one transaction a batch)  \(perTicket(commit))")
    print("  read new outbox rows                        \(perTicket(read))")
    print("  markSent (one transaction a batch)          \(perTicket(mark))")
    let seconds = Double(total.components.seconds) + Double(total.components.attoseconds) / 1e18
    print(String(format: "  all steps, one after the other              %8.0f tickets/s", Double(count) / seconds))
    guard args.contains("--fire"), lifecycle else { return }

    let life = Lifecycle(rules: rules)
    var due = Duration.zero
    var compute = Duration.zero
    commit = .zero
    read = .zero
    mark = .zero
    var fired = 0
    var stale = 0
    var events = 0
    var after: DueTimer?
    while fired < count {
        let t0 = clock.now
        let timers = try store.dueTimers(until: .distantFuture, after: after, limit: min(batchSize, count - fired))
        if timers.isEmpty { break }
        after = timers.last
        let t1 = clock.now
        let (changes, s, _) = try TimerFiring.changes(
            firing: timers, now: { $0.dueAt }, store: store, lifecycle: life, codec: processor.codec)
        let t2 = clock.now
        _ = try store.applyLifecycle(changes)
        let t3 = clock.now
        let rows = try store.pendingOutbox(after: cursor, limit: 100_000)
        let t4 = clock.now
        if let last = rows.last { cursor = last.id }
        _ = try store.markSent(rows.map(\.id), at: Date())
        let t5 = clock.now
        fired += timers.count
        stale += s
        events += changes.reduce(0) { $0 + $1.events.count }
        due += t1 - t0
        compute += t2 - t1
        commit += t3 - t2
        read += t4 - t3
        mark += t5 - t4
    }
    func perFiring(_ d: Duration) -> String { micros(d, per: fired, "timer") }
    print("timers: \(fired) fired (\(stale) stale), \(events) events, batches of \(batchSize)")
    print("  dueTimers (read the earliest)               \(perFiring(due))")
    print("  TimerFiring.changes (read, fire, encode)    \(perFiring(compute))")
    print("  applyLifecycle (one transaction a batch)    \(perFiring(commit))")
    print("  read new outbox rows                        \(perFiring(read))")
    print("  markSent (one transaction a batch)          \(perFiring(mark))")
}
