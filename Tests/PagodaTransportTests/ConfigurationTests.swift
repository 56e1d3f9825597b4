import Logging
import PagodaTesting
import Testing

@testable import PagodaTransport

@Suite struct ConfigurationTests {
    @Test func fullURL() throws {
        let c = try AMQPConfiguration(url: "amqp://pagoda:s3cret@mq.example.cn:5679/dispatch")
        #expect(c.host == "mq.example.cn")
        #expect(c.port == 5679)
        #expect(c.user == "pagoda")
        #expect(c.password == "s3cret")
        #expect(c.vhost == "dispatch")
        #expect(c.tls == nil)
        #expect(c.heartbeatSeconds == 10)
    }

    @Test func defaults() throws {
        let c = try AMQPConfiguration(url: "amqp://localhost")
        #expect(c.port == 5672)
        #expect(c.vhost == "/")
        #expect(c.user == "guest")
        #expect(c.password == "guest")
        let c2 = try AMQPConfiguration(url: "amqp://localhost/")
        #expect(c2.vhost == "/")
        let s = try AMQPConfiguration(url: "amqps://broker.internal")
        #expect(s.port == 5671)
        #expect(s.tls == AMQPTLSConfiguration())
        #expect(s.tls?.minimumVersion == .tls12)
        #expect(s.tls?.verifyPeer == true)
        #expect(s.tls?.verifyHostname == true)
    }

    @Test func percentDecoding() throws {
        let c = try AMQPConfiguration(url: "amqp://user%40corp:p%3Ass%2Fw%25rd@host:1234/%2F")
        #expect(c.user == "user@corp")
        #expect(c.password == "p:ss/w%rd")
        #expect(c.vhost == "/")
        let c2 = try AMQPConfiguration(url: "amqp://u:p@host/%E7%83%AD%E7%BA%BF")
        #expect(c2.vhost == "热线")
    }

    @Test func ipv6AndQuery() throws {
        let c = try AMQPConfiguration(
            url: "amqp://u:p@[::1]:5673/v?heartbeat=30&frame_max=65536&connection_name=pagoda-dispatch")
        #expect(c.host == "::1")
        #expect(c.port == 5673)
        #expect(c.heartbeatSeconds == 30)
        #expect(c.frameMax == 65536)
        #expect(c.connectionName == "pagoda-dispatch")
    }

    @Test func tlsQuery() throws {
        let c = try AMQPConfiguration(
            url:
                "amqps://u:p@mq:5671/?cacertfile=/etc/ssl/ca.pem&certfile=/etc/ssl/c.pem&keyfile=/etc/ssl/k.pem&verify_hostname=false"
        )
        #expect(c.tls?.caCertificatePath == "/etc/ssl/ca.pem")
        #expect(c.tls?.clientCertificatePath == "/etc/ssl/c.pem")
        #expect(c.tls?.clientKeyPath == "/etc/ssl/k.pem")
        #expect(c.tls?.verifyPeer == true)
        #expect(c.tls?.verifyHostname == false)
        let none = try AMQPConfiguration(url: "amqps://mq?verify=verify_none")
        #expect(none.tls?.verifyPeer == false)
        #expect(none.usesTLS)
    }

