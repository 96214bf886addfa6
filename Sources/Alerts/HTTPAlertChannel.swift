import AsyncHTTPClient
import Events
import Foundation

/// Webhook, Slack and PagerDuty channels: one JSON POST a message, redacted as the channel's settings say, through
/// its proxy if it has one; a webhook with a signing secret signs each body (`WebhookSignature`). The URL, routing
/// key and secrets are secrets: errors name the channel, never them.
public struct HTTPAlertChannel: AlertChannel {
    public enum Format: Sendable {
        case webhook
        case slack
        case pagerDuty(routingKey: Secret)
    }

    public let url: Secret
    public let format: Format
    public let headers: [(String, Secret)]
    public let timeout: Swift.Duration
    public let redaction: AlertRedaction
    /// Webhooks only.
    public let signingSecret: Secret?
    public let proxy: AlertProxy?
    let client: HTTPClient

    /// Without `redaction`, the default of the format (`AlertRedaction.defaults`, with no hash key); without `client`,
    /// the shared client, or one for `proxy`.
    public init(
        url: Secret, format: Format, headers: [(String, Secret)] = [], timeout: Swift.Duration = .seconds(10),
        redaction: AlertRedaction? = nil, signingSecret: Secret? = nil, proxy: AlertProxy? = nil, client: HTTPClient? = nil
    ) {
        self.url = url
        self.format = format
        self.headers = headers
        self.timeout = timeout
        self.redaction = redaction ?? AlertRedaction.defaults(forType: format.typeName, key: nil)
        self.signingSecret = signingSecret
        self.proxy = proxy
        self.client = client ?? AlertProxy.client(for: proxy)
    }

    /// The channel's settings as a channel; `nil` for channels that are not HTTP.
    public init?(_ settings: AlertChannelSettings, client: HTTPClient? = nil) {
        let (redaction, proxy, timeout) = (settings.redaction, settings.proxy, settings.timeout)
        switch settings.kind {
        case .webhook(let url, let headers, let signingSecret):
            self.init(
                url: url, format: .webhook, headers: headers, timeout: timeout, redaction: redaction,
                signingSecret: signingSecret, proxy: proxy, client: client)
        case .slack(let url):
            self.init(url: url, format: .slack, timeout: timeout, redaction: redaction, proxy: proxy, client: client)
        case .pagerDuty(let key, let url, _):
            self.init(
                url: Secret(url), format: .pagerDuty(routingKey: key), timeout: timeout, redaction: redaction, proxy: proxy,
                client: client)
        case .kafka, .jsonl, .standardError:
            return nil
        }
    }

    /// What the channel POSTs for `message`, redacted.
    public func body(_ message: AlertMessage) -> JSONValue {
        body(message, routingKey: { $0.value })
    }

    /// `body` with the routing key shown as `***`, for printing.
    public func printableBody(_ message: AlertMessage) -> JSONValue {
        body(message, routingKey: { $0.description })
    }

    private func body(_ message: AlertMessage, routingKey: (Secret) -> String) -> JSONValue {
        let message = redaction.apply(message)
        return switch format {
        case .webhook: AlertPayload.webhook(message)
        case .slack: AlertPayload.slack(message)
        case .pagerDuty(let key): AlertPayload.pagerDuty(message, routingKey: routingKey(key))
        }
    }

    public func deliver(_ message: AlertMessage) async -> DeliveryOutcome {
        var request = HTTPClientRequest(url: url.value)
        request.method = .POST
        request.headers.add(name: "Content-Type", value: "application/json")
        request.headers.add(name: "User-Agent", value: "consentinel")
        for (name, value) in headers { request.headers.add(name: name, value: value.value) }
        var bytes: [UInt8] = []
        body(message).write(into: &bytes)
        if case .webhook = format, let signingSecret {
            for (name, value) in WebhookSignature.headers(body: bytes, secret: signingSecret) {
                request.headers.replaceOrAdd(name: name, value: value)
            }
        }
        request.body = .bytes(bytes)
        let milliseconds = timeout.components.seconds * 1000 + timeout.components.attoseconds / 1_000_000_000_000_000
        do {
            let response = try await client.execute(request, timeout: .milliseconds(milliseconds))
            // The body is read (and dropped) so the connection can be reused.
            _ = try? await response.body.collect(upTo: 64 * 1024)
            return RetryPolicy.outcome(status: Int(response.status.code), retryAfter: response.headers.first(name: "Retry-After"))
        } catch {
            return .retry(after: nil, reason: redact("\(error)"))
        }
    }

    private func redact(_ text: String) -> String {
        var secrets = [url] + headers.map(\.1)
        if case .pagerDuty(let key) = format { secrets.append(key) }
        if let signingSecret { secrets.append(signingSecret) }
        if let password = proxy?.password { secrets.append(password) }
        return secrets.reduce(text) { $1.redact($0) }
    }
}

extension HTTPAlertChannel.Format {
    var typeName: String {
        switch self {
        case .webhook: "webhook"
        case .slack: "slack"
        case .pagerDuty: "pagerduty"
        }
    }
}
