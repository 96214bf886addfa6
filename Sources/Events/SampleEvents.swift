/// A seeded, deterministic source of realistic valid events as JSON text (one object, no newline): a mix of all
/// types, optional fields, attributes with escapes and non-ASCII text, unknown extra fields, time offsets and
/// fractions. For benchmarks, tests and load generation; the same seed gives the same events.
public struct SampleEvents: Sendable {
    public typealias RNG = SplitMix64

    public var rng: RNG
    private let categories: [String]
    private let uses: [String]
    private var counter = 0

    public init(taxonomy: Taxonomy, seed: UInt64 = 1) {
        rng = RNG(seed: seed)
        categories = taxonomy.categories.nodes.map(\.key).filter { $0.hasPrefix("user") }
        uses = taxonomy.uses.nodes.map(\.key)
    }

    static let types: [(String, Int)] = [
        ("access", 35), ("use", 20), ("share", 8), ("collect", 15), ("delete", 4), ("consent", 12),
        ("erasure_request", 3), ("relationship_end", 3),
    ]
    static let actors = [
        "alice@example.com", "bob@example.com", "svc-recommender", "svc-billing", "jürgen.müller@example.de",
        "李雷@example.cn", "agent-7", "agent-12", "ops-bot", "søren@example.dk", "svc-analytics", "maría.garcía",
    ]
    static let roles = ["support", "billing", "marketing", "engineer", "security", "dpo"]
    static let systems = ["crm", "billing-service", "web-shop", "mobile-app", "data-warehouse", "helpdesk"]
    static let recipients = ["payment-processor", "email-provider", "analytics-partner", "ad-network", "data-broker-x"]
    static let sources = ["web", "app", "email", "support", "gpc", "import"]
    static let reasons = [
        "customer asked for a copy", "Rückfrage zur Rechnung", "fraud review \"urgent\"", "line one\nline two",
        "tab\tseparated", "問い合わせ対応", "emoji ✅🚀", "back\\slash", "",
    ]

    /// The next event as JSON text.
    public mutating func next() -> String {
        counter += 1
        var total = 0
        for (_, w) in SampleEvents.types { total += w }
        var pick = Int(rng.next() % UInt64(total))
        var type = "access"
        for (t, w) in SampleEvents.types {
            if pick < w { type = t; break }
            pick -= w
        }
        var out = "{"
        var first = true
        func field(_ key: String, _ rawJSON: String) {
            out += (first ? "" : ",") + "\"" + key + "\":" + rawJSON
            first = false
        }
        let hex = String(rng.next(), radix: 16)
        field("id", quote("evt-\(counter)-\(hex)"))
        field("type", quote(type))
        field("time", quote(time()))
        let subjectNumber = rng.next() % 50_000
        field("subject", quote(rng.next() % 8 == 0 ? "kunde-\(subjectNumber)-ö" : "cust-\(subjectNumber)"))
        let needsActor = ["access", "use", "share"].contains(type)
        if needsActor || rng.next() % 10 == 0 { field("actor", quote(element(SampleEvents.actors))) }
        if type == "access" { field("role", quote(element(SampleEvents.roles))) }
        if rng.next() % 3 != 0 { field("system", quote(element(SampleEvents.systems))) }
        if ["access", "use", "share", "consent"].contains(type) { field("purpose", quote(element(uses))) }
        if ["access", "use", "share", "collect", "delete"].contains(type) {
            if type == "delete" && rng.next() % 3 == 0 {
                field("categories", "[\"*\"]")
            } else {
                let n = 1 + Int(rng.next() % 3)
                field("categories", "[" + (0..<n).map { _ in quote(element(categories)) }.joined(separator: ",") + "]")
            }
        }
        if type == "share" { field("recipient", quote(element(SampleEvents.recipients))) }
        if type == "consent" {
            field("status", quote(rng.next() % 4 == 0 ? "withdrawn" : "granted"))
            field("source", quote(element(SampleEvents.sources)))
        }
        let attributeCount = Int(rng.next() % 4)
        if attributeCount > 0 {
            var pairs: [String] = []
            if rng.next() % 2 == 0 { pairs.append(quote("ticket") + ":" + quote("TCK-\(rng.next() % 100_000)")) }
            if attributeCount > 1 { pairs.append(quote("ip") + ":" + quote("10.\(rng.next() % 256).\(rng.next() % 256).\(rng.next() % 256)")) }
            if attributeCount > 2 { pairs.append(quote("reason") + ":" + quote(element(SampleEvents.reasons))) }
            field("attributes", "{" + pairs.joined(separator: ",") + "}")
        }
        if rng.next() % 10 == 0 { field("schema_version", "2") }
        if rng.next() % 20 == 0 { field("trace", "{\"span\":\"\(hex)\",\"sampled\":true,\"tags\":[1,2.5,-3e2,null]}") }
        return out + "}"
    }

    private mutating func element<T>(_ list: [T]) -> T { list[Int(rng.next() % UInt64(list.count))] }

    private mutating func time() -> String {
        let seconds = 1_704_067_200 + Int64(rng.next() % 63_072_000) // 2024-01-01 … 2025-12-31
        let micros = Int64(rng.next() % 1_000_000)
        var text = Timestamp(microseconds: seconds * 1_000_000 + micros).rfc3339
        switch rng.next() % 4 {
        case 0: text = String(text.prefix(19)) + "Z" // no fraction
        case 1: text = String(text.prefix(19)) + "+02:00"
        default: break
        }
        return text
    }

    /// A JSON string literal, written by the same code as every other JSON output (`JSONValue`).
    public static func quote(_ s: String) -> String { JSONValue.string(s).serialized }

    private func quote(_ s: String) -> String { SampleEvents.quote(s) }
}
