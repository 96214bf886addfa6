import Foundation

/// A node of a taxonomy tree. Comparable across nodes of the same `Taxonomy.Tree` only.
public struct TaxonomyNode: Hashable, Sendable, CustomStringConvertible, Comparable {
    /// Pre-order index in its tree.
    public let index: Int32
    /// One past the pre-order index of its last descendant.
    public let end: Int32
    public let key: String

    public static func == (a: TaxonomyNode, b: TaxonomyNode) -> Bool { a.index == b.index }
    public func hash(into hasher: inout Hasher) { hasher.combine(index) }
    public static func < (a: TaxonomyNode, b: TaxonomyNode) -> Bool { a.key < b.key }
    public var description: String { key }

    /// True when this node equals `other` or descends from it.
    @inline(__always)
    public func isUnder(_ other: TaxonomyNode) -> Bool { other.index <= index && index < other.end }
}

public struct TaxonomyError: Error, CustomStringConvertible, Sendable {
    public var message: String
    public init(_ message: String) { self.message = message }
    public var description: String { message }
}

/// The data categories and data uses of a pipeline (fideslang 3.1.4 by default, optionally extended).
public struct Taxonomy: Sendable {
    public struct Entry: Sendable, Hashable, Codable {
        public var key: String
        public var name: String
        public var description: String
        public init(key: String, name: String, description: String = "") {
            self.key = key
            self.name = name
            self.description = description
        }

        private enum CodingKeys: String, CodingKey { case key, name, description }

        /// `name` and `description` may be missing or null (a pipeline's own extensions often give only keys).
        public init(from decoder: any Decoder) throws {
            let c = try decoder.container(keyedBy: CodingKeys.self)
            key = try c.decode(String.self, forKey: .key)
            name = try c.decodeIfPresent(String.self, forKey: .name) ?? key
            description = try c.decodeIfPresent(String.self, forKey: .description) ?? ""
        }
    }

    /// One tree of dot-path keys; a key's parent is the key without its last segment.
    public struct Tree: Sendable {
        public private(set) var nodes: [TaxonomyNode] = []
        public private(set) var entries: [Entry] = []
        private var byKey: [String: Int] = [:]
        /// The same index keyed by UTF-8 bytes, for the event decoder (no `String` per lookup).
        private var byBytes = ByteMap()

        public init(entries input: [Entry]) throws(TaxonomyError) {
            var all: [String: Entry] = [:]
            for e in input {
                let segments = e.key.split(separator: ".", omittingEmptySubsequences: false)
                guard !e.key.isEmpty, segments.allSatisfy({ !$0.isEmpty }) else {
                    throw TaxonomyError("taxonomy key '\(e.key)' is not a dot path")
                }
                all[e.key] = e
            }
            for key in all.keys {
                var parent = key
                while let dot = parent.lastIndex(of: ".") {
                    parent = String(parent[..<dot])
                    guard all[parent] != nil else {
                        throw TaxonomyError("taxonomy key '\(key)' has no parent '\(parent)'")
                    }
                }
            }
            var children: [String: [String]] = [:]
            var roots: [String] = []
            for key in all.keys {
                if let dot = key.lastIndex(of: ".") { children[String(key[..<dot]), default: []].append(key) }
                else { roots.append(key) }
            }
            var order: [String] = []
            var ends: [String: Int] = [:]
            func visit(_ key: String) {
                order.append(key)
                for c in (children[key] ?? []).sorted() { visit(c) }
                ends[key] = order.count
            }
            for r in roots.sorted() { visit(r) }
            for (i, key) in order.enumerated() {
                nodes.append(TaxonomyNode(index: Int32(i), end: Int32(ends[key]!), key: key))
                entries.append(all[key]!)
                byKey[key] = i
                var utf8 = key
                utf8.withUTF8 { byBytes.insert(UnsafeRawBufferPointer($0), value: Int32(i)) }
            }
        }

        public func node(_ key: String) -> TaxonomyNode? {
            byKey[key].map { nodes[$0] }
        }

        /// The node for a key given as UTF-8 bytes; never builds a `String`.
        @inline(__always)
        public func node(bytes: UnsafeRawBufferPointer) -> TaxonomyNode? {
            byBytes.find(bytes).map { nodes[Int($0)] }
        }

        public func entry(_ node: TaxonomyNode) -> Entry { entries[Int(node.index)] }
        /// The node whose pre-order index is `index` (one of this tree's).
        public func node(at index: Int32) -> TaxonomyNode { nodes[Int(index)] }
        public var count: Int { nodes.count }

        public func parent(of node: TaxonomyNode) -> TaxonomyNode? {
            guard let dot = node.key.lastIndex(of: ".") else { return nil }
            return self.node(String(node.key[..<dot]))
        }

        /// The node and its ancestors, nearest first.
        public func lineage(of node: TaxonomyNode) -> [TaxonomyNode] {
            var out = [node]
            var n = node
            while let p = parent(of: n) { out.append(p); n = p }
            return out
        }
    }

    public var categories: Tree
    public var uses: Tree

    public init(categories: Tree, uses: Tree) {
        self.categories = categories
        self.uses = uses
    }

    /// Loads `data_categories.json` and `data_uses.json` from a folder (lists of `{key, name, description}`).
    public static func load(directory: URL) throws(TaxonomyError) -> Taxonomy {
        func read(_ file: String) throws(TaxonomyError) -> [Entry] {
            let url = directory.appendingPathComponent(file)
            do {
                let data = try Data(contentsOf: url)
                return try JSONDecoder().decode([Entry].self, from: data)
            } catch {
                throw TaxonomyError("cannot read taxonomy file \(url.path): \(error)")
            }
        }
        return Taxonomy(categories: try Tree(entries: read("data_categories.json")),
                        uses: try Tree(entries: read("data_uses.json")))
    }

    /// Adds keys to the loaded trees (a pipeline's own extensions).
    public func extended(categories extraCategories: [Entry], uses extraUses: [Entry]) throws(TaxonomyError) -> Taxonomy {
        Taxonomy(categories: try Tree(entries: categories.entries + extraCategories),
                 uses: try Tree(entries: uses.entries + extraUses))
    }
}
