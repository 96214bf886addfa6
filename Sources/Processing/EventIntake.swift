import Events
import Rules

/// What became of one line or message.
public enum Intake {
    /// A line of nothing but spaces and tabs (files only: a Kafka message is never blank, it is a dead letter).
    case blank
    /// Not a valid event: the dead letter to write.
    case deadLetter(DeadLetter)
    /// A valid event later than `--until` (replays): counted, not processed.
    case afterUntil
    /// A valid event, offered to the engine.
    case event(Event, Admission)
}

/// The counts every run keeps, replay or daemon.
public struct ProcessingCounters: Sendable {
    /// Lines of the files, or messages of the topics.
    public var lines = 0
    /// Valid events offered to an engine (duplicates included).
    public var events = 0
    public var duplicates = 0
    public var late = 0
    public var afterUntil = 0
    public var deadLetters: [String: Int] = [:]
    public var violations: [String: Int] = [:]

    public init() {}
}

/// The first step of the one processing path: bytes are decoded (an invalid event becomes a dead letter before it
/// can count as the first of its id), then offered to the engine of their lane, which de-duplicates them and holds
/// them until the watermark passes.
public final class EventIntake {
    /// The decoder, behind a reference: reading a struct property of a class for each line copied all its fields.
    private var current: DecoderRef

    private final class DecoderRef {
        let decoder: EventDecoder
        init(_ decoder: EventDecoder) { self.decoder = decoder }
    }

    public let until: Timestamp?
    public private(set) var counters = ProcessingCounters()
    /// `counters.lines`, without a copy of the counters.
    public var lines: Int { counters.lines }

    public init(taxonomy: Taxonomy, until: Timestamp? = nil) {
        current = DecoderRef(EventDecoder(taxonomy: taxonomy))
        self.until = until
    }

    /// Decodes one event with the pipeline's taxonomy (without copying the decoder).
    public func decode(_ bytes: UnsafeRawBufferPointer) -> Result<Event, DecodeError> {
        let ref = current
        return ref.decoder.decode(bytes)
    }

    /// Decodes with the taxonomy of a reloaded pipeline from now on.
    public func use(_ taxonomy: Taxonomy) { current = DecoderRef(EventDecoder(taxonomy: taxonomy)) }

    /// One line (`skipsBlank`) or message.
    public func take(
        _ bytes: UnsafeRawBufferPointer, origin: @autoclosure () -> Origin, into engine: Engine, skipsBlank: Bool
    ) -> Intake {
        counters.lines += 1
        if skipsBlank, bytes.allSatisfy({ $0 == 32 || $0 == 9 }) { return .blank }
        switch decode(bytes) {
        case .failure(let error):
            counters.deadLetters[error.reason.rawValue, default: 0] += 1
            return .deadLetter(DeadLetter(error, origin: origin(), raw: bytes))
        case .success(let event):
            if let until, event.time > until {
                counters.afterUntil += 1
                return .afterUntil
            }
            counters.events += 1
            let admission = engine.offer(event)
            switch admission {
            case .duplicate: counters.duplicates += 1
            case .late: counters.late += 1
            case .accepted: break
            }
            return .event(event, admission)
        }
    }

    /// Counts violations an engine found.
    public func count(_ violations: [Violation]) {
        for v in violations { counters.violations[v.rule, default: 0] += 1 }
    }
}
