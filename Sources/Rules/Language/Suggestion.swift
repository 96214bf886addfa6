/// "Did you mean …?" for names, keys and values: the closest candidate by edit distance, if close enough.
enum Suggestion {
    static func closest(to word: String, among candidates: some Sequence<String>) -> String? {
        let w = Array(word.lowercased())
        var best: (String, Int)?
        for candidate in candidates {
            let d = distance(w, Array(candidate.lowercased()))
            if d <= max(1, min(3, w.count / 3 + 1)), best == nil || d < best!.1 || (d == best!.1 && candidate < best!.0) {
                best = (candidate, d)
            }
        }
        return best?.0
    }

    /// `; did you mean 'x'?` or nothing.
    static func hint(for word: String, among candidates: some Sequence<String>, quote: (String) -> String = { "'\($0)'" }) -> String {
        closest(to: word, among: candidates).map { "; did you mean \(quote($0))?" } ?? ""
    }

    /// Levenshtein distance (insertions, deletions, substitutions; each 1).
    static func distance(_ a: [Character], _ b: [Character]) -> Int {
        if a.isEmpty { return b.count }
        if b.isEmpty { return a.count }
        var previous = Array(0...b.count)
        var row = [Int](repeating: 0, count: b.count + 1)
        for i in 1...a.count {
            row[0] = i
            for j in 1...b.count {
                row[j] = min(previous[j] + 1, row[j - 1] + 1, previous[j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1))
            }
            swap(&previous, &row)
        }
        return previous[b.count]
    }
}
