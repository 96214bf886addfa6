import Events
import Foundation
import Processing
import Testing

/// Outputs are written in place, as the shell's `>` does: a path that exists keeps its file (a device such as
/// `/dev/null`, a named pipe, a file another process holds open), where Foundation's `createFile` would rename a new
/// file over it.
@Suite struct JSONLWriterTests {
    @Test func anExistingPathKeepsItsFileAndIsEmptiedOrAppendedTo() throws {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("jsonl-\(UUID().uuidString)").path
        defer { try? FileManager.default.removeItem(atPath: path) }
        try "old\n".write(toFile: path, atomically: false, encoding: .utf8)
        let inode = try #require(FileManager.default.attributesOfItem(atPath: path)[.systemFileNumber] as? Int)

        let writer = try JSONLWriter(path: path)
        try writer.write(JSONValue.string("new"))
        try writer.close()
        #expect(try FileManager.default.attributesOfItem(atPath: path)[.systemFileNumber] as? Int == inode)
        #expect(try String(contentsOfFile: path, encoding: .utf8) == "\"new\"\n")

        let appender = try JSONLWriter(path: path, append: true)
        try appender.write(JSONValue.string("more"))
        try appender.close()
        #expect(try FileManager.default.attributesOfItem(atPath: path)[.systemFileNumber] as? Int == inode)
        #expect(try String(contentsOfFile: path, encoding: .utf8) == "\"new\"\n\"more\"\n")
    }
}
