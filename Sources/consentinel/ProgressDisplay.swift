import Foundation
import Replay

/// Replay progress on standard error: a bar redrawn in place (at most ten times a second) when standard error is a
/// terminal, a plain line every `interval` otherwise.
final class ProgressDisplay {
    enum Mode { case bar, plain, off }

    let mode: Mode
    let interval: Duration
    private let started = ContinuousClock.now
    private var lastDraw: ContinuousClock.Instant?
    private var drewBar = false

    init(mode: Mode, interval: Duration = .seconds(2)) {
        self.mode = mode
        self.interval = interval
    }

    /// `.bar` on a terminal, `.plain` elsewhere, `.off` when quiet.
    static func mode(quiet: Bool) -> Mode {
        if quiet { return .off }
        return isatty(STDERR_FILENO) == 1 ? .bar : .plain
    }

    func update(_ p: ReplayProgress) {
        guard mode != .off else { return }
        let now = ContinuousClock.now
        switch mode {
        case .bar:
            // The first report and the last are always drawn; between them, at most ten a second.
            if !p.finished, let lastDraw, now - lastDraw < .milliseconds(100) { return }
            lastDraw = now
            drewBar = true
            printError("\r" + barLine(p, now: now) + "\u{1B}[K", terminator: p.finished ? "\n" : "")
        case .plain:
            if p.finished { return }  // the summary follows
            if let lastDraw, now - lastDraw < interval { return }
            if lastDraw == nil, now - started < interval {
                return
            }
            lastDraw = now
            printError("replay: " + plainLine(p, now: now))
        case .off:
            return
        }
    }

    private func seconds(_ d: Duration) -> Double {
        Double(d.components.seconds) + Double(d.components.attoseconds) / 1e18
    }

    private func rates(_ p: ReplayProgress, now: ContinuousClock.Instant) -> (eventsPerSecond: Double, eta: Double?) {
        let elapsed = max(seconds(now - started), 0.001)
        let perSecond = Double(p.events) / elapsed
        if p.finished || (p.total > 0 && p.position >= p.total) { return (perSecond, 0) }
        guard p.total > 0, p.position > 0 else { return (perSecond, nil) }
        let eta = Double(p.total - p.position) / (Double(p.position) / elapsed)
        return (perSecond, eta)
    }

    private func position(_ p: ReplayProgress) -> String {
        switch p.unit {
        case .bytes: return "\(Format.bytes(p.position))/\(Format.bytes(p.total))"
        case .messages: return "\(Format.count(p.position))/\(Format.count(p.total)) msgs"
        }
    }

    func barLine(_ p: ReplayProgress, now: ContinuousClock.Instant) -> String {
        let fraction = p.total > 0 ? min(1, Double(p.position) / Double(p.total)) : 0
        let width = 24
        let filled = Int(fraction * Double(width))
        let bar = String(repeating: "█", count: filled) + String(repeating: "░", count: width - filled)
        let (rate, eta) = rates(p, now: now)
        let lines = p.unit == .bytes ? "  \(Format.count(p.lines)) lines" : ""
        return "\(bar) \(String(format: "%3.0f%%", fraction * 100))  \(position(p))\(lines)  "
            + "\(Format.count(Int(rate))) ev/s  \(Format.count(p.violations)) violations  ETA \(Format.clock(eta))"
    }

    func plainLine(_ p: ReplayProgress, now: ContinuousClock.Instant) -> String {
        let fraction = p.total > 0 ? min(1, Double(p.position) / Double(p.total)) : 0
        let (rate, eta) = rates(p, now: now)
        return "\(String(format: "%.0f%%", fraction * 100)) \(position(p)), \(p.lines) \(p.unit == .bytes ? "lines" : "messages"), "
            + "\(p.events) events, \(Int(rate)) events/s, \(p.violations) violations, ETA \(Format.clock(eta))"
    }
}

enum Format {
    /// 1234567 → "1,234,567".
    static func count(_ n: Int) -> String {
        let digits = String(abs(n))
        var out = ""
        for (i, c) in digits.enumerated() {
            if i > 0 && (digits.count - i) % 3 == 0 { out += "," }
            out.append(c)
        }
        return n < 0 ? "-" + out : out
    }

    static func bytes(_ n: Int) -> String {
        let units = ["B", "KiB", "MiB", "GiB", "TiB"]
        var value = Double(n)
        var unit = 0
        while value >= 1024 && unit < units.count - 1 {
            value /= 1024
            unit += 1
        }
        return unit == 0 ? "\(n) B" : String(format: "%.1f", value) + " " + units[unit]
    }

    /// Seconds as `m:ss` or `h:mm:ss`; `--:--` when unknown.
    static func clock(_ seconds: Double?) -> String {
        guard let seconds, seconds.isFinite, seconds >= 0 else { return "--:--" }
        let s = Int(seconds.rounded(.up))
        if s >= 3600 { return String(format: "%d:%02d:%02d", s / 3600, s / 60 % 60, s % 60) }
        return String(format: "%d:%02d", s / 60, s % 60)
    }
}
