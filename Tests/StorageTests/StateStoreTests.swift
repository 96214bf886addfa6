import Foundation
import Testing

@testable import Storage

@Suite("State store, on both backends")
struct StateStoreTests {
    @Test(arguments: Backend.allCases)
    func claimOnAnEmptyStore(_ backend: Backend) async throws {
        try await withLocation(backend) { location in
            try await location.withStore { store in
                let first = try await store.claim(events0, pipeline: "p")
                #expect(first == PartitionClaim(partition: events0, nextOffset: nil, epoch: 1, state: []))
                let second = try await store.claim(events0, pipeline: "p")
                #expect(second.epoch == 2)
                #expect(second.nextOffset == nil)
                #expect(try await store.outboxDepth() == 0)
                #expect(try await store.unsentOutbox(limit: 10).isEmpty)
                #expect(try await store.loadGlobal(namespace: "digests").isEmpty)
            }
        }
    }

    @Test(arguments: Backend.allCases)
    func commitThenReclaimAfterReopening(_ backend: Backend) async throws {
        try await withLocation(backend) { location in
            let headers = [OutboxHeader(key: "reason", value: bytes("bad_time")), OutboxHeader(key: "empty", value: [])]
            let written = [
                OutboxRow(
                    id: "dl-1", kind: "dead_letter", topic: "dead", key: nil, value: [0, 255, 1], headers: headers),
                OutboxRow(
                    id: "v-1", kind: "violation", topic: "violations", key: bytes("s1"), value: bytes("{}"),
                    headers: [OutboxHeader(key: "none", value: nil)]),
            ]
            try await location.withStore { store in
                let claim = try await store.claim(events0, pipeline: "p")
                try await store.commit(
                    BatchCommit(
                        claims: [events0: PartitionCommit(expectedOffset: nil, epoch: claim.epoch, nextOffset: 100)],
                        state: [
                            events0: [
                                row("timers", "s1", "t1"), row("consent", "s2", "granted"), row("consent", "s1", ""),
                                StateRow(namespace: "bin", key: "k", value: [0, 1, 2, 255]),
                            ]
                        ],
                        outbox: written,
                        global: [row("digests", "2024-01", "done")]),
                    pipeline: "p")
            }
            try await location.withStore { store in
                let claim = try await store.claim(events0, pipeline: "p")
                #expect(claim.epoch == 2)
                #expect(claim.nextOffset == 100)
                #expect(
                    claim.state == [
                        StateRow(namespace: "bin", key: "k", value: [0, 1, 2, 255]),
                        row("consent", "s1", ""), row("consent", "s2", "granted"), row("timers", "s1", "t1"),
                    ])
                #expect(try await store.unsentOutbox(limit: 10) == written)
                #expect(try await store.outboxDepth() == 2)
                #expect(try await store.loadGlobal(namespace: "digests") == [row("digests", "2024-01", "done")])
                // Another partition and another pipeline see nothing of it.
                #expect(try await store.claim(events1, pipeline: "p").state.isEmpty)
                let other = try await store.claim(events0, pipeline: "q")
                #expect(other.state.isEmpty && other.nextOffset == nil && other.epoch == 1)
            }
        }
    }

    @Test(arguments: Backend.allCases)
    func deleteRows(_ backend: Backend) async throws {
        try await withLocation(backend) { location in
            try await location.withStore { store in
                let epoch = try await store.claim(events0, pipeline: "p").epoch
                try await store.commit(
                    BatchCommit(
                        claims: [events0: PartitionCommit(expectedOffset: nil, epoch: epoch, nextOffset: 10)],
                        state: [events0: [row("n", "a", "1"), row("n", "b", "2"), row("n", "c", "3")]],
                        global: [row("g", "x", "1"), row("g", "y", "2")]),
                    pipeline: "p")
                try await store.commit(
                    BatchCommit(
                        claims: [events0: PartitionCommit(expectedOffset: 10, epoch: epoch, nextOffset: 20)],
                        state: [
                            events0: [
                                row("n", "b", nil),  // delete
                                row("n", "missing", nil),  // deleting nothing is fine
                                row("n", "d", "4"), row("n", "d", nil),  // upsert then delete: gone
                                row("n", "a", nil), row("n", "a", "1b"),  // delete then upsert: there
                                row("n", "c", "3b"),  // overwrite
                            ]
                        ],
                        global: [row("g", "x", nil)]),
                    pipeline: "p")
                let claim = try await store.claim(events0, pipeline: "p")
                #expect(claim.nextOffset == 20)
                #expect(claim.state == [row("n", "a", "1b"), row("n", "c", "3b")])
                #expect(try await store.loadGlobal(namespace: "g") == [row("g", "y", "2")])
                #expect(try await store.loadGlobal(namespace: "g", key: "y") == bytes("2"))
                #expect(try await store.loadGlobal(namespace: "g", key: "x") == nil)
                #expect(try await store.loadGlobal(namespace: "other", key: "y") == nil)
            }
        }
    }

    /// Keys whose byte order differs from `String` order and from a locale's: upper case before lower case, a
    /// precomposed é (C3 A9) after every ASCII letter.
    @Test(arguments: Backend.allCases)
    func aNamespaceIsReadPageByPageInByteOrder(_ backend: Backend) async throws {
        try await withLocation(backend) { location in
            try await location.withStore { store in
                let keys = ["b", "B", "a", "é", "e", "Z", "a1", "ab"]
                try await store.commit(
                    BatchCommit(global: keys.map { row("pages", $0, "v" + $0) } + [row("other", "a0", "x")]), pipeline: "p")
                var read: [StateRow] = []
                var after: String?
                var pages = 0
                while true {
                    let page = try await store.loadGlobal(namespace: "pages", after: after, limit: 3)
                    read += page
                    pages += 1
                    guard page.count == 3, let last = page.last else { break }
                    after = last.key
                }
                let expected = keys.sorted { $0.utf8.lexicographicallyPrecedes($1.utf8) }
                #expect(read.map(\.key) == expected)
                #expect(read.map(\.key) == ["B", "Z", "a", "a1", "ab", "b", "e", "é"])
                #expect(read.first == row("pages", "B", "vB"))
                #expect(pages == 3)
                #expect(try await store.loadGlobal(namespace: "pages", after: "é", limit: 3).isEmpty)
            }
        }
    }

    @Test(arguments: Backend.allCases)
    func outboxInsertOrIgnoreOrderAndSent(_ backend: Backend) async throws {
        try await withLocation(backend) { location in
            try await location.withStore { store in
                try await store.commit(BatchCommit(outbox: [outbox("a"), outbox("b"), outbox("a", value: "dup")]), pipeline: "p")
                try await store.commit(BatchCommit(outbox: [outbox("c"), outbox("b", value: "dup")]), pipeline: "p")
                #expect(try await store.outboxDepth() == 3)
                #expect(try await store.unsentOutbox(limit: 10).map(\.id) == ["a", "b", "c"])
                #expect(try await store.unsentOutbox(limit: 10).map(\.value) == [bytes("v"), bytes("v"), bytes("v")])
                #expect(try await store.unsentOutbox(limit: 2).map(\.id) == ["a", "b"])

                try await store.markSent(["a", "unknown"])
                try await store.markSent([])
                #expect(try await store.outboxDepth() == 2)
                #expect(try await store.unsentOutbox(limit: 10).map(\.id) == ["b", "c"])

                // A sent id is still known: re-inserting it (a re-processed batch) is ignored.
                try await store.commit(BatchCommit(outbox: [outbox("a", value: "again"), outbox("d")]), pipeline: "p")
                #expect(try await store.unsentOutbox(limit: 10).map(\.id) == ["b", "c", "d"])

                // Marking twice keeps the first time; pruning forgets sent ids.
                try await store.markSent(["b"])
                try await store.markSent(["b"])
                #expect(try await store.pruneSent(before: Date(timeIntervalSinceNow: -3600)) == 0)
                #expect(try await store.pruneSent(before: Date(timeIntervalSinceNow: 3600)) == 2)
                try await store.commit(BatchCommit(outbox: [outbox("a", value: "after prune")]), pipeline: "p")
                let unsent = try await store.unsentOutbox(limit: 10)
                #expect(unsent.map(\.id) == ["c", "d", "a"])
                #expect(unsent.last?.value == bytes("after prune"))
                #expect(try await store.outboxDepth() == 3)
            }
        }
    }

    @Test(arguments: Backend.allCases)
    func instancesLeaseDifferentOutboxRowsUntilTheLeaseEnds(_ backend: Backend) async throws {
        try await withLocation(backend) { location in
            let a = try await location.open()
            let b = try await location.open()
            try await a.commit(BatchCommit(outbox: ["r1", "r2", "r3", "r4"].map { outbox($0) }), pipeline: "p")

            #expect(try await a.leaseOutbox(limit: 2, owner: "a", for: .seconds(60)).map(\.id) == ["r1", "r2"])
            #expect(try await b.leaseOutbox(limit: 10, owner: "b", for: .seconds(1)).map(\.id) == ["r3", "r4"])
            #expect(try await b.leaseOutbox(limit: 10, owner: "c", for: .seconds(60)).isEmpty, "every row is held")
            // An owner takes its own rows again (a failed round is retried by whoever leased it).
            #expect(try await a.leaseOutbox(limit: 10, owner: "a", for: .seconds(60)).map(\.id) == ["r1", "r2"])
            #expect(try await a.unsentOutbox(limit: 10).count == 4, "leased rows are still unsent")

            // b dies holding r3 and r4: once its lease ends, another instance takes them.
            try await Task.sleep(for: .milliseconds(1_500))
            #expect(try await a.leaseOutbox(limit: 10, owner: "a", for: .seconds(60)).map(\.id) == ["r1", "r2", "r3", "r4"])

            try await a.markSent(["r1", "r2", "r3"])
            #expect(try await b.leaseOutbox(limit: 10, owner: "b", for: .seconds(60)).isEmpty, "r4 is held by a")
            #expect(try await a.leaseOutbox(limit: 10, owner: "a", for: .seconds(60)).map(\.id) == ["r4"])
            #expect(try await a.outboxDepth() == 1)
            await a.close()
            await b.close()
        }
    }

    @Test(arguments: Backend.allCases)
    func commitsHandTheRowsTheyInsertToTheLocalPublisherLeased(_ backend: Backend) async throws {
        try await withLocation(backend) { location in
            let store = try await location.open()
            let signal = store.outboxSignal
            let handOver = OutboxSignal.HandOver(owner: "p/handed-over", lease: .seconds(60), capacity: 3)
            try await store.commit(BatchCommit(outbox: [outbox("before")]), pipeline: "p")
            #expect(signal.takeHandedOver().isEmpty, "no publisher took hand-overs yet")

            signal.accept(handOver)
            try await store.commit(BatchCommit(outbox: [outbox("a"), outbox("b")]), pipeline: "p")
            // "b" again is ignored (stored already), and so is "c"'s second row in the same batch.
            try await store.commit(BatchCommit(outbox: [outbox("b"), outbox("c"), outbox("c", value: "other")]), pipeline: "p")
            let handed = signal.takeHandedOver().flatMap(\.rows)
            #expect(handed.map(\.id) == ["a", "b", "c"])
            #expect(handed.map(\.row.value) == [bytes("v"), bytes("v"), bytes("v")])
            #expect(handed.map(\.seq) == handed.map(\.seq).sorted() && Set(handed.map(\.seq)).count == 3)
            #expect(signal.takeHandedOver().isEmpty, "taken once")

            // The publisher's own lease rounds (another owner) leave handed-over rows alone; a free row is theirs.
            #expect(try await store.leaseOutbox(limit: 10, owner: "p", for: .seconds(60)).map(\.id) == ["before"])
            #expect(try await store.unsentOutbox(limit: 10).map(\.id) == ["before", "a", "b", "c"])

            try await store.markSent(seqs: [handed[0].seq, handed[2].seq, 999_999])
            #expect(try await store.unsentOutbox(limit: 10).map(\.id) == ["before", "b"])
            try await store.markSent(seqs: [])

            // At capacity, commits store their rows free, for lease rounds.
            try await store.commit(BatchCommit(outbox: [outbox("d"), outbox("e"), outbox("f")]), pipeline: "p")
            try await store.commit(BatchCommit(outbox: [outbox("g")]), pipeline: "p")
            let def = signal.takeHandedOver().flatMap(\.rows)
            #expect(def.map(\.id) == ["d", "e", "f"])
            #expect(try await store.leaseOutbox(limit: 10, owner: "other", for: .seconds(60)).map(\.id) == ["g"])
            // A run of consecutive seqs and a gap: "e" stays unsent.
            try await store.markSent(seqs: [def[2].seq, def[0].seq])
            #expect(try await store.unsentOutbox(limit: 10).map(\.id) == ["before", "b", "e", "g"])
            try await store.markSent(seqs: [def[1].seq, def[0].seq])
            #expect(try await store.unsentOutbox(limit: 10).map(\.id) == ["before", "b", "g"])

            // A publisher that leaves refuses hand-overs: rows are stored free again.
            try await store.commit(BatchCommit(outbox: [outbox("h")]), pipeline: "p")
            #expect(signal.refuse().flatMap(\.rows).map(\.id) == ["h"])
            try await store.commit(BatchCommit(outbox: [outbox("i")]), pipeline: "p")
            #expect(signal.takeHandedOver().isEmpty)
            #expect(try await store.leaseOutbox(limit: 10, owner: "other", for: .seconds(60)).map(\.id) == ["g", "i"])

            // A hand-over's lease ends like any other: then a lease round takes its rows.
            signal.accept(OutboxSignal.HandOver(owner: "p/handed-over", lease: .milliseconds(500), capacity: 10))
            try await store.commit(BatchCommit(outbox: [outbox("j")]), pipeline: "p")
            #expect(signal.takeHandedOver().flatMap(\.rows).map(\.id) == ["j"])
            #expect(try await store.leaseOutbox(limit: 10, owner: "late", for: .seconds(60)).isEmpty)
            try await Task.sleep(for: .milliseconds(1_200))
            #expect(try await store.leaseOutbox(limit: 10, owner: "late", for: .seconds(60)).map(\.id) == ["j"])
            await store.close()
        }
    }

    @Test func seqsAreMarkedByRunsOfConsecutiveNumbers() {
        #expect(SQLiteStateStore.runs(of: [5, 3, 4, 9, 1, 1, 10]) == [1...1, 3...5, 9...10])
        #expect(SQLiteStateStore.runs(of: []).isEmpty)
    }

    @Test(arguments: Backend.allCases)
    func concurrentLeasesNeverHandOneRowToTwoOwners(_ backend: Backend) async throws {
        try await withLocation(backend) { location in
            let stores = [try await location.open(), try await location.open(), try await location.open()]
            let ids = (0..<300).map { "row-\($0)" }
            try await stores[0].commit(BatchCommit(outbox: ids.map { outbox($0) }), pipeline: "p")
            let taken = try await withThrowingTaskGroup(of: [String].self) { group in
                for (index, store) in stores.enumerated() {
                    group.addTask {
                        // As publishers do: lease a round, publish it, mark it sent.
                        var mine: [String] = []
                        while true {
                            let rows = try await store.leaseOutbox(limit: 7, owner: "owner-\(index)", for: .seconds(60))
                            if rows.isEmpty { return mine }
                            mine += rows.map(\.id)
                            try await store.markSent(rows.map(\.id))
                        }
                    }
                }
                return try await group.reduce(into: [String]()) { $0 += $1 }
            }
            #expect(taken.count == ids.count, "no row went to two owners")
            #expect(Set(taken) == Set(ids), "every row went to someone")
            for store in stores { await store.close() }
        }
    }

    @Test(arguments: Backend.allCases)
    func aNewOwnerFencesOutTheOldOne(_ backend: Backend) async throws {
        try await withLocation(backend) { location in
            let a = try await location.open()
            let b = try await location.open()

            let claimA = try await a.claim(events0, pipeline: "p")
            try await a.commit(
                BatchCommit(
                    claims: [events0: PartitionCommit(expectedOffset: nil, epoch: claimA.epoch, nextOffset: 10)],
                    state: [events0: [row("n", "k", "from A")]]),
                pipeline: "p")

            let claimB = try await b.claim(events0, pipeline: "p")
            #expect(claimB.epoch == claimA.epoch + 1)
            #expect(claimB.nextOffset == 10)
            #expect(claimB.state == [row("n", "k", "from A")])

            // A, still believing it owns the partition, commits its next batch: refused, nothing written.
            await expectError(.fenced) {
                try await a.commit(
                    BatchCommit(
                        claims: [events0: PartitionCommit(expectedOffset: 10, epoch: claimA.epoch, nextOffset: 20)],
                        state: [events0: [row("n", "k", "stale"), row("n", "other", "stale")]],
                        outbox: [outbox("from-a")],
                        global: [row("g", "k", "stale")]),
                    pipeline: "p")
            }
            #expect(try await b.outboxDepth() == 0)
            #expect(try await b.loadGlobal(namespace: "g").isEmpty)

            try await b.commit(
                BatchCommit(
                    claims: [events0: PartitionCommit(expectedOffset: 10, epoch: claimB.epoch, nextOffset: 20)],
                    state: [events0: [row("n", "k", "from B")]],
                    outbox: [outbox("from-b")]),
                pipeline: "p")

            let claimC = try await a.claim(events0, pipeline: "p")
            #expect(claimC.epoch == claimB.epoch + 1)
            #expect(claimC.nextOffset == 20)
            #expect(claimC.state == [row("n", "k", "from B")])
            #expect(try await a.unsentOutbox(limit: 10).map(\.id) == ["from-b"])
            await a.close()
            await b.close()
        }
    }

    @Test(arguments: Backend.allCases)
    func ofConcurrentCommitsFromOneLoadOnlyOneWins(_ backend: Backend) async throws {
        try await withLocation(backend) { location in
            let stores = [try await location.open(), try await location.open()]
            let epoch = try await stores[0].claim(events0, pipeline: "p").epoch
            let attempts = 16
            let outcomes = try await withThrowingTaskGroup(of: (Int, StorageError.Code?).self) { group in
                for attempt in 0..<attempts {
                    group.addTask {
                        do {
                            try await stores[attempt % 2].commit(
                                BatchCommit(
                                    claims: [
                                        events0: PartitionCommit(
                                            expectedOffset: nil, epoch: epoch, nextOffset: Int64(100 + attempt))
                                    ],
                                    state: [events0: [row("n", "winner", "\(attempt)")]],
                                    outbox: [outbox("attempt-\(attempt)")]),
                                pipeline: "p")
                            return (attempt, nil)
                        } catch let error as StorageError {
                            return (attempt, error.code)
                        }
                    }
                }
                var outcomes: [(Int, StorageError.Code?)] = []
                for try await outcome in group { outcomes.append(outcome) }
                return outcomes
            }
            let winners = outcomes.filter { $0.1 == nil }.map(\.0)
            #expect(winners.count == 1)
            #expect(outcomes.filter { $0.1 == .fenced }.count == attempts - 1)
            let winner = try #require(winners.first)
            let claim = try await stores[1].claim(events0, pipeline: "p")
            #expect(claim.nextOffset == Int64(100 + winner))
            #expect(claim.state == [row("n", "winner", "\(winner)")])
            #expect(try await stores[0].unsentOutbox(limit: 100).map(\.id) == ["attempt-\(winner)"])
            for store in stores { await store.close() }
        }
    }

    @Test(arguments: Backend.allCases)
    func aWrongExpectedOffsetIsFenced(_ backend: Backend) async throws {
        try await withLocation(backend) { location in
            try await location.withStore { store in
                let epoch = try await store.claim(events0, pipeline: "p").epoch
                func commit(_ expected: Int64?, _ next: Int64) async throws(StorageError) {
                    try await store.commit(
                        BatchCommit(
                            claims: [events0: PartitionCommit(expectedOffset: expected, epoch: epoch, nextOffset: next)],
                            state: [events0: [row("n", "at", "\(next)")]]),
                        pipeline: "p")
                }
                try await commit(nil, 5)
                await expectError(.fenced) { try await commit(nil, 9) }  // a second commit from the same load
                await expectError(.fenced) { try await commit(7, 9) }
                await expectError(.fenced) {  // a partition nobody claimed
                    try await store.commit(
                        BatchCommit(claims: [events1: PartitionCommit(expectedOffset: nil, epoch: 1, nextOffset: 1)]),
                        pipeline: "p")
                }
                await expectError(.fenced) {  // the same partition in another pipeline
                    try await store.commit(
                        BatchCommit(claims: [events0: PartitionCommit(expectedOffset: 5, epoch: epoch, nextOffset: 9)]),
                        pipeline: "other")
                }
                try await commit(5, 9)
                let claim = try await store.claim(events0, pipeline: "p")
                #expect(claim.nextOffset == 9)
                #expect(claim.state == [row("n", "at", "9")])
            }
        }
    }

    @Test(arguments: Backend.allCases)
    func aFailingCommitLeavesNoPartialState(_ backend: Backend) async throws {
        try await withLocation(backend) { location in
            try await location.withStore { store in
                let epoch0 = try await store.claim(events0, pipeline: "p").epoch
                let epoch1 = try await store.claim(events1, pipeline: "p").epoch
                try await store.commit(
                    BatchCommit(
                        claims: [
                            events0: PartitionCommit(expectedOffset: nil, epoch: epoch0, nextOffset: 1),
                            events1: PartitionCommit(expectedOffset: nil, epoch: epoch1, nextOffset: 1),
                        ],
                        state: [events0: [row("n", "k", "before")], events1: [row("n", "k", "before")]]),
                    pipeline: "p")
                let stolen = PartitionID(topic: "zzz", partition: 9)  // sorts after the others: checked last
                let stolenEpoch = try await store.claim(stolen, pipeline: "p").epoch
                _ = try await store.claim(stolen, pipeline: "p")  // someone else took it since

                await expectError(.fenced) {
                    try await store.commit(
                        BatchCommit(
                            claims: [
                                events0: PartitionCommit(expectedOffset: 1, epoch: epoch0, nextOffset: 2),
                                events1: PartitionCommit(expectedOffset: 1, epoch: epoch1, nextOffset: 2),
                                stolen: PartitionCommit(expectedOffset: nil, epoch: stolenEpoch, nextOffset: 2),
                            ],
                            state: [
                                events0: [row("n", "k", "after"), row("n", "new", "x")],
                                events1: [row("n", "k", nil)],
                            ],
                            outbox: [outbox("o1")],
                            global: [row("g", "k", "after")]),
                        pipeline: "p")
                }
                // State for a partition without its fence: refused before anything is written.
                await expectError(.invalidArgument) {
                    try await store.commit(
                        BatchCommit(
                            claims: [events0: PartitionCommit(expectedOffset: 1, epoch: epoch0, nextOffset: 2)],
                            state: [events1: [row("n", "k", "after")]],
                            outbox: [outbox("o2")]),
                        pipeline: "p")
                }
                #expect(try await store.outboxDepth() == 0)
                #expect(try await store.loadGlobal(namespace: "g").isEmpty)
                for partition in [events0, events1] {
                    let claim = try await store.claim(partition, pipeline: "p")
                    #expect(claim.nextOffset == 1)
                    #expect(claim.state == [row("n", "k", "before")])
                }
            }
        }
    }

    @Test(arguments: Backend.allCases)
    func tenThousandRowsInOneCommit(_ backend: Backend) async throws {
        try await withLocation(backend) { location in
            try await location.withStore { store in
                let epoch = try await store.claim(events0, pipeline: "p").epoch
                let rows = (0..<10_000).map { i in
                    StateRow(namespace: "timers", key: String(format: "subject-%05d", i), value: Array(repeating: UInt8(i % 251), count: 64))
                }
                let outboxRows = (0..<1_000).map { outbox(String(format: "v-%04d", $0)) }
                let clock = ContinuousClock()
                let written = try await clock.measure {
                    try await store.commit(
                        BatchCommit(
                            claims: [events0: PartitionCommit(expectedOffset: nil, epoch: epoch, nextOffset: 10_000)],
                            state: [events0: rows], outbox: outboxRows),
                        pipeline: "p")
                }
                var claim: PartitionClaim?
                let loaded = try await clock.measure { claim = try await store.claim(events0, pipeline: "p") }
                #expect(claim?.state == rows)
                #expect(claim?.nextOffset == 10_000)
                #expect(try await store.unsentOutbox(limit: 5_000) == outboxRows)
                try await store.markSent(outboxRows.map(\.id))
                #expect(try await store.outboxDepth() == 0)

                let deleted = try await clock.measure {
                    try await store.commit(
                        BatchCommit(
                            claims: [events0: PartitionCommit(expectedOffset: 10_000, epoch: claim!.epoch, nextOffset: 10_001)],
                            state: [events0: rows.map { StateRow(namespace: $0.namespace, key: $0.key, value: nil) }]),
                        pipeline: "p")
                }
                #expect(try await store.claim(events0, pipeline: "p").state.isEmpty)
                // Generous bounds for a debug build on a busy 2-core machine; a row at a time over the network
                // would take far longer.
                #expect(written < .seconds(10), "commit of 10k rows took \(written)")
                #expect(loaded < .seconds(10), "claim of 10k rows took \(loaded)")
                #expect(deleted < .seconds(10), "delete of 10k rows took \(deleted)")
            }
        }
    }

    @Test(arguments: Backend.allCases)
    func aClosedStoreRefusesWork(_ backend: Backend) async throws {
        try await withLocation(backend) { location in
            let store = try await location.open()
            _ = try await store.claim(events0, pipeline: "p")
            await store.close()
            await store.close()  // twice is fine
            await expectError(.connection) { _ = try await store.outboxDepth() }
        }
    }
}

