import Alerts
import Foundation
import Testing

@Suite("JSONL alert channel")
struct JSONLChannelTests {
    func file() -> String {
        FileManager.default.temporaryDirectory.appendingPathComponent("jsonl-\(UUID().uuidString)/alerts.jsonl").path
    }

    func lines(_ path: String) throws -> [String] {
        try String(contentsOfFile: path, encoding: .utf8).split(separator: "\n", omittingEmptySubsequences: false)
            .dropLast().map(String.init)
    }

    func message(_ id: String, route: String) -> AlertMessage {
        AlertMessage(route: route, violations: [AlertViolation(violation(id))])
    }

    /// Two routes' channels appending to one file at the same time: every line whole, none lost.
    @Test func twoChannelsAppendingToOneFileWriteWholeLines() async throws {
        let path = file()
        let channels = [JSONLAlertChannel(path: path), JSONLAlertChannel(path: path)]
        await withTaskGroup(of: Void.self) { group in
            for (n, channel) in channels.enumerated() {
                for i in 0..<150 {
                    group.addTask {
                        #expect(await channel.deliver(message("v-\(n)-\(i)", route: "route-\(n)")) == .delivered)
                    }
                }
            }
        }
        let written = try lines(path)
        #expect(written.count == 300)
        let ids = written.compactMap { line in
            (try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any])?["id"] as? String
        }
        #expect(ids.count == 300, "every line is a whole JSON document")
        #expect(Set(ids).count == 300)
    }

    /// A line cut short (a crash in mid-write) is ended before the next one is appended.
    @Test func aTornLastLineIsEndedBeforeAppending() async throws {
        let path = file()
        try FileManager.default.createDirectory(
            atPath: (path as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
        try #"{"id":"whole"}"# .appending("\n").appending(#"{"id":"tor"#).write(toFile: path, atomically: true, encoding: .utf8)
        #expect(await JSONLAlertChannel(path: path).deliver(message("v-1", route: "security")) == .delivered)
        let written = try lines(path)
        try #require(written.count == 3)
        #expect(written[1] == #"{"id":"tor"#)
        let last = try JSONSerialization.jsonObject(with: Data(written[2].utf8)) as? [String: Any]
        #expect(last?["id"] as? String == "v-1")
    }

    /// Two appenders open on one file, writing in turns: each line lands at the end of the file (`O_APPEND`), none
    /// overwrites another, whatever each appender's idea of the end was when it opened.
    @Test func appendersOpenTogetherNeverOverwriteEachOther() throws {
        let path = file()
        let first = try JSONLAppender(path: path)
        let second = try JSONLAppender(path: path)
        for i in 0..<5 {
            try first.append(Array(#"{"from":"first","n":\#(i)}"#.utf8))
            try second.append(Array(#"{"from":"second","n":\#(i)}"#.utf8))
        }
        try first.sync()
        try second.sync()
        let written = try lines(path)
        #expect(written.count == 10)
        #expect(written.first == #"{"from":"first","n":0}"# && written.last == #"{"from":"second","n":4}"#)
    }

    /// Several lines in one append each end with a line feed, in order, after what was there; none is an append of
    /// its own, so an empty list writes nothing.
    @Test func linesAppendedTogetherEachEndTheirLine() throws {
        let path = file()
        let appender = try JSONLAppender(path: path)
        try appender.append(Array(#"{"n":0}"#.utf8))
        try appender.append(lines: (1...3).map { Array(#"{"n":\#($0)}"#.utf8) })
        try appender.append(lines: [])
        try appender.sync()
        #expect(try lines(path) == (0...3).map { #"{"n":\#($0)}"# })
        #expect(try String(contentsOfFile: path, encoding: .utf8).hasSuffix("}\n"))
    }
}
