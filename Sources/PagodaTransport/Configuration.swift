import Foundation

/// TLS settings for `amqps://` connections (wired to rabbitmq-c's OpenSSL socket).
public struct AMQPTLSConfiguration: Sendable, Equatable {
    public enum MinimumVersion: Sendable, Equatable {
        case tls12
        /// Only the newest version OpenSSL supports.
        case latest
    }

    /// PEM file with the CA certificate(s) used to verify the broker.
    public var caCertificatePath: String?
    /// PEM client certificate (for mutual TLS); requires `clientKeyPath`.
    public var clientCertificatePath: String?
    /// PEM private key for `clientCertificatePath`.
    public var clientKeyPath: String?
    public var verifyPeer: Bool
    public var verifyHostname: Bool
    public var minimumVersion: MinimumVersion

    public init(
        caCertificatePath: String? = nil,
        clientCertificatePath: String? = nil,
        clientKeyPath: String? = nil,
        verifyPeer: Bool = true,
        verifyHostname: Bool = true,
        minimumVersion: MinimumVersion = .tls12
    ) {
        self.caCertificatePath = caCertificatePath
        self.clientCertificatePath = clientCertificatePath
        self.clientKeyPath = clientKeyPath
        self.verifyPeer = verifyPeer
        self.verifyHostname = verifyHostname
        self.minimumVersion = minimumVersion
    }
}

/// Reconnect delays: `initial * multiplier^attempt`, capped at `maximum`, then
/// reduced by a random fraction of up to `jitter` (0...1).
public struct ReconnectBackoff: Sendable, Equatable {
    public var initial: Duration
    public var maximum: Duration
    public var multiplier: Double
    public var jitter: Double

    public init(
        initial: Duration = .milliseconds(100), maximum: Duration = .seconds(10), multiplier: Double = 2,
        jitter: Double = 0.5
    ) {
        self.initial = initial
        self.maximum = maximum
        self.multiplier = multiplier
        self.jitter = jitter
    }

    /// Un-jittered delay for the given attempt (0-based).
    public func baseDelay(attempt: Int) -> Duration {
        let initialSeconds = initial.seconds
        let maxSeconds = maximum.seconds
        let exponent = Double(min(attempt, 62))
        let seconds = min(maxSeconds, initialSeconds * pow(multiplier, exponent))
        return .nanoseconds(Int64(seconds * 1e9))
    }

    /// Jittered delay for the given attempt (0-based).
    public func delay(attempt: Int) -> Duration {
        let base = baseDelay(attempt: attempt).seconds
        let factor = 1 - Double.random(in: 0...max(0, min(1, jitter)))
        return .nanoseconds(Int64(base * factor * 1e9))
    }
}

extension Duration {
    var seconds: Double {
        let c = components
        return Double(c.seconds) + Double(c.attoseconds) / 1e18
    }
}

/// Errors from `AMQPConfiguration(url:)`.
public enum AMQPConfigurationError: Error, Sendable, Equatable, CustomStringConvertible {
    case invalidScheme(String)
    case missingHost(String)
    case invalidPort(String)
    case invalidPercentEncoding(String)
    case invalidQueryParameter(name: String, value: String)
    case unknownQueryParameter(String)
    case malformed(String)

    public var description: String {
        switch self {
        case .invalidScheme(let s): return "AMQP URL must start with amqp:// or amqps:// (got scheme '\(s)')"
        case .missingHost(let u): return "AMQP URL has no host: \(u)"
        case .invalidPort(let p): return "AMQP URL has an invalid port '\(p)' (expected 1-65535)"
        case .invalidPercentEncoding(let s): return "AMQP URL has invalid percent-encoding in '\(s)'"
        case .invalidQueryParameter(let n, let v): return "AMQP URL query parameter '\(n)' has invalid value '\(v)'"
        case .unknownQueryParameter(let n): return "AMQP URL has unknown query parameter '\(n)'"
        case .malformed(let why): return "malformed AMQP URL: \(why)"
        }
    }
}

