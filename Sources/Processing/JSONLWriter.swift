import Events
import Rules
import Foundation

/// Appends JSON lines to a file through a buffer (`-`: standard output); `close()` flushes.
public final class JSONLWriter {
    public let path: String
    private let handle: FileHandle
    private var pending: [UInt8] = []
    public private(set) var lines = 0

    public init(path: String, append: Bool = false) throws(ProcessingError) {
        self.path = path
        if path == "-" {
            handle = .standardOutput
            return
        }
        let url = URL(fileURLWithPath: path)
        do {
            try FileManager.default.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
            guard let opened = OutputFile.open(path, append: append) else {
                throw ProcessingError(.output, "cannot open \(path) for writing: \(OutputFile.reason)")
            }
            handle = opened
        } catch let e as ProcessingError {
            throw e
        } catch {
            throw ProcessingError(.output, "cannot open \(path) for writing: \(error.localizedDescription)")
        }
    }

    public func write(_ value: JSONValue) throws(ProcessingError) {
        value.write(into: &pending)
        pending.append(10)
        lines += 1
        if pending.count >= 1 << 20 { try flush() }
    }

    /// Appends one violation (its JSON, docs/schemas/violation.schema.json) as a line.
    public func write(_ violation: Violation) throws(ProcessingError) {
        violation.write(into: &pending)
        pending.append(10)
        lines += 1
        if pending.count >= 1 << 20 { try flush() }
    }

    /// Appends one line that is already JSON (without its newline).
    public func write(raw line: [UInt8]) throws(ProcessingError) {
        pending.append(contentsOf: line)
        pending.append(10)
        lines += 1
        if pending.count >= 1 << 20 { try flush() }
    }

    public func flush() throws(ProcessingError) {
        guard !pending.isEmpty else { return }
        do {
            try handle.write(contentsOf: pending)
        } catch {
            throw ProcessingError(.output, "cannot write \(path): \(error.localizedDescription)")
        }
        pending.removeAll(keepingCapacity: true)
    }

    public func close() throws(ProcessingError) {
        try flush()
        if path != "-" { try? handle.close() }
    }
}
