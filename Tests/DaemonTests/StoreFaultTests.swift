import Daemon
import Events
import Foundation
import Testing

/// The state store failing under a running daemon (the SQLite disk full): the daemon stops consuming and says it is
/// not ready, keeps running, and goes on by itself when the store takes writes again; its outputs are a replay's, none
/// lost and none written twice (docs/operations.md, "State store faults").
@Suite(.serialized) struct StoreFaultTests {
    /// A small tmpfs for the SQLite store, so that its disk can be filled (`mount` needs root, as in the CI container).
    final class SmallDisk: Sendable {
        let path: URL

        init(at path: URL, megabytes: Int) throws {
            self.path = path
            try FileManager.default.createDirectory(at: path, withIntermediateDirectories: true)
            let mount = try CommandLineTests.run("/usr/bin/env", ["mount", "-t", "tmpfs", "-o", "size=\(megabytes)m", "tmpfs", path.path])
            guard mount.status == 0 else {
                throw DaemonError(.arguments, "mount a tmpfs at \(path.path) (the test needs root): \(mount.stderr)")
            }
        }

        /// Fills what is left of the disk with `filler`.
        func fill(_ filler: URL) throws {
            _ = FileManager.default.createFile(atPath: filler.path, contents: nil)
            let handle = try FileHandle(forWritingTo: filler)
            defer { try? handle.close() }
            let block = Data(count: 64 * 1024)
            do {
                while true { try handle.write(contentsOf: block) }
            } catch {
                // ENOSPC: the disk is full.
            }
        }

        deinit { _ = try? CommandLineTests.run("/usr/bin/env", ["umount", "-l", path.path]) }
    }

    /// A PostgreSQL server of the test's own (`scripts/postgres.sh` in a folder of its own), so that restarting it
    /// does not disturb the other tests' server.
    final class OwnPostgres: Sendable {
        let folder = "/tmp/consentinel-pg-" + UUID().uuidString.prefix(8).lowercased()
        let url: String

        init() throws {
            let out = try Self.script(folder, [])
            guard out.status == 0, let line = out.stdout.split(separator: "\n").last, line.hasPrefix("export CONSENTINEL_TEST_POSTGRES_URL=") else {
                throw DaemonError(.input, "scripts/postgres.sh did not start a server: \(out.stderr)")
            }
            url = String(line.dropFirst("export CONSENTINEL_TEST_POSTGRES_URL=".count))
        }

        /// Stops the server and starts it again on the same port `pause` seconds later.
        func restart(pause: Int) throws {
            let out = try Self.script(folder, ["restart", "\(pause)"])
            guard out.status == 0 else { throw DaemonError(.input, "scripts/postgres.sh restart: \(out.stderr)") }
        }

        private static func script(_ folder: String, _ arguments: [String]) throws -> CommandLineTests.Outcome {
            try CommandLineTests.run("/usr/bin/env", ["CONSENTINEL_PG_DIR=\(folder)",
                                                      Fixtures.root.appendingPathComponent("scripts/postgres.sh").path] + arguments)
        }

        deinit { _ = try? Self.script(folder, ["stop"]) }
    }

    static func readiness(_ base: String) async -> (Int, String) { await httpGet(base + "/readyz") ?? (0, "") }

    /// Waits until the daemon is not ready because store writes fail, then checks that it is still running.
    static func waitForOutage(_ base: String, daemon: Task<Void, Error>) async throws {
        try await waitUntil("readiness to say the store's writes fail", timeout: .seconds(60)) {
            let (code, body) = await readiness(base)
            return code == 503 && body.contains("store_writes=failing")
        }
        #expect(!daemon.isCancelled)
        #expect(await httpGet(base + "/healthz")?.0 == 200, "waiting for the store is not a stall")
        let samples = PrometheusText.parse(await httpGet(base + "/metrics")?.1 ?? "")
        #expect(samples.sum("consentinel_store_outages_total") >= 1)
    }

    /// Every violation in the file, once, and the replay's; readiness back.
    static func expectEverythingOnce(_ fixture: DaemonFixture, _ expected: Set<String>, base: String) async throws {
        try? await waitUntil("every violation in the file", timeout: .seconds(90)) { Set(fixture.fileIDs()) == expected }
        let ids = fixture.fileIDs()
        #expect(Set(ids) == expected, "lost \(expected.subtracting(ids).count), invented \(Set(ids).subtracting(expected).count)")
        #expect(ids.count == Set(ids).count, "\(ids.count - Set(ids).count) violations written twice")
        let dead = try JSONValue.lines(ofFile: fixture.deadLettersFile.path).map(\.serialized)
        #expect(dead.count == Set(dead).count, "\(dead.count - Set(dead).count) dead letters written twice")
        try await waitUntil("readiness back", timeout: .seconds(30)) { await readiness(base).0 == 200 }
    }

    /// Half the traffic read, then `fault` while the other half arrives: the outage is seen, `heal` ends it, and every
    /// output is the replay's, once.
    static func survive(_ fixture: DaemonFixture, seed: UInt64, fault: @escaping @Sendable () throws -> Void,
                        heal: @Sendable () async throws -> Void) async throws {
        let (lines, end) = fixture.traffic(events: 3_000, seed: seed)
        let expected = try fixture.replayIDs(lines, end: end)
        let (daemon, base) = try await fixture.startInProcess(logLevel: .critical)
        defer { daemon.cancel() }
        try await waitUntil("readiness", timeout: .seconds(30)) { await readiness(base).0 == 200 }

        let half = lines.count / 2
        try await fixture.produce(Array(lines[..<half]), end: nil)
        try await waitUntil("the first half read", timeout: .seconds(60)) { await DaemonDigestTests.messagesRead(base) >= Double(half) }
        let faulting = Task.detached { try fault() }
        try await fixture.produce(Array(lines[half...]), end: end)
        try await waitForOutage(base, daemon: daemon)
        try await faulting.value

        try await heal()
        try await expectEverythingOnce(fixture, expected, base: base)
    }

    @Test func aFullSQLiteDiskPausesTheDaemonUntilThereIsRoomAgain() async throws {
        let directory = try Fixtures.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let disk = try SmallDisk(at: directory.appendingPathComponent("disk"), megabytes: 24)
        let fixture = try DaemonFixture(stateURL: disk.path.appendingPathComponent("state.sqlite").path, group: "disk-full",
                                        kafkaSinks: false)
        defer { try? FileManager.default.removeItem(at: fixture.directory) }
        let filler = disk.path.appendingPathComponent("filler")
        try await Self.survive(fixture, seed: 61, fault: { try disk.fill(filler) },
                               heal: { try FileManager.default.removeItem(at: filler) })
    }

    /// The PostgreSQL server stopped for 8 s and started again while events arrive: a commit in flight fails or times
    /// out (`state.timeout: 5s`), the daemon leaves the group and waits, and once the server is back it goes on from
    /// the stored offsets.
    @Test func aPostgreSQLRestartPausesTheDaemonUntilTheServerIsBack() async throws {
        let server = try OwnPostgres()
        let fixture = try DaemonFixture(stateURL: server.url, group: "postgres-restart", extraState: "timeout: 5s")
        defer { try? FileManager.default.removeItem(at: fixture.directory) }
        try await Self.survive(fixture, seed: 62, fault: { try server.restart(pause: 8) }, heal: {})
    }
}
