import Foundation

/// A JSON Schema (draft 2020-12) validator for exactly the keywords the schemas of `docs/schemas/` use.
///
/// No JSON Schema package is available to the tests, so this one is small and strict: a schema with any keyword it
/// does not implement (anywhere in the schema, used or not), a `format` other than `date-time`, a `$ref` other than
/// `#/$defs/NAME`, or a `pattern` with a class escape whose meaning differs between ECMA-262 and ICU (`\d`, `\w`, …)
/// is refused when the validator is made, so a schema can never lean on a keyword that is silently ignored.
/// `check-jsonschema --check-metaschema` (scripts/check-deploy.sh) checks the schemas against the metaschema.
///
/// Implemented: `$schema`, `$id`, `title`, `description`, `$comment` (annotations); `$defs`, `$ref`;
/// `type`, `enum`, `const`; `properties`, `required`, `additionalProperties`, `propertyNames`; `items`, `minItems`,
/// `maxItems`, `uniqueItems`; `minLength`, `maxLength` (in Unicode scalars), `pattern` (a search, as in ECMA-262:
/// `^` and `$` anchor at the ends of the whole string); `minimum`, `maximum`; `allOf`, `anyOf`, `oneOf`, `not`,
/// `if`/`then`/`else`; `format: date-time` (RFC 3339 section 5.6, calendar included).
///
/// Instances are parsed by `SchemaJSON.parse`, a strict RFC 8259 parser that also refuses duplicate keys (JSON
/// Schema's data model has none, and no Consentinel output writes any).
final class SchemaValidator {
    static let draft = "https://json-schema.org/draft/2020-12/schema"
    /// The `$id` every schema of the repository starts with.
    static let base = "https://consentinel.dev/schemas/"
    static let repository = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent()
    static let folder = repository.appendingPathComponent("docs/schemas")

    static let annotations: Set<String> = ["$schema", "$id", "title", "description", "$comment"]
    static let keywords: Set<String> = annotations.union([
        "$defs", "$ref", "type", "enum", "const", "properties", "required", "additionalProperties", "propertyNames",
        "items", "minItems", "maxItems", "uniqueItems", "minLength", "maxLength", "pattern", "minimum", "maximum",
        "allOf", "anyOf", "oneOf", "not", "if", "then", "else", "format",
    ])
    static let typeNames: Set<String> = ["null", "boolean", "object", "array", "number", "string", "integer"]

    struct SchemaError: Error, CustomStringConvertible {
        let description: String
        init(_ description: String) { self.description = description }
    }

    let name: String
    let root: SchemaJSON
    private var patterns: [String: NSRegularExpression] = [:]

    /// A schema from `docs/schemas/`, e.g. `violation` for `violation.schema.json`.
    convenience init(named name: String) throws {
        let url = Self.folder.appendingPathComponent("\(name).schema.json")
        try self.init(text: try String(contentsOf: url, encoding: .utf8), name: "\(name).schema.json")
    }

    init(text: String, name: String) throws {
        self.name = name
        root = try SchemaJSON.parse(text)
        guard case .object = root else { throw SchemaError("\(name): a schema document must be an object") }
        guard root["$schema"] == .string(Self.draft) else {
            throw SchemaError("\(name): $schema must be \(Self.draft)")
        }
        try check(root, at: "#", isRoot: true)
    }

    // MARK: Checking the schema

    private func check(_ schema: SchemaJSON, at path: String, isRoot: Bool = false) throws {
        switch schema {
        case .bool: return
        case .object(let pairs):
            for (keyword, value) in pairs {
                guard Self.keywords.contains(keyword) else {
                    throw SchemaError("\(name): unsupported keyword '\(keyword)' at \(path)")
                }
                try check(keyword: keyword, value, in: schema, at: path + "/" + keyword, isRoot: isRoot)
            }
            if schema["if"] == nil, schema["then"] != nil || schema["else"] != nil {
                throw SchemaError("\(name): 'then' or 'else' without 'if' at \(path)")
            }
        default:
            throw SchemaError("\(name): a schema must be an object or a boolean at \(path)")
        }
    }

