import Foundation
import Kafka
import Testing

/// Every test runs against its own librdkafka mock cluster, over TCP on loopback. Serialized: they are timing
/// sensitive (group joins, broker outages) and the machine is small.
@Suite("Kafka against the mock cluster", .serialized, .timeLimit(.minutes(1)))
struct KafkaTests {
    @Test("produce keyed messages and consume them all in a group")
    func roundTrip() async throws {
        let (cluster, topic) = try clusterWithTopic("round-trip", partitions: 4)
        let producer = try makeProducer(cluster)
        let count = 500
        let reports = try await produce(producer, topic: topic, 0..<count)
        let headers = [KafkaHeader(key: "origin", value: Array("test".utf8)), KafkaHeader(key: "empty", value: nil)]
        let withHeaders = try await producer.send(
            topic: topic, key: key(count), value: value(count), headers: headers)
        await producer.shutdown()
        #expect(Set(reports.values.map(\.partition)).count == 4)
        #expect(reports.values.allSatisfy { $0.topic == topic && $0.offset >= 0 })

        let consumer = try makeConsumer(cluster, group: unique("group"), topics: [topic])
        let recorder = Recorder(consumer)
        let seen = try await recorder.waitUntil("all messages") { $0.received.count >= count + 1 }
        try await recorder.shutdown()

        #expect(seen.received.count == count + 1)
        #expect(seen.received.isOrderedWithinPartitions)
        #expect(Set(seen.assignment.map(\.partition)) == [0, 1, 2, 3])
        for message in seen.received {
            let i = try #require(index(of: message))
            #expect(message.value == value(i))
            let report = i == count ? withHeaders : reports[i]
            #expect(message.partition == report?.partition && message.offset == report?.offset)
            #expect(message.timestampMilliseconds != nil)
        }
        let last = try #require(seen.received.first { index(of: $0) == count })
        #expect(last.headers == headers)
        #expect(Set(seen.receivedIndices) == Set(0...count))
    }

    @Test("a restarted consumer resumes at the committed offset")
    func resumeAtCommittedOffset() async throws {
        let (cluster, topic) = try clusterWithTopic("resume", partitions: 4)
        let producer = try makeProducer(cluster)
        let count = 400
        _ = try await produce(producer, topic: topic, 0..<count)
        await producer.shutdown()
        let group = unique("group")

        // The first consumer marks batches processed until 200 messages are, then only receives.
        let first = Recorder(try makeConsumer(cluster, group: group, topics: [topic])) { _, seen in
            seen.marked.count < 200
        }
        try await first.waitUntil("200 processed and more received") {
            $0.marked.count >= 200 && $0.received.count > $0.marked.count
        }
        try await first.shutdown()
        let before = first.snapshot
        var committed: [TopicPartition: Int64] = [:]
        for message in before.marked {
            committed[message.topicPartition] = max(committed[message.topicPartition] ?? 0, message.offset + 1)
        }
        let markedSet = Set(before.marked)
        let unmarked = before.received.filter { !markedSet.contains($0) }
        #expect(!unmarked.isEmpty)

        let second = Recorder(try makeConsumer(cluster, group: group, topics: [topic]))
        let markedIndices = Set(before.marked.compactMap(index(of:)))
        let after = try await second.waitUntil("the rest") {
            markedIndices.union($0.receivedIndices).count == count
        }
        // A repeated message, if any, arrives before its partition's marker.
        let final = try await second.waitForMarkers(cluster, topic: topic, partitions: 4)
        try await second.shutdown()

        // Nothing lost; nothing that was stored comes again; what was received but not stored comes again.
        #expect(markedIndices.isDisjoint(with: final.receivedIndices))
        #expect(Set(unmarked.compactMap(index(of:))).isSubset(of: Set(final.receivedIndices)))
        #expect(final.receivedIndices.count == Set(final.receivedIndices).count)
        #expect(markedIndices.count + final.receivedIndices.count == count)
        // Each partition resumes exactly at the committed offset.
        for partition in Set(after.received.map(\.topicPartition)) {
            let firstOffset = after.received.first { $0.topicPartition == partition }!.offset
            #expect(firstOffset == committed[partition] ?? 0, "partition \(partition)")
        }
    }

