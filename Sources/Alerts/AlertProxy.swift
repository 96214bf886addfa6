import AsyncHTTPClient
import Foundation
import Synchronization

/// The HTTP proxy the webhook, Slack and PagerDuty channels go through: a channel's `proxy:` key, or else the
/// environment's `HTTPS_PROXY` (for `https://` URLs) or `HTTP_PROXY` (for `http://` URLs), lower-case names too,
/// unless `NO_PROXY` names the host. Requests go through the proxy by `CONNECT` (AsyncHTTPClient's way, for
/// `http://` URLs too), so TLS is end to end.
public struct AlertProxy: Sendable, Hashable, CustomStringConvertible {
    public var host: String
    public var port: Int
    public var username: String?
    public var password: Secret?

    public init(host: String, port: Int, username: String? = nil, password: Secret? = nil) {
        self.host = host
        self.port = port
        self.username = username
        self.password = password
    }

    /// `host:port`: never the credentials.
    public var description: String { "\(host):\(port)" }

    /// `http://[user:password@]host[:port]` (port 80 by default), or `host:port`. `what` names the setting in
    /// errors, which never quote the value (it may hold a password).
    public static func parse(_ text: String, what: String) throws(AlertError) -> AlertProxy {
        let trimmed = text.trimmingCharacters(in: .whitespaces)
        let full = trimmed.contains("://") ? trimmed : "http://" + trimmed
        guard let parts = URLComponents(string: full), let scheme = parts.scheme?.lowercased(),
            let host = parts.host, !host.isEmpty
        else { throw AlertError(.settings, "\(what) is not a proxy URL such as http://proxy.internal:3128") }
        guard scheme == "http" else {
            throw AlertError(.settings, "\(what): only http:// proxies are supported (https:// URLs go through them by CONNECT)")
        }
        let port = parts.port ?? 80
        guard (1...65535).contains(port) else { throw AlertError(.settings, "\(what) has no valid port") }
        return AlertProxy(
            host: host.trimmingCharacters(in: CharacterSet(charactersIn: "[]")), port: port,
            // URLComponents decodes user and password already.
            username: parts.user, password: parts.password.map(Secret.init))
    }

    /// The proxy the environment gives `url`, or `nil` (no proxy variable for its scheme, or `NO_PROXY` names it).
    public static func fromEnvironment(for url: String, environment: [String: String]) throws(AlertError) -> AlertProxy? {
        guard let target = URLComponents(string: url), let scheme = target.scheme?.lowercased(),
            let host = target.host
        else { return nil }
        let names = scheme == "https" ? ["HTTPS_PROXY", "https_proxy"] : scheme == "http" ? ["HTTP_PROXY", "http_proxy"] : []
        guard let name = names.first(where: { environment[$0]?.isEmpty == false }), let value = environment[name] else {
            return nil
        }
        let noProxy = environment["NO_PROXY"].flatMap { $0.isEmpty ? nil : $0 } ?? environment["no_proxy"] ?? ""
        if bypasses(host: host, port: target.port ?? (scheme == "https" ? 443 : 80), noProxy: noProxy) { return nil }
        return try parse(value, what: name)
    }

    /// Whether `NO_PROXY` (comma-separated: `*`, host names, domains (`example.com` or `.example.com`: it and every
    /// name under it), IP addresses, IPv4 ranges such as `10.0.0.0/8`, each with an optional `:port`) names the host.
    public static func bypasses(host: String, port: Int, noProxy: String) -> Bool {
        let host = host.lowercased().trimmingCharacters(in: CharacterSet(charactersIn: "[]"))
        for raw in noProxy.split(whereSeparator: { $0 == "," || $0 == " " }) {
            var entry = raw.lowercased()
            if entry == "*" { return true }
            var entryPort: Int?
            if entry.hasPrefix("[") {
                guard let close = entry.firstIndex(of: "]") else { continue }
                let rest = entry[entry.index(after: close)...]
                if rest.hasPrefix(":") { entryPort = Int(rest.dropFirst()) }
                entry = String(entry[entry.index(after: entry.startIndex)..<close])
            } else if entry.filter({ $0 == ":" }).count == 1, let colon = entry.firstIndex(of: ":") {
                entryPort = Int(entry[entry.index(after: colon)...])
                entry = String(entry[..<colon])
            }
            if let entryPort, entryPort != port { continue }
            if entry.contains("/") {
                if Self.ipv4(host, inRange: entry) { return true }
                continue
            }
            while entry.hasPrefix("*.") || entry.hasPrefix(".") { entry.removeFirst(entry.hasPrefix("*.") ? 2 : 1) }
            if !entry.isEmpty, host == entry || host.hasSuffix("." + entry) { return true }
        }
        return false
    }

    private static func ipv4(_ text: String) -> UInt32? {
        let parts = text.split(separator: ".", omittingEmptySubsequences: false)
        guard parts.count == 4 else { return nil }
        var value: UInt32 = 0
        for part in parts {
            guard let byte = UInt8(part) else { return nil }
            value = value << 8 | UInt32(byte)
        }
        return value
    }

    private static func ipv4(_ host: String, inRange range: String) -> Bool {
        let parts = range.split(separator: "/")
        guard parts.count == 2, let base = ipv4(String(parts[0])), let bits = Int(parts[1]), (0...32).contains(bits),
            let address = ipv4(host)
        else { return false }
        let mask: UInt32 = bits == 0 ? 0 : ~UInt32(0) << (32 - bits)
        return address & mask == base & mask
    }

    var configuration: HTTPClient.Configuration.Proxy {
        let authorization = username.map { HTTPClient.Authorization.basic(username: $0, password: password?.value ?? "") }
        return .server(host: host, port: port, authorization: authorization)
    }

    /// One client per proxy, for the process's lifetime (a client must be shut down before it is freed: these never
    /// are); without a proxy, the shared client.
    static func client(for proxy: AlertProxy?) -> HTTPClient {
        guard let proxy else { return .shared }
        return clients.withLock { clients in
            if let client = clients[proxy] { return client }
            var configuration = HTTPClient.Configuration.singletonConfiguration
            configuration.proxy = proxy.configuration
            let client = HTTPClient(eventLoopGroup: HTTPClient.defaultEventLoopGroup, configuration: configuration)
            clients[proxy] = client
            return client
        }
    }

    private static let clients = Mutex<[AlertProxy: HTTPClient]>([:])
}
