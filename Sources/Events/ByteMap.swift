/// An open-addressing hash map from byte strings to small non-negative integers.
///
/// Lookups hash and compare raw bytes, so a hit never builds a `String`. It backs the byte-keyed lookups of
/// `Taxonomy.Tree` (built once, then read-only) and of `SymbolTable` (behind its lock).
struct ByteMap: Sendable {
    private struct Slot {
        var hash: UInt64
        var offset: Int32
        var length: Int32
        /// -1 marks an empty slot.
        var value: Int32
        static let empty = Slot(hash: 0, offset: 0, length: 0, value: -1)
    }

    private var slots: [Slot]
    private var arena: [UInt8] = []
    private(set) var count = 0

    init(minimumCapacity: Int = 16) {
        var capacity = 16
        while capacity < minimumCapacity * 2 { capacity *= 2 }
        slots = Array(repeating: .empty, count: capacity)
    }

    /// The value stored for these bytes, if any.
    @inline(__always)
    func find(_ key: UnsafeRawBufferPointer) -> Int32? {
        let h = ByteMap.hash(key)
        return slots.withUnsafeBufferPointer { s in
            arena.withUnsafeBytes { a in
                let mask = s.count - 1
                var index = Int(truncatingIfNeeded: h) & mask
                while true {
                    let slot = s[index]
                    if slot.value < 0 { return nil }
                    if slot.hash == h, Int(slot.length) == key.count,
                       ByteMap.equal(UnsafeRawBufferPointer(rebasing: a[Int(slot.offset)..<Int(slot.offset + slot.length)]), key) {
                        return slot.value
                    }
                    index = (index + 1) & mask
                }
            }
        }
    }

    /// Stores `value` for the bytes, replacing an earlier value for the same bytes.
    mutating func insert(_ key: UnsafeRawBufferPointer, value: Int32) {
        precondition(value >= 0 && arena.count + key.count < Int(Int32.max), "ByteMap value or size out of range")
        if (count + 1) * 2 > slots.count { grow() }
        let h = ByteMap.hash(key)
        let mask = slots.count - 1
        var index = Int(truncatingIfNeeded: h) & mask
        while slots[index].value >= 0 {
            let slot = slots[index]
            if slot.hash == h, Int(slot.length) == key.count {
                let same = arena.withUnsafeBytes {
                    ByteMap.equal(UnsafeRawBufferPointer(rebasing: $0[Int(slot.offset)..<Int(slot.offset + slot.length)]), key)
                }
                if same { slots[index].value = value; return }
            }
            index = (index + 1) & mask
        }
        let offset = Int32(arena.count)
        arena.append(contentsOf: key)
        slots[index] = Slot(hash: h, offset: offset, length: Int32(key.count), value: value)
        count += 1
    }

    private mutating func grow() {
        let old = slots
        slots = Array(repeating: .empty, count: old.count * 2)
        let mask = slots.count - 1
        for slot in old where slot.value >= 0 {
            var index = Int(truncatingIfNeeded: slot.hash) & mask
            while slots[index].value >= 0 { index = (index + 1) & mask }
            slots[index] = slot
        }
    }

    @inline(__always)
    static func equal(_ a: UnsafeRawBufferPointer, _ b: UnsafeRawBufferPointer) -> Bool {
        let n = a.count
        guard n == b.count else { return false }
        var i = 0
        while i + 8 <= n {
            if a.loadUnaligned(fromByteOffset: i, as: UInt64.self) != b.loadUnaligned(fromByteOffset: i, as: UInt64.self) {
                return false
            }
            i += 8
        }
        if i < n && n >= 8 {
            return a.loadUnaligned(fromByteOffset: n - 8, as: UInt64.self) == b.loadUnaligned(fromByteOffset: n - 8, as: UInt64.self)
        }
        while i < n {
            if a[i] != b[i] { return false }
            i += 1
        }
        return true
    }

    /// A fast, well-mixed hash of a short byte string (process-local: it depends on byte order).
    @inline(__always)
    static func hash(_ p: UnsafeRawBufferPointer) -> UInt64 { ByteHash.hash(p, seed: 0x9E37_79B9_7F4A_7C15) }
}

/// A fast, well-mixed hash of short byte strings; process-local (it depends on byte order). A random `seed` keeps keys
/// from outside (event ids) from being chosen to collide.
public enum ByteHash {
    @inlinable
    public static func hash(_ p: UnsafeRawBufferPointer, seed: UInt64) -> UInt64 {
        let n = p.count
        var h: UInt64 = seed ^ UInt64(truncatingIfNeeded: n)
        var i = 0
        while i + 8 <= n {
            h = (h ^ p.loadUnaligned(fromByteOffset: i, as: UInt64.self)) &* 0xFF51_AFD7_ED55_8CCD
            h ^= h >> 32
            i += 8
        }
        if i < n {
            var w: UInt64 = 0
            if n >= 8 {
                // The last eight bytes, overlapping bytes already mixed in.
                w = p.loadUnaligned(fromByteOffset: n - 8, as: UInt64.self)
            } else {
                var shift: UInt64 = 0
                while i < n {
                    w |= UInt64(p[i]) << shift
                    shift += 8
                    i += 1
                }
            }
            h = (h ^ w) &* 0xC4CE_B9FE_1A85_EC53
        }
        h ^= h >> 33
        h = h &* 0xFF51_AFD7_ED55_8CCD
        h ^= h >> 33
        return h
    }
}