/// One node of a broker cluster.
public struct AMQPEndpoint: Sendable, Equatable, CustomStringConvertible {
    public var host: String
    public var port: Int

    public init(host: String, port: Int) {
        self.host = host
        self.port = port
    }

    public var description: String { "\(host):\(port)" }
}

/// Connection settings. Build from a URL:
/// `amqp[s]://user:password@host:port/vhost?heartbeat=10&frame_max=131072&connection_name=x`
/// plus TLS query parameters `cacertfile`, `certfile`, `keyfile`, `verify=verify_peer|verify_none`,
/// `verify_hostname=true|false`. User, password and vhost are percent-decoded; the default
/// port is 5672 (5671 for amqps); an empty path means vhost "/" (use `%2F` to spell it explicitly).
public struct AMQPConfiguration: Sendable, Equatable {
    public var host: String
    public var port: Int
    public var vhost: String
    public var user: String
    public var password: String
    /// nil: plain TCP; non-nil: TLS via amqp_ssl_socket.
    public var tls: AMQPTLSConfiguration?
    /// Heartbeat in seconds proposed to the broker (0 disables; not recommended).
    public var heartbeatSeconds: Int
    /// The largest frame proposed, at least `minimumFrameMax`.
    public var frameMax: Int
    /// The smallest frame Pagoda works with: a message's headers travel in one frame, and the issue headers
    /// (`x-pagoda-warnings`, `x-pagoda-errors`) hold up to 16 KiB each. A smaller frame would make such a
    /// message impossible to publish, and the outbox would stop at it.
    public static let minimumFrameMax = 65_536
    public var channelMax: Int
    /// Shown in the management UI (client property `connection_name`).
    public var connectionName: String
    public var connectTimeout: Duration
    /// Timeout for synchronous RPCs (login, declares, close).
    public var rpcTimeout: Duration
    /// The longest an idle connection thread sleeps (default 200 ms). It wakes at once for a frame from
    /// the broker or a publish or settlement posted to it; this bounds how late it sends a heartbeat and
    /// notices a close deadline.
    public var pollInterval: Duration
    public var reconnectBackoff: ReconnectBackoff
    /// How long a publisher's connection may answer every publish with basic.nack, confirming none, before
    /// the publisher drops it and connects again (to the next node of a cluster). A channel can keep
    /// nacking after a node of the cluster went away while a fresh connection is accepted at once.
    public var nackReconnectAfter: Duration = .seconds(5)
    /// Further nodes of the same cluster, tried in turn after `host:port` when a connect fails or an
    /// established connection is lost. Every node shares the credentials, vhost and TLS settings.
    public var alternates: [AMQPEndpoint] = []

    public var usesTLS: Bool { tls != nil }

    /// `host:port` first, then the alternates, in the order they are tried.
    public var endpoints: [AMQPEndpoint] { [AMQPEndpoint(host: host, port: port)] + alternates }

    /// The same settings pointed at the `index`-th of ``endpoints`` (modulo their count), with no alternates.
    public func endpoint(_ index: Int) -> AMQPConfiguration {
        let all = endpoints
        var c = self
        c.host = all[index % all.count].host
        c.port = all[index % all.count].port
        c.alternates = []
        return c
    }

    /// Several URLs of one cluster's nodes: the first gives every setting, the others add nodes to try. The
    /// URLs may differ only in host and port; anything else is an error naming the URL that differs.
    public init(urls: [String]) throws(AMQPConfigurationError) {
        guard let first = urls.first else { throw .malformed("no AMQP URL given") }
        let base = try AMQPConfiguration(url: first)
        self = base
        for url in urls.dropFirst() {
            var other = try AMQPConfiguration(url: url)
            let node = AMQPEndpoint(host: other.host, port: other.port)
            other.host = base.host
            other.port = base.port
            guard other == base else {
                throw .malformed(
                    "'\(Self.redact(url))' differs from '\(Self.redact(first))' in more than host and port; "
                        + "every node of a cluster takes the same user, password, vhost and options")
            }
            if !endpoints.contains(node) { alternates.append(node) }
        }
    }

