import ArgumentParser
import Events
import Foundation

struct Bench: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bench", abstract: "Benchmarks that print figures.", subcommands: [BenchDecode.self, BenchReplay.self, BenchKafka.self, BenchMemory.self, BenchSoak.self, BenchConsume.self]
    )
}

/// `consentinel bench decode`: the hand-written `EventDecoder` against Foundation's `JSONDecoder` doing the
/// same work (decode into a Codable struct, then the same validation and taxonomy look-ups into an `Event`).
struct BenchDecode: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "decode", abstract: "Events per second of EventDecoder and of JSONDecoder on generated events."
    )

    @Option(help: "How many events to generate.")
    var events = 200_000

    @Option(help: "Folder with data_categories.json and data_uses.json.")
    var taxonomy = "pipelines/taxonomy"

    @Option(help: "Seed of the event generator.")
    var seed: UInt64 = 42

    @Option(help: "Timed rounds of each decoder, alternating; the best of each counts.")
    var rounds = 7

    @Flag(help: "Time EventDecoder only (for profiling).")
    var fastOnly = false

    func validate() throws {
        guard events > 0 else { throw ValidationError("--events must be positive") }
        guard rounds > 0 else { throw ValidationError("--rounds must be positive") }
    }

    func run() throws {
        let tax: Taxonomy
        do {
            tax = try Taxonomy.load(directory: URL(fileURLWithPath: taxonomy))
        } catch {
            throw ValidationError("\(error) (run from the repository root or pass --taxonomy)")
        }
        var generator = SampleEvents(taxonomy: tax, seed: seed)
        var buffer: [UInt8] = []
        var ranges: [Range<Int>] = []
        ranges.reserveCapacity(events)
        for _ in 0..<events {
            let start = buffer.count
            buffer.append(contentsOf: generator.next().utf8)
            ranges.append(start..<buffer.count)
        }
        let datas = ranges.map { Data(buffer[$0]) }
        print("events: \(events), \(buffer.count / events) bytes on average; best of \(rounds) alternating rounds")

        let decoder = EventDecoder(taxonomy: tax)
        let runFast = { () -> Int in
            buffer.withUnsafeBytes { all in
                var valid = 0
                for r in ranges {
                    if case .success(let e) = decoder.decode(UnsafeRawBufferPointer(rebasing: all[r])) {
                        valid &+= e.categories.count &+ 1
                    }
                }
                return valid
            }
        }
        let reference = ReferenceDecoder(taxonomy: tax)
        let runSlow = { () -> Int in
            var valid = 0
            for d in datas {
                if let e = reference.decode(d) { valid &+= e.categories.count &+ 1 }
            }
            return valid
        }
        // Rounds alternate between the decoders, so that load from elsewhere on the machine hits both alike.
        var fast = (seconds: Double.infinity, check: 0)
        var slow = (seconds: Double.infinity, check: 0)
        for _ in 0..<rounds {
            fast = best(fast, runFast)
            if !fastOnly { slow = best(slow, runSlow) }
        }
        if fastOnly {
            print("EventDecoder: \(format(Double(events) / fast.seconds)) events/s (checksum \(fast.check))")
            return
        }
        guard fast.check == slow.check else {
            throw ValidationError("the decoders disagree (checksums \(fast.check) and \(slow.check))")
        }
        let fastRate = Double(events) / fast.seconds
        let slowRate = Double(events) / slow.seconds
        print("EventDecoder: \(format(fastRate)) events/s (\(format(fast.seconds * 1e9 / Double(events))) ns/event)")
        print("JSONDecoder:  \(format(slowRate)) events/s (\(format(slow.seconds * 1e9 / Double(events))) ns/event)")
        print("ratio: \(String(format: "%.1f", fastRate / slowRate))x")
    }

    /// Times one round; keeps the faster of it and `previous`.
    private func best(_ previous: (seconds: Double, check: Int), _ body: () -> Int) -> (seconds: Double, check: Int) {
        var check = 0
        let elapsed = ContinuousClock().measure { check = body() }
        let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
        return (min(previous.seconds, seconds), check)
    }

    private func format(_ value: Double) -> String {
        let digits = String(Int(value.rounded()))
        var out = ""
        for (k, c) in digits.reversed().enumerated() {
            if k > 0 && k % 3 == 0 { out.append(",") }
            out.append(c)
        }
        return String(out.reversed())
    }
}

