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
        let folder = URL(fileURLWithPath: directory).appendingPathComponent(month)
        let subjectsPath = folder.appendingPathComponent("subjects.jsonl").path
        let writer = try JSONLWriter(path: subjectsPath + ".partial")
        for line in subjects { try writer.write(raw: line) }
        try writer.close()
        try replace(subjectsPath, with: subjectsPath + ".partial")
        let orgPath = folder.appendingPathComponent("org.json")
        do {
            try Data((org.json.pretty() + "\n").utf8).write(to: orgPath, options: .atomic)
        } catch {
            throw ProcessingError(.output, "cannot write \(orgPath.path): \(error.localizedDescription)")
        }
    }

    private func replace(_ path: String, with partial: String) throws(ProcessingError) {
        guard rename(partial, path) == 0 else {
            throw ProcessingError(.output, "cannot move \(partial) to \(path): \(String(cString: strerror(errno)))")
        }
    }
}
