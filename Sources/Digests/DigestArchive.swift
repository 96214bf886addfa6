import Events
import Foundation

/// The digests one `replay --digests DIR` (or the daemon) wrote: `DIR/YYYY-MM/subjects.jsonl` and
/// `DIR/YYYY-MM/org.json`, read back for rendering. Not a hot path: a subject is found by one streaming scan.
public struct DigestArchive: Sendable {
    public let directory: URL

    public init(directory: String) {
        self.directory = URL(fileURLWithPath: directory)
    }

    /// Months with digests, oldest first.
    public func months() -> [String] {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: directory.path)) ?? []
        return names.filter { DigestArchive.isMonth($0) && FileManager.default.fileExists(atPath: url($0, "org.json").path) }.sorted()
    }

    /// `org.json` as written.
    public func orgText(month: String) throws(DigestError) -> String {
        try read(month: month, "org.json")
    }

    public func org(month: String) throws(DigestError) -> OrgDigest {
        let text = try orgText(month: month)
        return try OrgDigest(jsonText: text, origin: url(month, "org.json").path)
    }

    /// The audit of a month's weak points, against the month before when the archive holds it.
    public func audit(month: String) throws(DigestError) -> Audit {
        let org = try org(month: month)
        let before = Timestamp(rfc3339: month + "-01T00:00:00Z").map { ($0 - .days(1)).monthKey }
        let previous = try before.flatMap { m throws(DigestError) in months().contains(m) ? try self.org(month: m) : nil }
        return Audit(org, previous: previous)
    }

    /// The subject's line of `subjects.jsonl`, as written.
    public func subjectLine(_ subject: String, month: String) throws(DigestError) -> String {
        let path = url(month, "subjects.jsonl").path
        try checkMonth(month, file: path)
        guard let handle = FileHandle(forReadingAtPath: path) else {
            throw DigestError(.io, "cannot read \(path)")
        }
        defer { try? handle.close() }
        // Lines start with `{"subject":<JSON string>`; a cheap prefix test skips the others without parsing.
        var prefix = #"{"subject":"#
        JSONValue.string(subject).write(to: &prefix)
        let needle = Array(prefix.utf8)
        var pending: [UInt8] = []
        var lineNumber = 0
        func match(_ line: ArraySlice<UInt8>) throws(DigestError) -> String? {
            lineNumber += 1
            guard line.starts(with: needle) else { return nil }
            let text = String(decoding: line, as: UTF8.self)
            let digest = try SubjectDigest(jsonText: text, origin: "\(path):\(lineNumber)")
            return digest.subject == subject ? text : nil
        }
        while true {
            let chunk: Data
            do {
                chunk = try handle.read(upToCount: 1 << 20) ?? Data()
            } catch {
                throw DigestError(.io, "cannot read \(path): \(error.localizedDescription)")
            }
            if chunk.isEmpty { break }
            pending.append(contentsOf: chunk)
            var start = pending.startIndex
            while let nl = pending[start...].firstIndex(of: 10) {
                if let found = try match(pending[start..<nl]) { return found }
                start = nl + 1
            }
            pending.removeSubrange(..<start)
        }
        if !pending.isEmpty, let found = try match(pending[...]) { return found }
        throw DigestError(.missingSubject, "no digest for subject '\(subject)' in \(month) (\(path))")
    }

    public func subject(_ subject: String, month: String) throws(DigestError) -> SubjectDigest {
        let line = try subjectLine(subject, month: month)
        return try SubjectDigest(jsonText: line, origin: url(month, "subjects.jsonl").path)
    }

    static func isMonth(_ s: String) -> Bool {
        let b = Array(s.utf8)
        guard b.count == 7, b[4] == UInt8(ascii: "-") else { return false }
        let digits = b[0..<4] + b[5..<7]
        guard digits.allSatisfy({ (48...57).contains($0) }) else { return false }
        let month = Int(String(decoding: b[5..<7], as: UTF8.self)) ?? 0
        return (1...12).contains(month)
    }

    private func url(_ month: String, _ file: String) -> URL {
        directory.appendingPathComponent(month).appendingPathComponent(file)
    }

    private func checkMonth(_ month: String, file: String) throws(DigestError) {
        guard DigestArchive.isMonth(month) else {
            throw DigestError(.badMonth, "the month must be written YYYY-MM, such as 2026-01, not '\(month)'")
        }
        guard FileManager.default.fileExists(atPath: file) else {
            let known = months()
            let hint = known.isEmpty ? "no months at all" : "months: \(known.joined(separator: ", "))"
            throw DigestError(.missingMonth, "no digests for \(month) in \(directory.path) (\(hint))")
        }
    }

    private func read(month: String, _ file: String) throws(DigestError) -> String {
        let path = url(month, file).path
        try checkMonth(month, file: path)
        do {
            return try String(contentsOfFile: path, encoding: .utf8)
        } catch {
            throw DigestError(.io, "cannot read \(path): \(error.localizedDescription)")
        }
    }
}

