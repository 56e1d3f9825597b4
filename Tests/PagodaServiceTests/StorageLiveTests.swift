import Foundation
import PagodaJSON
import PagodaRules
import PagodaService
import PagodaStore
import PagodaTesting
import PagodaTransport
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// A tmpfs of its own, mounted under .build, for the disk-full test: a file system that really fills.
struct Tmpfs {
    let path: String

    /// Mounts a tmpfs of `megabytes` at a new directory under .build; throws, saying why, when it cannot
    /// (the test needs root, or CAP_SYS_ADMIN, to mount).
    init(megabytes: Int) async throws {
        let name = "disk-full-\(UUID().uuidString.prefix(8).lowercased())"
        path = repositoryRoot.appendingPathComponent(".build/\(name)").path
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        let r = try await runProcess(["mount", "-t", "tmpfs", "-o", "size=\(megabytes)m,mode=0755", "tmpfs", path])
        guard r.status == 0 else {
            try? FileManager.default.removeItem(atPath: path)
            throw TestFailure(
                """
                cannot mount a \(megabytes) MB tmpfs at \(path): the disk-full test fills a real file system and needs \
                root (or CAP_SYS_ADMIN) to mount one; mount said: \(r.output)
                """)
        }
    }

    func resize(megabytes: Int) async throws {
        let r = try await runProcess(["mount", "-o", "remount,size=\(megabytes)m", path])
        guard r.status == 0 else { throw TestFailure("cannot grow the tmpfs at \(path): \(r.output)") }
    }

    /// Unmounts (lazily if something still holds it) and removes the directory.
    func remove() async {
        if (try? await runProcess(["umount", path]))?.status != 0 {
            _ = try? await runProcess(["umount", "-l", path])
        }
        try? FileManager.default.removeItem(atPath: path)
    }
}

/// CPU time (user and system) a process has used so far, in seconds, from /proc.
func cpuSeconds(_ pid: Int32) -> Double? {
    guard let text = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
        let close = text.lastIndex(of: ")")
    else { return nil }
    // Fields after the command name: state is field 3; utime and stime are fields 14 and 15.
    let f = text[text.index(after: close)...].split(separator: " ")
    guard f.count > 12, let user = Double(f[11]), let system = Double(f[12]) else { return nil }
    return (user + system) / Double(sysconf(Int32(_SC_CLK_TCK)))
}

/// The permission bits of a file.
func permissions(_ path: String) -> Int? {
    (try? FileManager.default.attributesOfItem(atPath: path)[.posixPermissions] as? NSNumber)?.intValue
}

extension ServiceTests {
    /// The broker of ops/broker.sh listens on loopback only: AMQP, TLS and the Erlang distribution port
    /// (which used to listen on every interface).
    @Test func theBrokerListensOnLoopbackOnly() async throws {
        try await Self.started.value
        let listeners = try Self.broker.listeners()
        let port = Self.broker.port
        #expect(listeners.contains("127.0.0.1:\(port)"), "\(listeners)")
        #expect(listeners.contains("127.0.0.1:\(port + 20000)"), "distribution not on loopback: \(listeners)")
        let open = listeners.filter { !($0.hasPrefix("127.") || $0.hasPrefix("[::1]") || $0.hasPrefix("[::ffff:127.")) }
        #expect(open.isEmpty, "the broker listens beyond loopback: \(open)")
    }

