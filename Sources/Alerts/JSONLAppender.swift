import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// An append-only JSONL file: opened with `O_APPEND`, so every write lands at the end of the file even while other
/// writers (another channel, another process) append to it; each `append` is one `write` of whole lines. A line cut
/// short (a crash in mid-write) is ended when the file is opened, so that the next line starts on its own. Used by
/// the JSONL alert channel and the daemon's file outputs.
public final class JSONLAppender: @unchecked Sendable {
    public let path: String
    private let handle: FileHandle
    private let lock = NSLock()

    public init(path: String) throws(AlertError) {
        self.path = path
        let url = URL(fileURLWithPath: path)
        do {
            try FileManager.default.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
        } catch {
            throw AlertError(.file, "cannot create the folder of \(path): \(error)")
        }
        let fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw AlertError(.file, "cannot open \(path): \(String(cString: strerror(errno)))") }
        handle = FileHandle(fileDescriptor: fd, closeOnDealloc: true)
        do {
            if let reader = FileHandle(forReadingAtPath: path) {
                defer { try? reader.close() }
                if let end = try? reader.seekToEnd(), end > 0 {
                    try reader.seek(toOffset: end - 1)
                    if reader.readData(ofLength: 1) != Data([10]) { try handle.write(contentsOf: Data([10])) }
                }
            }
        } catch {
            throw AlertError(.file, "cannot end the last line of \(path): \(error)")
        }
    }

    /// Appends `line` and a line feed in one write.
    public func append(_ line: [UInt8]) throws(AlertError) { try append(lines: [line]) }

    /// Appends each of `lines` and a line feed after each, in one write.
    public func append(lines: [[UInt8]]) throws(AlertError) {
        guard !lines.isEmpty else { return }
        var data = Data()
        data.reserveCapacity(lines.reduce(0) { $0 + $1.count + 1 })
        for line in lines {
            data.append(contentsOf: line)
            data.append(10)
        }
        do {
            try lock.withLock { try handle.write(contentsOf: data) }
        } catch {
            throw AlertError(.file, "cannot append to \(path): \(error)")
        }
    }

    /// Flushes what was appended to the disk.
    public func sync() throws(AlertError) {
        do {
            try lock.withLock { try handle.synchronize() }
        } catch {
            throw AlertError(.file, "cannot sync \(path): \(error)")
        }
    }
}
