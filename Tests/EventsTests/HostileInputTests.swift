import Foundation
import Testing
@testable import Events

/// Inputs meant to break a decoder. Each must come back as a value or a dead-letter reason, never a crash.
@Suite("EventDecoder: hostile input")
struct HostileInputTests {
    static let rich = #"{"id":"é-1","type":"share","time":"2024-05-01T12:00:00.5+02:00","subject":"s\u00e9","#
        + #""actor":"a","purpose":"marketing","categories":["user.contact","user.name"],"recipient":"r","#
        + #""attributes":{"k":"v\"\\","emoji":"😀"},"x":[1,-2.5e+3,true,false,null,{"y":{}}]}"#

    @Test("the rich event itself is valid")
    func richIsValid() {
        #expect(reason(Self.rich) == nil)
    }

    @Test("every strict prefix of a valid event is invalid_json")
    func truncated() {
        let bytes = Array(Self.rich.utf8)
        for n in 0..<bytes.count {
            let r = reason(bytes: Array(bytes[0..<n]))
            #expect(r == .invalidJSON, "prefix of \(n) bytes gave \(String(describing: r))")
        }
    }

    @Test("deep nesting: 63 levels inside the event are fine, 64 and 10000 are invalid_json")
    func nesting() {
        func nested(_ depth: Int, _ open: String, _ close: String) -> String {
            eventJSON("collect", ["deep": String(repeating: open, count: depth) + String(repeating: close, count: depth)])
        }
        #expect(reason(nested(63, "[", "]")) == nil)
        #expect(reason(nested(64, "[", "]")) == .invalidJSON)
        #expect(reason(nested(10_000, "[", "]")) == .invalidJSON)
        #expect(reason(nested(10_000, "{\"a\":", "}").replacingOccurrences(of: ":}", with: ":1}")) == .invalidJSON)
        #expect(reason(String(repeating: "[", count: 10_000)) == .invalidJSON)
        #expect(reason(String(repeating: "{\"a\":", count: 10_000)) == .invalidJSON)
        let failure = error(nested(100, "[", "]"))
        #expect(failure?.message.contains("nesting deeper than 64") == true)
    }

    @Test("10 MB strings")
    func hugeStrings() throws {
        let big = String(repeating: "abcdéfgh", count: 1_250_000)
        let e = try #require(event(eventJSON("collect", ["attributes": "{\"blob\":\"\(big)\"}"])))
        #expect(e.attribute("blob")?.utf8.count == big.utf8.count)
        #expect(reason(eventJSON("collect", ["id": "\"\(big)\""])) == .invalidValue)
        #expect(reason(eventJSON("collect", ["junk": "\"\(big)"])) == .invalidJSON)
        let escaped = String(repeating: "\\u00e9\\n", count: 500_000)
        #expect(reason(eventJSON("collect", ["attributes": "{\"e\":\"\(escaped)\"}"])) == nil)
        #expect(reason(eventJSON("collect", ["x": "[" + String(repeating: "1,", count: 1_000_000) + "1]"])) == nil)
    }

    static let badSequences: [[UInt8]] = [
        [0xFF], [0xFE], [0x80], [0xBF], [0xC0, 0x80], [0xC1, 0xBF], [0xC3], [0xC3, 0x28], [0xE0, 0x80, 0x80],
        [0xE0, 0x9F, 0xBF], [0xED, 0xA0, 0x80], [0xED, 0xBF, 0xBF], [0xE2, 0x82], [0xF0, 0x8F, 0xBF, 0xBF],
        [0xF4, 0x90, 0x80, 0x80], [0xF5, 0x80, 0x80, 0x80], [0xF0, 0x9F, 0x98], [0xF8, 0x88, 0x80, 0x80, 0x80],
    ]

