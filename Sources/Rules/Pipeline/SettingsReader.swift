import Events
import Foundation

/// Reads `pipeline.yaml` values, expanding `${VAR}` and `${VAR:-default}` from the environment.
public struct SettingsReader<Failure: Error> {
    public var settings: [String: PipelineValue]
    public var environment: [String: String]
    /// Makes the caller's error from a message (which names the place in `pipeline.yaml`).
    public var fail: (String) -> Failure

    public init(settings: [String: PipelineValue], environment: [String: String], fail: @escaping (String) -> Failure) {
        self.settings = settings
        self.environment = environment
        self.fail = fail
    }

    /// The same reader, failing with another module's error.
    public func failing<Other: Error>(_ fail: @escaping (String) -> Other) -> SettingsReader<Other> {
        SettingsReader<Other>(settings: settings, environment: environment, fail: fail)
    }

    public func map(_ path: [String], required: Bool) throws(Failure) -> PipelineValue? {
        var value: PipelineValue? = settings[path[0]]
        for key in path.dropFirst() { value = value?[key] }
        if value == nil, required {
            throw fail("pipeline.yaml has no \(path.joined(separator: ".")) section, which `run` needs")
        }
        if let value, case .map = value { return value }
        if let value {
            throw fail("\(value.location): \(path.joined(separator: ".")) must be a mapping")
        }
        return nil
    }

    public func string(_ map: PipelineValue?, _ key: String, path: String) throws(Failure) -> String? {
        guard let v = map?[key] else { return nil }
        guard let s = v.string else { throw fail("\(v.location): \(path).\(key) must be text") }
        let expanded = try expand(s, at: v.location)
        return expanded.isEmpty ? nil : expanded
    }

    public func strings(_ map: PipelineValue?, _ key: String, path: String) throws(Failure) -> [String] {
        guard let v = map?[key] else { return [] }
        if let s = v.string {
            return try expand(s, at: v.location).split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }
        }
        var out: [String] = []
        for item in v.items {
            guard let s = item.string else { throw fail("\(item.location): \(path).\(key) must list text") }
            out.append(try expand(s, at: item.location))
        }
        return out
    }

    public func properties(_ map: PipelineValue?, _ key: String, path: String) throws(Failure) -> [String: String] {
        guard let v = map?[key] else { return [:] }
        guard case .map(let pairs, _) = v else { throw fail("\(v.location): \(path).\(key) must be a mapping") }
        var out: [String: String] = [:]
        for (k, item) in pairs {
            guard let s = item.string else { throw fail("\(item.location): \(path).\(key).\(k) must be text") }
            out[k] = try expand(s, at: item.location)
        }
        return out
    }

    /// `${NAME}` must be set; `${NAME:-default}` falls back to the default.
    public func expand(_ text: String, at location: SourceLocation) throws(Failure) -> String {
        var out = ""
        var rest = Substring(text)
        while let open = rest.range(of: "${") {
            out += rest[..<open.lowerBound]
            guard let close = rest[open.upperBound...].firstIndex(of: "}") else {
                throw fail("\(location): unterminated ${ in '\(text)'")
            }
            let inner = rest[open.upperBound..<close]
            let (name, fallback): (Substring, Substring?) = inner.range(of: ":-").map {
                (inner[..<$0.lowerBound], inner[$0.upperBound...])
            } ?? (inner, nil)
            if let value = environment[String(name)], !value.isEmpty {
                out += value
            } else if let fallback {
                out += fallback
            } else {
                throw fail("\(location): environment variable \(name) is not set")
            }
            rest = rest[rest.index(after: close)...]
        }
        return out + rest
    }

    /// `KEY` (with `${VAR}` expanded) or `KEY_file` (a file holding the value; surrounding white space is dropped).
    /// Messages name the key or the file, never the value.
    public func secretText(
        _ map: PipelineValue?, _ key: String, path: String, resolve: (String) -> String
    ) throws(Failure) -> String? {
        let base = key.hasSuffix("_file") ? String(key.dropLast(5)) : key
        if let value = try string(map, base, path: path) { return value }
        guard let file = try string(map, base + "_file", path: path).map(resolve) else { return nil }
        let at = map?[base + "_file"].map { "\($0.location): " } ?? ""
        guard let data = FileManager.default.contents(atPath: file) else {
            throw fail("\(at)\(path).\(base)_file: cannot read \(file)")
        }
        let value = String(decoding: data, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
        guard !value.isEmpty else { throw fail("\(at)\(path).\(base)_file: \(file) is empty") }
        return value
    }

    /// A port number (0 for any free port).
    public func port(_ map: PipelineValue?, _ key: String, path: String) throws(Failure) -> Int? {
        guard let text = try string(map, key, path: path) else { return nil }
        guard let p = Int(text), (0...65535).contains(p) else { throw fail("\(path).\(key) must be a port number, not '\(text)'") }
        return p
    }

    /// A duration in the rule language's notation (`30s`, `5m`, `48h`).
    public func duration(_ map: PipelineValue?, _ key: String, path: String) throws(Failure) -> Swift.Duration? {
        guard let text = try string(map, key, path: path) else { return nil }
        guard let d = Events.Duration(parsing: text), d.microseconds > 0 else {
            throw fail("\(path).\(key) must be a duration such as 30s or 5m, not '\(text)'")
        }
        return .microseconds(d.microseconds)
    }
}
