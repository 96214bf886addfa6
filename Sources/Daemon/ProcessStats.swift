import Foundation

/// This process's CPU time, memory and file descriptors, from `getrusage`, `getrlimit` and `/proc` (Linux).
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

    /// Virtual memory now (`VmSize`), in bytes.
    public static func virtualBytes() -> Int { statusField("VmSize:") }

    /// File descriptors open now (entries of `/proc/self/fd`, less the one that lists them).
    public static func openFileDescriptors() -> Int {
        max(0, ((try? FileManager.default.contentsOfDirectory(atPath: "/proc/self/fd"))?.count ?? 1) - 1)
    }

    /// The soft limit on open file descriptors.
    public static func maxFileDescriptors() -> Int {
        var limit = rlimit()
        guard getrlimit(__rlimit_resource_t(RLIMIT_NOFILE.rawValue), &limit) == 0 else { return 0 }
        return limit.rlim_cur >= rlim_t(Int.max) ? Int.max : Int(limit.rlim_cur)
    }

    /// When this process started, in seconds since the Unix epoch (boot time plus field 22 of `/proc/self/stat`).
    public static let startTime: Double = {
        guard let stat = try? String(contentsOfFile: "/proc/self/stat", encoding: .utf8),
              let close = stat.lastIndex(of: ")"),
              let procStat = try? String(contentsOfFile: "/proc/stat", encoding: .utf8),
              let bootLine = procStat.split(separator: "\n").first(where: { $0.hasPrefix("btime ") }),
              let boot = Double(bootLine.dropFirst(6)) else { return Date().timeIntervalSince1970 }
        // After "pid (comm)": field 3 is the first; starttime is field 22, in clock ticks since boot.
        let fields = stat[stat.index(after: close)...].split(separator: " ")
        guard fields.count > 19, let ticks = Double(fields[19]) else { return Date().timeIntervalSince1970 }
        return boot + ticks / Double(sysconf(Int32(_SC_CLK_TCK)))
    }()

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
