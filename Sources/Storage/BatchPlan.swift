/// A `BatchCommit` checked and reduced to what each backend writes: partitions in a fixed order (so that two
/// instances lock them in the same order), and at most one change per state key.
struct BatchPlan {
    struct Partition {
        var id: PartitionID
        var fence: PartitionCommit
        var changes: StateChanges
    }

    var partitions: [Partition]
    var global: StateChanges
    var outbox: [OutboxRow]
    var alerts: [AlertRow]

    init(_ batch: BatchCommit) throws(StorageError) {
        for id in batch.state.keys where batch.claims[id] == nil {
            throw StorageError(.invalidArgument, "state for partition \(id) without its claim in the same commit")
        }
        partitions = batch.claims.keys.sorted().map { id in
            Partition(id: id, fence: batch.claims[id]!, changes: StateChanges(batch.state[id] ?? []))
        }
        global = StateChanges(batch.global)
        outbox = batch.outbox
        alerts = batch.alerts
    }
}

/// State rows reduced to the last change of each (namespace, key): upserts and deletes.
struct StateChanges {
    var upserts: [(namespace: String, key: String, value: [UInt8])] = []
    var deletes: [(namespace: String, key: String)] = []

    var isEmpty: Bool { upserts.isEmpty && deletes.isEmpty }

    init(_ rows: [StateRow]) {
        struct Key: Hashable { var namespace: String; var key: String }
        var last: [Key: Int] = [:]
        for (index, row) in rows.enumerated() { last[Key(namespace: row.namespace, key: row.key)] = index }
        for (index, row) in rows.enumerated() where last[Key(namespace: row.namespace, key: row.key)] == index {
            if let value = row.value {
                upserts.append((row.namespace, row.key, value))
            } else {
                deletes.append((row.namespace, row.key))
            }
        }
    }
}

/// Outbox headers as one blob: per header, the key's length (4 bytes, big-endian) and UTF-8 bytes, then 0xFFFFFFFF
/// for no value or the value's length and bytes.
enum HeaderCoding {
    static func encode(_ headers: [OutboxHeader]) -> [UInt8] {
        var bytes: [UInt8] = []
        func put(_ count: Int) {
            let n = UInt32(truncatingIfNeeded: count)
            bytes += [UInt8(n >> 24), UInt8((n >> 16) & 0xFF), UInt8((n >> 8) & 0xFF), UInt8(n & 0xFF)]
        }
        for header in headers {
            let key = Array(header.key.utf8)
            put(key.count)
            bytes += key
            if let value = header.value {
                put(value.count)
                bytes += value
            } else {
                bytes += [0xFF, 0xFF, 0xFF, 0xFF]
            }
        }
        return bytes
    }

    static func decode(_ bytes: [UInt8]) throws(StorageError) -> [OutboxHeader] {
        var headers: [OutboxHeader] = []
        var index = 0
        func take() throws(StorageError) -> UInt32 {
            guard index + 4 <= bytes.count else { throw StorageError(.schema, "corrupt outbox headers") }
            defer { index += 4 }
            return UInt32(bytes[index]) << 24 | UInt32(bytes[index + 1]) << 16 | UInt32(bytes[index + 2]) << 8
                | UInt32(bytes[index + 3])
        }
        func slice(_ count: UInt32) throws(StorageError) -> [UInt8] {
            guard count <= bytes.count - index else { throw StorageError(.schema, "corrupt outbox headers") }
            defer { index += Int(count) }
            return Array(bytes[index..<index + Int(count)])
        }
        while index < bytes.count {
            let key = String(decoding: try slice(try take()), as: UTF8.self)
            let length = try take()
            headers.append(OutboxHeader(key: key, value: length == 0xFFFF_FFFF ? nil : try slice(length)))
        }
        return headers
    }
}