    public init(
        host: String = "127.0.0.1", port: Int? = nil, vhost: String = "/", user: String = "guest",
        password: String = "guest",
        tls: AMQPTLSConfiguration? = nil, heartbeatSeconds: Int = 10, frameMax: Int = 131_072, channelMax: Int = 0,
        connectionName: String = "pagoda", connectTimeout: Duration = .seconds(5), rpcTimeout: Duration = .seconds(15),
        pollInterval: Duration = .milliseconds(200), reconnectBackoff: ReconnectBackoff = ReconnectBackoff()
    ) {
        self.host = host
        self.port = port ?? (tls == nil ? 5672 : 5671)
        self.vhost = vhost
        self.user = user
        self.password = password
        self.tls = tls
        self.heartbeatSeconds = heartbeatSeconds
        self.frameMax = frameMax
        self.channelMax = channelMax
        self.connectionName = connectionName
        self.connectTimeout = connectTimeout
        self.rpcTimeout = rpcTimeout
        self.pollInterval = pollInterval
        self.reconnectBackoff = reconnectBackoff
    }

    public init(url: String) throws(AMQPConfigurationError) {
        guard let schemeEnd = url.range(of: "://") else { throw .malformed("missing '://' in '\(Self.redact(url))'") }
        let scheme = url[..<schemeEnd.lowerBound].lowercased()
        let isTLS: Bool
        switch scheme {
        case "amqp": isTLS = false
        case "amqps": isTLS = true
        default: throw .invalidScheme(scheme)
        }
        var rest = Substring(url[schemeEnd.upperBound...])
        var query: Substring = ""
        if let q = rest.firstIndex(of: "?") {
            query = rest[rest.index(after: q)...]
            rest = rest[..<q]
        }
        if rest.contains("#") { throw .malformed("fragments are not allowed") }
        var authority = rest
        var path: Substring? = nil
        if let slash = rest.firstIndex(of: "/") {
            authority = rest[..<slash]
            path = rest[rest.index(after: slash)...]
        }
        var user = "guest"
        var password = "guest"
        var hostPort = authority
        if let at = authority.lastIndex(of: "@") {
            let userInfo = authority[..<at]
            hostPort = authority[authority.index(after: at)...]
            if let colon = userInfo.firstIndex(of: ":") {
                user = try Self.percentDecode(userInfo[..<colon])
                password = try Self.percentDecode(userInfo[userInfo.index(after: colon)...])
            } else {
                user = try Self.percentDecode(userInfo)
                password = ""
            }
        }
        var host: String
        var portText: Substring? = nil
        if hostPort.hasPrefix("[") {
            guard let close = hostPort.firstIndex(of: "]") else { throw .malformed("unterminated IPv6 address") }
            host = String(hostPort[hostPort.index(after: hostPort.startIndex)..<close])
            let after = hostPort[hostPort.index(after: close)...]
            if !after.isEmpty {
                guard after.hasPrefix(":") else { throw .malformed("unexpected text after IPv6 address") }
                portText = after.dropFirst()
            }
        } else if let colon = hostPort.lastIndex(of: ":") {
            host = try Self.percentDecode(hostPort[..<colon])
            portText = hostPort[hostPort.index(after: colon)...]
        } else {
            host = try Self.percentDecode(hostPort)
        }
        guard !host.isEmpty else { throw .missingHost(Self.redact(url)) }
        var port = isTLS ? 5671 : 5672
        if let portText {
            guard let p = Int(portText), (1...65535).contains(p) else { throw .invalidPort(String(portText)) }
            port = p
        }
        var vhost = "/"
        if let path, !path.isEmpty {
            if path.contains("/") { throw .malformed("vhost must be a single path segment (encode '/' as %2F)") }
            vhost = try Self.percentDecode(path)
        }
        self.init(
            host: host, port: port, vhost: vhost, user: user, password: password,
            tls: isTLS ? AMQPTLSConfiguration() : nil)

        if !query.isEmpty {
            for pair in query.split(separator: "&", omittingEmptySubsequences: true) {
                let parts = pair.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
                let name = try Self.percentDecode(parts[0])
                let value = parts.count > 1 ? try Self.percentDecode(parts[1]) : ""
                try apply(queryParameter: name, value: value)
            }
        }
    }

