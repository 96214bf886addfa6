import CMalloc
import Foundation

/// glibc's allocator, tuned for a daemon that runs for months (docs/operations.md, "Memory"). Closing a month builds
/// every customer's digest at once and then drops them; glibc keeps freed memory in its arenas (eight per processor by
/// default), so without these the resident size grows a step at every month close.
public enum MallocTuning {
    /// At most one arena per processor (at least two), unless `MALLOC_ARENA_MAX` is set, which glibc then follows.
    public static func limitArenas(environment: [String: String] = ProcessInfo.processInfo.environment) {
        guard environment["MALLOC_ARENA_MAX"] == nil else { return }
        _ = mallopt(M_ARENA_MAX, Int32(max(2, ProcessInfo.processInfo.activeProcessorCount)))
    }

    /// One arena, unless `MALLOC_ARENA_MAX` is set: for a replay, whose work is one thread's. Its state would
    /// otherwise spread over the arenas of whichever threads its task ran on, each keeping its own free memory: the
    /// peak RSS of a full-scale replay varied by 40 MiB between runs, and was 30–40 MiB lower with one arena.
    public static func oneArena(environment: [String: String] = ProcessInfo.processInfo.environment) {
        guard environment["MALLOC_ARENA_MAX"] == nil else { return }
        _ = mallopt(M_ARENA_MAX, 1)
    }

    /// Gives the free memory of every arena back to the system (after a month closes).
    static func returnFreeMemory() {
        _ = malloc_trim(0)
    }
}