    @Test("invalid UTF-8 in values, keys and unknown fields is invalid_json", arguments: badSequences)
    func invalidUTF8(sequence: [UInt8]) {
        let prefix = Array(#"{"id":"x","type":"collect","time":"2024-01-01T00:00:00Z","categories":["user"],"subject":"a"#.utf8)
        #expect(reason(bytes: prefix + sequence + Array(#"b"}"#.utf8)) == .invalidJSON)
        #expect(reason(bytes: prefix + Array(#"b","#.utf8) + [0x22] + sequence + Array(#"":1}"#.utf8)) == .invalidJSON)
        #expect(reason(bytes: prefix + Array(#"b","x":["#.utf8) + [0x22] + sequence + Array(#""]}"#.utf8)) == .invalidJSON)
        #expect(reason(bytes: prefix + Array(#"b"}"#.utf8) + sequence) == .invalidJSON)
    }

    @Test("valid UTF-8 of every length is kept")
    func validUTF8() throws {
        let text = "$¢€𐍈\u{10FFFF}\u{FFFF}\u{E000}\u{7F}"
        let e = try #require(event(eventJSON("collect", ["subject": "\"\(text)\""])))
        #expect(Array(e.subject.utf8) == Array(text.utf8))
    }

    @Test("NUL bytes: raw ones are invalid_json, escaped ones are kept")
    func nulBytes() throws {
        let json = Array(eventJSON("collect").utf8)
        #expect(reason(bytes: json + [0]) == .invalidJSON)
        #expect(reason(bytes: [0] + json) == .invalidJSON)
        var inString = json
        inString.insert(0, at: json.firstIndex(of: UInt8(ascii: "1"))!) // inside "evt-1"
        #expect(reason(bytes: inString) == .invalidJSON)
        let e = try #require(event(eventJSON("collect", ["id": #""a\u0000b""#])))
        #expect(Array(e.id.utf8) == [0x61, 0, 0x62])
        #expect(reason(bytes: [0, 0, 0, 0]) == .invalidJSON)
    }

    @Test("surrogates: pairs decode, lone ones are invalid_json", arguments: [
        (#""\ud83d\ude00""#, true), (#""\uD83D\uDE00""#, true), (#""\ud83d""#, false), (#""\ude00""#, false),
        (#""\ud83dx""#, false), (#""\ud83d\u0041""#, false), (#""\ud83d\ud83d""#, false), (#""\ude00\ud83d""#, false),
        (#""\ud83d\""#, false), (#""\ud83d\u""#, false), (#""\ud83d\ude0""#, false),
    ])
    func surrogates(value: String, valid: Bool) {
        let r = reason(eventJSON("collect", ["subject": value]))
        #expect(valid ? r == nil : r == .invalidJSON)
    }

    @Test("an empty buffer and a buffer without a base address")
    func emptyBuffers() {
        #expect(Fixtures.decoder.decode(UnsafeRawBufferPointer(start: nil, count: 0)).failureReason == .invalidJSON)
        #expect(reason(bytes: []) == .invalidJSON)
    }

    /// Besides never crashing: what Foundation's JSON parser rejects is `invalid_json` here too (no broken document
    /// is ever taken for an event), and every mutation that is still a valid event writes back and reads back equal.
    @Test("random bytes and random mutations: never a crash, never broken JSON taken for an event, valid ones round-trip")
    func randomBytes() {
        var rng = SampleEvents.RNG(seed: 7)
        let alphabet = Array(#"{}[]:,"\ u0123456789abcdefnulltruefalse-+.eE"#.utf8) + [0, 0x80, 0xC3, 0xE2, 0xF0, 0xFF]
        var counts: [DeadLetterReason?: Int] = [:]
        for _ in 0..<20_000 {
            let n = Int(rng.next() % 64)
            let bytes = (0..<n).map { _ in alphabet[Int(rng.next() % UInt64(alphabet.count))] }
            counts[reason(bytes: bytes), default: 0] += 1
        }
        #expect(counts[.invalidJSON, default: 0] > 0)
        let valid = Array(Self.rich.utf8)
        var outcomes: [String: Int] = [:]
        for _ in 0..<20_000 {
            var bytes = valid
            for _ in 0..<(1 + Int(rng.next() % 3)) {
                let at = Int(rng.next() % UInt64(bytes.count))
                switch rng.next() % 3 {
                case 0: bytes[at] = alphabet[Int(rng.next() % UInt64(alphabet.count))]
                case 1: bytes.remove(at: at)
                default: bytes.insert(alphabet[Int(rng.next() % UInt64(alphabet.count))], at: at)
                }
                if bytes.isEmpty { break }
            }
            let verdict = decode(bytes: bytes)
            let foundationParses = (try? JSONSerialization.jsonObject(with: Data(bytes))) is [String: Any]
            switch verdict {
            case .success(let event):
                outcomes["valid", default: 0] += 1
                #expect(foundationParses, "a document Foundation cannot parse was taken for an event: \(String(decoding: bytes, as: UTF8.self))")
                let again = decode(event.json.serialized)
                #expect((try? again.get())?.json.serialized == event.json.serialized,
                        "\(String(decoding: bytes, as: UTF8.self)) does not round-trip")
            case .failure(let e):
                outcomes[e.reason.rawValue, default: 0] += 1
                if !foundationParses {
                    #expect(e.reason == .invalidJSON, "broken JSON reported as \(e.reason): \(String(decoding: bytes, as: UTF8.self))")
                }
            }
        }
        // The mutations reach past the parser: some stay valid, some break a field, many break the JSON.
        #expect(outcomes["valid", default: 0] > 100 && outcomes["invalid_json", default: 0] > 1_000, "\(outcomes)")
        #expect(outcomes.count >= 4, "\(outcomes)")
    }
}

extension Result where Failure == DecodeError {
    var failureReason: DeadLetterReason? {
        if case .failure(let e) = self { return e.reason }
        return nil
    }
}
