import Foundation
import PagodaTransport

#if canImport(Glibc)
    import Glibc
#endif

/// Test helpers shared by the integration suites: a private broker, processes, polling, collectors.

/// A lock-protected box closures can share. `@unchecked Sendable`: `storage` is only touched under `lock`.
public final class Locked<Value: Sendable>: @unchecked Sendable {
    private let lock = NSLock()
    private var storage: Value
    public init(_ value: Value) { storage = value }
    public func withLock<R, E: Error>(_ body: (inout Value) throws(E) -> R) throws(E) -> R {
        lock.lock()
        defer { lock.unlock() }
        return try body(&storage)
    }
    public var value: Value { withLock { $0 } }
}

/// The repository root, found from this file's location.
public let repositoryRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
    .deletingLastPathComponent()

/// Runs a process to completion without blocking a concurrency-pool thread; returns status and output
/// (stdout and stderr together, in the order written).
public func runProcess(_ argv: [String], environment: [String: String]? = nil) async throws -> (
    status: Int32, output: String
) {
    let r = try await runProcess(argv, environment: environment, separateStderr: false)
    return (r.status, r.stdout)
}

/// `runProcess`, with stderr kept apart from stdout when `separateStderr` (otherwise both are in `stdout`).
public func runProcess(_ argv: [String], environment: [String: String]? = nil, separateStderr: Bool) async throws
    -> (status: Int32, stdout: String, stderr: String)
{
    let p = Process()
    p.executableURL = URL(fileURLWithPath: "/usr/bin/env")
    p.arguments = argv
    if let environment { p.environment = environment }
    func capture() throws -> (URL, FileHandle) {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("pagoda-test-\(UUID().uuidString).log")
        _ = FileManager.default.createFile(atPath: url.path, contents: nil)
        return (url, try FileHandle(forWritingTo: url))
    }
    let out = try capture()
    let err = separateStderr ? try capture() : out
    p.standardOutput = out.1
    p.standardError = err.1
    let status: Int32 = try await withCheckedThrowingContinuation { cont in
        p.terminationHandler = { proc in cont.resume(returning: proc.terminationStatus) }
        do { try p.run() } catch { cont.resume(throwing: error) }
    }
    func collect(_ c: (URL, FileHandle)) -> String {
        try? c.1.close()
        let text = (try? String(contentsOf: c.0, encoding: .utf8)) ?? ""
        try? FileManager.default.removeItem(at: c.0)
        return text
    }
    let stdout = collect(out)
    return (status, stdout, separateStderr ? collect(err) : "")
}

/// Polls `condition` every 20 ms until it holds or the deadline passes; returns whether it held.
public func eventually(timeout: Duration = .seconds(60), _ condition: () -> Bool) async -> Bool {
    let deadline = ContinuousClock.now + timeout
    while ContinuousClock.now < deadline {
        if condition() { return true }
        try? await Task.sleep(for: .milliseconds(20))
    }
    return condition()
}

/// A private RabbitMQ node on loopback managed with ops/broker.sh.
public struct PrivateBroker: Sendable {
    public let port: Int
    public let directory: String
    public var url: String { "amqp://guest:guest@127.0.0.1:\(port)/" }
    var script: String { repositoryRoot.appendingPathComponent("ops/broker.sh").path }

    public init(port: Int, directory: String? = nil) {
        self.port = port
        self.directory = directory ?? repositoryRoot.appendingPathComponent(".build/test-broker-\(port)").path
    }

    public func start() async throws {
        let r = try await runProcess(["bash", script, "start", directory, String(port)])
        guard r.status == 0 else { throw TestFailure("broker start failed: \(r.output)") }
    }

    public func stop() async throws {
        let r = try await runProcess(["bash", script, "stop", directory])
        guard r.status == 0 else { throw TestFailure("broker stop failed: \(r.output)") }
    }

    @discardableResult
    public func ctl(_ args: String...) async throws -> String {
        let r = try await runProcess(["bash", script, "ctl", directory] + args)
        guard r.status == 0 else { throw TestFailure("rabbitmqctl \(args) failed: \(r.output)") }
        return r.output
    }

    public var configuration: AMQPConfiguration {
        get throws {
            var c = try AMQPConfiguration(url: url)
            c.connectionName = "pagoda-tests"
            return c
        }
    }
}

public struct TestFailure: Error, CustomStringConvertible {
    public let description: String
    public init(_ description: String) { self.description = description }
}

/// Consumes a queue in the background, acknowledging and keeping every delivery.
public final class QueueCollector: Sendable {
    public let consumer: AMQPConsumer
    private let received = Locked<[Delivery]>([])
    private let task: Task<Void, Never>

    public init(configuration: AMQPConfiguration, queue: String, topology: Topology) {
        let consumer = AMQPConsumer(configuration: configuration, queue: queue, topology: topology, prefetch: 500)
        self.consumer = consumer
        let received = self.received
        task = Task {
            for await d in consumer.deliveries {
                received.withLock { $0.append(d) }
                consumer.ack(d)
            }
        }
    }

    public var deliveries: [Delivery] { received.value }
    public var count: Int { received.withLock { $0.count } }

    public func close() async {
        await consumer.close()
        await task.value
    }
}

/// A `pagoda serve` child process.
public final class ServeProcess: Sendable {
    let process: Locked<Process?>
    public let arguments: [String]
    public let logPath: String

    public init(arguments: [String], logPath: String) {
        self.arguments = arguments
        self.logPath = logPath
        process = Locked(nil)
    }

