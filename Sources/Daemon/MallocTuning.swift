import CMalloc
import Foundation

/// glibc's allocator, tuned for a daemon that runs for months (docs/operations.md, "Memory"). Closing a month builds
/// every customer's digest at once and then drops them, and each checkpoint builds its rows and drops them; glibc
/// keeps freed memory in its arenas (eight per processor by default), so without these the resident size grows far
/// past the live heap.
public enum MallocTuning {
    /// One arena, unless `MALLOC_ARENA_MAX` is set, which glibc then follows. The work is one task's, which may run
    /// on any of the concurrency runtime's threads, and each arena keeps its own free memory: with one, a full-scale
    /// replay's peak RSS was 447 MiB where it varied between 453 and 490 MiB, and the daemon's (2M events, 870
    /// partitions) 501 MiB where it was 551 MiB with two. Must come before those threads first allocate: glibc gives
    /// a thread its arena then.
    public static func oneArena(environment: [String: String] = ProcessInfo.processInfo.environment) {
        guard environment["MALLOC_ARENA_MAX"] == nil else { return }
        _ = mallopt(M_ARENA_MAX, 1)
    }

    /// Gives free memory back to the system (after a month closes, and at most every 10 s otherwise).
    static func returnFreeMemory() {
        _ = malloc_trim(0)
    }
}
