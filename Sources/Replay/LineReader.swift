import CZlib
import Foundation

/// Reads a text file line by line, gzip-compressed or not (zlib reads plain files as they are).
public final class LineReader {
    public let path: String
    /// The file's size in bytes (compressed size for gzip).
    public let size: Int
    private let file: gzFile
    private var buffer: UnsafeMutableRawPointer
    private var capacity: Int
    private var start = 0
    private var end = 0
    private var eof = false
    public private(set) var lineNumber = 0
    /// Bytes gzread has handed over (uncompressed).
    private var delivered = 0

    public init(path: String) throws(ReplayError) {
        self.path = path
        guard let f = gzopen(path, "rb") else {
            throw ReplayError(.input, "cannot open \(path): \(String(cString: strerror(errno)))")
        }
        file = f
        var info = stat()
        size = stat(path, &info) == 0 ? Int(info.st_size) : 0
        gzbuffer(f, 1 << 20)
        capacity = 1 << 20
        buffer = UnsafeMutableRawPointer.allocate(byteCount: capacity, alignment: 8)
    }

    deinit {
        gzclose(file)
        buffer.deallocate()
    }

    /// How far into the file reading has come, in bytes of the file as stored, to compare with `size`: for a plain
    /// file, up to the line being read; for gzip, the compressed position (`gzoffset`), which moves in steps of
    /// zlib's input buffer.
    public var bytesRead: Int {
        gzdirect(file) == 1 ? max(0, delivered - (end - start)) : max(0, Int(gzoffset(file)))
    }

    /// Calls `body` with each line's bytes (without the newline or a trailing CR) and its 1-based number.
    public func forEachLine(_ body: (UnsafeRawBufferPointer, Int) throws -> Void) throws {
        while true {
            if let nl = memchr(buffer + start, 10, end - start) {
                let lineEnd = buffer.distance(to: nl)
                try emit(from: start, to: lineEnd, body)
                start = lineEnd + 1
                continue
            }
            if eof {
                if end > start { try emit(from: start, to: end, body) }
                start = end
                return
            }
            try fill()
        }
    }

    private func emit(from s: Int, to e: Int, _ body: (UnsafeRawBufferPointer, Int) throws -> Void) throws {
        lineNumber += 1
        var e = e
        if e > s, buffer.load(fromByteOffset: e - 1, as: UInt8.self) == 13 { e -= 1 }
        try body(UnsafeRawBufferPointer(start: buffer + s, count: e - s), lineNumber)
    }

    private func fill() throws {
        if start > 0 {
            memmove(buffer, buffer + start, end - start)
            end -= start
            start = 0
        }
        if end == capacity {
            let bigger = UnsafeMutableRawPointer.allocate(byteCount: capacity * 2, alignment: 8)
            bigger.copyMemory(from: buffer, byteCount: end)
            buffer.deallocate()
            buffer = bigger
            capacity *= 2
        }
        let n = gzread(file, buffer + end, UInt32(min(capacity - end, Int(Int32.max))))
        if n < 0 {
            var code: Int32 = 0
            let message = gzerror(file, &code).map { String(cString: $0) } ?? "read error"
            throw ReplayError(.input, "cannot read \(path): \(message)")
        }
        if n == 0 { eof = true }
        end += Int(n)
        delivered += Int(n)
    }
}