    private func check(keyword: String, _ value: SchemaJSON, in schema: SchemaJSON, at path: String, isRoot: Bool) throws {
        func fail(_ what: String) -> SchemaError { SchemaError("\(name): \(path): \(what)") }
        func schemas(_ value: SchemaJSON) throws {
            guard case .array(let items) = value, !items.isEmpty else { throw fail("must be a non-empty list of schemas") }
            for (i, item) in items.enumerated() { try check(item, at: "\(path)/\(i)") }
        }
        func count(_ value: SchemaJSON) throws {
            guard case .number(let n) = value, n >= 0, n == n.rounded() else { throw fail("must be a non-negative integer") }
        }
        switch keyword {
        case "$schema", "$id":
            guard isRoot, case .string(let s) = value else { throw fail("only at the root, as a string") }
            if keyword == "$id", !(s.hasPrefix(Self.base) && s.hasSuffix(".schema.json")) {
                throw fail("must be \(Self.base)NAME.schema.json")
            }
        case "title", "description", "$comment":
            guard case .string = value else { throw fail("must be a string") }
        case "$defs", "properties":
            guard case .object(let pairs) = value else { throw fail("must be an object of schemas") }
            for (key, sub) in pairs { try check(sub, at: path + "/" + key) }
        case "$ref":
            guard case .string(let ref) = value, ref.hasPrefix("#/$defs/") else {
                throw fail("only references of the form #/$defs/NAME are supported")
            }
            guard resolve(ref) != nil else { throw fail("\(ref) does not exist") }
        case "type":
            let names: [SchemaJSON]
            if case .array(let list) = value { names = list } else { names = [value] }
            for n in names {
                guard case .string(let s) = n, Self.typeNames.contains(s) else { throw fail("unknown type \(n)") }
            }
        case "enum":
            guard case .array(let items) = value, !items.isEmpty else { throw fail("must be a non-empty list") }
        case "const": break
        case "required":
            guard case .array(let items) = value, items.allSatisfy({ if case .string = $0 { true } else { false } }) else {
                throw fail("must be a list of strings")
            }
        case "additionalProperties", "propertyNames", "items", "not", "if", "then", "else":
            try check(value, at: path)
        case "minItems", "maxItems", "minLength", "maxLength": try count(value)
        case "uniqueItems":
            guard case .bool = value else { throw fail("must be a boolean") }
        case "minimum", "maximum":
            guard case .number = value else { throw fail("must be a number") }
        case "allOf", "anyOf", "oneOf": try schemas(value)
        case "pattern":
            guard case .string(let pattern) = value else { throw fail("must be a string") }
            patterns[pattern] = try compile(pattern, fail)
        case "format":
            guard value == .string("date-time") else { throw fail("only the format date-time is supported") }
        default:
            throw fail("unsupported keyword")
        }
    }

    /// An ECMA-262 pattern as an ICU regular expression: `$` (outside a class) becomes `\z`, since ICU's `$` also
    /// matches before a final line break. Class escapes that differ between the two are refused.
    private func compile(_ pattern: String, _ fail: (String) -> SchemaError) throws -> NSRegularExpression {
        var out = ""
        var inClass = false
        var escaped = false
        for c in pattern {
            if escaped {
                if "dDwWsSbBpP".contains(c) { throw fail("the escape \\\(c) is not supported (ECMA-262 and ICU differ)") }
                out.append(c)
                escaped = false
                continue
            }
            switch c {
            case "\\": escaped = true; out.append(c)
            case "[": inClass = true; out.append(c)
            case "]": inClass = false; out.append(c)
            case "$" where !inClass: out += "\\z"
            default: out.append(c)
            }
        }
        do { return try NSRegularExpression(pattern: out) } catch { throw fail("pattern does not compile: \(error)") }
    }

