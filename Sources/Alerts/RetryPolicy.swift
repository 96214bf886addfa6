import Foundation
import Storage

/// What became of one delivery attempt.
public enum DeliveryOutcome: Sendable, Equatable {
    case delivered
    /// A timeout, a broken connection, a 5xx, 408 or 429: tried again, not before `after` when the server said so
    /// (`Retry-After`).
    case retry(after: Swift.Duration?, reason: String)
    /// Refused for good (another 4xx): set aside with the reason, never retried.
    case rejected(reason: String)
}

/// Exponential backoff with jitter: attempt n (counting from 0) waits a random time between half and all of
/// `base · 2ⁿ`, at most `cap`; a server's `Retry-After` is waited in full up to `maxRetryAfter` (an hour).
public struct RetryPolicy: Sendable {
    public var base: Swift.Duration
    public var cap: Swift.Duration

    /// The longest `Retry-After` honoured: a longer one (or a date further ahead) is waited this long. It keeps a
    /// wrong or hostile answer from stopping a channel for good (or overflowing a time computation).
    public static let maxRetryAfter = Swift.Duration.seconds(3600)

    public init(base: Swift.Duration = .seconds(1), cap: Swift.Duration = .seconds(300)) {
        self.base = base
        self.cap = cap
    }

    public func delay(attempt: Int, retryAfter: Swift.Duration?) -> Swift.Duration {
        var generator = SystemRandomNumberGenerator()
        return delay(attempt: attempt, retryAfter: retryAfter, using: &generator)
    }

    public func delay<G: RandomNumberGenerator>(
        attempt: Int, retryAfter: Swift.Duration?, using generator: inout G
    ) -> Swift.Duration {
        if let retryAfter { return min(max(retryAfter, .zero), Self.maxRetryAfter) }
        let full = min(cap, base * (1 << min(max(attempt, 0), 30)))
        return full * Double.random(in: 0.5...1.0, using: &generator)
    }

    /// The outcome of an HTTP status, with the `Retry-After` header's value when there is one.
    public static func outcome(status: Int, retryAfter: String?, now: Date = Date()) -> DeliveryOutcome {
        switch status {
        case 200..<300: return .delivered
        case 408, 429, 500..<600:
            return .retry(after: retryAfter.flatMap { parseRetryAfter($0, now: now) }, reason: "HTTP \(status)")
        default: return .rejected(reason: "HTTP \(status)")
        }
    }

    /// `Retry-After`: a number of seconds or an HTTP date, at most `maxRetryAfter` ahead.
    public static func parseRetryAfter(_ text: String, now: Date = Date()) -> Swift.Duration? {
        let trimmed = text.trimmingCharacters(in: .whitespaces)
        let ceiling = maxRetryAfter.components.seconds
        if !trimmed.isEmpty, trimmed.allSatisfy({ $0.isASCII && $0.isNumber }) {
            // Any number of digits: one too large for an Int is still "later than the ceiling".
            guard let seconds = Int64(trimmed) else { return maxRetryAfter }
            return .seconds(min(seconds, ceiling))
        }
        let formatter = DateFormatter()
        formatter.locale = Locale(identifier: "en_US_POSIX")
        formatter.timeZone = TimeZone(identifier: "GMT")
        formatter.dateFormat = "EEE, dd MMM yyyy HH:mm:ss zzz"
        guard let date = formatter.date(from: trimmed) else { return nil }
        return .milliseconds(Int64(min(max(0, date.timeIntervalSince(now)), Double(ceiling)) * 1000))
    }
}

extension Swift.Duration {
    /// `seconds` (a `TimeInterval`) as a duration, within 0 … `ceiling`: never traps, whatever the value (NaN: 0).
    public static func clamped(seconds: Double, ceiling: Swift.Duration = .seconds(86_400)) -> Swift.Duration {
        guard seconds.isFinite, seconds > 0 else { return .zero }
        let limit = ceiling.timeInterval
        return .milliseconds(Int64(Swift.min(seconds, limit) * 1000))
    }
}
