/// Realistic, deterministic traffic for demos, tests and benchmarks: customers signing up, consenting and opting
/// out, marketing sends, staff accesses (mostly within their role), shares, deletions, erasure requests, the odd
/// bulk export and a few broken messages.
public struct EventGenerator: Sequence {
    /// What the traffic is for.
    public enum Profile: String, Sendable, CaseIterable {
        /// Every rule broken often (a fifth of the events): tests and benchmarks.
        case stress
        /// A company that mostly keeps its rules, as a month of a real deployment looks: consent asked before use,
        /// staff within their roles with tickets, erasure requests and location data deleted in time; and a handful of
        /// incidents at fixed points of the stream that stand out (`Incident`).
        case realistic
    }

    /// The incidents of the realistic profile, each at a fixed fraction of the stream.
    public enum Incident: String, Sendable, CaseIterable {
        /// An erasure request nobody answers (its deadline passes 30 days later).
        case forgottenErasure = "forgotten-erasure"
        /// An intern, a role no access policy knows, reads four customers' contact details.
        case internBrowsing = "intern-browsing"
        /// Customer data shared with a data broker the privacy notice does not name, without consent.
        case brokerShare = "broker-share"
        /// A customer's data used to train an AI model without their consent.
        case trainingWithoutConsent = "training-without-consent"
        /// A support agent reads a customer's health data, without a ticket.
        case healthLookup = "health-lookup"

        var position: Double {
            switch self {
            case .forgottenErasure: 0.02
            case .internBrowsing: 0.15
            case .brokerShare: 0.3
            case .trainingWithoutConsent: 0.45
            case .healthLookup: 0.65
            }
        }
    }

    public struct Options: Sendable {
        public var events: Int
        public var subjects: Int
        public var seed: UInt64
        public var start: Timestamp
        public var months: Int
        /// Share of lines that are broken on purpose (dead letters), 0…1.
        public var invalidRate: Double
        /// Share of events sent twice.
        public var duplicateRate: Double
        /// Largest disorder of arrival against event time.
        public var disorder: Duration
        /// One bulk export (an actor sweeping 150 customers within five minutes) every this many events.
        public var bulkExportEvery: Int
        /// When set, each bulk export fits in the tumbling window of this size in which it starts (its accesses
        /// closer together when needed), so that a threshold over such windows sees all of it.
        public var bulkExportWindow: Duration?
        public var profile: Profile

        public init(
            events: Int, subjects: Int, seed: UInt64 = 1, start: Timestamp = Timestamp(rfc3339: "2026-01-01T00:00:00Z")!,
            months: Int = 1, invalidRate: Double = 0.001, duplicateRate: Double = 0.001, disorder: Duration = .minutes(2),
            bulkExportEvery: Int = 50_000, bulkExportWindow: Duration? = nil, profile: Profile = .stress
        ) {
            self.profile = profile
            self.events = events
            self.subjects = Swift.max(1, subjects)
            self.seed = seed
            self.start = start
            self.months = Swift.max(1, months)
            self.invalidRate = invalidRate
            self.duplicateRate = duplicateRate
            self.disorder = disorder
            self.bulkExportEvery = Swift.max(2, bulkExportEvery)
            self.bulkExportWindow = bulkExportWindow
        }
    }

    public let options: Options
    public init(_ options: Options) { self.options = options }

    public func makeIterator() -> Iterator { Iterator(options) }

    public struct Iterator: IteratorProtocol {
        let o: Options
        var rng: SplitMix64
        var index = 0
        var emitted = 0
        var pendingDuplicate: String?
        /// A bulk export under way: its start, the gap between its accesses, and how many are left.
        var burst: (start: Timestamp, gap: Duration, remaining: Int)?
        let span: Int64
        /// Realistic profile: each customer's granted purposes, follow-ups due later (deletions) by time, and the
        /// stream positions of the incidents.
        var granted: [Int: [String]] = [:]
        var followUps: [(time: Timestamp, line: String)] = []
        /// Incidents not yet sent, by stream position (one that falls inside a bulk export comes right after it).
        var incidents: [(index: Int, incident: Incident)] = []
        var pendingLines: [String] = []

