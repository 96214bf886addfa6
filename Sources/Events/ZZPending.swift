public struct DeadLetterReason: RawRepresentable, Hashable, Sendable { public let rawValue: String; public init(rawValue: String) { self.rawValue = rawValue } }
public struct DecodeError: Error, Sendable { public var reason: DeadLetterReason; public var message: String }
public struct EventDecoder: Sendable { public init(taxonomy: Taxonomy) {}; public func decode(_ bytes: UnsafeRawBufferPointer) -> Result<Event, DecodeError> { .failure(DecodeError(reason: .init(rawValue: "x"), message: "")) } }
