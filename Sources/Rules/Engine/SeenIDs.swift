import Events
import Foundation

/// The event ids a `DedupWindow` remembers, each with the time it was last inserted: an open-addressing table that
/// keeps every id's hash beside it, so that removing an id moves its neighbours without hashing them again (the
/// standard dictionary hashes each element it moves back, which made a sweep cost more than the inserts).
///
/// Hashes are seeded per process, so that ids chosen to collide cannot be prepared in advance; nothing is ever
/// iterated in table order, so the seed changes no output.
final class SeenIDs {
    /// Hash 0 marks an empty slot; an id's hash is never 0.
    private var hashes: UnsafeMutablePointer<UInt64>
    private var times: UnsafeMutablePointer<Int64>
    /// Initialized exactly where the hash is not 0.
    private var ids: UnsafeMutablePointer<String>
    private var capacity: Int
    private(set) var count = 0

    private static let seed = UInt64.random(in: 1...UInt64.max)

    init(capacity: Int = 1024) {
        var c = 16
        while c < capacity { c *= 2 }
        self.capacity = c
        hashes = .allocate(capacity: c)
        hashes.initialize(repeating: 0, count: c)
        times = .allocate(capacity: c)
        times.initialize(repeating: 0, count: c)
        ids = .allocate(capacity: c)
    }

    deinit {
        for i in 0..<capacity where hashes[i] != 0 { (ids + i).deinitialize(count: 1) }
        hashes.deallocate()
        times.deallocate()
        ids.deallocate()
    }

    /// The hash an id is filed under (and that a sweep passes to `removeStale`).
    /// Ids are equal as Swift strings are (canonical equivalence, as the dictionary before): an id that is not ASCII
    /// is hashed in its precomposed form, so that equal ids spelled with different bytes share a hash.
    static func hash(_ id: String) -> UInt64 {
        var id = id
        var h = id.withUTF8 { b in b.allSatisfy { $0 < 0x80 } ? ByteHash.hash(UnsafeRawBufferPointer(b), seed: seed) : 0 }
        if h == 0 {
            var canonical = id.precomposedStringWithCanonicalMapping
            h = canonical.withUTF8 { ByteHash.hash(UnsafeRawBufferPointer($0), seed: seed ^ 1) }
        }
        return h == 0 ? 1 : h
    }

    /// Files the id at `time` unless it is there with a time at or after `horizon`; false when it is. An id whose
    /// time fell behind the horizon takes the new time.
    func insert(_ id: String, hash h: UInt64, time: Timestamp, horizon: Timestamp) -> Bool {
        let (i, found) = slot(of: id, hash: h)
        if found {
            guard times[i] < horizon.microseconds else { return false }
            times[i] = time.microseconds
        } else {
            fill(i, id, hash: h, time: time)
        }
        return true
    }

    /// Files the id at `time`, replacing any time it had (ids loaded from a store).
    func set(_ id: String, time: Timestamp) {
        let h = Self.hash(id)
        let (i, found) = slot(of: id, hash: h)
        if found { times[i] = time.microseconds } else { fill(i, id, hash: h, time: time) }
    }

    /// The time the id was last filed at.
    func time(of id: String) -> Timestamp? {
        let (i, found) = slot(of: id, hash: Self.hash(id))
        return found ? Timestamp(microseconds: times[i]) : nil
    }

    /// The slot holding the id, or else the empty slot where it goes.
    @inline(__always)
    private func slot(of id: String, hash h: UInt64) -> (Int, found: Bool) {
        let mask = capacity - 1
        var i = Int(truncatingIfNeeded: h) & mask
        while hashes[i] != 0 {
            if hashes[i] == h, ids[i] == id { return (i, true) }
            i = (i + 1) & mask
        }
        return (i, false)
    }

    private func fill(_ i: Int, _ id: String, hash h: UInt64, time: Timestamp) {
        hashes[i] = h
        times[i] = time.microseconds
        (ids + i).initialize(to: id)
        count += 1
        if count * 2 > capacity { grow() }
    }

    /// Removes the ids with this hash whose time is before `horizon`. An id behind the horizon counts as absent for
    /// `insert` already, so removing one is never seen, whichever of the ids sharing a hash a sweep meant.
    func removeStale(hash h: UInt64, before horizon: Timestamp) {
        let mask = capacity - 1
        var i = Int(truncatingIfNeeded: h) & mask
        while hashes[i] != 0 {
            if hashes[i] == h, times[i] < horizon.microseconds {
                remove(at: i)
                // The slot now holds a neighbour moved back, or is empty: look at it again.
                continue
            }
            i = (i + 1) & mask
        }
    }

    /// Empties slot `i`, moving back the entries after it that would no longer be found (backward-shift deletion).
    private func remove(at slot: Int) {
        let mask = capacity - 1
        var hole = slot
        (ids + hole).deinitialize(count: 1)
        var j = hole
        while true {
            j = (j + 1) & mask
            let h = hashes[j]
            if h == 0 { break }
            let home = Int(truncatingIfNeeded: h) & mask
            // The entry at j may move to the hole unless its home lies cyclically in (hole, j].
            let stays = hole <= j ? (hole < home && home <= j) : (hole < home || home <= j)
            if stays { continue }
            hashes[hole] = h
            times[hole] = times[j]
            (ids + hole).moveInitialize(from: ids + j, count: 1)
            hole = j
        }
        hashes[hole] = 0
        count -= 1
    }

    private func grow() {
        let oldCapacity = capacity, oldHashes = hashes, oldTimes = times, oldIDs = ids
        capacity *= 2
        hashes = .allocate(capacity: capacity)
        hashes.initialize(repeating: 0, count: capacity)
        times = .allocate(capacity: capacity)
        times.initialize(repeating: 0, count: capacity)
        ids = .allocate(capacity: capacity)
        let mask = capacity - 1
        for k in 0..<oldCapacity where oldHashes[k] != 0 {
            var i = Int(truncatingIfNeeded: oldHashes[k]) & mask
            while hashes[i] != 0 { i = (i + 1) & mask }
            hashes[i] = oldHashes[k]
            times[i] = oldTimes[k]
            (ids + i).moveInitialize(from: oldIDs + k, count: 1)
        }
        oldHashes.deallocate()
        oldTimes.deallocate()
        oldIDs.deallocate()
    }
}
