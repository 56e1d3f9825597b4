import Foundation
import PagodaJSON
import PagodaRules
import PagodaTesting
import PagodaTransport
import Testing

@testable import PagodaService

#if canImport(FoundationNetworking)
    import FoundationNetworking
#endif
#if canImport(Glibc)
    import Glibc
#endif

/// The status endpoint's pieces that need no service: its address option and the Prometheus text.
@Suite struct StatusTextTests {
    @Test(arguments: [
        ("127.0.0.1:9345", HostAndPort(host: "127.0.0.1", port: 9345)), (":0", HostAndPort(host: "0.0.0.0", port: 0)),
        ("[::1]:80", HostAndPort(host: "::1", port: 80)),
        ("localhost:65535", HostAndPort(host: "localhost", port: 65535)),
    ])
    func addressesParse(_ text: String, _ expected: HostAndPort) {
        #expect(HostAndPort(parsing: text) == expected)
    }

    @Test(arguments: ["9345", "host:", "host:65536", "host:-1", "host:x", "a b:1", ""])
    func badAddressesDoNot(_ text: String) {
        #expect(HostAndPort(parsing: text) == nil)
    }
}

/// A TCP socket listening on a free loopback port: (descriptor, port).
func occupyLoopbackPort() throws -> (Int32, Int) {
    let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    try #require(fd >= 0)
    var addr = sockaddr_in()
    addr.sin_family = sa_family_t(AF_INET)
    addr.sin_addr.s_addr = inet_addr("127.0.0.1")
    var length = socklen_t(MemoryLayout<sockaddr_in>.size)
    let bound = withUnsafeMutablePointer(to: &addr) { p in
        p.withMemoryRebound(to: sockaddr.self, capacity: 1) {
            bind(fd, $0, length) == 0 && listen(fd, 1) == 0 && getsockname(fd, $0, &length) == 0
        }
    }
    try #require(bound, "cannot listen on loopback: errno \(errno)")
    return (fd, Int(UInt16(bigEndian: addr.sin_port)))
}

/// GET on loopback: the status code and the body.
func httpGet(port: Int, _ path: String) async throws -> (Int, String) {
    let (data, response) = try await URLSession.shared.data(from: URL(string: "http://127.0.0.1:\(port)\(path)")!)
    return ((response as? HTTPURLResponse)?.statusCode ?? -1, String(decoding: data, as: UTF8.self))
}

extension StatusTextTests {
    static func scratchDirectory() throws -> URL {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent(
            "pagoda-status-\(UUID().uuidString.prefix(8))")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        return dir
    }

    /// `pagoda serve`, started, on the Foshan rules with no broker to reach (port 1) and its database in `dir`.
    static func serveWithoutBroker(in dir: URL, statusAddress: String) throws -> ServeProcess {
        let serve = ServeProcess(
            arguments: [
                "serve", "--rules", repositoryRoot.appendingPathComponent("rules").path,
                "--amqp-url", "amqp://guest:guest@127.0.0.1:1/", "--db", dir.appendingPathComponent("p.sqlite").path,
                "--status-address", statusAddress,
            ],
            logPath: dir.appendingPathComponent("serve.log").path)
        try serve.start()
        return serve
    }