/// The outbox publisher's wake-up: a commit's notice ends its wait early, before or during it; without one the
/// wait lasts its timeout.
@Suite struct OutboxSignalTests {
    @Test func aNoticeBeforeTheWaitEndsItAtOnce() async {
        let signal = OutboxSignal()
        signal.notify()
        let started = ContinuousClock.now
        await signal.wait(timeout: .seconds(30))
        #expect(ContinuousClock.now - started < .seconds(10))
        #expect(!signal.take(), "the wait used the notice")
    }

    @Test func aNoticeDuringTheWaitEndsIt() async {
        let signal = OutboxSignal()
        let started = ContinuousClock.now
        let notifier = Task {
            try? await Task.sleep(for: .milliseconds(100))
            signal.notify()
        }
        await signal.wait(timeout: .seconds(30))
        #expect(ContinuousClock.now - started < .seconds(10))
        await notifier.value
    }

    @Test func withoutANoticeTheWaitLastsItsTimeoutAndALaterNoticeIsKept() async {
        let signal = OutboxSignal()
        let started = ContinuousClock.now
        await signal.wait(timeout: .milliseconds(300))
        #expect(ContinuousClock.now - started >= .milliseconds(300))
        signal.notify()
        #expect(signal.take())
        #expect(!signal.take())
    }
}
