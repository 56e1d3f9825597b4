import Foundation
import Logging
import PagodaTesting
import Synchronization
import Testing

@testable import PagodaTransport

#if canImport(Glibc)
    import Glibc
#endif

enum TestBroker {
    static var url: String {
        ProcessInfo.processInfo.environment["PAGODA_TEST_AMQP_URL"] ?? "amqp://guest:guest@127.0.0.1:5673/"
    }

    static var configuration: AMQPConfiguration {
        get throws {
            var c = try AMQPConfiguration(url: url)
            c.connectionName = "pagoda-tests"
            c.heartbeatSeconds = 10
            return c
        }
    }

    static var directory: String {
        if let d = ProcessInfo.processInfo.environment["PAGODA_TEST_BROKER_DIR"], !d.isEmpty { return d }
        let port = (try? AMQPConfiguration(url: url).port) ?? 5673
        return "/tmp/pagoda-test-broker-\(port)"
    }

    static var script: String {
        URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent()
            .appendingPathComponent("ops/broker.sh").path
    }

    static let logger: Logger = {
        var l = Logger(label: "pagoda.transport.tests")
        l.logLevel = ProcessInfo.processInfo.environment["PAGODA_TEST_LOG"] == "debug" ? .debug : .warning
        return l
    }()

    /// One start attempt per test process, shared by every suite (static lets are initialised once).
    private static let startup = Task<Void, any Error> {
        let c = try AMQPConfiguration(url: url)
        if !reachable(host: c.host, port: c.port) {
            let result = try await run(["bash", script, "start", directory, String(c.port)])
            guard result.status == 0 else { throw BrokerStartError(output: result.output) }
        }
    }

    struct BrokerStartError: Error, CustomStringConvertible {
        let output: String
        var description: String { "broker start failed: \(output)" }
    }

    /// Makes sure a broker answers at the test URL; starts a private one with ops/broker.sh if not.
    static func ensureRunning() async throws {
        try await startup.value
    }

    /// True when the broker directory belongs to ops/broker.sh (so it can be stopped/frozen).
    /// (Also true when no broker answers yet: the suite will start one with the script.)
    static var isManaged: Bool {
        if FileManager.default.fileExists(atPath: directory + "/port") { return true }
        guard let c = try? AMQPConfiguration(url: url) else { return false }
        return !reachable(host: c.host, port: c.port)
    }

    /// The beam.smp pid of the private broker.
    static var brokerPID: pid_t? {
        guard let text = try? String(contentsOfFile: directory + "/rabbitmq.pid", encoding: .utf8) else { return nil }
        return pid_t(text.trimmingCharacters(in: .whitespacesAndNewlines))
    }

    static func stop() async throws {
        let result = try await run(["bash", script, "stop", directory])
        try #require(result.status == 0, "broker stop failed: \(result.output)")
    }

    static func start() async throws {
        let port = try AMQPConfiguration(url: url).port
        let result = try await run(["bash", script, "start", directory, String(port)])
        try #require(result.status == 0, "broker start failed: \(result.output)")
    }

    /// rabbitmqctl against the private test broker.
    @discardableResult
    static func ctl(_ args: String...) async throws -> String {
        let result = try await run(["bash", script, "ctl", directory] + args)
        try #require(result.status == 0, "rabbitmqctl \(args) failed: \(result.output)")
        return result.output
    }

    static func reachable(host: String, port: Int) -> Bool {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { return false }
        defer { close(fd) }
        var addr = sockaddr_in()
        addr.sin_family = sa_family_t(AF_INET)
        addr.sin_port = in_port_t(UInt16(port).bigEndian)
        guard inet_pton(AF_INET, host == "localhost" ? "127.0.0.1" : host, &addr.sin_addr) == 1 else { return false }
        let rc = withUnsafePointer(to: &addr) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
            }
        }
        return rc == 0
    }

    /// Runs a process without blocking a concurrency-pool thread.
    static func run(_ argv: [String]) async throws -> (status: Int32, output: String) {
        try await runProcess(argv)
    }
}

/// Publishes messages m0..m(count-1) (body: the index as one byte) to `queue`, each confirmed.
func publishNumbered(_ publisher: AMQPPublisher, count: Int, to queue: String) async throws {
    for i in 0..<count {
        let o = try await publisher.publish(
            AMQPMessage(exchange: "", routingKey: queue, body: [UInt8(i)], messageId: "m\(i)"))
        #expect(o == .confirmed)
    }
}

func uniqueName(_ prefix: String) -> String {
    "\(prefix).\(UUID().uuidString.prefix(8).lowercased())"
}

/// Thread-safe collector used by consumer tasks in tests.
final class Collected: Sendable {
    struct State {
        var ids: Set<String> = []
        var deliveries: [Delivery] = []
        var count = 0
    }
    let state = Locked(State())

    func add(_ d: Delivery, keep: Bool = false) {
        state.withLock {
            $0.count += 1
            if let id = d.messageId { $0.ids.insert(id) }
            if keep { $0.deliveries.append(d) }
        }
    }
    var ids: Set<String> { state.withLock { $0.ids } }
    var count: Int { state.withLock { $0.count } }
    var deliveries: [Delivery] { state.withLock { $0.deliveries } }
}

/// Collects connection events in the background.
final class EventLog: Sendable {
    final class Box: Sendable {
        let events = Locked<[ConnectionEvent]>([])
    }
    let box = Box()
    let task: Task<Void, Never>

    init(_ stream: AsyncStream<ConnectionEvent>) {
        let box = self.box
        task = Task {
            for await e in stream { box.events.withLock { $0.append(e) } }
        }
    }

    var all: [ConnectionEvent] { box.events.withLock { $0 } }

    /// Every event, once the stream has finished (call after close()).
    func drained() async -> [ConnectionEvent] {
        await task.value
        return all
    }
    var disconnects: Int { all.filter { if case .disconnected = $0 { true } else { false } }.count }
    var protocolErrors: [ConnectionEvent] { all.filter { if case .protocolError = $0 { true } else { false } } }
}

/// A loopback TCP port nothing listens on: the kernel picks a free one for a socket that is then closed.
func unusedLoopbackPort() throws -> Int {
    let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    guard fd >= 0 else { throw TestFailure("socket() failed") }
    defer { close(fd) }
    var addr = sockaddr_in()
    addr.sin_family = sa_family_t(AF_INET)
    addr.sin_port = 0
    addr.sin_addr.s_addr = in_addr_t(0x7F00_0001).bigEndian
    var length = socklen_t(MemoryLayout<sockaddr_in>.size)
    let rc = withUnsafeMutablePointer(to: &addr) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { p in
            bind(fd, p, length) == 0 ? getsockname(fd, p, &length) : -1
        }
    }
    guard rc == 0 else { throw TestFailure("bind() failed") }
    return Int(UInt16(bigEndian: addr.sin_port))
}