    /// Taken port: the service stops at once with exit status 1 and says which address (it used to stop its
    /// other parts and then hang with the outbox relay still running).
    @Test func anAddressInUseStopsTheServiceWithItsReason() async throws {
        let (fd, port) = try occupyLoopbackPort()
        defer { close(fd) }
        let dir = try Self.scratchDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let serve = try Self.serveWithoutBroker(in: dir, statusAddress: "127.0.0.1:\(port)")
        let status = await serve.wait(timeout: .seconds(30))
        if status == nil { serve.signal(SIGKILL) }
        #expect(status == 1, "\(serve.log.suffix(2000))")
        #expect(
            serve.log.contains("the status endpoint cannot listen on 127.0.0.1:\(port) (--status-address)"),
            "\(serve.log.suffix(2000))")
    }

    /// No broker to reach: the service is alive but not ready, says which connections are down, and still
    /// stops cleanly on SIGTERM.
    @Test func withoutABrokerTheServiceIsAliveButNotReady() async throws {
        let dir = try Self.scratchDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let serve = try Self.serveWithoutBroker(in: dir, statusAddress: "127.0.0.1:0")
        #expect(await eventually { serve.log.contains("status endpoint listening") }, "\(serve.log.suffix(2000))")
        let port = try #require(
            serve.log.firstMatch(of: /http\.port=([0-9]+)[^\n]*status endpoint listening/).flatMap { Int($0.1) })

        #expect(try await httpGet(port: port, "/health").0 == 200)
        let ready = try await httpGet(port: port, "/ready")
        #expect(ready.0 == 503)
        #expect(ready.1 == "not connected: intake, publisher, commands\n", "\(ready.1)")
        let page = try await httpGet(port: port, "/metrics").1
        let samples = MetricsPage(page)
        for series in [#"pagoda_amqp_connected{role="intake"}"#, #"pagoda_amqp_connected{role="publisher"}"#] {
            #expect(samples[series] == 0, "no '\(series) 0' in\n\(page)")
        }
        #expect(samples["pagoda_store_up"] == 1, "\(page)")

        serve.signal(SIGTERM)
        let status = await serve.wait(timeout: .seconds(30))
        if status == nil { serve.signal(SIGKILL) }
        #expect(status == 0, "\(serve.log.suffix(2000))")
    }
}

extension ServiceTests {
    @Test func statusEndpointShowsCountersConnectionsAndOpenTickets() async throws {
        let w = try await World(serveArguments: ["--status-address", "127.0.0.1:0"])
        #expect(await eventually { w.serve.log.contains("status endpoint listening") }, "\(w.serve.log.suffix(2000))")
        let port = try #require(
            w.serve.log.firstMatch(of: /http\.port=([0-9]+)[^\n]*status endpoint listening/).flatMap { Int($0.1) })

        // 南海区, 顺德区: urban management
        let tickets = [Self.ticket(0, prefix: "STATUS"), Self.ticket(1, prefix: "STATUS")]
        try await w.publishAll(tickets)
        #expect(await eventually { w.dispatched().count == 2 }, "\(w.serve.log.suffix(2000))")

        let health = try await httpGet(port: port, "/health")
        #expect(health.0 == 200 && health.1 == "ok\n")
        #expect(try await httpGet(port: port, "/nothing-here").0 == 404)

        // The store's counts are kept a few seconds, and the consumers connect on their own: wait for a page
        // that has every series with its value.
        let expected: [(String, Double)] = [
            ("pagoda_dispatched_total", 2), (#"pagoda_rules_info{hash="\#(Self.rules.hash)"}"#, 1),
            (#"pagoda_amqp_connected{role="intake"}"#, 1), (#"pagoda_amqp_connected{role="publisher"}"#, 1),
            (#"pagoda_amqp_connected{role="commands"}"#, 1), ("pagoda_store_up", 1),
            (#"pagoda_tickets{unit="nanhai.urban",phase="assigned"}"#, 1),
            (#"pagoda_tickets{unit="shunde.urban",phase="assigned"}"#, 1),
            ("pagoda_timers_pending", 2), ("pagoda_timers_due", 0),
            ("pagoda_rules_units", Double(Self.rules.units.count)),
        ]
        var page = ""
        var samples = MetricsPage("")
        let deadline = ContinuousClock.now + .seconds(30)
        while ContinuousClock.now < deadline {
            page = try await httpGet(port: port, "/metrics").1
            samples = MetricsPage(page)
            if expected.allSatisfy({ samples[$0.0] == $0.1 }) { break }
            try await Task.sleep(for: .milliseconds(200))
        }
        #expect(page.contains("# TYPE pagoda_dispatched_total counter\n"), "\(page)")
        #expect(page.contains("# HELP pagoda_dispatched_total Tickets dispatched.\n"), "\(page)")
        #expect(samples[#"pagoda_timer_lateness_milliseconds_bucket{le="+Inf"}"#] != nil, "\(page)")
        for (series, value) in expected {
            #expect(samples[series] == value, "no '\(series) \(value)' in\n\(page)")
        }
        // Every connection up (the page says so): ready.
        let ready = try await httpGet(port: port, "/ready")
        #expect(ready.0 == 200 && ready.1 == "ready\n", "\(ready.1)")
        await w.stop()
    }
}