    private func resolve(_ ref: String) -> SchemaJSON? {
        let name = String(ref.dropFirst("#/$defs/".count))
        return root["$defs"]?[name]
    }

    // MARK: Validating

    /// The reasons `text` (one JSON document) does not match the schema; empty when it does.
    func errors(json text: String) -> [String] {
        do { return errors(try SchemaJSON.parse(text)) } catch { return ["not JSON: \(error)"] }
    }

    func errors(_ instance: SchemaJSON) -> [String] {
        var out: [String] = []
        validate(instance, root, at: "", into: &out, depth: 0)
        return out
    }

    func isValid(json text: String) -> Bool { errors(json: text).isEmpty }

    private func validate(_ value: SchemaJSON, _ schema: SchemaJSON, at path: String, into errors: inout [String], depth: Int) {
        let here = path.isEmpty ? "/" : path
        guard depth < 64 else { return errors.append("\(here): schema references nested too deep") }
        switch schema {
        case .bool(let b):
            if !b { errors.append("\(here): no value is allowed here") }
            return
        case .object: break
        default: return
        }
        if case .string(let ref)? = schema["$ref"], let target = resolve(ref) {
            validate(value, target, at: path, into: &errors, depth: depth + 1)
        }
        if let type = schema["type"] {
            let names: [String]
            if case .array(let list) = type { names = list.compactMap(\.stringValue) } else { names = [type.stringValue ?? ""] }
            guard names.contains(where: { value.hasType($0) }) else {
                errors.append("\(here): expected \(names.joined(separator: " or ")), found \(value.typeName)")
                return
            }
        }
        if case .array(let options)? = schema["enum"], !options.contains(where: { $0.equals(value) }) {
            errors.append("\(here): \(value.brief) is not one of \(SchemaJSON.array(options).brief)")
        }
        if let constant = schema["const"], !constant.equals(value) {
            errors.append("\(here): \(value.brief) is not \(constant.brief)")
        }
        switch value {
        case .object(let pairs): validateObject(pairs, schema, at: path, into: &errors, depth: depth)
        case .array(let items): validateArray(items, schema, at: path, into: &errors, depth: depth)
        case .string(let s): validateString(s, schema, at: here, into: &errors)
        case .number(let n):
            if case .number(let min)? = schema["minimum"], n < min { errors.append("\(here): \(value.brief) is less than \(min)") }
            if case .number(let max)? = schema["maximum"], n > max { errors.append("\(here): \(value.brief) is more than \(max)") }
        default: break
        }
        if case .array(let all)? = schema["allOf"] {
            for sub in all { validate(value, sub, at: path, into: &errors, depth: depth + 1) }
        }
        if case .array(let any)? = schema["anyOf"] {
            let results = any.map { alternative(value, $0, at: path, depth: depth) }
            if !results.contains(where: \.isEmpty) {
                errors.append("\(here): matches none of anyOf: " + results.map { $0.first ?? "" }.joined(separator: "; "))
            }
        }
        if case .array(let one)? = schema["oneOf"] {
            let results = one.map { alternative(value, $0, at: path, depth: depth) }
            let matching = results.filter(\.isEmpty).count
            if matching != 1 {
                errors.append("\(here): matches \(matching) of oneOf, not exactly one: "
                              + results.map { $0.first ?? "match" }.joined(separator: "; "))
            }
        }
        if let not = schema["not"], alternative(value, not, at: path, depth: depth).isEmpty {
            errors.append("\(here): \(value.brief) matches a schema it must not match")
        }
        if let condition = schema["if"] {
            if alternative(value, condition, at: path, depth: depth).isEmpty {
                if let then = schema["then"] { validate(value, then, at: path, into: &errors, depth: depth + 1) }
            } else if let otherwise = schema["else"] {
                validate(value, otherwise, at: path, into: &errors, depth: depth + 1)
            }
        }
    }