/// Plain values out of `JSONSerialization`, with the origin in every error.
struct DigestJSON {
    let origin: String
    let object: [String: Any]

    init(text: String, origin: String) throws(DigestError) {
        self.origin = origin
        let parsed: Any
        do {
            parsed = try JSONSerialization.jsonObject(with: Data(text.utf8))
        } catch {
            throw DigestError(.malformed, "\(origin): not JSON (\(error.localizedDescription))")
        }
        guard let object = parsed as? [String: Any] else { throw DigestError(.malformed, "\(origin): not a JSON object") }
        self.object = object
    }

    init(_ object: [String: Any], origin: String) {
        self.object = object
        self.origin = origin
    }

    func string(_ key: String) throws(DigestError) -> String {
        guard let s = object[key] as? String else { throw DigestError(.malformed, "\(origin): '\(key)' is not a string") }
        return s
    }

    func int(_ key: String) -> Int { (object[key] as? NSNumber)?.intValue ?? 0 }

    func child(_ key: String) -> DigestJSON { DigestJSON(object[key] as? [String: Any] ?? [:], origin: origin + "." + key) }

    func counts(_ key: String) -> [String: Int] {
        (object[key] as? [String: Any] ?? [:]).compactMapValues { ($0 as? NSNumber)?.intValue }
    }

    /// A state row's JSON list of objects (`what` names them in the error).
    static func objects(jsonText: String, origin: String, of what: String) throws(DigestError) -> [DigestJSON] {
        guard let items = try? JSONSerialization.jsonObject(with: Data(jsonText.utf8)) as? [Any] else {
            throw DigestError(.malformed, "\(origin): not a list of \(what)")
        }
        return items.enumerated().map { i, item in DigestJSON(item as? [String: Any] ?? [:], origin: "\(origin)[\(i)]") }
    }

    func nestedCounts(_ key: String) -> [String: [String: Int]] {
        (object[key] as? [String: Any] ?? [:]).keys.reduce(into: [:]) { out, k in out[k] = child(key).counts(k) }
    }

    /// `[{"days": d, "count": n}]` as `d → n`.
    func histogram(_ key: String) -> [Int: Int] {
        list(key).reduce(into: [:]) { out, item in out[item.int("days"), default: 0] += item.int("count") }
    }

    func list(_ key: String) -> [DigestJSON] {
        (object[key] as? [Any] ?? []).enumerated().compactMap { i, item in
            (item as? [String: Any]).map { DigestJSON($0, origin: "\(origin).\(key)[\(i)]") }
        }
    }

    func time(_ key: String) throws(DigestError) -> Timestamp {
        guard let t = Timestamp(rfc3339: try string(key)) else { throw DigestError(.malformed, "\(origin): '\(key)' is not an RFC 3339 time") }
        return t
    }
}

extension SubjectDigest {
    /// A digest line of `subjects.jsonl` (docs/schemas/subject-digest.schema.json) read back.
    public init(jsonText: String, origin: String = "digest") throws(DigestError) {
        let j = try DigestJSON(text: jsonText, origin: origin)
        self.init(subject: try j.string("subject"), month: try j.string("month"))
        let a = j.child("accesses")
        accessTotal = a.int("total")
        accessByPurpose = a.counts("by_purpose")
        accessByCategory = a.counts("by_category")
        accessByRole = a.counts("by_role")
        accessBySystem = a.counts("by_system")
        useTotal = j.child("uses").int("total")
        useByPurpose = j.child("uses").counts("by_purpose")
        for s in j.list("shares") {
            let categories = (s.object["categories"] as? [Any] ?? []).compactMap { $0 as? String }
            shares[try s.string("recipient"), default: [:]][try s.string("purpose")] = Share(categories: Set(categories), count: s.int("count"))
        }
        for c in j.list("consent") {
            consent.append(ConsentChange(time: try c.time("time"), purpose: try c.string("purpose"), status: try c.string("status"),
                                         source: c.object["source"] as? String))
        }
        for c in j.list("consent_state") { consentState.append(try ConsentStanding(c)) }
        for d in j.list("deletions") {
            deletions.append(Deletion(time: try d.time("time"), categories: (d.object["categories"] as? [Any] ?? []).compactMap { $0 as? String }))
        }
        violationTotal = j.child("violations").int("total")
        violationsByRule = j.child("violations").counts("by_rule")
    }
}