    /// The `pagoda` binary built beside the test bundle.
    public static var binary: String {
        if let b = ProcessInfo.processInfo.environment["PAGODA_BIN"] { return b }
        let beside = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent().appendingPathComponent(
            "pagoda"
        ).path
        if FileManager.default.isExecutableFile(atPath: beside) { return beside }
        return repositoryRoot.appendingPathComponent(".build/debug/pagoda").path
    }

    public func start() throws {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: Self.binary)
        p.arguments = arguments
        // Several services run at once in the suites: each console on a free port of its own unless the
        // test says otherwise.
        var environment = ProcessInfo.processInfo.environment
        if environment["PAGODA_CONSOLE_ADDRESS"] == nil { environment["PAGODA_CONSOLE_ADDRESS"] = "127.0.0.1:0" }
        p.environment = environment
        if !FileManager.default.fileExists(atPath: logPath) {
            _ = FileManager.default.createFile(atPath: logPath, contents: nil)
        }
        let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: logPath))
        handle.seekToEndOfFile()
        p.standardOutput = handle
        p.standardError = handle
        try p.run()
        process.withLock { $0 = p }
    }

    public func signal(_ sig: Int32) {
        if let p = process.value, p.isRunning { kill(p.processIdentifier, sig) }
    }

    /// Waits for the process to exit; returns its status.
    public func wait(timeout: Duration = .seconds(60)) async -> Int32? {
        guard let p = process.value else { return nil }
        let exited = await eventually(timeout: timeout) { !p.isRunning }
        return exited ? p.terminationStatus : nil
    }

    public var log: String { (try? String(contentsOfFile: logPath, encoding: .utf8)) ?? "" }

    /// The process id while it runs.
    public var pid: Int32? { process.value.flatMap { $0.isRunning ? $0.processIdentifier : nil } }

    /// The process's peak and current resident memory in bytes (Linux: /proc/PID/status), while it runs.
    public var memory: (peak: Int, current: Int)? {
        guard let pid, let status = try? String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8) else {
            return nil
        }
        func kB(_ key: String) -> Int? {
            guard let line = status.split(separator: "\n").first(where: { $0.hasPrefix(key + ":") }) else { return nil }
            return line.split(separator: " ").dropFirst().first.flatMap { Int($0) }
        }
        guard let peak = kB("VmHWM"), let current = kB("VmRSS") else { return nil }
        return (peak * 1024, current * 1024)
    }
}

extension PrivateBroker {
    /// The TCP addresses the broker's Erlang VM listens on, as `127.0.0.1:5674` or `[::]:25674`, read from
    /// /proc (Linux): the sockets of the process in the node's pid file, matched with the kernel's tables
    /// of listening sockets.
    public func listeners() throws -> [String] {
        let pidText = try String(contentsOfFile: directory + "/rabbitmq.pid", encoding: .utf8)
        guard let pid = Int(pidText.trimmingCharacters(in: .whitespacesAndNewlines)) else {
            throw TestFailure("no pid in \(directory)/rabbitmq.pid: '\(pidText)'")
        }
        var inodes: Set<String> = []
        for fd in try FileManager.default.contentsOfDirectory(atPath: "/proc/\(pid)/fd") {
            if let target = try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/\(pid)/fd/\(fd)"),
                target.hasPrefix("socket:[")
            {
                inodes.insert(String(target.dropFirst(8).dropLast()))
            }
        }
        var found: [String] = []
        for (table, v6) in [("/proc/net/tcp", false), ("/proc/net/tcp6", true)] {
            guard let text = try? String(contentsOfFile: table, encoding: .utf8) else { continue }
            for line in text.split(separator: "\n").dropFirst() {
                let f = line.split(separator: " ")
                // sl local_address rem_address st tx:rx tr:when retrnsmt uid timeout inode
                guard f.count > 9, f[3] == "0A", inodes.contains(String(f[9])) else { continue }
                let parts = f[1].split(separator: ":")
                guard parts.count == 2, let port = Int(parts[1], radix: 16) else { continue }
                found.append(v6 ? "[\(Self.ipv6(parts[0]))]:\(port)" : "\(Self.ipv4(parts[0])):\(port)")
            }
        }
        return found.sorted()
    }

    /// An IPv4 address as /proc/net/tcp writes it (one 32-bit word in host order, little-endian here).
    static func ipv4(_ hex: Substring) -> String {
        let word = UInt32(hex, radix: 16) ?? 0
        return (0..<4).map { String((word >> (8 * $0)) & 0xFF) }.joined(separator: ".")
    }

    /// An IPv6 address as /proc/net/tcp6 writes it (four 32-bit words, each in host order): `::`, `::1`,
    /// `::ffff:127.0.0.1` and the rest written out in full.
    static func ipv6(_ hex: Substring) -> String {
        let chars = Array(hex)
        guard chars.count == 32 else { return String(hex) }
        var bytes: [UInt8] = []
        for w in 0..<4 {
            let word = UInt32(String(chars[(w * 8)..<(w * 8 + 8)]), radix: 16) ?? 0
            for b in 0..<4 { bytes.append(UInt8((word >> (8 * b)) & 0xFF)) }
        }
        if bytes.allSatisfy({ $0 == 0 }) { return "::" }
        if bytes[0..<15].allSatisfy({ $0 == 0 }) && bytes[15] == 1 { return "::1" }
        if bytes[0..<10].allSatisfy({ $0 == 0 }) && bytes[10] == 0xFF && bytes[11] == 0xFF {
            return "::ffff:" + bytes[12...].map(String.init).joined(separator: ".")
        }
        let groups = stride(from: 0, to: 16, by: 2).map {
            String(UInt16(bytes[$0]) << 8 | UInt16(bytes[$0 + 1]), radix: 16)
        }
        return groups.joined(separator: ":")
    }
}