    private func alternative(_ value: SchemaJSON, _ schema: SchemaJSON, at path: String, depth: Int) -> [String] {
        var errors: [String] = []
        validate(value, schema, at: path, into: &errors, depth: depth + 1)
        return errors
    }

    private func validateObject(
        _ pairs: [(String, SchemaJSON)], _ schema: SchemaJSON, at path: String, into errors: inout [String], depth: Int
    ) {
        let here = path.isEmpty ? "/" : path
        if case .array(let required)? = schema["required"] {
            for case .string(let key) in required where !pairs.contains(where: { $0.0 == key }) {
                errors.append("\(here): the required property '\(key)' is missing")
            }
        }
        let properties = schema["properties"]
        for (key, member) in pairs {
            let memberPath = path + "/" + SchemaJSON.pointerEscaped(key)
            if let propertyNames = schema["propertyNames"] {
                validate(.string(key), propertyNames, at: memberPath, into: &errors, depth: depth + 1)
            }
            if let sub = properties?[key] {
                validate(member, sub, at: memberPath, into: &errors, depth: depth + 1)
            } else if let additional = schema["additionalProperties"] {
                if additional == .bool(false) {
                    errors.append("\(here): the property '\(key)' is not allowed")
                } else {
                    validate(member, additional, at: memberPath, into: &errors, depth: depth + 1)
                }
            }
        }
    }

    private func validateArray(
        _ items: [SchemaJSON], _ schema: SchemaJSON, at path: String, into errors: inout [String], depth: Int
    ) {
        let here = path.isEmpty ? "/" : path
        if case .number(let min)? = schema["minItems"], Double(items.count) < min {
            errors.append("\(here): \(items.count) items, fewer than \(Int(min))")
        }
        if case .number(let max)? = schema["maxItems"], Double(items.count) > max {
            errors.append("\(here): \(items.count) items, more than \(Int(max))")
        }
        if schema["uniqueItems"] == .bool(true) {
            for i in items.indices where items[..<i].contains(where: { $0.equals(items[i]) }) {
                errors.append("\(here)/\(i): \(items[i].brief) repeats an earlier item")
            }
        }
        if let itemSchema = schema["items"] {
            for (i, item) in items.enumerated() {
                validate(item, itemSchema, at: "\(path)/\(i)", into: &errors, depth: depth + 1)
            }
        }
    }

    private func validateString(_ s: String, _ schema: SchemaJSON, at here: String, into errors: inout [String]) {
        let length = s.unicodeScalars.count
        if case .number(let min)? = schema["minLength"], Double(length) < min {
            errors.append("\(here): \(SchemaJSON.string(s).brief) is shorter than \(Int(min)) characters")
        }
        if case .number(let max)? = schema["maxLength"], Double(length) > max {
            errors.append("\(here): \(SchemaJSON.string(s).brief) is longer than \(Int(max)) characters")
        }
        if case .string(let pattern)? = schema["pattern"], let regex = patterns[pattern],
           regex.firstMatch(in: s, range: NSRange(s.startIndex..., in: s)) == nil {
            errors.append("\(here): \(SchemaJSON.string(s).brief) does not match \(pattern)")
        }
        if schema["format"] == .string("date-time"), !Self.isDateTime(s) {
            errors.append("\(here): \(SchemaJSON.string(s).brief) is not an RFC 3339 date-time")
        }
    }