/// The comparison: `JSONDecoder` into a Codable mirror of the wire format, then the validation of docs/events.md and
/// the same taxonomy and symbol look-ups, into the same `Event`.
private struct ReferenceDecoder {
    struct Wire: Decodable {
        var id: String
        var type: String
        var time: String
        var subject: String
        var actor: String?
        var role: String?
        var system: String?
        var purpose: String?
        var categories: [String]?
        var recipient: String?
        var status: String?
        var source: String?
        var attributes: [String: String]?
    }

    let taxonomy: Taxonomy
    let json = JSONDecoder()

    func decode(_ data: Data) -> Event? {
        guard let w = try? json.decode(Wire.self, from: data),
              (1...128).contains(w.id.unicodeScalars.count), (1...256).contains(w.subject.unicodeScalars.count),
              let type = EventType(name: w.type), let time = Timestamp(rfc3339: w.time)
        else { return nil }
        let needsActor = type == .access || type == .use || type == .share
        let needsPurpose = needsActor || type == .consent
        let needsCategories = needsActor || type == .collect || type == .delete
        func symbol(_ s: String?, _ required: Bool) -> (ok: Bool, symbol: Symbol?) {
            guard let s else { return (!required, nil) }
            return s.isEmpty ? (false, nil) : (true, Symbol(s))
        }
        let actor = symbol(w.actor, needsActor), role = symbol(w.role, type == .access)
        let system = symbol(w.system, false), recipient = symbol(w.recipient, type == .share)
        let source = symbol(w.source, false)
        guard actor.ok, role.ok, system.ok, recipient.ok, source.ok else { return nil }
        if needsPurpose && w.purpose == nil { return nil }
        if needsCategories && (w.categories ?? []).isEmpty { return nil }
        var status: ConsentStatus?
        switch w.status {
        case "granted": status = .granted
        case "withdrawn": status = .withdrawn
        case nil: if type == .consent { return nil }
        default: return nil
        }
        var purpose: TaxonomyNode?
        if let p = w.purpose {
            guard let node = taxonomy.uses.node(p) else { return nil }
            purpose = node
        }
        var categories: [TaxonomyNode] = []
        var deletesAll = false
        for key in w.categories ?? [] {
            if key == "*" {
                guard type == .delete else { return nil }
                deletesAll = true
            } else {
                guard let node = taxonomy.categories.node(key) else { return nil }
                if !categories.contains(node) { categories.append(node) }
            }
        }
        let attributes = (w.attributes ?? [:]).map { Event.Attribute(key: $0.key, value: $0.value) }
        return Event(
            id: w.id, type: type, time: time, subject: w.subject, actor: actor.symbol, role: role.symbol,
            system: system.symbol, purpose: purpose, categories: categories, deletesAll: deletesAll,
            recipient: recipient.symbol, status: status, source: source.symbol, attributes: attributes
        )
    }
}

/// Writes generated traffic as JSONL to `path` (for the benchmarks that read a file).
func writeGeneratedTraffic(_ options: EventGenerator.Options, to path: String) throws {
    guard let handle = OutputFile.open(path) else { throw ValidationError("cannot write \(path): \(OutputFile.reason)") }
    var buffer: [UInt8] = []
    for line in EventGenerator(options) {
        buffer.append(contentsOf: line.utf8)
        buffer.append(10)
        if buffer.count > 1 << 22 { handle.write(Data(buffer)); buffer.removeAll(keepingCapacity: true) }
    }
    handle.write(Data(buffer))
    try handle.close()
}