    @Test func badURLs() {
        #expect(throws: AMQPConfigurationError.invalidScheme("http")) { try AMQPConfiguration(url: "http://host") }
        #expect(throws: AMQPConfigurationError.self) { try AMQPConfiguration(url: "host:5672") }
        #expect(throws: AMQPConfigurationError.missingHost("amqp://u:***@:5672/")) {
            try AMQPConfiguration(url: "amqp://u:p@:5672/")
        }
        #expect(throws: AMQPConfigurationError.invalidPort("99999")) { try AMQPConfiguration(url: "amqp://host:99999") }
        #expect(throws: AMQPConfigurationError.invalidPort("abc")) { try AMQPConfiguration(url: "amqp://host:abc") }
        #expect(throws: AMQPConfigurationError.self) { try AMQPConfiguration(url: "amqp://u:p%zz@host") }
        #expect(throws: AMQPConfigurationError.unknownQueryParameter("bogus")) {
            try AMQPConfiguration(url: "amqp://host?bogus=1")
        }
        #expect(throws: AMQPConfigurationError.invalidQueryParameter(name: "heartbeat", value: "-1")) {
            try AMQPConfiguration(url: "amqp://host?heartbeat=-1")
        }
        // Frames too small for a message's issue headers (16 KiB each) are refused at start.
        #expect(throws: AMQPConfigurationError.invalidQueryParameter(name: "frame_max", value: "16384")) {
            try AMQPConfiguration(url: "amqp://host?frame_max=16384")
        }
        #expect(throws: AMQPConfigurationError.self) { try AMQPConfiguration(url: "amqp://host?cacertfile=/x.pem") }
        #expect(throws: AMQPConfigurationError.self) { try AMQPConfiguration(url: "amqp://host/a/b") }
    }

    @Test func errorMessagesHidePassword() {
        do {
            _ = try AMQPConfiguration(url: "amqp://u:topsecret@:5672/")
            Issue.record("expected an error")
        } catch {
            #expect(!error.description.contains("topsecret"))
        }
    }

    @Test func backoff() {
        let b = ReconnectBackoff()
        #expect(b.baseDelay(attempt: 0) == .milliseconds(100))
        #expect(b.baseDelay(attempt: 1) == .milliseconds(200))
        #expect(b.baseDelay(attempt: 20) == .seconds(10))
        for a in 0..<10 {
            let d = b.delay(attempt: a)
            #expect(d <= b.baseDelay(attempt: a))
            #expect(d >= b.baseDelay(attempt: a) / 2)
        }
    }

    @Test func severalURLsNameTheNodesOfOneCluster() throws {
        let c = try AMQPConfiguration(urls: [
            "amqp://u:p@10.0.0.1:5672/city", "amqp://u:p@10.0.0.2:5673/city", "amqp://u:p@10.0.0.1:5672/city",
        ])
        #expect(c.host == "10.0.0.1")
        #expect(c.alternates == [AMQPEndpoint(host: "10.0.0.2", port: 5673)])
        #expect(c.endpoints.map(\.description) == ["10.0.0.1:5672", "10.0.0.2:5673"])
        #expect(c.endpoint(1).host == "10.0.0.2")
        #expect(c.endpoint(1).port == 5673)
        #expect(c.endpoint(1).vhost == "city")
        #expect(c.endpoint(1).alternates.isEmpty)
        #expect(c.endpoint(2).host == "10.0.0.1")
    }

    @Test func nodesMustShareEverythingButHostAndPort() {
        #expect(throws: AMQPConfigurationError.self) {
            try AMQPConfiguration(urls: ["amqp://u:p@a/city", "amqp://u:p@b/other"])
        }
        do {
            _ = try AMQPConfiguration(urls: ["amqp://u:topsecret@a/city", "amqp://u:other@b/city"])
            Issue.record("expected an error")
        } catch {
            #expect(error.description.contains("amqp://u:***@b/city"))
            #expect(!error.description.contains("topsecret"))
        }
        #expect(throws: AMQPConfigurationError.self) { try AMQPConfiguration(urls: []) }
    }

    @Test func reconnectionMovesToTheNextNodeAfterAFailureOrALoss() {
        let (stream, continuation) = AsyncStream<ConnectionEvent>.makeStream()
        _ = stream
        var r = Reconnection(
            policy: ReconnectBackoff(), endpointCount: 3, shared: EndpointShared(), events: continuation)
        #expect(r.endpointIndex == 0)
        r.willConnect()
        r.connectFailed(
            .library(status: -9, message: "refused", context: "connect"), logger: Logger(label: "t"), "failed")
        #expect(r.endpointIndex == 1)
        r.willConnect()
        r.didConnect(logger: Logger(label: "t"), "connected", node: AMQPConfiguration())
        #expect(r.endpointIndex == 1)
        r.lost(.library(status: -9, message: "gone", context: "read"))
        #expect(r.endpointIndex == 2)
        r.willConnect()
        r.connectFailed(
            .library(status: -9, message: "refused", context: "connect"), logger: Logger(label: "t"), "failed")
        #expect(r.endpointIndex == 0)
    }
}