    /// RFC 3339 section 5.6 `date-time` (`T` and `Z` in either case), with the calendar checked: days of the month
    /// (Gregorian leap years), hours, minutes, offsets; second 60 only at 23:59 UTC (a leap second).
    static func isDateTime(_ s: String) -> Bool {
        let b = Array(s.utf8)
        var i = 0
        func digits(_ n: Int) -> Int? {
            guard i + n <= b.count else { return nil }
            var v = 0
            for k in 0..<n {
                guard (48...57).contains(b[i + k]) else { return nil }
                v = v * 10 + Int(b[i + k] - 48)
            }
            i += n
            return v
        }
        func take(_ allowed: String) -> Bool {
            guard i < b.count, allowed.utf8.contains(b[i]) else { return false }
            i += 1
            return true
        }
        guard let year = digits(4), take("-"), let month = digits(2), take("-"), let day = digits(2), take("Tt"),
              let hour = digits(2), take(":"), let minute = digits(2), take(":"), let second = digits(2)
        else { return false }
        if i < b.count, b[i] == UInt8(ascii: ".") {
            i += 1
            let start = i
            while i < b.count, (48...57).contains(b[i]) { i += 1 }
            guard i > start else { return false }
        }
        var offset = 0
        if take("Zz") {
            offset = 0
        } else if i < b.count, b[i] == UInt8(ascii: "+") || b[i] == UInt8(ascii: "-") {
            let sign = b[i] == UInt8(ascii: "-") ? -1 : 1
            i += 1
            guard let oh = digits(2), take(":"), let om = digits(2), oh <= 23, om <= 59 else { return false }
            offset = sign * (oh * 60 + om)
        } else {
            return false
        }
        guard i == b.count, (1...12).contains(month), hour <= 23, minute <= 59, second <= 60 else { return false }
        let leap = year % 4 == 0 && (year % 100 != 0 || year % 400 == 0)
        let days = [31, leap ? 29 : 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31][month - 1]
        guard (1...days).contains(day) else { return false }
        if second == 60 {
            let utc = ((hour * 60 + minute - offset) % 1440 + 1440) % 1440
            return utc == 23 * 60 + 59
        }
        return true
    }
}

/// A JSON value in JSON Schema's data model: one kind of number, objects with unique keys (kept in their order).
enum SchemaJSON: Equatable, CustomStringConvertible {
    case null
    case bool(Bool)
    case number(Double)
    case string(String)
    case array([SchemaJSON])
    case object([(String, SchemaJSON)])

    struct ParseError: Error, CustomStringConvertible {
        let description: String
    }

    subscript(key: String) -> SchemaJSON? {
        if case .object(let pairs) = self { return pairs.first { $0.0 == key }?.1 }
        return nil
    }

    var stringValue: String? { if case .string(let s) = self { s } else { nil } }

    var typeName: String {
        switch self {
        case .null: "null"
        case .bool: "boolean"
        case .number(let n): n == n.rounded() ? "integer" : "number"
        case .string: "string"
        case .array: "array"
        case .object: "object"
        }
    }

    func hasType(_ name: String) -> Bool {
        switch (name, self) {
        case ("null", .null), ("boolean", .bool), ("number", .number), ("string", .string), ("array", .array),
             ("object", .object): true
        case ("integer", .number(let n)): n.isFinite && n == n.rounded()
        default: false
        }
    }

    /// JSON equality: numbers by value, objects regardless of key order.
    func equals(_ other: SchemaJSON) -> Bool {
        switch (self, other) {
        case (.null, .null): true
        case let (.bool(a), .bool(b)): a == b
        case let (.number(a), .number(b)): a == b
        case let (.string(a), .string(b)): a == b
        case let (.array(a), .array(b)): a.count == b.count && zip(a, b).allSatisfy { $0.equals($1) }
        case let (.object(a), .object(b)):
            a.count == b.count && a.allSatisfy { pair in b.contains { $0.0 == pair.0 && $0.1.equals(pair.1) } }
        default: false
        }
    }

    static func == (a: SchemaJSON, b: SchemaJSON) -> Bool { a.equals(b) }

