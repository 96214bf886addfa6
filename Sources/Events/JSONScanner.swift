/// A JSON syntax error at a byte offset of the input. A trivial value (no `String`), so that throwing it and
/// checking for it costs next to nothing on the fast path; `message` builds the text.
struct JSONSyntaxError: Error, Sendable {
    /// The problem; `%b` stands for `byte`. For `unexpected`, what was expected instead.
    var problem: StaticString
    var offset: Int
    /// The byte the message describes, or -1 (for `unexpected`: the end of the input).
    var byte: Int16 = -1
    var unexpected = false
    /// The input is not an object at all (empty, or another kind of value or text).
    var notAnObject = false

    var message: String {
        let described = byte >= 0 ? JSONScanner.describe(byte: UInt8(byte)) : ""
        if unexpected {
            return byte >= 0 ? "unexpected \(described), expected \(problem)" : "unexpected end of input, expected \(problem)"
        }
        return "\(problem)".replacing("%b", with: described)
    }
}

/// A string token of the input: its raw content between the quotes, already checked (escapes, UTF-8).
struct JSONString: Sendable {
    /// Offset of the first content byte (after the opening quote).
    var start: Int
    /// Offset of the closing quote.
    var end: Int
    /// The content holds at least one backslash escape, so its raw bytes are not its value.
    var escaped: Bool
    /// Every raw content byte is ASCII (escapes may still stand for non-ASCII).
    var ascii: Bool

    var rawCount: Int { end - start }
}

/// The JSON types, for `wrong_type` messages.
enum JSONKind: UInt8, Sendable {
    case string, number, boolean, null, array, object

    var phrase: String {
        switch self {
        case .string: "a string"
        case .number: "a number"
        case .boolean: "a boolean"
        case .null: "null"
        case .array: "a list"
        case .object: "an object"
        }
    }
}

/// A strict RFC 8259 scanner over UTF-8 bytes. It validates as it skips and allocates nothing; strings are
/// returned as spans of the input, and only their escaped forms need `unescape`.
///
/// Beyond RFC 8259: strings must be valid UTF-8 (no overlongs, no encoded surrogates, nothing past U+10FFFF),
/// `\u` escapes must not leave a surrogate unpaired, and arrays and objects nest at most `maxDepth` deep.
struct JSONScanner {
    let b: UnsafeRawBufferPointer
    var i: Int

    static let maxDepth = 64

    init(_ bytes: UnsafeRawBufferPointer, at offset: Int = 0) {
        b = bytes
        i = offset
    }

    var atEnd: Bool { i >= b.count }

    @inline(__always)
    func fail(_ problem: StaticString, at offset: Int? = nil, byte: UInt8? = nil) -> JSONSyntaxError {
        JSONSyntaxError(problem: problem, offset: offset ?? i, byte: byte.map(Int16.init) ?? -1)
    }

    @inline(__always)
    func unexpected(_ expectation: StaticString) -> JSONSyntaxError {
        JSONSyntaxError(problem: expectation, offset: i, byte: i < b.count ? Int16(b[i]) : -1, unexpected: true)
    }

    static func describe(byte c: UInt8) -> String {
        if c >= 0x21 && c < 0x7F { return "'\(Character(Unicode.Scalar(c)))'" }
        let hex = String(c, radix: 16, uppercase: true)
        return "byte 0x" + (hex.count == 1 ? "0" + hex : hex)
    }

    @inline(__always)
    mutating func skipWhitespace() {
        let n = b.count
        if i < n && b[i] > 0x20 { return } // the usual case: no whitespace at all
        while i < n {
            let c = b[i]
            guard c == 0x20 || c == 0x0A || c == 0x0D || c == 0x09 else { return }
            i += 1
        }
    }

    /// True and consumed when the next byte is `c`.
    @inline(__always)
    mutating func consume(_ c: UInt8) -> Bool {
        if i < b.count && b[i] == c { i += 1; return true }
        return false
    }

