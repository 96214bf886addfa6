@testable import Alerts
import Foundation
import Testing

/// HTTP channels through a proxy: which one the environment (a dictionary, never the process's) gives a URL, and
/// delivery through a real local proxy.
@Suite("Alert proxies")
struct AlertProxyTests {
    let message = AlertMessage(route: "security", violations: [AlertViolation(violation("v-1"))])

    @Test(arguments: [
        // (URL, environment, expected proxy or nil)
        ("https://hooks.slack.com/x", ["HTTPS_PROXY": "http://proxy:3128"], "proxy:3128"),
        ("https://hooks.slack.com/x", ["https_proxy": "proxy.internal:8080"], "proxy.internal:8080"),
        ("https://hooks.slack.com/x", ["HTTPS_PROXY": "http://upper:1", "https_proxy": "http://lower:2"], "upper:1"),
        ("https://hooks.slack.com/x", ["HTTP_PROXY": "http://proxy:3128"], nil),
        ("http://soc.internal/hook", ["HTTP_PROXY": "http://proxy"], "proxy:80"),
        ("http://soc.internal/hook", ["http_proxy": "http://proxy:3128"], "proxy:3128"),
        ("http://soc.internal/hook", ["HTTPS_PROXY": "http://proxy:3128"], nil),
        ("https://hooks.slack.com/x", ["HTTPS_PROXY": "http://p:1", "NO_PROXY": "*"], nil),
        ("https://hooks.slack.com/x", ["HTTPS_PROXY": "http://p:1", "NO_PROXY": "localhost, slack.com"], nil),
        ("https://hooks.slack.com/x", ["HTTPS_PROXY": "http://p:1", "NO_PROXY": ".slack.com"], nil),
        ("https://hooks.slack.com/x", ["HTTPS_PROXY": "http://p:1", "NO_PROXY": "*.slack.com"], nil),
        ("https://hooks.slack.com/x", ["HTTPS_PROXY": "http://p:1", "no_proxy": "hooks.slack.com"], nil),
        ("https://hooks.slack.com/x", ["HTTPS_PROXY": "http://p:1", "NO_PROXY": "notslack.com,lack.com"], "p:1"),
        ("https://hooks.slack.com/x", ["HTTPS_PROXY": "http://p:1", "NO_PROXY": "hooks.slack.com:8443"], "p:1"),
        ("https://hooks.slack.com/x", ["HTTPS_PROXY": "http://p:1", "NO_PROXY": "hooks.slack.com:443"], nil),
        ("http://10.1.2.3:8080/hook", ["HTTP_PROXY": "http://p:1", "NO_PROXY": "10.0.0.0/8"], nil),
        ("http://11.1.2.3:8080/hook", ["HTTP_PROXY": "http://p:1", "NO_PROXY": "10.0.0.0/8"], "p:1"),
        ("http://[::1]:8080/hook", ["HTTP_PROXY": "http://p:1", "NO_PROXY": "::1"], nil),
    ] as [(String, [String: String], String?)])
    func theEnvironmentGivesTheProxy(_ url: String, _ environment: [String: String], _ expected: String?) throws {
        #expect(try AlertProxy.fromEnvironment(for: url, environment: environment)?.description == expected)
    }