    @Test("two consumers split the partitions; one leaving loses nothing", arguments: ["range,roundrobin", "cooperative-sticky"])
    func twoConsumersRebalance(strategy: String) async throws {
        let (cluster, topic) = try clusterWithTopic("split", partitions: 4)
        let group = unique("group")
        let configure: (inout ConsumerConfiguration) -> Void = { $0.assignmentStrategy = strategy }
        // Slow processing, so batches are in flight when the partitions move.
        let one = Recorder(
            try makeConsumer(cluster, group: group, topics: [topic], configure: configure), processing: .milliseconds(150))
        let two = Recorder(
            try makeConsumer(cluster, group: group, topics: [topic], configure: configure), processing: .milliseconds(150))
        try await one.waitUntil("a shared assignment") { [two] mine in
            let theirs = two.snapshot.assignment
            return !mine.assignment.isEmpty && !theirs.isEmpty && mine.assignment.isDisjoint(with: theirs)
                && mine.assignment.union(theirs).count == 4
        }
        let producer = try makeProducer(cluster)
        _ = try await produce(producer, topic: topic, 0..<200)
        try await one.waitUntil("the first 200 across both") { [two] mine in
            Set(mine.receivedIndices + two.snapshot.receivedIndices).count == 200
        }
        let split = (one.snapshot, two.snapshot)
        #expect(!split.0.received.isEmpty && !split.1.received.isEmpty)
        #expect(split.0.received.allSatisfy { split.0.assignment.contains($0.topicPartition) })
        #expect(split.1.received.allSatisfy { split.1.assignment.contains($0.topicPartition) })

        // A backlog, then the second consumer leaves while batches are queued and in flight on both.
        _ = try await produce(producer, topic: topic, 200..<500)
        try await two.waitUntil("the backlog") { $0.receivedIndices.contains { $0 >= 200 } }
        let producing = Task { try await produce(producer, topic: topic, 500..<600) }
        try await two.shutdown()
        _ = try await producing.value
        await producer.shutdown()
        let all = try await one.waitUntil("the rest after the rebalance") { [two] mine in
            Set(mine.receivedIndices + two.snapshot.receivedIndices).count == 600
        }
        // Every partition is the first consumer's now: a repeat, if any, arrives before its partition's marker.
        let stayed = try await one.waitForMarkers(cluster, topic: topic, partitions: 4)
        let left = two.snapshot
        try await one.shutdown()

        #expect(all.assignment.count == 4)
        #expect(!left.revocations.isEmpty)
        // Every message received was processed before its partition moved, so none comes twice.
        let everything = stayed.receivedIndices + left.receivedIndices
        #expect(everything.count == 600)
        #expect(Set(everything).count == 600)
        #expect(stayed.received.isOrderedWithinPartitions && left.received.isOrderedWithinPartitions)
    }

