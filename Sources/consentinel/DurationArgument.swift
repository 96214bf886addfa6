import ArgumentParser
import Events

/// A duration on the command line, in the rule language's notation (`90s`, `10m`, `48h`, `30d`), or a bare number
/// of seconds.
struct DurationArgument: ExpressibleByArgument, Sendable, CustomStringConvertible {
    let value: Events.Duration

    init(seconds: Int64) { value = .seconds(seconds) }

    init?(argument: String) {
        if let seconds = Int64(argument) {
            value = .seconds(seconds)
        } else if let d = Events.Duration(parsing: argument) {
            value = d
        } else {
            return nil
        }
    }

    var swiftDuration: Swift.Duration { .microseconds(value.microseconds) }
    var seconds: Double { Double(value.microseconds) / 1_000_000 }
    var description: String { value.description }
    static var defaultCompletionKind: CompletionKind { .default }
}
