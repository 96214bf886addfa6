/// A JSON value for outputs, with object keys kept in the order they were given so output is byte-stable.
public enum JSONValue: Sendable, Hashable, ExpressibleByStringLiteral, ExpressibleByIntegerLiteral,
    ExpressibleByBooleanLiteral, ExpressibleByArrayLiteral
{
    case null
    case bool(Bool)
    case int(Int64)
    case double(Double)
    case string(String)
    case array([JSONValue])
    case object([(String, JSONValue)])

    public init(stringLiteral value: String) { self = .string(value) }
    public init(integerLiteral value: Int64) { self = .int(value) }
    public init(booleanLiteral value: Bool) { self = .bool(value) }
    public init(arrayLiteral elements: JSONValue...) { self = .array(elements) }

    public static func == (a: JSONValue, b: JSONValue) -> Bool {
        switch (a, b) {
        case (.null, .null): true
        case let (.bool(x), .bool(y)): x == y
        case let (.int(x), .int(y)): x == y
        case let (.double(x), .double(y)): x == y
        case let (.string(x), .string(y)): x == y
        case let (.array(x), .array(y)): x == y
        case let (.object(x), .object(y)): x.count == y.count && zip(x, y).allSatisfy { $0.0 == $1.0 && $0.1 == $1.1 }
        default: false
        }
    }

    public func hash(into hasher: inout Hasher) { hasher.combine(serialized) }

    /// An object from counts, keys sorted.
    public static func counts(_ counts: [String: Int]) -> JSONValue {
        .object(counts.sorted { $0.key < $1.key }.map { ($0.key, .int(Int64($0.value))) })
    }

    public subscript(key: String) -> JSONValue? {
        if case .object(let pairs) = self { return pairs.last { $0.0 == key }?.1 }
        return nil
    }

    /// Compact JSON text on one line.
    public var serialized: String { String(decoding: bytes, as: UTF8.self) }

    /// The UTF-8 bytes of `serialized`.
    public var bytes: [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(256)
        write(into: &out)
        return out
    }

    public func write(to out: inout String) {
        out += serialized
    }

    /// Appends compact JSON as UTF-8 bytes (the fast path for output files and messages).
    public func write(into out: inout [UInt8]) {
        switch self {
        case .null: out.append(contentsOf: [110, 117, 108, 108])
        case .bool(let b): if b { out.append(contentsOf: [116, 114, 117, 101]) } else { out.append(contentsOf: [102, 97, 108, 115, 101]) }
        case .int(let i): JSONValue.writeInt(i, into: &out)
        case .double(let d):
            if d.isFinite {
                out.append(contentsOf: (d == d.rounded() && abs(d) < 1e15 ? String(Int64(d)) : String(d)).utf8)
            } else {
                out.append(contentsOf: [110, 117, 108, 108])
            }
        case .string(let s): JSONValue.writeString(s, into: &out)
        case .array(let items):
            out.append(91)
            for (i, item) in items.enumerated() {
                if i > 0 { out.append(44) }
                item.write(into: &out)
            }
            out.append(93)
        case .object(let pairs):
            out.append(123)
            for (i, (key, value)) in pairs.enumerated() {
                if i > 0 { out.append(44) }
                JSONValue.writeString(key, into: &out)
                out.append(58)
                value.write(into: &out)
            }
            out.append(125)
        }
    }

    /// Indented JSON text, two spaces a level, for files people read (`org.json`).
    public func pretty(indent: Int = 0) -> String {
        let pad = String(repeating: "  ", count: indent + 1)
        let close = String(repeating: "  ", count: indent)
        switch self {
        case .array(let items) where !items.isEmpty:
            return "[\n" + items.map { pad + $0.pretty(indent: indent + 1) }.joined(separator: ",\n") + "\n" + close + "]"
        case .object(let pairs) where !pairs.isEmpty:
            return "{\n" + pairs.map { pad + JSONValue.string($0.0).serialized + ": " + $0.1.pretty(indent: indent + 1) }
                .joined(separator: ",\n") + "\n" + close + "}"
        default:
            return serialized
        }
    }

    /// Writes a JSON string: quote and backslash escaped, control characters as short or `u00XX` escapes, and U+2028
    /// and U+2029 escaped so the line is also valid JavaScript. Runs of plain bytes are copied at once.
    public static func writeInt(_ value: Int64, into out: inout [UInt8]) {
        if value < 0 { out.append(45) }
        var m = value.magnitude
        var digits: (UInt64, UInt64, UInt64) = (0, 0, 0)
        withUnsafeMutableBytes(of: &digits) { buf in
            var n = 0
            repeat {
                buf[23 - n] = UInt8(truncatingIfNeeded: m % 10) + 48
                m /= 10
                n += 1
            } while m > 0
            out.append(contentsOf: UnsafeRawBufferPointer(rebasing: buf[(24 - n)...]))
        }
    }

    public static func writeString(_ string: String, into out: inout [UInt8]) {
        out.append(34)
        var s = string
        s.withUTF8 { b in
            var run = 0
            var i = 0
            let n = b.count
            func flush(_ upTo: Int) {
                if upTo > run { out.append(contentsOf: UnsafeBufferPointer(rebasing: b[run..<upTo])) }
            }
            while i < n {
                let c = b[i]
                if c >= 0x20 && c != 34 && c != 92 && c != 0xE2 {
                    i += 1
                    continue
                }
                if c == 0xE2 {
                    if i + 2 < n, b[i + 1] == 0x80, b[i + 2] == 0xA8 || b[i + 2] == 0xA9 {
                        flush(i)
                        out.append(contentsOf: Array((b[i + 2] == 0xA8 ? "\\u2028" : "\\u2029").utf8))
                        i += 3
                        run = i
                    } else {
                        i += 1
                    }
                    continue
                }
                flush(i)
                switch c {
                case 34: out.append(contentsOf: [92, 34])
                case 92: out.append(contentsOf: [92, 92])
                case 10: out.append(contentsOf: [92, 110])
                case 13: out.append(contentsOf: [92, 114])
                case 9: out.append(contentsOf: [92, 116])
                case 8: out.append(contentsOf: [92, 98])
                case 12: out.append(contentsOf: [92, 102])
                default:
                    let hex = Array("0123456789abcdef".utf8)
                    out.append(contentsOf: [92, 117, 48, 48, hex[Int(c >> 4)], hex[Int(c & 15)]])
                }
                i += 1
                run = i
            }
            flush(n)
        }
        out.append(34)
    }
}
