/// A small binary layout for stored state rows: a version byte, then fixed-width little-endian integers and UTF-8
/// strings after their length (4 bytes). Cheaper to write and read than JSON, for rows written at every checkpoint.
public enum StateBytes {
    public struct Writer {
        public private(set) var bytes: [UInt8]

        public init(version: UInt8, capacity: Int = 64) {
            bytes = []
            bytes.reserveCapacity(capacity)
            bytes.append(version)
        }

        public mutating func byte(_ value: UInt8) { bytes.append(value) }
        public mutating func int64(_ value: Int64) { withUnsafeBytes(of: value.littleEndian) { bytes.append(contentsOf: $0) } }
        public mutating func uint32(_ value: UInt32) { withUnsafeBytes(of: value.littleEndian) { bytes.append(contentsOf: $0) } }

        public mutating func string(_ value: String) {
            uint32(UInt32(value.utf8.count))
            bytes.append(contentsOf: value.utf8)
        }

        /// Bytes after their length, as `string` writes text.
        public mutating func blob(_ value: [UInt8]) {
            uint32(UInt32(value.count))
            bytes.append(contentsOf: value)
        }

        public mutating func bool(_ value: Bool) { byte(value ? 1 : 0) }

        /// A byte that says whether the text follows (1) or not (0), then the text.
        public mutating func optionalString(_ value: String?) {
            bool(value != nil)
            if let value { string(value) }
        }

        /// A byte that says whether the integer follows (1) or not (0), then the integer.
        public mutating func optionalInt64(_ value: Int64?) {
            bool(value != nil)
            if let value { int64(value) }
        }
    }

    /// Reads what a `Writer` wrote; each read is nil when the bytes end too early.
    public struct Reader {
        let bytes: [UInt8]
        var offset = 1

        /// Nil when the bytes do not start with `version`.
        public init?(_ bytes: [UInt8], version: UInt8) {
            guard bytes.first == version else { return nil }
            self.bytes = bytes
        }

        public var atEnd: Bool { offset == bytes.count }

        public mutating func byte() -> UInt8? {
            guard offset < bytes.count else { return nil }
            defer { offset += 1 }
            return bytes[offset]
        }

        public mutating func int64() -> Int64? { integer(Int64.self) }
        public mutating func uint32() -> UInt32? { integer(UInt32.self) }

        public mutating func string() -> String? {
            guard let length = uint32().map(Int.init), bytes.count - offset >= length else { return nil }
            defer { offset += length }
            return String(decoding: bytes[offset..<(offset + length)], as: UTF8.self)
        }

        public mutating func blob() -> [UInt8]? {
            guard let length = uint32().map(Int.init), bytes.count - offset >= length else { return nil }
            defer { offset += length }
            return Array(bytes[offset..<(offset + length)])
        }

        public mutating func bool() -> Bool? {
            switch byte() {
            case 0: false
            case 1: true
            default: nil
            }
        }

        /// What `optionalString` wrote: nil when the bytes are not that, `.some(nil)` for no text.
        public mutating func optionalString() -> String?? {
            guard let present = bool() else { return nil }
            guard present else { return .some(nil) }
            return string().map { .some($0) }
        }

        /// What `optionalInt64` wrote: nil when the bytes are not that, `.some(nil)` for no integer.
        public mutating func optionalInt64() -> Int64?? {
            guard let present = bool() else { return nil }
            guard present else { return .some(nil) }
            return int64().map { .some($0) }
        }

        private mutating func integer<T: FixedWidthInteger>(_: T.Type) -> T? {
            let size = MemoryLayout<T>.size
            guard bytes.count - offset >= size else { return nil }
            var value: T = 0
            for k in 0..<size { value |= T(truncatingIfNeeded: bytes[offset + k]) << (8 * k) }
            offset += size
            return value
        }
    }
}
