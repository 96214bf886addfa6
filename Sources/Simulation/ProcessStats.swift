import Foundation

/// This process's CPU time and resident memory, from `getrusage` and `/proc/self/status` (Linux).
public enum ProcessStats {
    /// User plus system CPU seconds used so far, all threads.
    public static func cpuSeconds() -> Double {
        var usage = rusage()
        getrusage(__rusage_who_t(RUSAGE_SELF.rawValue), &usage)
        return Double(usage.ru_utime.tv_sec + usage.ru_stime.tv_sec)
            + Double(usage.ru_utime.tv_usec + usage.ru_stime.tv_usec) / 1e6
    }

    /// Resident memory now (`VmRSS`), in bytes.
    public static func residentBytes() -> Int { statusField("VmRSS:") }

    /// The peak of resident memory of this process (or of `pid`) since start or the last `resetPeak()` (`VmHWM`), in
    /// bytes.
    public static func peakResidentBytes(pid: Int32? = nil) -> Int { statusField("VmHWM:", pid: pid) }

    /// Starts a new peak from the current resident size (`clear_refs` 5); false where the kernel does not allow it.
    @discardableResult
    public static func resetPeak() -> Bool {
        guard let handle = FileHandle(forWritingAtPath: "/proc/self/clear_refs") else { return false }
        defer { try? handle.close() }
        return (try? handle.write(contentsOf: Data("5".utf8))) != nil
    }

    private static func statusField(_ name: String, pid: Int32? = nil) -> Int {
        let path = "/proc/\(pid.map(String.init) ?? "self")/status"
        guard let text = try? String(contentsOfFile: path, encoding: .utf8) else { return 0 }
        for line in text.split(separator: "\n") where line.hasPrefix(name) {
            let kb = line.dropFirst(name.count).split(whereSeparator: { $0 == " " || $0 == "\t" }).first.flatMap { Int($0) } ?? 0
            return kb * 1024
        }
        return 0
    }
}