extension OrgDigest {
    /// `org.json` read back.
    public init(jsonText: String, origin: String = "org.json") throws(DigestError) {
        let j = try DigestJSON(text: jsonText, origin: origin)
        self.init(month: try j.string("month"))
        subjects = j.int("subjects")
        eventsByType = j.child("events").counts("by_type")
        let v = j.child("violations")
        violationTotal = v.int("total")
        violationsByRule = v.counts("by_rule")
        violationsBySeverity = v.counts("by_severity")
        subjectsWithViolations = v.int("subjects_affected")
        let a = j.child("accesses")
        accessesByPurpose = a.counts("by_purpose")
        accessesByRole = a.counts("by_role")
        accessesByCategory = a.counts("by_category")
        sharesByRecipient = j.child("shares").counts("by_recipient")
        consentGranted = j.child("consent").counts("granted")
        consentWithdrawn = j.child("consent").counts("withdrawn")
        lateEvents = j.int("late_events")
        breakdown.byKind = v.counts("by_kind")
        breakdown.byReason = v.counts("by_reason")
        breakdown.byRole = v.counts("by_role")
        breakdown.byActor = v.counts("by_actor")
        breakdown.bySystem = v.counts("by_system")
        breakdown.byCategory = v.counts("by_category")
        breakdown.byRuleAndRole = v.nestedCounts("by_rule_and_role")
        breakdown.byReasonAndRole = v.nestedCounts("by_reason_and_role")
        breakdown.retentionOverdueByCategory = j.child("retention_overdue").counts("by_category")
        let e = j.child("erasure")
        erasure.deadline = (e.object["deadline"] as? String).flatMap { Duration(parsing: $0) }
        erasure.requested = e.int("requested")
        let completed = e.child("completed"), open = e.child("open")
        erasure.completed = completed.int("total")
        erasure.completedOnTime = completed.int("on_time")
        erasure.completedLate = completed.int("late")
        erasure.daysToComplete = completed.histogram("days")
        erasure.open = open.int("total")
        erasure.openOverdue = open.int("overdue")
        erasure.openAgeDays = open.histogram("age_days")
    }
}

extension SubjectDigest.ConsentStanding {
    /// A subject's decisions as a state row keeps them (`consent_state`'s JSON).
    public static func json(_ list: [Self]) -> JSONValue {
        .array(list.map { d in
            .object([("purpose", .string(d.purpose)), ("status", .string(d.status)), ("since", .string(d.since.rfc3339)),
                     ("source", d.source.map { .string($0) } ?? .null)])
        })
    }

    public static func list(jsonText: String, origin: String) throws(DigestError) -> [Self] {
        try DigestJSON.objects(jsonText: jsonText, origin: origin, of: "consent decisions").map { c throws(DigestError) in try Self(c) }
    }

    init(_ c: DigestJSON) throws(DigestError) {
        self.init(purpose: try c.string("purpose"), status: try c.string("status"), since: try c.time("since"),
                  source: c.object["source"] as? String)
    }
}

extension ErasureRequest {
    /// A subject's requests as a state row keeps them: `[{"time", "event", "answered"}]`.
    public static func json(_ list: [Self]) -> JSONValue {
        .array(list.map { r in
            .object([("time", .string(r.time.rfc3339)), ("event", .string(r.event)),
                     ("answered", r.answered.map { .string($0.rfc3339) } ?? .null)])
        })
    }

    public static func list(jsonText: String, origin: String) throws(DigestError) -> [Self] {
        try DigestJSON.objects(jsonText: jsonText, origin: origin, of: "erasure requests").map { j throws(DigestError) in
            let answered: Timestamp? = j.object["answered"] is String ? try j.time("answered") : nil
            return ErasureRequest(time: try j.time("time"), event: try j.string("event"), answered: answered)
        }
    }
}