        init(_ o: Options) {
            self.o = o
            rng = SplitMix64(seed: o.seed)
            var end = o.start
            for _ in 0..<o.months { end = end.startOfNextMonth }
            span = Swift.max(1, end.microseconds - o.start.microseconds)
            if o.profile == .realistic {
                incidents = Incident.allCases.map { (Int(Double(o.events) * $0.position), $0) }.sorted { $0.index < $1.index }
            }
        }

        /// The next JSON line.
        public mutating func next() -> String? {
            if let dup = pendingDuplicate {
                pendingDuplicate = nil
                return dup
            }
            guard index < o.events else { return nil }
            defer { index += 1 }
            let base = o.start.microseconds + span / Int64(o.events) * Int64(index)
            let jitter = o.disorder.microseconds > 0 ? Int64(rng.next() % UInt64(o.disorder.microseconds)) : 0
            let raw = Swift.max(o.start.microseconds, base - jitter)
            var time = Timestamp(microseconds: raw - raw % 1000)
            // Now and then a bulk export: one actor sweeping 150 customers within five minutes.
            if index % o.bulkExportEvery == o.bulkExportEvery / 2 {
                var gap = Duration.seconds(2)
                if let window = o.bulkExportWindow, window.microseconds > 0 {
                    let left = window.microseconds - ((time.microseconds % window.microseconds) + window.microseconds) % window.microseconds
                    gap = Duration(microseconds: Swift.min(gap.microseconds, Swift.max(1, left / 150)))
                }
                burst = (time, gap, 150)
            }
            if let (start, gap, remaining) = burst {
                time = start + Duration(microseconds: gap.microseconds * Int64(150 - remaining))
                burst = remaining > 1 ? (start, gap, remaining - 1) : nil
                return exporterAccess(time)
            }
            if !pendingLines.isEmpty { return pendingLines.removeFirst() }
            if rng.chance(o.invalidRate) { return broken(time) }
            let line = o.profile == .stress ? event(time) : realisticEvent(time)
            if rng.chance(o.duplicateRate) { pendingDuplicate = line }
            return line
        }

        mutating func broken(_ time: Timestamp) -> String {
            switch rng.next() % 5 {
            case 0: return "{\"id\": \"broken-\(index)\", \"type\": \"access\""
            case 1: return "{\"id\":\"e\(index)\",\"type\":\"teleport\",\"time\":\"\(time.rfc3339)\",\"subject\":\"c-1\"}"
            case 2: return "{\"id\":\"e\(index)\",\"type\":\"collect\",\"time\":\"yesterday\",\"subject\":\"c-1\",\"categories\":[\"user.name\"]}"
            case 3: return "{\"id\":\"e\(index)\",\"type\":\"collect\",\"time\":\"\(time.rfc3339)\",\"subject\":\"c-1\",\"categories\":[\"user.shoe_size\"]}"
            default: return "{\"id\":\"e\(index)\",\"type\":\"access\",\"time\":\"\(time.rfc3339)\",\"subject\":\"c-1\"}"
            }
        }

