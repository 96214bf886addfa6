import Digests
import Foundation

/// `DIR/YYYY-MM/subjects.jsonl` (one digest a line, sorted by subject in byte order) and `DIR/YYYY-MM/org.json`, as
/// replays and the daemon write them. Each file is written beside its place and renamed into it, so a reader never
/// sees half of one.
public struct DigestFolder: Sendable {
    public let directory: String

    public init(directory: String) { self.directory = directory }

    /// Writes a closed month: `subjects`, already in order, each the JSON of one subject digest.
    public func write(month: String, subjects: some Sequence<[UInt8]>, org: OrgDigest) throws(ProcessingError) {
        let file = try MonthFile(folder: self, month: month)
        for line in subjects { try file.write(line) }
        try file.finish(org: org)
    }

    /// A closed month written line by line, for subjects too many to hold at once: `subjects.jsonl` grows beside its
    /// place and `finish(org:)` moves it there and writes `org.json`.
    public final class MonthFile {
        let folder: DigestFolder
        let month: String
        private let subjectsPath: String
        private let writer: JSONLWriter

        public init(folder: DigestFolder, month: String) throws(ProcessingError) {
            self.folder = folder
            self.month = month
            subjectsPath = URL(fileURLWithPath: folder.directory).appendingPathComponent(month)
                .appendingPathComponent("subjects.jsonl").path
            writer = try JSONLWriter(path: subjectsPath + ".partial")
        }

        /// One subject's digest line; lines must come sorted by subject (byte order).
        public func write(_ line: [UInt8]) throws(ProcessingError) { try writer.write(raw: line) }

        public func finish(org: OrgDigest) throws(ProcessingError) {
            try writer.close()
            try folder.replace(subjectsPath, with: subjectsPath + ".partial")
            let orgPath = URL(fileURLWithPath: folder.directory).appendingPathComponent(month).appendingPathComponent("org.json")
            do {
                try Data((org.json.pretty() + "\n").utf8).write(to: orgPath, options: .atomic)
            } catch {
                throw ProcessingError(.output, "cannot write \(orgPath.path): \(error.localizedDescription)")
            }
        }
    }

    fileprivate func replace(_ path: String, with partial: String) throws(ProcessingError) {
        guard rename(partial, path) == 0 else {
            throw ProcessingError(.output, "cannot move \(partial) to \(path): \(String(cString: strerror(errno)))")
        }
    }
}