    var description: String {
        switch self {
        case .null: return "null"
        case .bool(let b): return b ? "true" : "false"
        case .number(let n): return n == n.rounded() && abs(n) < 1e15 ? String(Int64(n)) : String(n)
        case .string(let s):
            var out = "\""
            for u in s.unicodeScalars {
                switch u {
                case "\"": out += "\\\""
                case "\\": out += "\\\\"
                case "\n": out += "\\n"
                case "\r": out += "\\r"
                case "\t": out += "\\t"
                default:
                    if u.value < 0x20 { out += String(format: "\\u%04x", u.value) } else { out.unicodeScalars.append(u) }
                }
            }
            return out + "\""
        case .array(let items): return "[" + items.map(\.description).joined(separator: ",") + "]"
        case .object(let pairs):
            return "{" + pairs.map { SchemaJSON.string($0.0).description + ":" + $0.1.description }.joined(separator: ",") + "}"
        }
    }

    /// The value for a message, cut short.
    var brief: String {
        let text = description
        return text.count > 80 ? String(text.prefix(77)) + "…" : text
    }

    static func pointerEscaped(_ key: String) -> String {
        key.replacingOccurrences(of: "~", with: "~0").replacingOccurrences(of: "/", with: "~1")
    }

    // MARK: Parsing (RFC 8259)

    static func parse(_ text: String) throws -> SchemaJSON {
        var parser = Parser(bytes: Array(text.utf8))
        parser.skipSpace()
        let value = try parser.value(depth: 0)
        parser.skipSpace()
        guard parser.i == parser.bytes.count else { throw parser.error("trailing characters") }
        return value
    }

    private struct Parser {
        let bytes: [UInt8]
        var i = 0

        func error(_ what: String) -> ParseError { ParseError(description: "\(what) at byte \(i)") }

        mutating func skipSpace() {
            while i < bytes.count, [0x20, 0x09, 0x0A, 0x0D].contains(bytes[i]) { i += 1 }
        }

        mutating func literal(_ word: String, _ value: SchemaJSON) throws -> SchemaJSON {
            let w = Array(word.utf8)
            guard i + w.count <= bytes.count, Array(bytes[i..<(i + w.count)]) == w else { throw error("unexpected input") }
            i += w.count
            return value
        }

        mutating func value(depth: Int) throws -> SchemaJSON {
            guard depth < 512 else { throw error("nested too deep") }
            guard i < bytes.count else { throw error("unexpected end") }
            switch bytes[i] {
            case UInt8(ascii: "{"):
                i += 1
                var pairs: [(String, SchemaJSON)] = []
                skipSpace()
                if i < bytes.count, bytes[i] == UInt8(ascii: "}") { i += 1; return .object(pairs) }
                while true {
                    skipSpace()
                    guard i < bytes.count, bytes[i] == UInt8(ascii: "\"") else { throw error("expected a key") }
                    let key = try string()
                    if pairs.contains(where: { $0.0 == key }) { throw error("duplicate key \(SchemaJSON.string(key))") }
                    skipSpace()
                    guard i < bytes.count, bytes[i] == UInt8(ascii: ":") else { throw error("expected ':'") }
                    i += 1
                    skipSpace()
                    pairs.append((key, try value(depth: depth + 1)))
                    skipSpace()
                    guard i < bytes.count else { throw error("unexpected end") }
                    if bytes[i] == UInt8(ascii: ",") { i += 1; continue }
                    guard bytes[i] == UInt8(ascii: "}") else { throw error("expected ',' or '}'") }
                    i += 1
                    return .object(pairs)
                }
            case UInt8(ascii: "["):
                i += 1
                var items: [SchemaJSON] = []
                skipSpace()
                if i < bytes.count, bytes[i] == UInt8(ascii: "]") { i += 1; return .array(items) }
                while true {
                    skipSpace()
                    items.append(try value(depth: depth + 1))
                    skipSpace()
                    guard i < bytes.count else { throw error("unexpected end") }
                    if bytes[i] == UInt8(ascii: ",") { i += 1; continue }
                    guard bytes[i] == UInt8(ascii: "]") else { throw error("expected ',' or ']'") }
                    i += 1
                    return .array(items)
                }
            case UInt8(ascii: "\""): return .string(try string())
            case UInt8(ascii: "t"): return try literal("true", .bool(true))
            case UInt8(ascii: "f"): return try literal("false", .bool(false))
            case UInt8(ascii: "n"): return try literal("null", .null)
            default: return try number()
            }
        }

