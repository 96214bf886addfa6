import Events
import Foundation
@testable import Rules
import Testing

/// The engine offers an event only to the rules that can act on its type, from the types each condition allows. Those
/// must be a superset of the types for which the condition holds, or a rule would miss events.
@Suite struct TypeDispatchTests {
    static func types(_ list: [EventType]) -> UInt32 { list.reduce(0) { $0 | $1.bit } }

    static let cases: [(String, [EventType])] = [
        (#"event.type == "access""#, [.access]),
        (#"event.type != "access""#, EventType.allCases.filter { $0 != .access }),
        (#"event.type in ["use", "share"]"#, [.use, .share]),
        (#"event.type in ["use", "share"] and event.purpose under list.marketing_uses"#, [.use, .share]),
        (#"event.type == "delete" or event.type == "collect""#, [.delete, .collect]),
        (#"event.type == "share" and not (event.recipient in list.disclosed)"#, [.share]),
        (#"event.type == "share" and event.type == "use""#, []),
        (#"not (event.type == "access")"#, EventType.allCases),
        (#"exists(event.attributes.ticket)"#, EventType.allCases),
        (#"event.type == "access" or exists(event.attributes.ticket)"#, EventType.allCases),
        ("true", EventType.allCases),
        ("1 > 2", []),
    ]

    @Test(arguments: cases)
    func aConditionAllowsTheTypesItNames(source: String, expected: [EventType]) throws {
        #expect(try Fixtures.compile(source).get().eventTypes == Self.types(expected))
    }

    /// On generated traffic of every type, no condition of the default pipeline holds for an event of a type it does
    /// not allow, and every rule is offered the events of the types it acts on.
    @Test func noConditionOfTheDefaultPipelineHoldsOutsideItsTypes() throws {
        let directory = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().appendingPathComponent("pipelines/default").path
        let pipeline = try PipelineLoader().load(directory: directory)
        let decoder = EventDecoder(taxonomy: pipeline.taxonomy)
        var conditions: [CompiledExpression] = []
        for rule in pipeline.rules {
            switch rule.spec {
            case .match(let when, _), .consent(let when, _), .threshold(let when, _, _, _, _), .access(let when, _):
                conditions.append(when)
            case .deadline(let start, let satisfiedBy, _, _):
                conditions += [start, satisfiedBy]
            case .retention:
                break
            }
        }
        #expect(conditions.count >= 7)
        var held = 0, seen: Set<EventType> = []
        for line in EventGenerator(.init(events: 20_000, subjects: 300, seed: 5, months: 2, invalidRate: 0)) {
            guard case .success(let event) = decoder.decode(line) else { continue }
            seen.insert(event.type)
            for condition in conditions where condition.test(event) {
                held += 1
                #expect(condition.eventTypes & event.type.bit != 0, "\(condition) holds for \(event.type)")
            }
        }
        #expect(seen == Set(EventType.allCases))
        #expect(held > 1000)

        let engine = Engine(pipeline: pipeline)
        for type in EventType.allCases {
            let offered = engine.evaluatorsByType[Int(type.rawValue)].map(\.rule.id)
            let expected = engine.evaluators.filter { $0.eventTypes & type.bit != 0 }.map(\.rule.id)
            #expect(offered == expected, "rule order is kept for \(type)")
        }
        #expect(engine.evaluatorsByType[Int(EventType.consent.rawValue)].isEmpty)
        #expect(engine.evaluatorsByType[Int(EventType.access.rawValue)].count >= 5)
    }
}