    @inline(__always)
    var peek: UInt8? { i < b.count ? b[i] : nil }

    // MARK: Strings

    /// The high bit of each byte of `w` that is special in a string: a quote, a backslash, a control byte or
    /// non-ASCII. Bytes above a special one may be flagged too (borrows), never below, so the lowest flag is exact.
    @inline(__always)
    static func specialMask(_ w: UInt64) -> UInt64 {
        let high: UInt64 = 0x8080_8080_8080_8080
        let ones: UInt64 = 0x0101_0101_0101_0101
        let q = w ^ 0x2222_2222_2222_2222
        let s = w ^ 0x5C5C_5C5C_5C5C_5C5C
        return (w | ((w &- 0x2020_2020_2020_2020) & ~w) | ((q &- ones) & ~q) | ((s &- ones) & ~s)) & high
    }

    /// Scans a string at the opening quote `b[i]`; leaves `i` after the closing quote.
    ///
    /// The fast path (inlined) takes plain ASCII eight bytes at a time up to the closing quote; anything else
    /// (escapes, non-ASCII, the last bytes of the input) goes to `scanStringSlow`.
    @inline(__always)
    mutating func scanString() throws(JSONSyntaxError) -> JSONString {
        let start = i + 1
        var j = start
        while j + 8 <= b.count {
            let special = JSONScanner.specialMask(b.loadUnaligned(fromByteOffset: j, as: UInt64.self))
            if special != 0 {
                j += special.littleEndian.trailingZeroBitCount >> 3
                if b[j] == 0x22 {
                    i = j + 1
                    return JSONString(start: start, end: j, escaped: false, ascii: true)
                }
                break
            }
            j += 8
        }
        return try scanStringSlow(start: start, from: j)
    }

    /// The general string scanner, from `j` (all bytes from `start` to `j` are plain ASCII).
    @inline(never)
    mutating func scanStringSlow(start: Int, from j0: Int) throws(JSONSyntaxError) -> JSONString {
        let n = b.count
        var j = j0
        var escaped = false
        var ascii = true
        while true {
            while j + 8 <= n {
                let special = JSONScanner.specialMask(b.loadUnaligned(fromByteOffset: j, as: UInt64.self))
                if special != 0 {
                    j += special.littleEndian.trailingZeroBitCount >> 3
                    break
                }
                j += 8
            }
            guard j < n else { throw fail("unterminated string", at: start - 1) }
            let c = b[j]
            if c == 0x22 { break }
            if c == 0x5C {
                escaped = true
                j = try checkEscape(at: j)
            } else if c < 0x20 {
                throw fail("unescaped control character %b in a string", at: j, byte: c)
            } else if c >= 0x80 {
                ascii = false
                j = try checkUTF8(at: j)
            } else {
                j += 1
            }
        }
        i = j + 1
        return JSONString(start: start, end: j, escaped: escaped, ascii: ascii)
    }

    @inline(__always)
    private func hex(_ c: UInt8) -> UInt32? {
        switch c {
        case 0x30...0x39: UInt32(c - 0x30)
        case 0x41...0x46: UInt32(c - 0x41 + 10)
        case 0x61...0x66: UInt32(c - 0x61 + 10)
        default: nil
        }
    }

    private func hex4(at j: Int) -> UInt32? {
        guard j + 4 <= b.count, let a = hex(b[j]), let c = hex(b[j + 1]), let d = hex(b[j + 2]), let e = hex(b[j + 3])
        else { return nil }
        return a << 12 | c << 8 | d << 4 | e
    }

