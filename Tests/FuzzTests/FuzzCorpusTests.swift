import Foundation
import FuzzTargets
import Testing

/// Every seed input of Fuzz/corpus through its target's property checks, without libFuzzer (scripts/fuzz.sh runs
/// the fuzzer itself).
@Suite("Fuzz corpus")
struct FuzzCorpusTests {
    static let corpus = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("Fuzz/corpus")

    @Test(arguments: FuzzTarget.allCases)
    func seedsHoldTheProperties(_ target: FuzzTarget) throws {
        let folder = Self.corpus.appendingPathComponent(target.rawValue)
        let names = try FileManager.default.contentsOfDirectory(atPath: folder.path).sorted()
        #expect(names.count >= 10, "the \(target.rawValue) corpus has \(names.count) inputs")
        for name in names {
            let input = try [UInt8](Data(contentsOf: folder.appendingPathComponent(name)))
            do {
                try target.check(input)
            } catch {
                Issue.record("\(target.rawValue)/\(name): \(error)")
            }
        }
    }
}

/// A short fuzz run of each target in the suite: seeded mutations of the seed corpus (bytes flipped, inserted, removed,
/// repeated, dictionary words spliced in, two seeds crossed) through the same property checks. The same seed gives the
/// same inputs, so a failure here repeats; scripts/fuzz.sh runs libFuzzer for the long runs.
@Suite("Fuzz mutations")
struct FuzzMutationTests {
    static let runs = 4_000

    @Test(arguments: FuzzTarget.allCases)
    func mutatedSeedsHoldTheProperties(_ target: FuzzTarget) throws {
        let folder = FuzzCorpusTests.corpus.appendingPathComponent(target.rawValue)
        let seeds = try FileManager.default.contentsOfDirectory(atPath: folder.path).sorted().map {
            try [UInt8](Data(contentsOf: folder.appendingPathComponent($0)))
        }
        let dictionary = try Self.dictionary(target)
        #expect(!dictionary.isEmpty, "Fuzz/\(target.rawValue).dict has no words")
        var mutator = Mutator(seed: 0x5EED_0000 &+ UInt64(target.rawValue.utf8.count), dictionary: dictionary)
        var failures = 0
        var changed = 0
        for run in 0..<Self.runs {
            let base = seeds[run % seeds.count]
            let input = mutator.mutate(base, other: seeds[mutator.next(seeds.count)])
            if input != base { changed += 1 }
            do {
                try target.check(input)
            } catch {
                failures += 1
                if failures <= 3 { Issue.record("\(target.rawValue), run \(run): \(error) on \(String(decoding: input, as: UTF8.self).debugDescription)") }
            }
        }
        #expect(failures == 0)
        #expect(changed > Self.runs * 9 / 10, "only \(changed) of \(Self.runs) inputs differ from their seed")
    }

    /// The quoted words of a libFuzzer dictionary (`name="value"` or `"value"` lines, with \xNN, \\ and \" escapes).
    static func dictionary(_ target: FuzzTarget) throws -> [[UInt8]] {
        let url = FuzzCorpusTests.corpus.deletingLastPathComponent().appendingPathComponent("\(target.rawValue).dict")
        return try String(contentsOf: url, encoding: .utf8).split(separator: "\n").compactMap { line -> [UInt8]? in
            guard !line.hasPrefix("#"), let open = line.firstIndex(of: "\""), line.last == "\"", open < line.index(before: line.endIndex)
            else { return nil }
            var bytes: [UInt8] = []
            var chars = Array(line[line.index(after: open)..<line.index(before: line.endIndex)].utf8)[...]
            while let c = chars.popFirst() {
                guard c == UInt8(ascii: "\\"), let e = chars.popFirst() else { bytes.append(c); continue }
                if e == UInt8(ascii: "x"), chars.count >= 2, let v = UInt8(String(decoding: chars.prefix(2), as: UTF8.self), radix: 16) {
                    bytes.append(v)
                    chars = chars.dropFirst(2)
                } else {
                    bytes.append(e)
                }
            }
            return bytes
        }
    }
}

/// A small seeded mutator after libFuzzer's: one to four edits per input.
struct Mutator {
    private var state: UInt64
    let dictionary: [[UInt8]]

    init(seed: UInt64, dictionary: [[UInt8]]) {
        state = seed
        self.dictionary = dictionary
    }

    /// SplitMix64.
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    mutating func next(_ bound: Int) -> Int { Int(next() % UInt64(max(bound, 1))) }

    mutating func mutate(_ seed: [UInt8], other: [UInt8]) -> [UInt8] {
        var bytes = seed
        for _ in 0...next(4) {
            let at = next(bytes.count + 1)
            switch next(7) {
            case 0 where !bytes.isEmpty: bytes[min(at, bytes.count - 1)] ^= UInt8(1 << next(8))
            case 1: bytes.insert(UInt8(next(256)), at: at)
            case 2 where !bytes.isEmpty: bytes.removeSubrange(min(at, bytes.count - 1)..<min(bytes.count, at + 1 + next(8)))
            case 3 where !bytes.isEmpty:
                let start = min(at, bytes.count - 1)
                let piece = bytes[start..<min(bytes.count, start + 1 + next(16))]
                bytes.insert(contentsOf: piece, at: next(bytes.count + 1))
            case 4 where !dictionary.isEmpty: bytes.insert(contentsOf: dictionary[next(dictionary.count)], at: at)
            case 5 where !other.isEmpty:
                let cut = next(other.count)
                bytes = Array(bytes[..<min(at, bytes.count)]) + other[cut...]
            default: bytes.insert(contentsOf: [0x22, 0x5C, 0x7B, 0x7D, 0x5B, 0x5D, 0x3A, 0x0A].shuffled(using: &self).prefix(1 + next(3)), at: at)
            }
        }
        return bytes
    }
}

extension Mutator: RandomNumberGenerator {}