    @Test("idempotent delivery under injected produce errors")
    func deliveryUnderProduceErrors() async throws {
        let (cluster, topic) = try clusterWithTopic("errors", partitions: 4)
        for partition in Int32(0)..<4 { try cluster.setPartitionLeader(topic: topic, partition: partition, broker: 1) }
        let producer = try makeProducer(cluster) { $0.linger = .milliseconds(1) }
        _ = try await producer.send(topic: topic, key: key(-1), value: value(-1), partition: 0)
        let injected: [KafkaError.Code] = [
            .notLeaderForPartition, .requestTimedOut, .notEnoughReplicas, .transport,
            .notLeaderForPartition, .requestTimedOut, .transport, .notEnoughReplicas,
        ]
        try cluster.pushRequestErrors(broker: 1, .produce, injected)
        #expect(try cluster.pendingRequestErrors(broker: 1, .produce) == injected.count)
        let count = 300
        let reports = try await produce(producer, topic: topic, 0..<count)
        #expect(reports.count == count)
        // Every injected error was met by a produce request (and retried: every message was delivered).
        #expect(try cluster.pendingRequestErrors(broker: 1, .produce) == 0)

        // A message to a partition that does not exist gets a failed report.
        await #expect(throws: KafkaError.self) {
            try await producer.send(topic: topic, key: nil, value: value(0), partition: 42)
        }
        await producer.shutdown()
        await #expect(throws: KafkaError.self) {
            try await producer.send(topic: topic, key: nil, value: value(0))
        }

        // No duplicates: each partition holds exactly the reported offsets, with no gaps.
        let admin = try Admin(configuration: .init(bootstrapServers: [cluster.bootstrapServers]))
        var total: Int64 = 0
        for partition in Int32(0)..<4 {
            let offsets = reports.values.filter { $0.partition == partition }.map(\.offset).sorted()
            let marks = try await admin.watermarks(topic: topic, partition: partition)
            let first: Int64 = partition == 0 ? 1 : 0
            #expect(offsets == Array(first..<(first + Int64(offsets.count))), "partition \(partition)")
            #expect(marks.high == first + Int64(offsets.count), "partition \(partition)")
            total += marks.count
        }
        #expect(total == Int64(count + 1))
    }

    @Test("a broker down and up during consumption loses nothing")
    func brokerOutage() async throws {
        let (cluster, topic) = try clusterWithTopic("outage", partitions: 4)
        // Broker 1 leads every partition, so the consumer is fetching from it when it goes down.
        for partition in Int32(0)..<4 { try cluster.setPartitionLeader(topic: topic, partition: partition, broker: 1) }
        let producer = try makeProducer(cluster)
        _ = try await produce(producer, topic: topic, 0..<200)
        let logs = LogCollector()
        let recorder = Recorder(try makeConsumer(cluster, group: unique("group"), topics: [topic]) {
            $0.logHandler = logs.handler
        })
        try await recorder.waitUntil("the first messages") { $0.received.count >= 50 }

        try cluster.setRoundTripTime(broker: 2, .milliseconds(50))
        try cluster.setBrokerDown(1)
        let producing = Task { try await produce(producer, topic: topic, 200..<500) }
        try await Task.sleep(for: .seconds(2))
        try cluster.setBrokerUp(1)
        _ = try await producing.value
        await producer.shutdown()

        let seen = try await recorder.waitUntil("every message") { Set($0.receivedIndices).count == 500 }
        try await recorder.shutdown()
        let outage = logs.count(containing: "/1: Disconnected") + logs.count(containing: "/1: Connect to")
            + logs.count(containing: "/1: Receive failed") + logs.count(containing: "/1: Connection refused")
        #expect(outage >= 1, "the consumer saw broker 1 go")
        #expect(seen.received.isOrderedWithinPartitions)
        for message in seen.received {
            #expect(index(of: message).map(value) == message.value)
        }
    }

    @Test("kcat produces, we consume; we produce, kcat consumes")
    func kcatInteroperability() async throws {
        let cluster = try MockCluster(brokers: 3, logHandler: testLog)
        let inbound = unique("from-kcat")
        let outbound = unique("to-kcat")
        try cluster.createTopic(inbound, partitions: 2)
        try cluster.createTopic(outbound, partitions: 2)

        let lines = (0..<100).map { "key-\($0):value-\($0)" }.joined(separator: "\n") + "\n"
        _ = try runKcat(["-b", cluster.bootstrapServers, "-P", "-t", inbound, "-K:"], input: lines)
        let recorder = Recorder(try makeConsumer(cluster, group: unique("group"), topics: [inbound]))
        let seen = try await recorder.waitUntil("kcat's messages") { $0.received.count >= 100 }
        try await recorder.shutdown()
        #expect(Set(seen.receivedIndices) == Set(0..<100))
        #expect(seen.received.allSatisfy { index(of: $0).map(value) == $0.value })

        let producer = try makeProducer(cluster)
        let reports = try await produce(producer, topic: outbound, 0..<100)
        await producer.shutdown()
        let output = try runKcat([
            "-b", cluster.bootstrapServers, "-C", "-t", outbound, "-o", "beginning", "-e", "-q",
            "-f", "%p|%o|%k|%s\\n",
        ])
        let rows = output.split(separator: "\n").map { $0.split(separator: "|", omittingEmptySubsequences: false) }
        #expect(rows.count == 100)
        for row in rows {
            try #require(row.count == 4)
            let i = try #require(Int(row[2].dropFirst(4)))
            #expect(row[3] == "value-\(i)")
            #expect(Int32(row[0]) == reports[i]?.partition && Int64(row[1]) == reports[i]?.offset)
        }
    }

    @Test("admin lists metadata; CreateTopics is refused by the mock cluster")
    func adminMetadata() async throws {
        let (cluster, topic) = try clusterWithTopic("admin", partitions: 6)
        var configuration = AdminConfiguration(bootstrapServers: [cluster.bootstrapServers])
        configuration.logHandler = testLog
        let admin = try Admin(configuration: configuration)

        let metadata = try await admin.metadata()
        #expect(metadata.brokers.map(\.id) == [1, 2, 3])
        let addresses = Set(metadata.brokers.map { "\($0.host):\($0.port)" })
        #expect(addresses == Set(cluster.bootstrapServers.split(separator: ",").map(String.init)))
        let described = try #require(metadata.topic(topic))
        #expect(described.error == nil)
        #expect(described.partitions.map(\.id) == Array(0..<6))
        #expect(described.partitions.allSatisfy { (1...3).contains($0.leader) && $0.replicas.contains($0.leader) })
        let only = try await admin.metadata(topics: [topic, "no-such-topic"])
        #expect(only.topics.map(\.name) == [topic])

        // Bad input is refused before any request.
        let started = ContinuousClock.now
        let refused = await #expect(throws: KafkaError.self) {
            try await admin.createTopics([NewTopic(name: unique("bad"), partitions: 0)])
        }
        #expect(refused?.code == .invalidArgument)
        #expect(ContinuousClock.now - started < .seconds(1))
        // librdkafka 2.0.2's mock brokers name no controller, so CreateTopics fails (within its timeout).
        let error = await #expect(throws: KafkaError.self) {
            try await admin.createTopics([NewTopic(name: unique("created"), partitions: 3)], timeout: .seconds(2))
        }
        #expect(error?.code == .timedOut)
        #expect(ContinuousClock.now - started < .seconds(6))
    }

    @Test("seek on assignment starts partitions where the caller says; pause holds them")
    func seekOnAssignmentAndPause() async throws {
        let (cluster, topic) = try clusterWithTopic("seek", partitions: 2)
        let producer = try makeProducer(cluster)
        let reports = try await produce(producer, topic: topic, 0..<100)
        let start: [Int32: Int64] = [0: 10, 1: 20]
        let recorder = Recorder(try makeConsumer(cluster, group: unique("group"), topics: [topic]), onAssigned: { consumer, change in
            try await consumer.seek(change.partitions.map { TopicPartitionOffset($0, offset: start[$0.partition]!) })
        })
        let expected = reports.values.filter { $0.offset >= start[$0.partition]! }.count
        let seen = try await recorder.waitUntil("messages from the sought offsets") { $0.received.count >= expected }
        for partition in Int32(0)..<2 {
            let offsets = seen.received.filter { $0.partition == partition }.map(\.offset)
            #expect(offsets.first == start[partition])
        }

        let assigned = Array(seen.assignment)
        try await recorder.consumer.pause(assigned)
        // A consumer of another group, not paused, is the control: once it has the new messages, the paused one
        // would have had them too.
        let control = Recorder(try makeConsumer(cluster, group: unique("control"), topics: [topic]))
        _ = try await produce(producer, topic: topic, 100..<150)
        try await control.waitUntil("the new messages at the control") { $0.receivedIndices.filter { $0 >= 100 }.count == 50 }
        try await control.shutdown()
        #expect(recorder.snapshot.received.count == expected)
        try await recorder.consumer.resume(assigned)
        try await recorder.waitUntil("the messages held while paused") { $0.received.count == expected + 50 }
        await producer.shutdown()
        try await recorder.shutdown()
    }

    @Test("a reader that waits idleInterval without an event gets .idle; messages still come in order")
    func idleEvents() async throws {
        let (cluster, topic) = try clusterWithTopic("idle", partitions: 2)
        let consumer = try makeConsumer(cluster, group: unique("idle"), topics: [topic]) { $0.idleInterval = .milliseconds(200) }
        var idles = 0
        var assigned = false
        var received: [Int] = []
        var produced = false
        let started = ContinuousClock.now
        for try await event in consumer.events {
            switch event {
            case .assigned: assigned = true
            case .revoked: break
            case .idle: idles += 1
            case .messages(let batch):
                received += batch.messages.compactMap(index(of:))
                try consumer.markProcessed(batch)
            }
            if assigned, idles >= 3, !produced {
                let producer = try makeProducer(cluster)
                _ = try await produce(producer, topic: topic, 0..<20)
                await producer.shutdown()
                produced = true
            }
            if received.count == 20 || ContinuousClock.now - started > .seconds(30) { break }
        }
        await consumer.shutdown()
        #expect(idles >= 3, "idle events while the topic is empty")
        #expect(Set(received) == Set(0..<20), "every message after the idle events")
    }

}

/// Runs /usr/bin/kcat and returns its standard output; throws when it fails or takes over 20 seconds.
func runKcat(_ arguments: [String], input: String? = nil) throws -> String {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: "/usr/bin/kcat")
    process.arguments = arguments
    let output = Pipe()
    let errors = Pipe()
    let stdin = Pipe()
    process.standardOutput = output
    process.standardError = errors
    process.standardInput = stdin
    try process.run()
    if let input { stdin.fileHandleForWriting.write(Data(input.utf8)) }
    try stdin.fileHandleForWriting.close()
    let killer = DispatchWorkItem { if process.isRunning { process.terminate() } }
    DispatchQueue.global().asyncAfter(deadline: .now() + 20, execute: killer)
    let data = output.fileHandleForReading.readDataToEndOfFile()
    let errorText = String(decoding: errors.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
    process.waitUntilExit()
    killer.cancel()
    guard process.terminationStatus == 0 else {
        throw TestTimeout(description: "kcat \(arguments.joined(separator: " ")) exited \(process.terminationStatus): \(errorText)")
    }
    return String(decoding: data, as: UTF8.self)
}