    /// Checks the escape at the backslash `b[j]`; returns the offset after it.
    private func checkEscape(at j: Int) throws(JSONSyntaxError) -> Int {
        guard j + 1 < b.count else { throw fail("unterminated string escape", at: j) }
        switch b[j + 1] {
        case 0x22, 0x5C, 0x2F, 0x62, 0x66, 0x6E, 0x72, 0x74:
            return j + 2
        case 0x75:
            guard let u = hex4(at: j + 2) else { throw fail("invalid \\u escape", at: j) }
            if u >= 0xDC00 && u <= 0xDFFF { throw fail("lone low surrogate \\u escape", at: j) }
            if u >= 0xD800 && u <= 0xDBFF {
                guard j + 7 < b.count, b[j + 6] == 0x5C, b[j + 7] == 0x75, let low = hex4(at: j + 8),
                      low >= 0xDC00 && low <= 0xDFFF
                else { throw fail("lone high surrogate \\u escape", at: j) }
                return j + 12
            }
            return j + 6
        default:
            throw fail("invalid escape \\%b", at: j, byte: b[j + 1])
        }
    }

    /// Checks the UTF-8 sequence at the lead byte `b[j]` (>= 0x80); returns the offset after it.
    @inline(__always)
    private func checkUTF8(at j: Int) throws(JSONSyntaxError) -> Int {
        let n = b.count
        let c = b[j]
        @inline(__always) func cont(_ k: Int, _ lo: UInt8 = 0x80, _ hi: UInt8 = 0xBF) -> Bool {
            k < n && b[k] >= lo && b[k] <= hi
        }
        switch c {
        case 0xC2...0xDF:
            if cont(j + 1) { return j + 2 }
        case 0xE0:
            if cont(j + 1, 0xA0), cont(j + 2) { return j + 3 }
        case 0xE1...0xEC, 0xEE, 0xEF:
            if cont(j + 1), cont(j + 2) { return j + 3 }
        case 0xED:
            if cont(j + 1, 0x80, 0x9F), cont(j + 2) { return j + 3 }
        case 0xF0:
            if cont(j + 1, 0x90), cont(j + 2), cont(j + 3) { return j + 4 }
        case 0xF1...0xF3:
            if cont(j + 1), cont(j + 2), cont(j + 3) { return j + 4 }
        case 0xF4:
            if cont(j + 1, 0x80, 0x8F), cont(j + 2), cont(j + 3) { return j + 4 }
        default:
            break
        }
        throw fail("invalid UTF-8 in a string", at: j)
    }

    /// The value of a checked string whose content has escapes, as UTF-8 bytes.
    func unescape(_ s: JSONString, into out: inout [UInt8]) {
        out.removeAll(keepingCapacity: true)
        out.reserveCapacity(s.rawCount)
        var j = s.start
        while j < s.end {
            let c = b[j]
            guard c == 0x5C else { out.append(c); j += 1; continue }
            let e = b[j + 1]
            j += 2
            switch e {
            case 0x62: out.append(0x08)
            case 0x66: out.append(0x0C)
            case 0x6E: out.append(0x0A)
            case 0x72: out.append(0x0D)
            case 0x74: out.append(0x09)
            case 0x75:
                var u = hex4(at: j) ?? 0xFFFD
                j += 4
                if u >= 0xD800 && u <= 0xDBFF, let low = hex4(at: j + 2) {
                    u = 0x10000 + ((u - 0xD800) << 10) + (low - 0xDC00)
                    j += 6
                }
                let scalar = Unicode.Scalar(u) ?? "\u{FFFD}"
                out.append(contentsOf: UTF8.encode(scalar)!)
            default: out.append(e) // \" \\ \/
            }
        }
    }

    /// Calls `body` with the value of a checked string as UTF-8 bytes; copies only when it has escapes.
    @inline(__always)
    func withValue<R>(_ s: JSONString, _ body: (UnsafeRawBufferPointer) -> R) -> R {
        if !s.escaped { return body(UnsafeRawBufferPointer(rebasing: b[s.start..<s.end])) }
        var buffer: [UInt8] = []
        unescape(s, into: &buffer)
        return buffer.withUnsafeBytes(body)
    }

    /// The value of a checked string.
    @inline(__always)
    func string(_ s: JSONString) -> String {
        withValue(s) { String(decoding: $0, as: UTF8.self) }
    }

    // MARK: Other values