    private mutating func apply(queryParameter name: String, value: String) throws(AMQPConfigurationError) {
        func int(_ range: ClosedRange<Int>) throws(AMQPConfigurationError) -> Int {
            guard let v = Int(value), range.contains(v) else { throw .invalidQueryParameter(name: name, value: value) }
            return v
        }
        func bool() throws(AMQPConfigurationError) -> Bool {
            switch value.lowercased() {
            case "true", "1", "yes": return true
            case "false", "0", "no": return false
            default: throw .invalidQueryParameter(name: name, value: value)
            }
        }
        func requireTLS() throws(AMQPConfigurationError) {
            guard tls != nil else {
                throw .invalidQueryParameter(name: name, value: "\(value) (TLS options need an amqps:// URL)")
            }
        }
        switch name {
        case "heartbeat": heartbeatSeconds = try int(0...65535)
        case "frame_max": frameMax = try int(Self.minimumFrameMax...Int(Int32.max))
        case "channel_max": channelMax = try int(0...65535)
        case "connection_timeout": connectTimeout = .milliseconds(try int(1...3_600_000))
        case "connection_name": connectionName = value
        case "cacertfile":
            try requireTLS()
            tls?.caCertificatePath = value
        case "certfile":
            try requireTLS()
            tls?.clientCertificatePath = value
        case "keyfile":
            try requireTLS()
            tls?.clientKeyPath = value
        case "verify":
            try requireTLS()
            switch value {
            case "verify_peer": tls?.verifyPeer = true
            case "verify_none":
                tls?.verifyPeer = false
                tls?.verifyHostname = false
            default: throw .invalidQueryParameter(name: name, value: value)
            }
        case "verify_hostname":
            try requireTLS()
            tls?.verifyHostname = try bool()
        default: throw .unknownQueryParameter(name)
        }
    }

    static func percentDecode(_ s: Substring) throws(AMQPConfigurationError) -> String {
        guard s.contains("%") else { return String(s) }
        var out: [UInt8] = []
        var it = Array(s.utf8)[...]
        while let c = it.popFirst() {
            if c == UInt8(ascii: "%") {
                guard it.count >= 2, let h = hexValue(it[it.startIndex]), let l = hexValue(it[it.startIndex + 1]) else {
                    throw .invalidPercentEncoding(redact(String(s)))
                }
                out.append(h << 4 | l)
                it = it.dropFirst(2)
            } else {
                out.append(c)
            }
        }
        guard let str = String(validating: out, as: UTF8.self) else { throw .invalidPercentEncoding(redact(String(s))) }
        return str
    }

    private static func hexValue(_ c: UInt8) -> UInt8? {
        switch c {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): return c - UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): return c - UInt8(ascii: "a") + 10
        case UInt8(ascii: "A")...UInt8(ascii: "F"): return c - UInt8(ascii: "A") + 10
        default: return nil
        }
    }

    /// Hide a password in a URL for error messages.
    static func redact(_ url: String) -> String {
        guard let schemeEnd = url.range(of: "://"), let at = url[schemeEnd.upperBound...].lastIndex(of: "@") else {
            return url
        }
        let userInfo = url[schemeEnd.upperBound..<at]
        guard let colon = userInfo.firstIndex(of: ":") else { return url }
        return String(url[..<colon]) + ":***" + String(url[at...])
    }

    /// "host:port/vhost" for logs (no credentials).
    public var endpointDescription: String {
        "\(tls == nil ? "amqp" : "amqps")://\(host):\(port)/\(vhost == "/" ? "%2F" : vhost)"
    }
}