        static let staff: [(actor: String, role: String)] = [
            ("alice@corp", "support"), ("bob@corp", "support"), ("carol@corp", "billing"), ("dan@corp", "marketing"),
            ("erin@corp", "engineer"), ("frank@corp", "security"), ("grace@corp", "dpo"), ("heidi@corp", "support"),
            ("ivan@corp", "engineer"), ("judy@corp", "billing"), ("mallory@corp", "intern"),
        ]
        static let roleWork: [String: (purposes: [String], categories: [String])] = [
            "support": (["essential.service.operations.support"], ["user.name", "user.contact.email", "user.account"]),
            "billing": (["essential.service.payment_processing"], ["user.name", "user.financial", "user.payment"]),
            "marketing": (["marketing", "analytics"], ["user.contact.email", "user.behavior.browsing_history"]),
            "engineer": (["essential.service.operations"], ["user.device", "user.unique_id"]),
            "security": (["essential.service.security"], ["user.device", "user.location.precise", "user.behavior"]),
            "dpo": (["essential.legal_obligation"], ["user"]),
            "intern": (["analytics"], ["user.contact"]),
        ]
        static let consentPurposes = ["marketing", "marketing.communications.email", "personalize", "third_party_sharing", "train_ai_system"]
        static let recipients = ["payment-processor", "email-provider", "analytics-partner", "ad-network", "data-broker-x"]
        static let systems = ["crm", "billing", "warehouse", "support-desk", "mobile-app"]
        static let sources = ["web", "app", "email", "support", "gpc"]

        mutating func pick<T>(_ items: [T]) -> T { items[Int(rng.next() % UInt64(items.count))] }

        mutating func event(_ time: Timestamp) -> String {
            let id = "evt-\(o.seed)-\(index)"
            let subject = "cust-\(String(rng.next() % UInt64(o.subjects) + 1))"
            let t = time.rfc3339
            let roll = rng.next() % 1000
            switch roll {
            case 0..<120:
                let cats = pick([["user.contact.email", "user.name"], ["user.behavior.browsing_history"],
                                 ["user.location.precise"], ["user.financial", "user.payment"], ["user.device"]])
                return #"{"id":"\#(id)","type":"collect","time":"\#(t)","subject":"\#(subject)","system":"\#(pick(Self.systems))","categories":\#(list(cats))}"#
            case 120..<220:
                let status = rng.chance(0.7) ? "granted" : "withdrawn"
                return #"{"id":"\#(id)","type":"consent","time":"\#(t)","subject":"\#(subject)","purpose":"\#(pick(Self.consentPurposes))","status":"\#(status)","source":"\#(pick(Self.sources))"}"#
            case 220..<420:
                let purpose = pick(["marketing.communications.email", "personalize", "analytics", "train_ai_system", "essential.service"])
                return #"{"id":"\#(id)","type":"use","time":"\#(t)","subject":"\#(subject)","actor":"svc-\#(pick(["mailer", "recommender", "trainer"]))","system":"\#(pick(Self.systems))","purpose":"\#(purpose)","categories":["user.contact.email","user.behavior"]}"#
            case 420..<470:
                return #"{"id":"\#(id)","type":"share","time":"\#(t)","subject":"\#(subject)","actor":"svc-exporter","purpose":"\#(pick(["third_party_sharing", "essential.service.payment_processing", "marketing.advertising"]))","recipient":"\#(pick(Self.recipients))","categories":["user.contact.email"]}"#
            case 470..<900:
                let (actor, role) = pick(Self.staff)
                let work = Self.roleWork[role]!
                var categories = [pick(work.categories)]
                if rng.chance(0.03) { categories.append(pick(["user.financial", "user.health_and_medical", "user.government_id"])) }
                let purpose = rng.chance(0.03) ? "marketing" : pick(work.purposes)
                let ticket = rng.chance(0.8) ? #","attributes":{"ticket":"T-\#(rng.next() % 100000)"}"# : ""
                return #"{"id":"\#(id)","type":"access","time":"\#(t)","subject":"\#(subject)","actor":"\#(actor)","role":"\#(role)","system":"\#(pick(Self.systems))","purpose":"\#(purpose)","categories":\#(list(categories))\#(ticket)}"#
            case 900..<930:
                return exporterAccess(time)
            case 930..<960:
                let cats = rng.chance(0.4) ? ["*"] : [pick(["user.behavior", "user.location.precise", "user.contact"])]
                return #"{"id":"\#(id)","type":"delete","time":"\#(t)","subject":"\#(subject)","system":"\#(pick(Self.systems))","categories":\#(list(cats))}"#
            case 960..<985:
                return #"{"id":"\#(id)","type":"erasure_request","time":"\#(t)","subject":"\#(subject)","source":"\#(pick(Self.sources))","attributes":{"channel":"privacy-portal"}}"#
            default:
                return #"{"id":"\#(id)","type":"relationship_end","time":"\#(t)","subject":"\#(subject)"}"#
            }
        }