    /// Skips any value at `b[i]` (after whitespace), checking it; `depth` is the depth of its container.
    mutating func skipValue(depth: Int) throws(JSONSyntaxError) -> JSONKind {
        guard i < b.count else { throw unexpected("a value") }
        switch b[i] {
        case 0x22:
            _ = try scanString()
            return .string
        case 0x7B:
            try skipContainer(depth: depth + 1, object: true)
            return .object
        case 0x5B:
            try skipContainer(depth: depth + 1, object: false)
            return .array
        case 0x74:
            try literal("true")
            return .boolean
        case 0x66:
            try literal("false")
            return .boolean
        case 0x6E:
            try literal("null")
            return .null
        case 0x2D, 0x30...0x39:
            try scanNumber()
            return .number
        default:
            throw unexpected("a value")
        }
    }

    mutating func literal(_ word: StaticString) throws(JSONSyntaxError) {
        let n = word.utf8CodeUnitCount
        guard i + n <= b.count else { throw fail("invalid literal") }
        let p = word.utf8Start
        for k in 0..<n where b[i + k] != p[k] { throw fail("invalid literal") }
        i += n
    }

    /// `-? (0 | [1-9][0-9]*) (. [0-9]+)? ([eE] [+-]? [0-9]+)?`
    mutating func scanNumber() throws(JSONSyntaxError) {
        let n = b.count
        @inline(__always) func isDigit(_ k: Int) -> Bool { k < n && b[k] >= 0x30 && b[k] <= 0x39 }
        let start = i
        var j = i
        if b[j] == 0x2D { j += 1 }
        guard isDigit(j) else { throw fail("invalid number", at: start) }
        if b[j] == 0x30 { j += 1 } else { while isDigit(j) { j += 1 } }
        if j < n && b[j] == 0x2E {
            j += 1
            guard isDigit(j) else { throw fail("invalid number: no digit after '.'", at: start) }
            while isDigit(j) { j += 1 }
        }
        if j < n && (b[j] == 0x65 || b[j] == 0x45) {
            j += 1
            if j < n && (b[j] == 0x2B || b[j] == 0x2D) { j += 1 }
            guard isDigit(j) else { throw fail("invalid number: no digit in the exponent", at: start) }
            while isDigit(j) { j += 1 }
        }
        i = j
    }

    /// Skips an object at `{` or an array at `[`; `depth` is its own depth.
    mutating func skipContainer(depth: Int, object: Bool) throws(JSONSyntaxError) {
        try walkContainer(object: object, depth: depth) { (s: inout JSONScanner, _: JSONString) throws(JSONSyntaxError) in
            _ = try s.skipValue(depth: depth)
        }
    }

    /// Walks the object at `{` (`object`) or the array at `[` at `b[i]`, checking its syntax, and calls `element`
    /// at each value (for an object with its key, after the `:`); `element` must consume the value. `depth` is the
    /// container's own depth.
    @inline(__always)
    mutating func walkContainer(
        object: Bool, depth: Int, _ element: (inout JSONScanner, JSONString) throws(JSONSyntaxError) -> Void
    ) throws(JSONSyntaxError) {
        guard depth <= JSONScanner.maxDepth else {
            throw fail("nesting deeper than 64 levels") // JSONScanner.maxDepth
        }
        let close: UInt8 = object ? 0x7D : 0x5D
        i += 1
        skipWhitespace()
        if consume(close) { return }
        while true {
            var key = JSONString(start: i, end: i, escaped: false, ascii: true)
            if object {
                guard peek == 0x22 else { throw unexpected("a string key") }
                key = try scanString()
                skipWhitespace()
                guard consume(0x3A) else { throw unexpected("':'") }
                skipWhitespace()
            }
            try element(&self, key)
            skipWhitespace()
            if consume(0x2C) { skipWhitespace(); continue }
            if consume(close) { return }
            throw object ? unexpected("',' or '}'") : unexpected("',' or ']'")
        }
    }
}