    /// The status endpoint's port, once serve logged it.
    static func statusPort(_ w: World) async throws -> Int {
        #expect(await eventually { w.serve.log.contains("status endpoint listening") }, "\(w.serve.log.suffix(2000))")
        return try #require(
            w.serve.log.firstMatch(of: /http\.port=([0-9]+)[^\n]*status endpoint listening/).flatMap { Int($0.1) })
    }

    /// A metric's value on the page (the first sample of that name and labels), if there.
    static func metric(_ page: String, _ sample: String) -> Int? {
        MetricsPage(page)[sample].map { Int($0) }
    }

    /// Issue 18, part 1: the database's disk fills up while tickets arrive. The service holds the deliveries
    /// (unacknowledged, so the broker counts no attempt), says so once in the log, on `/ready` and in
    /// `pagoda_store_writable`, waits without spinning, and resumes by itself when space returns: every
    /// ticket dispatched exactly once, none rejected as poison.
    ///
    /// `PAGODA_DISK_FULL_TICKETS` (default 1,500) and `PAGODA_DISK_FULL_RATE` (tickets a second, default 0:
    /// as fast as the broker confirms) set the load; the issue's figure is 3,000 at 100/s.
    @Test func aFullDiskHoldsTheTicketsUntilSpaceReturns() async throws {
        let env = ProcessInfo.processInfo.environment
        let count = Int(env["PAGODA_DISK_FULL_TICKETS"] ?? "") ?? 1_500
        let rate = Int(env["PAGODA_DISK_FULL_RATE"] ?? "") ?? 0
        let disk = try await Tmpfs(megabytes: 3)
        var world: World?
        do {
            // The state directory does not exist yet: serve makes it.
            let w = try await World(
                database: disk.path + "/state/pagoda.sqlite",
                serveArguments: ["--status-address", "127.0.0.1:0"])
            world = w
            let port = try await Self.statusPort(w)
            let tickets = (0..<count).map { Self.ticket($0, prefix: "FULL") }
            let load = Task {
                if rate <= 0 { return try await w.publishAll(tickets, concurrency: 32) }
                // In slices of a tenth of a second's worth.
                let slice = max(1, rate / 10)
                let clock = ContinuousClock()
                var next = clock.now
                for start in stride(from: 0, to: tickets.count, by: slice) {
                    let part = Array(tickets[start..<min(start + slice, tickets.count)])
                    try await w.publishAll(part, concurrency: slice)
                    next += .milliseconds(100)
                    try await clock.sleep(until: next)
                }
            }

            let full = await eventually(timeout: .seconds(180)) { w.serve.log.contains("store cannot write") }
            let dispatchedBefore = w.dispatched().count
            try #require(full, "the disk never filled: \(dispatchedBefore) of \(count)\n\(w.serve.log.suffix(3000))")
            let ready = try await httpGet(port: port, "/ready")
            #expect(ready.0 == 503 && ready.1.contains("store cannot write: StoreError.io"), "\(ready)")
            let page = try await httpGet(port: port, "/metrics").1
            #expect(Self.metric(page, "pagoda_store_writable") == 0, "\(page)")

            // While it cannot write, the service waits: little CPU, a quiet log. (A burst of tickets is first
            // all published: routing them as they arrive is work done once, not waiting.)
            if rate <= 0 { try await load.value }
            let pid = try #require(w.serve.pid)
            let cpuBefore = try #require(cpuSeconds(pid))
            let logBefore = w.serve.log.utf8.count
            let clock = ContinuousClock()
            let started = clock.now
            try await Task.sleep(for: .seconds(4))  // a window to measure, not a wait for a condition
            let elapsed = clock.now - started
            let cpu = try #require(cpuSeconds(pid)) - cpuBefore
            let logged = w.serve.log.utf8.count - logBefore
            let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
            let pace = rate == 0 ? "full speed" : "\(rate)/s"
            print(
                "disk full: \(count) tickets at \(pace), \(w.dispatched().count) dispatched before it filled;",
                "while full the service used \(cpu) s of CPU in \(elapsed) and logged \(logged) bytes")
            // It used to spin at 94% of a core; waiting takes a few percent. Generous for a loaded machine.
            #expect(cpu / seconds < 0.5, "the service used \(cpu) s of CPU in \(elapsed) while the disk was full")
            #expect(logged < 4_000, "logged \(logged) bytes in \(elapsed) while full:\n\(w.serve.log.suffix(3000))")
            #expect(w.rejected.count == 0)

            try await disk.resize(megabytes: 64)
            try await load.value
            let done = await eventually(timeout: .seconds(180)) { w.dispatched().count == count }
            let seen = w.dispatched()
            #expect(done, "dispatched \(seen.count) of \(count) after space returned\n\(w.serve.log.suffix(3000))")
            let twice = seen.filter { $0.value.seqs.count != 1 }
            #expect(twice.isEmpty, "tickets dispatched more than once: \(twice.keys.sorted().prefix(10))")
            #expect(Set(seen.keys) == Set(tickets.map(\.0)))
            #expect(await eventually { w.serve.log.contains("store writes again") }, "\(w.serve.log.suffix(3000))")
            // Everything published (nothing left in the outbox), and nothing rejected.
            var last = ""
            var settled = false
            let deadline = ContinuousClock.now + .seconds(60)
            while !settled && ContinuousClock.now < deadline {
                last = try await httpGet(port: port, "/metrics").1
                settled =
                    Self.metric(last, "pagoda_outbox_unsent") == 0
                    && Self.metric(last, "pagoda_store_writable") == 1
                if !settled { try await Task.sleep(for: .milliseconds(200)) }
            }
            #expect(settled, "\(last)")
            #expect(Self.metric(last, "pagoda_rejected_total") == 0, "\(last)")
            #expect((Self.metric(last, "pagoda_store_write_failures_total") ?? 0) > 0)
            #expect(w.rejected.count == 0, "rejected: \(w.rejected.deliveries.prefix(3).map { $0.headers })")
            #expect(try await httpGet(port: port, "/ready").0 == 200)
            print(
                "disk full: all \(count) dispatched once, none rejected;",
                w.serve.log.split(separator: "\n").filter { $0.contains("store writes again") }.joined())
            let said = w.serve.log.components(separatedBy: "store cannot write;").count - 1
            #expect(said >= 1 && said <= 3, "the full disk was reported \(said) times")
            #expect(permissions(disk.path + "/state") == 0o700)
            await w.stop()
            await disk.remove()
        } catch {
            if let w = world {
                w.serve.signal(SIGKILL)
                await w.stop()
            }
            await disk.remove()
            throw error
        }
    }

    /// Issue 18, part 5: confirmed outbox rows are deleted after `--retention`, in batches, while every
    /// ticket is dispatched once and every rejection published with its body; the ticket, decision,
    /// timeline and rejection rows stay; the files are the owner's only; the metrics give their sizes.
    @Test func confirmedMessagesArePrunedAfterTheRetention() async throws {
        let dir = FileManager.default.temporaryDirectory
            .appendingPathComponent("pagoda-retention-\(UUID().uuidString.prefix(8))")
        defer { try? FileManager.default.removeItem(at: dir) }
        let db = dir.appendingPathComponent("state/pagoda.sqlite").path
        let w = try await World(database: db, serveArguments: ["--status-address", "127.0.0.1:0", "--retention", "2s"])
        let port = try await Self.statusPort(w)
        let tickets = (0..<600).map { Self.ticket($0, prefix: "KEEP") }
        let bad = (0..<20).map { ("bad-\($0)", Array("not a ticket \($0)".utf8)) }
        let large = ("bad-large", Array(repeating: UInt8(ascii: "x"), count: IntakeProcessor.rejectedBodyLimit + 1_000))
        try await w.publishAll(tickets + bad + [large])
        let done = await eventually { w.dispatched().count == tickets.count && w.rejected.count == bad.count + 1 }
        #expect(done, "dispatched \(w.dispatched().count), rejected \(w.rejected.count)\n\(w.serve.log.suffix(2000))")
        #expect(w.dispatched().values.allSatisfy { $0.seqs.count == 1 })
        #expect(Set(w.dispatched().keys) == Set(tickets.map(\.0)))
        let rejectedBodies = Dictionary(
            w.rejected.deliveries.map { ($0.messageId ?? "", $0) },
            uniquingKeysWith: { a, _ in a })
        for (id, body) in bad { #expect(rejectedBodies["rejected/\(id)"]?.body == body, "\(id)") }
        let cut = try #require(rejectedBodies["rejected/bad-large"])
        #expect(cut.body == Array(large.1.prefix(IntakeProcessor.rejectedBodyLimit)))
        #expect(cut.headers["x-pagoda-body-truncated"]?.stringValue == String(large.1.count))

        let store = try DispatchStore(StoreConfiguration(path: db))
        var counts = try store.counts()
        let pruned = await eventually(timeout: .seconds(60)) {
            counts = (try? store.counts()) ?? counts
            return counts.outboxSent == 0 && counts.outboxPending == 0
        }
        #expect(pruned, "outbox still holds \(counts.outboxSent) sent and \(counts.outboxPending) unsent rows")
        #expect(counts.tickets == tickets.count && counts.decisions == tickets.count)
        #expect(counts.rejections == bad.count + 1)
        #expect(counts.events >= tickets.count)
        let history = try #require(try await store.ticket(id: "KEEP-1"))
        #expect(history.messages.isEmpty && !history.events.isEmpty && !history.ticket.body.isEmpty)

        // The files are the owner's only, the directory serve made too.
        #expect(permissions(dir.appendingPathComponent("state").path) == 0o700)
        for file in [db, db + "-wal", db + "-shm"] {
            #expect(permissions(file) == 0o600, "\(file): \(String(permissions(file) ?? -1, radix: 8))")
        }
        let page = try await httpGet(port: port, "/metrics").1
        let size = try #require(Self.metric(page, #"pagoda_store_bytes{file="database"}"#), "\(page)")
        #expect(size > 0 && Self.metric(page, #"pagoda_store_bytes{file="wal"}"#) != nil)
        #expect((Self.metric(page, "pagoda_store_available_bytes") ?? 0) > 0)
        try store.close()
        await w.stop()
    }
}
