/// An instant in UTC, as microseconds since the Unix epoch.
///
/// RFC 3339 inputs with more than six fraction digits are truncated to microseconds.
public struct Timestamp: Hashable, Comparable, Sendable, CustomStringConvertible {
    public var microseconds: Int64

    public init(microseconds: Int64) { self.microseconds = microseconds }
    public init(seconds: Int64) { self.microseconds = seconds &* 1_000_000 }

    public static func < (lhs: Timestamp, rhs: Timestamp) -> Bool { lhs.microseconds < rhs.microseconds }
    public static let distantPast = Timestamp(microseconds: Int64.min / 2)
    public static let distantFuture = Timestamp(microseconds: Int64.max / 2)

    public static func + (lhs: Timestamp, rhs: Duration) -> Timestamp {
        Timestamp(microseconds: lhs.microseconds &+ rhs.microseconds)
    }
    public static func - (lhs: Timestamp, rhs: Duration) -> Timestamp {
        Timestamp(microseconds: lhs.microseconds &- rhs.microseconds)
    }

    public var description: String { rfc3339 }
}

/// A length of event time, in microseconds. Named `Duration` in the domain; distinct from `Swift.Duration`.
public struct Duration: Hashable, Comparable, Sendable, CustomStringConvertible {
    public var microseconds: Int64
    public init(microseconds: Int64) { self.microseconds = microseconds }
    public static func seconds(_ s: Int64) -> Duration { Duration(microseconds: s &* 1_000_000) }
    public static func milliseconds(_ ms: Int64) -> Duration { Duration(microseconds: ms &* 1_000) }
    public static func minutes(_ m: Int64) -> Duration { .seconds(m &* 60) }
    public static func hours(_ h: Int64) -> Duration { .seconds(h &* 3600) }
    public static func days(_ d: Int64) -> Duration { .seconds(d &* 86400) }
    public static let zero = Duration(microseconds: 0)
    public static func < (lhs: Duration, rhs: Duration) -> Bool { lhs.microseconds < rhs.microseconds }

    /// The shortest rule-language spelling: `30d`, `48h`, `10m`, `90s`, `250ms`.
    public var description: String {
        let us = microseconds
        if us != 0 && us % 86_400_000_000 == 0 { return "\(us / 86_400_000_000)d" }
        if us != 0 && us % 3_600_000_000 == 0 { return "\(us / 3_600_000_000)h" }
        if us != 0 && us % 60_000_000 == 0 { return "\(us / 60_000_000)m" }
        if us % 1_000_000 == 0 { return "\(us / 1_000_000)s" }
        if us % 1_000 == 0 { return "\(us / 1_000)ms" }
        return "\(us)us"
    }

    /// Parses `90s`, `10m`, `48h`, `30d`, `250ms`, `1w`; nil on anything else.
    public init?(parsing text: some StringProtocol) {
        var digits = Substring(text)
        var unit = ""
        while let last = digits.last, last.isLetter { unit = String(last) + unit; digits = digits.dropLast() }
        guard !digits.isEmpty, digits.allSatisfy({ $0.isASCII && $0.isNumber }), let n = Int64(digits) else { return nil }
        let factor: Int64
        switch unit {
        case "us": factor = 1
        case "ms": factor = 1_000
        case "s": factor = 1_000_000
        case "m": factor = 60_000_000
        case "h": factor = 3_600_000_000
        case "d": factor = 86_400_000_000
        case "w": factor = 7 * 86_400_000_000
        default: return nil
        }
        let (value, overflow) = n.multipliedReportingOverflow(by: factor)
        guard !overflow, value < Int64.max / 4 else { return nil }
        self.microseconds = value
    }
}