        mutating func number() throws -> SchemaJSON {
            let start = i
            func isDigit(_ k: Int) -> Bool { k < bytes.count && (48...57).contains(bytes[k]) }
            if i < bytes.count, bytes[i] == UInt8(ascii: "-") { i += 1 }
            guard isDigit(i) else { throw error("unexpected input") }
            if bytes[i] == UInt8(ascii: "0") { i += 1 } else { while isDigit(i) { i += 1 } }
            if i < bytes.count, bytes[i] == UInt8(ascii: ".") {
                i += 1
                guard isDigit(i) else { throw error("expected a digit") }
                while isDigit(i) { i += 1 }
            }
            if i < bytes.count, bytes[i] == UInt8(ascii: "e") || bytes[i] == UInt8(ascii: "E") {
                i += 1
                if i < bytes.count, bytes[i] == UInt8(ascii: "+") || bytes[i] == UInt8(ascii: "-") { i += 1 }
                guard isDigit(i) else { throw error("expected a digit") }
                while isDigit(i) { i += 1 }
            }
            guard let n = Double(String(decoding: bytes[start..<i], as: UTF8.self)) else { throw error("bad number") }
            return .number(n)
        }

        mutating func hex4() throws -> UInt32 {
            guard i + 4 <= bytes.count, let v = UInt32(String(decoding: bytes[i..<(i + 4)], as: UTF8.self), radix: 16)
            else { throw error("bad \\u escape") }
            i += 4
            return v
        }

        mutating func string() throws -> String {
            i += 1
            var scalars = String.UnicodeScalarView()
            var run = i
            func flush(_ end: Int) throws {
                guard run < end else { return }
                let chunk = bytes[run..<end]
                guard let text = String(validating: chunk, as: UTF8.self) else { throw error("invalid UTF-8") }
                scalars.append(contentsOf: text.unicodeScalars)
            }
            while true {
                guard i < bytes.count else { throw error("unterminated string") }
                let c = bytes[i]
                if c == UInt8(ascii: "\"") {
                    try flush(i)
                    i += 1
                    return String(scalars)
                }
                guard c >= 0x20 else { throw error("unescaped control character") }
                guard c == UInt8(ascii: "\\") else { i += 1; continue }
                try flush(i)
                i += 1
                guard i < bytes.count else { throw error("unterminated string") }
                let e = bytes[i]
                i += 1
                switch e {
                case UInt8(ascii: "\""): scalars.append("\"")
                case UInt8(ascii: "\\"): scalars.append("\\")
                case UInt8(ascii: "/"): scalars.append("/")
                case UInt8(ascii: "b"): scalars.append("\u{08}")
                case UInt8(ascii: "f"): scalars.append("\u{0C}")
                case UInt8(ascii: "n"): scalars.append("\n")
                case UInt8(ascii: "r"): scalars.append("\r")
                case UInt8(ascii: "t"): scalars.append("\t")
                case UInt8(ascii: "u"):
                    var v = try hex4()
                    if (0xD800..<0xDC00).contains(v) {
                        guard i + 2 <= bytes.count, bytes[i] == UInt8(ascii: "\\"), bytes[i + 1] == UInt8(ascii: "u")
                        else { throw error("unpaired surrogate") }
                        i += 2
                        let low = try hex4()
                        guard (0xDC00..<0xE000).contains(low) else { throw error("unpaired surrogate") }
                        v = 0x10000 + ((v - 0xD800) << 10) + (low - 0xDC00)
                    }
                    guard let scalar = Unicode.Scalar(v) else { throw error("unpaired surrogate") }
                    scalars.append(scalar)
                default: throw error("bad escape")
                }
                run = i
            }
        }
    }
}
