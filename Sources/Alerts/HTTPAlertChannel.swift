import AsyncHTTPClient
import Events
import Foundation

/// Webhook, Slack and PagerDuty channels: one JSON POST a message. The URL and routing key are secrets: errors name
/// the channel, never them.
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
    let client: HTTPClient

    public init(
        url: Secret, format: Format, headers: [(String, Secret)] = [], timeout: Swift.Duration = .seconds(10),
        client: HTTPClient = .shared
    ) {
        self.url = url
        self.format = format
        self.headers = headers
        self.timeout = timeout
        self.client = client
    }

    /// The channel's settings as a channel; `nil` for channels that are not HTTP.
    public init?(_ settings: AlertChannelSettings, client: HTTPClient = .shared) {
        switch settings.kind {
        case .webhook(let url, let headers):
            self.init(url: url, format: .webhook, headers: headers, timeout: settings.timeout, client: client)
        case .slack(let url):
            self.init(url: url, format: .slack, timeout: settings.timeout, client: client)
        case .pagerDuty(let key, let url, _):
            self.init(url: Secret(url), format: .pagerDuty(routingKey: key), timeout: settings.timeout, client: client)
        case .kafka, .jsonl, .standardError:
            return nil
        }
    }

    public func body(_ message: AlertMessage) -> JSONValue {
        switch format {
        case .webhook: AlertPayload.webhook(message)
        case .slack: AlertPayload.slack(message)
        case .pagerDuty(let key): AlertPayload.pagerDuty(message, routingKey: key.value)
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
        var text = url.redact(text)
        if case .pagerDuty(let key) = format { text = key.redact(text) }
        for (_, value) in headers { text = value.redact(text) }
        return text
    }
}
