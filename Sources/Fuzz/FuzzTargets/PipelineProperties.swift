import Foundation
import Rules

/// The pipeline loader on any text: loading never traps, and every fault has a line and a column inside the input
/// (and the text of that line, when it shows one). A rules file is compiled in memory; an input whose first line is
/// `# pipeline.yaml` is loaded as the pipeline.yaml of an otherwise empty pipeline folder.
enum PipelineProperties {
    static var loader: PipelineLoader { PipelineLoader() }
    static let environment = ExpressionEnvironment(taxonomy: builtinTaxonomy, lists: ExpressionProperties.environment.lists)
    static let marker = Array("# pipeline.yaml".utf8)
    static let folder: String = {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("consentinel-fuzz-pipeline-\(getpid())").path
        try? FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        atexit { try? FileManager.default.removeItem(atPath: PipelineProperties.folder) }
        return path
    }()

    static func check(_ input: [UInt8]) throws(PropertyFailure) {
        let text = String(decoding: input, as: UTF8.self)
        let faults: [RuleError]
        if input.starts(with: marker) {
            let file = folder + "/pipeline.yaml"
            try require(FileManager.default.createFile(atPath: file, contents: Data(input)), "cannot write \(file)")
            do throws(RuleErrors) { _ = try loader.load(directory: folder); faults = [] } catch { faults = error.errors }
        } else {
            let rules: [Rule]
            do throws(RuleErrors) {
                rules = try loader.compileRules(yaml: text, file: "rules.yaml", environment: environment)
                faults = []
            } catch {
                rules = []
                faults = error.errors
            }
            for rule in rules { try bounds(text).require(rule.location, "rule \(rule.id)") }
        }
        guard !faults.isEmpty else { return }
        let lines = bounds(text)
        for fault in faults {
            guard let location = fault.location else { throw PropertyFailure("a fault without a location: \(fault)") }
            try lines.require(location, "the fault \(fault)")
            if let shown = fault.sourceLine {
                try require(shown == lines.lines[location.line - 1], "the fault \(fault) shows another line")
            }
        }
    }

    static func bounds(_ text: String) -> YAMLBounds { YAMLBounds(text) }
}

/// The positions inside a YAML text: a line ends at CR LF, CR, LF, NEL, LS or PS (as libyaml counts lines); columns
/// run from 1 to one past the line's end, counted in Unicode scalars (as libyaml counts them).
struct YAMLBounds {
    let lines: [String]

    init(_ text: String) {
        var lines: [String] = []
        var line = ""
        var afterCR = false
        for scalar in text.unicodeScalars {
            defer { afterCR = scalar == "\r" }
            if scalar == "\n", afterCR { continue }
            if ["\r", "\n", "\u{85}", "\u{2028}", "\u{2029}"].contains(scalar) {
                lines.append(line)
                line = ""
            } else {
                line.unicodeScalars.append(scalar)
            }
        }
        self.lines = lines + [line]
    }

    func require(_ location: SourceLocation, _ what: @autoclosure () -> String) throws(PropertyFailure) {
        guard location.line >= 1, location.line <= lines.count, location.column >= 1,
              location.column <= lines[location.line - 1].unicodeScalars.count + 1
        else { throw PropertyFailure("\(what()) is at \(location.line):\(location.column), outside the input of \(lines.count) lines") }
    }
}
