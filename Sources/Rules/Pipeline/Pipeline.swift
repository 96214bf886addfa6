import Foundation
import Events

/// A loaded, checked pipeline: rules compiled against its taxonomy and lists.
public struct Pipeline: Sendable {
    /// A path from `pipeline.yaml`: relative paths are relative to the pipeline's folder.
    public func resolve(_ path: String) -> String {
        path.hasPrefix("/") ? path : URL(fileURLWithPath: directory).appendingPathComponent(path).path
    }

    public var name: String
    public var directory: String
    public var taxonomy: Taxonomy
    public var lateness: Duration
    /// How far behind the watermark event ids are remembered for de-duplication.
    public var dedupWindow: Duration
    public var lists: [String: [String]]
    public var rules: [Rule]
    /// The `pipeline.yaml` document as plain values, for the daemon's sources, sinks and alert routes.
    public var settings: [String: PipelineValue]
    /// Its words for people (`texts/<language>.yaml`), by language code.
    public var texts: [String: PipelineTexts]

    public init(
        name: String, directory: String, taxonomy: Taxonomy, lateness: Duration = .minutes(5),
        dedupWindow: Duration = .days(7), lists: [String: [String]] = [:], rules: [Rule],
        settings: [String: PipelineValue] = [:], texts: [String: PipelineTexts] = [:]
    ) {
        self.name = name
        self.directory = directory
        self.taxonomy = taxonomy
        self.lateness = lateness
        self.dedupWindow = dedupWindow
        self.lists = lists
        self.rules = rules
        self.settings = settings
        self.texts = texts
    }
}

/// A YAML value of `pipeline.yaml`, with its location, for sections the engine does not interpret itself.
public indirect enum PipelineValue: Sendable {
    case scalar(String, SourceLocation)
    case list([PipelineValue], SourceLocation)
    case map([(String, PipelineValue)], SourceLocation)

    public var location: SourceLocation {
        switch self {
        case .scalar(_, let l), .list(_, let l), .map(_, let l): l
        }
    }

    public var string: String? {
        if case .scalar(let s, _) = self { return s }
        return nil
    }

    public subscript(key: String) -> PipelineValue? {
        if case .map(let pairs, _) = self { return pairs.last { $0.0 == key }?.1 }
        return nil
    }

    public var items: [PipelineValue] {
        if case .list(let items, _) = self { return items }
        return []
    }
}
