import Events

/// A retention rule's state: each subject's clocks, in linked nodes (`KeyedLists`) rather than an array per
/// subject, and the end of the relationship of the subjects whose has ended. A subject is held while it has either.
final class RetentionState {
    var clocks = KeyedLists<String, RetentionEvaluator.Clock>()
    var ends: [String: RetentionEvaluator.RelationshipEnd] = [:]
    /// Subjects changed since `takeChanges()`, when tracking, with whether each was held before its first change.
    private var changed: [String: Bool] = [:]
    var tracksChanges = false

    func holds(_ subject: String) -> Bool { clocks.contains(subject) || ends[subject] != nil }

    /// Called before a subject's state changes.
    func noteChange(_ subject: String) {
        if tracksChanges, changed[subject] == nil { changed[subject] = holds(subject) }
    }

    func subjectState(_ subject: String) -> RetentionEvaluator.SubjectState? {
        guard holds(subject) else { return nil }
        return RetentionEvaluator.SubjectState(clocks: Array(clocks[subject]), relationshipEnded: ends[subject])
    }
}

extension RetentionState: StoredKeyedState {
    func takeChanges() -> [(String, RetentionEvaluator.SubjectState?)] {
        defer { changed.removeAll(keepingCapacity: true) }
        var out: [(String, RetentionEvaluator.SubjectState?)] = []
        for (subject, held) in changed {
            let value = subjectState(subject)
            if value != nil || held { out.append((subject, value)) }
        }
        return out
    }

    func restore(_ subject: String, _ value: RetentionEvaluator.SubjectState) {
        clocks.set(subject, value.clocks)
        ends[subject] = value.relationshipEnded
    }

    func forEachStored(_ body: (String, RetentionEvaluator.SubjectState) -> Void) {
        for subject in clocks.keys {
            if let s = subjectState(subject) { body(subject, s) }
        }
        for subject in ends.keys where !clocks.contains(subject) {
            if let s = subjectState(subject) { body(subject, s) }
        }
    }
}