    @Test func credentialsAreParsedButNeverPrinted() throws {
        let proxy = try AlertProxy.parse("http://svc%40corp:p%3Ass@proxy:3128", what: "HTTPS_PROXY")
        #expect(proxy.host == "proxy" && proxy.port == 3128)
        #expect(proxy.username == "svc@corp" && proxy.password?.value == "p:ss")
        // Decoded once: an encoded % stays a %.
        #expect(try AlertProxy.parse("http://u:p%2541@proxy:3128", what: "HTTPS_PROXY").password?.value == "p%41")
        #expect(!"\(proxy)".contains("p:ss") && !String(reflecting: proxy).contains("p:ss"))
        #expect(throws: AlertError.self) { try AlertProxy.parse("https://proxy:3128", what: "HTTPS_PROXY") }
        #expect {
            try AlertProxy.parse("http://user:SECRET@", what: "HTTPS_PROXY")
        } throws: { error in
            "\(error)".contains("HTTPS_PROXY") && !"\(error)".contains("SECRET")
        }
    }

    /// A channel's `proxy:` wins over the environment; `proxy: none` goes direct.
    @Test func aChannelsProxyKeyOverridesTheEnvironment() throws {
        let loaded = try pipeline("""
            name: p
            alerts:
              routes:
                - name: a
                  min_severity: high
                  channels:
                    - type: slack
                      url: https://hooks.slack.com/services/x
                    - type: slack
                      name: own
                      url: https://hooks.slack.com/services/y
                      proxy: http://own-proxy:8080
                    - type: pagerduty
                      routing_key: key
                      proxy: none
                    - type: webhook
                      url: http://soc.internal/hook
                    - type: stderr
            """)
        let settings = try AlertSettings.load(
            pipeline: loaded, environment: ["HTTPS_PROXY": "http://corp-proxy:3128", "NO_PROXY": "soc.internal"])
        #expect(settings.routes[0].channels.map { $0.proxy?.description } == [
            "corp-proxy:3128", "own-proxy:8080", nil, nil, nil,
        ])
        let bad = try pipeline(
            "name: p\nalerts:\n  routes:\n    - name: a\n      channels:\n        - type: slack\n          url: https://x\n")
        #expect {
            try AlertSettings.load(pipeline: bad, environment: ["HTTPS_PROXY": "https://tls-proxy:443"])
        } throws: { error in
            "\(error)".contains("HTTPS_PROXY") && "\(error)".contains("only http:// proxies")
        }
    }

    @Test func aWebhookGoesThroughTheProxyWithItsCredentials() async throws {
        let (server, proxy) = (try await AlertReceiver.start(), try await TestProxy.start())
        defer { Task { await server.stop(); await proxy.stop() } }
        let settings = AlertChannelSettings(
            name: "webhook", kind: .webhook(url: Secret(server.url("/hook")), headers: []),
            proxy: try AlertProxy.fromEnvironment(
                for: server.url("/hook"), environment: ["HTTP_PROXY": proxy.url(credentials: "svc:pa55")]))
        let channel = try #require(HTTPAlertChannel(settings))
        #expect(await channel.deliver(message) == .delivered)
        #expect(server.accepted("/hook").count == 1)
        let request = try #require(proxy.requests.first)
        #expect(request.method == "CONNECT" && request.target == "127.0.0.1:\(server.port)")
        #expect(request.headers["proxy-authorization"] == "Basic " + Data("svc:pa55".utf8).base64EncodedString())
    }

    @Test func noProxyBypassesTheProxy() async throws {
        let (server, proxy) = (try await AlertReceiver.start(), try await TestProxy.start())
        defer { Task { await server.stop(); await proxy.stop() } }
        let loaded = try pipeline("""
            name: p
            alerts:
              routes:
                - name: a
                  min_severity: high
                  channels:
                    - type: webhook
                      name: proxied
                      url: \(server.url("/hook"))
                    - type: webhook
                      name: bypassed
                      url: http://localhost:\(server.port)/other
            """)
        let settings = try AlertSettings.load(
            pipeline: loaded, environment: ["HTTP_PROXY": proxy.url(), "NO_PROXY": "example.com,localhost"])
        let channels = settings.routes[0].channels
        #expect(channels.map { $0.proxy?.port } == [proxy.port, nil])
        for channel in channels {
            #expect(await HTTPAlertChannel(channel)!.deliver(message) == .delivered)
        }
        #expect(server.accepted("/hook").count == 1 && server.accepted("/other").count == 1)
        #expect(proxy.requests.map(\.target) == ["127.0.0.1:\(server.port)"], "only the proxied channel's request")
    }
}
