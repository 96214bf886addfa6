import Foundation

extension JSONValue {
    /// Parses JSON text (not on a hot path: tests, expectations, configuration).
    public static func parse(_ text: String) throws -> JSONValue {
        let object = try JSONSerialization.jsonObject(with: Data(text.utf8), options: [.fragmentsAllowed])
        return JSONValue(any: object)
    }

    /// The JSON lines of a file, skipping blank lines.
    public static func lines(ofFile path: String) throws -> [JSONValue] {
        guard FileManager.default.fileExists(atPath: path) else { return [] }
        let text = try String(contentsOfFile: path, encoding: .utf8)
        return try text.split(separator: "\n").filter { !$0.allSatisfy(\.isWhitespace) }.map { try parse(String($0)) }
    }

    public init(any: Any) {
        switch any {
        case let s as String: self = .string(s)
        case let n as NSNumber:
            if String(cString: n.objCType) == "c" { self = .bool(n.boolValue) }
            else if n.doubleValue == n.doubleValue.rounded(), abs(n.doubleValue) < 9e15 { self = .int(n.int64Value) }
            else { self = .double(n.doubleValue) }
        case let a as [Any]: self = .array(a.map { JSONValue(any: $0) })
        case let d as [String: Any]: self = .object(d.keys.sorted().map { ($0, JSONValue(any: d[$0]!)) })
        default: self = .null
        }
    }
}