        /// The realistic profile's next event: a follow-up that has come due, an incident, or the ordinary work of a
        /// company that keeps its rules.
        mutating func realisticEvent(_ time: Timestamp) -> String {
            if let first = followUps.first, first.time <= time {
                followUps.removeFirst()
                return first.line
            }
            let id = "evt-\(o.seed)-\(index)"
            let t = time.rfc3339
            let n = Int(rng.next() % UInt64(o.subjects)) + 1
            let subject = "cust-\(n)"
            if let next = incidents.first, next.index <= index {
                incidents.removeFirst()
                return incident(next.incident, id: id, time: time, subject: subject)
            }
            let roll = rng.next() % 1000
            switch roll {
            case 0..<100:
                let cats = pick([["user.contact.email", "user.name"], ["user.behavior.browsing_history"], ["user.location.precise"],
                                 ["user.financial", "user.payment"], ["user.device"]])
                if cats == ["user.location.precise"] {
                    // Precise locations are deleted well within their 30 days.
                    followUp(time + .days(Int64(3 + rng.next() % 20)),
                             #"{"id":"\#(id)-del","type":"delete","time":"{T}","subject":"\#(subject)","system":"mobile-app","categories":["user.location.precise"]}"#)
                }
                return #"{"id":"\#(id)","type":"collect","time":"\#(t)","subject":"\#(subject)","system":"\#(pick(Self.systems))","categories":\#(list(cats))}"#
            case 100..<200:
                let purpose = pick(Self.consentPurposes.filter { $0 != "marketing.communications.email" })
                var mine = granted[n] ?? []
                let status = mine.contains(purpose) && rng.chance(0.3) ? "withdrawn" : "granted"
                if status == "granted" { if !mine.contains(purpose) { mine.append(purpose) } } else { mine.removeAll { $0 == purpose } }
                granted[n] = mine
                return #"{"id":"\#(id)","type":"consent","time":"\#(t)","subject":"\#(subject)","purpose":"\#(purpose)","status":"\#(status)","source":"\#(pick(Self.sources))"}"#
            case 200..<420:
                // Consent-based purposes only for customers who said yes; otherwise running the service.
                let purpose = granted[n].flatMap { $0.isEmpty ? nil : pick($0) } ?? pick(["essential.service", "analytics"])
                let actor = ["train_ai_system": "trainer", "personalize": "recommender"][purpose] ?? "mailer"
                return #"{"id":"\#(id)","type":"use","time":"\#(t)","subject":"\#(subject)","actor":"svc-\#(actor)","system":"\#(pick(Self.systems))","purpose":"\#(purpose)","categories":["user.contact.email","user.behavior"]}"#
            case 420..<470:
                let (recipient, purpose) = granted[n]?.contains("third_party_sharing") == true && rng.chance(0.5)
                    ? ("analytics-partner", "third_party_sharing") : ("payment-processor", "essential.service.payment_processing")
                return #"{"id":"\#(id)","type":"share","time":"\#(t)","subject":"\#(subject)","actor":"svc-exporter","purpose":"\#(purpose)","recipient":"\#(recipient)","categories":["user.contact.email"]}"#
            case 470..<930:
                let (actor, role) = pick(Self.staff.filter { $0.role != "intern" })
                let work = Self.roleWork[role]!
                return #"{"id":"\#(id)","type":"access","time":"\#(t)","subject":"\#(subject)","actor":"\#(actor)","role":"\#(role)","system":"\#(pick(Self.systems))","purpose":"\#(pick(work.purposes))","categories":["\#(pick(work.categories))"],"attributes":{"ticket":"T-\#(rng.next() % 100000)"}}"#
            case 930..<960:
                return #"{"id":"\#(id)","type":"delete","time":"\#(t)","subject":"\#(subject)","system":"\#(pick(Self.systems))","categories":["\#(pick(["user.behavior", "user.contact"]))"]}"#
            case 960..<975:
                // Answered within three weeks.
                followUp(time + .days(Int64(1 + rng.next() % 20)),
                         #"{"id":"\#(id)-erase","type":"delete","time":"{T}","subject":"\#(subject)","system":"crm","categories":["*"]}"#)
                return #"{"id":"\#(id)","type":"erasure_request","time":"\#(t)","subject":"\#(subject)","source":"\#(pick(Self.sources))","attributes":{"channel":"privacy-portal"}}"#
            default:
                return #"{"id":"\#(id)","type":"relationship_end","time":"\#(t)","subject":"\#(subject)"}"#
            }
        }

        /// A line due at `time` (`{T}` in it becomes the time), kept in time order.
        mutating func followUp(_ time: Timestamp, _ line: String) {
            let stamped = line.replacingOccurrences(of: "{T}", with: time.rfc3339)
            let i = followUps.firstIndex { $0.time > time } ?? followUps.count
            followUps.insert((time, stamped), at: i)
        }

        mutating func incident(_ incident: Incident, id: String, time: Timestamp, subject: String) -> String {
            let t = time.rfc3339
            switch incident {
            case .forgottenErasure:
                return #"{"id":"\#(id)","type":"erasure_request","time":"\#(t)","subject":"\#(subject)","source":"email"}"#
            case .internBrowsing:
                let lines = (0..<4).map { k in
                    let who = "cust-\(String(rng.next() % UInt64(o.subjects) + 1))"
                    let at = (time + .seconds(Int64(40 * k))).rfc3339
                    return #"{"id":"\#(id)-\#(k)","type":"access","time":"\#(at)","subject":"\#(who)","actor":"mallory@corp","role":"intern","system":"crm","purpose":"analytics","categories":["user.contact"]}"#
                }
                pendingLines += lines.dropFirst()
                return lines[0]
            case .brokerShare:
                return #"{"id":"\#(id)","type":"share","time":"\#(t)","subject":"\#(subject)","actor":"svc-exporter","purpose":"third_party_sharing","recipient":"data-broker-x","categories":["user.contact.email","user.behavior"]}"#
            case .trainingWithoutConsent:
                // A customer who never made a choice at all.
                let first = Int(rng.next() % UInt64(o.subjects))
                var n = first + 1
                for k in 0..<o.subjects where granted[(first + k) % o.subjects + 1] == nil {
                    n = (first + k) % o.subjects + 1
                    break
                }
                let subject = "cust-\(n)"
                return #"{"id":"\#(id)","type":"use","time":"\#(t)","subject":"\#(subject)","actor":"svc-trainer","system":"warehouse","purpose":"train_ai_system","categories":["user.behavior"]}"#
            case .healthLookup:
                return #"{"id":"\#(id)","type":"access","time":"\#(t)","subject":"\#(subject)","actor":"bob@corp","role":"support","system":"support-desk","purpose":"essential.service.operations.support","categories":["user.health_and_medical"]}"#
            }
        }

        mutating func exporterAccess(_ time: Timestamp) -> String {
            let subject = "cust-\(String(rng.next() % UInt64(o.subjects) + 1))"
            return #"{"id":"evt-\#(o.seed)-\#(index)","type":"access","time":"\#(time.rfc3339)","subject":"\#(subject)","actor":"exporter@corp","role":"engineer","system":"warehouse","purpose":"essential.service.operations","categories":["user.device"]}"#
        }

        func list(_ items: [String]) -> String { "[" + items.map { "\"\($0)\"" }.joined(separator: ",") + "]" }
    }
}

extension SplitMix64 {
    /// True with probability `p`.
    mutating func chance(_ p: Double) -> Bool { p > 0 && Double(next() % 1_000_000) < p * 1_000_000 }
}
