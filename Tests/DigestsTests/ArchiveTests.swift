@testable import Digests
import Events
import Foundation
import Testing

@Suite("Reading digests back")
struct ArchiveTests {
    /// A digests folder as `replay --digests` writes it.
    static func folder(_ subjects: [SubjectDigest], org: OrgDigest) throws -> String {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("digests-\(UUID().uuidString)")
        let month = dir.appendingPathComponent(org.month)
        try FileManager.default.createDirectory(at: month, withIntermediateDirectories: true)
        let lines = subjects.map { $0.json.serialized + "\n" }.joined()
        try Data(lines.utf8).write(to: month.appendingPathComponent("subjects.jsonl"))
        try Data((org.json.pretty() + "\n").utf8).write(to: month.appendingPathComponent("org.json"))
        return dir.path
    }

    @Test func subjectRoundTrip() throws {
        for d in [Fixtures.fullSubject, Fixtures.onlyViolation, Fixtures.hostileSubject] {
            let back = try SubjectDigest(jsonText: d.json.serialized)
            #expect(back.json == d.json)
        }
    }

    @Test func orgRoundTrip() throws {
        let back = try OrgDigest(jsonText: Fixtures.org.json.pretty())
        #expect(back.json == Fixtures.org.json)
    }

    @Test func findsOneSubjectAndTellsWhatIsMissing() throws {
        var many = (0..<2000).map { i -> SubjectDigest in
            var d = SubjectDigest(subject: "cust-\(i)", month: "2026-01")
            d.accessTotal = i
            return d
        }
        many.append(Fixtures.hostileSubject)
        var full = Fixtures.fullSubject
        full.subject = "cust-full"
        many.append(full)
        let dir = try Self.folder(many.sorted { Array($0.subject.utf8).lexicographicallyPrecedes(Array($1.subject.utf8)) }, org: Fixtures.org)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let archive = DigestArchive(directory: dir)
        #expect(archive.months() == ["2026-01"])
        #expect(try archive.subject("cust-1999", month: "2026-01").accessTotal == 1999)
        // `cust-1` is a prefix of `cust-10` … `cust-1999`, which come first in byte order.
        #expect(try archive.subject("cust-1", month: "2026-01").accessTotal == 1)
        #expect(try archive.subject("cust-full", month: "2026-01").json == full.json)
        #expect(try archive.subject(Fixtures.hostileSubject.subject, month: "2026-01").json == Fixtures.hostileSubject.json)
        #expect(try archive.subjectLine("cust-5", month: "2026-01") == many[5].json.serialized)
        #expect(try archive.org(month: "2026-01").json == Fixtures.org.json)
        #expect(try archive.orgText(month: "2026-01") == Fixtures.org.json.pretty() + "\n")

        #expect(throws: DigestError.self) { try archive.subject("nobody", month: "2026-01") }
        do {
            _ = try archive.subject("nobody", month: "2026-01")
        } catch {
            #expect(error.code == .missingSubject)
        }
        for (month, code) in [("2026-02", DigestError.Code.missingMonth), ("January", .badMonth), ("2026-13", .badMonth)] {
            do {
                _ = try archive.org(month: month)
                Issue.record("\(month) should fail")
            } catch {
                #expect(error.code == code, "\(month)")
            }
        }
    }
}
