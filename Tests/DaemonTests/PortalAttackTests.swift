@testable import Portal
import AsyncHTTPClient
import Daemon
import Digests
import Events
import Foundation
import Logging
import NIOCore
import NIOPosix
import Rules
import Storage
import Synchronization
import Testing

/// The portal under attack, over HTTP: forged, truncated, expired, replayed and swapped links and opt-out posts,
/// posts from other origins, oversized or non-form bodies, and the security headers of every kind of answer.
@Suite struct PortalAttackTests {
    @Test func tenThousandForgedRequestsServeNoOneElsesPageAndRecordNoOneElsesOptOut() async throws {
        try await PortalHarness.with(customers: 20) { portal in
            var harvested: [[[String: String]]] = []
            var attacks: [Attack] = []
            for c in portal.customers.indices {
                var views: [[String: String]] = []
                for _ in 0..<2 {
                    let view = Attack(kind: "page", path: "/portal/" + portal.links[c], outcome: .page(customer: c))
                    let page = try await portal.send(view)
                    #expect(portal.problem(view, page) == nil)
                    let forms = PortalTests.forms(in: page.body).map { ($0.purpose, $0.csrf) }
                    views.append(Dictionary(forms, uniquingKeysWith: { a, _ in a }))
                    #expect(views.last?.keys.sorted() == portal.purposes.sorted(), "a form for every purpose the customer allows")
                }
                harvested.append(views)
            }
            var generator = AttackGenerator(portal: portal, forms: harvested, seed: 0x1307)
            attacks = generator.attacks(total: 10_000 - 2 * portal.customers.count)
            let started = ContinuousClock.now
            let replies = try await portal.send(attacks, concurrently: 8)
            let elapsed = ContinuousClock.now - started

            var problems: [String] = []
            var tally: [String: (requests: Int, refused: Int, served: Int)] = [:]
            for (attack, reply) in zip(attacks, replies) {
                if let problem = portal.problem(attack, reply) { problems.append("\(attack.kind) \(attack.path.prefix(160)): \(problem)") }
                tally[attack.kind, default: (0, 0, 0)].requests += 1
                if (400..<500).contains(reply.status) { tally[attack.kind]!.refused += 1 }
                if reply.status == 200 || reply.status == 303 { tally[attack.kind]!.served += 1 }
            }
            #expect(problems.isEmpty, "\(problems.count) requests misanswered, e.g. \(problems.prefix(10))")
            #expect(replies.allSatisfy { $0.status < 500 }, "no 5xx")

            // Exactly the valid presses reached the outbox, one row per press however often it was sent, each for its
            // own customer and purpose.
            var expected: [String: (customer: Int, purpose: String)] = [:]
            for attack in attacks {
                guard case .optOut(let c, let purpose, let csrf) = attack.outcome else { continue }
                expected[try portal.outboxID(customer: c, purpose: purpose, csrf: csrf)] = (c, purpose)
            }
            let rows = try await portal.store.unsentOutbox(limit: 100_000)
            #expect(rows.count == expected.count && Set(rows.map(\.id)) == Set(expected.keys))
            for row in rows {
                let event = try JSONValue.parse(String(decoding: row.value, as: UTF8.self))
                let press = try #require(expected[row.id], "an opt-out nobody pressed: \(event.serialized)")
                let subject = portal.customers[press.customer]
                #expect(row.key == Array(subject.utf8) && row.topic == "kafka:privacy.events")
                #expect(event["subject"] == .string(subject) && event["purpose"] == .string(press.purpose))
                #expect(event["status"] == "withdrawn" && event["source"] == "web")
            }

            let health = try await portal.send(Attack(kind: "page", path: "/portal/" + portal.links[0], outcome: .page(customer: 0)))
            #expect(portal.problem(Attack(kind: "page", path: "", outcome: .page(customer: 0)), health) == nil, "still serving")

            let total = tally.values.reduce(0) { $0 + $1.requests } + 2 * portal.customers.count
            #expect(total == 10_000)
            let classes = tally.keys.sorted().map { "\($0) \(tally[$0]!.requests)/\(tally[$0]!.refused)/\(tally[$0]!.served)" }
            let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
            print("portal attacks: \(total) requests in \(String(format: "%.1f", seconds)) s (8 at a time), "
                  + "\(replies.filter { (400..<500).contains($0.status) }.count) refused, "
                  + "\(replies.filter { $0.status == 200 }.count + 2 * portal.customers.count) pages and "
                  + "\(replies.filter { $0.status == 303 }.count) opt-outs (\(rows.count) distinct) served, 0 for anyone else; "
                  + "class requests/refused/served: " + classes.joined(separator: ", "))
        }
    }

    /// With neither `Origin` nor `Referer` (not a browser) the form's token alone decides; a browser's post must name
    /// the portal's own origin: without `base_url`, the host and port the request was sent to.
    @Test func aPostMustComeFromThePortalsOwnOrigin() async throws {
        try await PortalHarness.with(customers: 2) { portal in
            let csrf = try await portal.formToken(customer: 0, purpose: "marketing")
            let host = portal.base.dropFirst("http://".count)
            let port = try #require(Int(host.split(separator: ":").last ?? ""))
            let refused: [[(String, String)]] = [
                [("Origin", "null")],
                [("Origin", "https://evil.example")],
                [("Origin", "http://127.0.0.1:\(port + 1)")],
                [("Origin", "http://localhost:\(port)")],
                [("Origin", "http://\(host).evil.example")],
                [("Origin", "null"), ("Referer", portal.base + "/portal/")],
                [("Referer", "https://evil.example/portal/" + portal.links[0])],
                [("Referer", "http://127.0.0.1:\(port + 1)/portal/")],
                [("Referer", "null")],
            ]
            for headers in refused {
                let reply = try await portal.press(customer: 0, purpose: "marketing", csrf: csrf, headers: headers)
                #expect(reply.status == 403 && reply.body == Portal.forbiddenPage, "\(headers)")
            }
            let forged = String(csrf.dropLast(2)) + (csrf.hasSuffix("AA") ? "BA" : "AA")
            #expect(try await portal.press(customer: 0, purpose: "marketing", csrf: forged, headers: []).status == 403,
                    "without Origin and Referer, a forged token is refused")
            #expect(try await portal.store.unsentOutbox(limit: 100).isEmpty)

            let accepted: [[(String, String)]] = [
                [],
                [("Origin", portal.base)],
                [("Referer", portal.base + "/portal/" + portal.links[0])],
                [("Origin", portal.base), ("Referer", "https://evil.example/")],
            ]
            for headers in accepted {
                let reply = try await portal.press(customer: 0, purpose: "marketing", csrf: csrf, headers: headers)
                #expect(reply.status == 303, "\(headers)")
            }
            #expect(try await portal.store.unsentOutbox(limit: 100).map(\.id)
                    == [try portal.outboxID(customer: 0, purpose: "marketing", csrf: csrf)], "one press, one row")
        }
    }

    /// With `base_url`, a browser's post must name exactly its scheme, host and port (default ports filled in), not
    /// the address the request reached.
    @Test func withABaseURLThePostMustNameIt() async throws {
        try await PortalHarness.with(customers: 1, baseURL: "https://privacy.example.com") { portal in
            let csrf = try await portal.formToken(customer: 0, purpose: "personalize")
            for origin in [portal.base, "http://privacy.example.com", "https://privacy.example.com:8443",
                           "https://privacy.example.com.evil.example", "https://evil.example"] {
                let reply = try await portal.press(customer: 0, purpose: "personalize", csrf: csrf, headers: [("Origin", origin)])
                #expect(reply.status == 403, "\(origin)")
            }
            for headers in [[("Origin", "https://privacy.example.com")], [("Origin", "https://Privacy.Example.com:443")],
                            [("Referer", "https://privacy.example.com/portal/" + portal.links[0])]] {
                let reply = try await portal.press(customer: 0, purpose: "personalize", csrf: csrf, headers: headers)
                #expect(reply.status == 303, "\(headers)")
                let page = "https://privacy.example.com/portal/" + portal.links[0] + "?withdrawn=personalize&saved="
                #expect(reply.headers["location"]?.hasPrefix(page) == true)
            }
            #expect(try await portal.store.unsentOutbox(limit: 100).count == 1)
        }
    }

    /// The portal reads at most 8 KiB of an opt-out's body (a browser's form sends about 400 bytes); more is refused
    /// with the same 403, and the listener goes on serving.
    @Test func aBodyOverEightKibibytesIsRefused() async throws {
        try await PortalHarness.with(customers: 1) { portal in
            let csrf = try await portal.formToken(customer: 0, purpose: "marketing")
            let fields = PortalTests.form([("csrf_token", csrf), ("purpose", "marketing")]) + "&padding="
            for (size, status) in [(8 * 1024 + 1, 403), (1 << 20, 403), (8 * 1024, 303)] {
                let body = fields + String(repeating: "x", count: size - fields.utf8.count)
                let reply = try await portal.press(customer: 0, body: body)
                #expect(reply.status == status, "\(size) bytes")
                if status == 403 { #expect(try await portal.store.unsentOutbox(limit: 100).isEmpty) }
            }
            #expect(try await portal.store.unsentOutbox(limit: 100).count == 1)
        }
    }

    /// A form token holds for an hour from the page view that made it; an expired one is refused, even if it was used
    /// before.
    @Test func anExpiredFormTokenIsRefused() async throws {
        try await PortalHarness.with(customers: 1) { portal in
            let used = try await portal.formToken(customer: 0, purpose: "marketing")
            let unused = try await portal.formToken(customer: 0, purpose: "marketing")
            portal.clock.advance(by: OptOutToken.lifetime - 1)
            #expect(try await portal.press(customer: 0, purpose: "marketing", csrf: used).status == 303)
            portal.clock.advance(by: 1)
            #expect(try await portal.press(customer: 0, purpose: "marketing", csrf: unused).status == 403)
            #expect(try await portal.press(customer: 0, purpose: "marketing", csrf: used).status == 403)
            #expect(try await portal.store.unsentOutbox(limit: 100).map(\.id)
                    == [try portal.outboxID(customer: 0, purpose: "marketing", csrf: used)])
        }
    }

    /// The page's forms send `application/x-www-form-urlencoded`: a body of any other type (or none) is refused.
    @Test func aBodyThatIsNotAFormIsRefused() async throws {
        try await PortalHarness.with(customers: 1) { portal in
            let csrf = try await portal.formToken(customer: 0, purpose: "marketing")
            let fields = PortalTests.form([("csrf_token", csrf), ("purpose", "marketing")])
            for type in [nil, "text/plain", "application/json", "multipart/form-data; boundary=x", "application/x-www-form-urlencodedx"] {
                let reply = try await portal.press(customer: 0, body: fields, contentType: type)
                #expect(reply.status == 403 && reply.body == Portal.forbiddenPage, "\(type ?? "no Content-Type")")
            }
            #expect(try await portal.store.unsentOutbox(limit: 100).isEmpty)
            for type in ["application/x-www-form-urlencoded; charset=UTF-8", "Application/X-WWW-Form-URLEncoded"] {
                #expect(try await portal.press(customer: 0, body: fields, contentType: type).status == 303, "\(type)")
            }
        }
    }

    /// What docs/digests.md promises on every page and refusal: no caching, no referrer to other sites, no framing,
    /// no sniffing, and a Content-Security-Policy without scripts, external resources or foreign form targets.
    @Test func pagesRefusalsRedirectsAndFailuresCarryTheSecurityHeaders() async throws {
        try await PortalHarness.with(customers: 1, unreadable: ["cust-broken"]) { portal in
            let broken = try Portal.link(configuration: portal.configuration, subject: "cust-broken", month: PortalHarness.month,
                                         now: portal.clock.now)
            let csrf = try await portal.formToken(customer: 0, purpose: "marketing")
            let answers = [
                ("page", 200, try await portal.send(Attack(kind: "page", path: "/portal/" + portal.links[0], outcome: .refused))),
                ("refused link", 403, try await portal.send(Attack(kind: "link", path: "/portal/forged.link", outcome: .refused))),
                ("refused post", 403, try await portal.press(customer: 0, purpose: "personalize", csrf: csrf)),
                ("redirect", 303, try await portal.press(customer: 0, purpose: "marketing", csrf: csrf)),
                ("unavailable", 503, try await portal.send(Attack(kind: "page", path: broken, outcome: .refused))),
            ]
            for (name, status, reply) in answers {
                #expect(reply.status == status, "\(name)")
                #expect(reply.headers["cache-control"] == "no-store", "\(name)")
                #expect(reply.headers["referrer-policy"] == "same-origin", "\(name)")
                #expect(reply.headers["x-frame-options"] == "DENY", "\(name)")
                #expect(reply.headers["x-content-type-options"] == "nosniff", "\(name)")
                let policy = Dictionary((reply.headers["content-security-policy"] ?? "").split(separator: ";").map { directive in
                    let words = directive.split(separator: " ").map(String.init)
                    return (words.first ?? "", Array(words.dropFirst()))
                }, uniquingKeysWith: { a, _ in a })
                #expect(policy["default-src"] == ["'none'"], "\(name): nothing that is not allowed by name")
                #expect(policy.keys.filter { $0.hasPrefix("script-src") || $0 == "connect-src" }.isEmpty, "\(name): no scripts")
                #expect(policy["form-action"] == ["'self'"] && policy["frame-ancestors"] == ["'none'"], "\(name)")
                #expect(policy["base-uri"] == ["'none'"], "\(name)")
                #expect(policy.values.joined().allSatisfy { ["'none'", "'self'", "'unsafe-inline'", "data:"].contains($0) },
                        "\(name): no external source")
                #expect(policy.filter { $0.value.contains("'unsafe-inline'") }.keys.sorted() == ["style-src"], "\(name)")
            }
            #expect(answers[0].2.headers["content-type"] == "text/html; charset=utf-8")
            #expect(answers[1].2.headers["content-type"] == "text/html; charset=utf-8")
        }
    }
}

/// One request of the attack run and what it must get.
struct Attack: Sendable {
    enum Outcome: Sendable {
        /// The documented refusal (403, the one page), or a 404 where the path is no portal route at all.
        case refused
        /// The customer's own page.
        case page(customer: Int)
        /// `303` back to the customer's page, with one outbox row for this token however often it is sent.
        case optOut(customer: Int, purpose: String, csrf: String)
    }

    var kind: String
    var post = false
    var path: String
    var headers: [(String, String)] = []
    var body: String? = nil
    var outcome: Outcome
    var statuses: Set<Int> = [403]
    /// Sent byte for byte, on a connection of its own: an HTTP client would normalise `..` or odd escapes away.
    var raw = false
}

struct PortalReply: Sendable {
    var status: Int
    /// By lower-cased name.
    var headers: [String: String]
    var body: String
}

final class TestClock: Sendable {
    private let time: Mutex<Date>
    init(_ start: Date) { time = Mutex(start) }
    var now: Date { time.withLock { $0 } }
    func advance(by seconds: TimeInterval) { time.withLock { $0 += seconds } }
}

/// The portal on its own listener, as the daemon runs it, over a SQLite store that holds a closed January digest
/// for each customer (every consent purpose granted), with a clock the test moves.
final class PortalHarness: Sendable {
    static let month = "2026-01"
    static let secret = Array("the portal attack tests' secret: thirty-two bytes or more".utf8)

    let directory: URL
    let store: SQLiteStateStore
    let configuration: PortalConfiguration
    let signer: PortalSigner
    let clock: TestClock
    let customers: [String]
    /// Each customer's link token (`/portal/<token>`), minted when the clock starts.
    let links: [String]
    let purposes: [String]
    let base: String
    let client: HTTPClient
    private let server: Task<Void, Error>

    private init(directory: URL, store: SQLiteStateStore, configuration: PortalConfiguration, clock: TestClock, customers: [String],
                 purposes: [String], base: String, server: Task<Void, Error>) throws {
        self.directory = directory
        self.store = store
        self.configuration = configuration
        signer = PortalSigner(secret: configuration.secret)
        self.clock = clock
        self.customers = customers
        links = try customers.map { subject in
            let link = try Portal.link(configuration: configuration, subject: subject, month: Self.month, now: clock.now)
            return String(link[link.range(of: "/portal/")!.upperBound...])
        }
        self.purposes = purposes
        self.base = base
        self.server = server
        client = HTTPClient(eventLoopGroupProvider: .singleton, configuration: .init(redirectConfiguration: .disallow))
    }

    static func with<T>(customers count: Int, baseURL: String? = nil, unreadable: [String] = [],
                        _ body: (PortalHarness) async throws -> T) async throws -> T {
        let harness = try await start(customers: count, baseURL: baseURL, unreadable: unreadable)
        do {
            let result = try await body(harness)
            await harness.stop()
            return result
        } catch {
            await harness.stop()
            throw error
        }
    }

    private static func start(customers count: Int, baseURL: String?, unreadable: [String]) async throws -> PortalHarness {
        let directory = try Fixtures.temporaryDirectory()
        let store = try SQLiteStateStore(path: directory.appendingPathComponent("state.sqlite").path)
        let pipeline = try PipelineLoader().load(directory: Fixtures.defaultPipeline)
        let purposes = try #require(pipeline.lists["consent_purposes"])
        let customers = (1...count).map { String(format: "cust-%04d", $0) }
        let since = try #require(Timestamp(rfc3339: "2025-11-03T10:00:00Z"))
        let namespace = DigestSpace.subjects(pipeline.name, month: month)
        var rows = customers.enumerated().map { index, subject in
            var digest = SubjectDigest(subject: subject, month: month)
            digest.accessTotal = index + 1
            digest.accessByPurpose = ["marketing": index + 1]
            digest.consentState = purposes.map {
                SubjectDigest.ConsentStanding(purpose: $0, status: "granted", since: since, source: "web")
            }
            return StateRow(namespace: namespace, key: subject, value: Array(digest.json.serialized.utf8))
        }
        rows += unreadable.map { StateRow(namespace: namespace, key: $0, value: Array("{\"subject\":".utf8)) }
        try await store.commit(BatchCommit(global: rows), pipeline: pipeline.name)

        let configuration = PortalConfiguration(secret: secret, consentTopic: "privacy.events", baseURL: baseURL, port: 0)
        let clock = TestClock(try #require(ISO8601DateFormatter().date(from: "2026-02-10T09:00:00Z")))
        var logger = Logger(label: "portal-attack-test")
        logger.logLevel = .critical
        let portal = Portal(configuration: configuration, pipeline: pipeline, store: store, logger: logger, now: { clock.now })
        let port = Mutex(0)
        let app = AdminServer.portal(host: "127.0.0.1", port: 0, portal: portal, logger: logger, onBound: { p in port.withLock { $0 = p } })
        let server = Task { try await app.runService(gracefulShutdownSignals: []) }
        try await waitUntil("the portal's HTTP server", timeout: .seconds(10)) { port.withLock { $0 } != 0 }
        return try PortalHarness(directory: directory, store: store, configuration: configuration, clock: clock, customers: customers,
                                 purposes: purposes, base: "http://127.0.0.1:\(port.withLock { $0 })", server: server)
    }

    private func stop() async {
        try? await client.shutdown()
        server.cancel()
        _ = await server.result
        await store.close()
        try? FileManager.default.removeItem(at: directory)
    }

    /// The request's answer; a request the server did not answer is status 0, its error the body.
    func send(_ attack: Attack) async throws -> PortalReply {
        if attack.raw { return await sendRaw(attack) }
        var request = HTTPClientRequest(url: base + attack.path)
        request.method = attack.post ? .POST : .GET
        for (name, value) in attack.headers { request.headers.add(name: name, value: value) }
        if let body = attack.body { request.body = .bytes(ByteBuffer(string: body)) }
        do {
            let response = try await client.execute(request, timeout: .seconds(30))
            let body = try await response.body.collect(upTo: 16 << 20)
            var headers: [String: String] = [:]
            for field in response.headers {
                let name = field.name.lowercased()
                headers[name] = (headers[name].map { $0 + ", " } ?? "") + field.value
            }
            return PortalReply(status: Int(response.status.code), headers: headers, body: String(buffer: body))
        } catch {
            return PortalReply(status: 0, headers: [:], body: "\(error)")
        }
    }

    private func sendRaw(_ attack: Attack) async -> PortalReply {
        let host = base.dropFirst("http://".count)
        do {
            let channel = try await ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton)
                .connect(host: "127.0.0.1", port: Int(host.split(separator: ":")[1])!) { channel in
                    channel.eventLoop.makeCompletedFuture {
                        try NIOAsyncChannel<ByteBuffer, ByteBuffer>(wrappingChannelSynchronously: channel)
                    }
                }
            let answer = try await channel.executeThenClose { inbound, outbound in
                let head = "\(attack.post ? "POST" : "GET") \(attack.path) HTTP/1.1\r\nHost: \(host)\r\n"
                    + attack.headers.map { "\($0.0): \($0.1)\r\n" }.joined() + "Connection: close\r\n\r\n"
                try await outbound.write(ByteBuffer(string: head + (attack.body ?? "")))
                var answer = ByteBuffer()
                for try await chunk in inbound { answer.writeImmutableBuffer(chunk) }
                return String(buffer: answer)
            }
            guard let end = answer.range(of: "\r\n\r\n") else { return PortalReply(status: 0, headers: [:], body: answer) }
            let lines = answer[..<end.lowerBound].components(separatedBy: "\r\n")
            var headers: [String: String] = [:]
            for line in lines.dropFirst() {
                guard let colon = line.firstIndex(of: ":") else { continue }
                headers[line[..<colon].lowercased()] = line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces)
            }
            let status = lines[0].split(separator: " ").dropFirst().first.flatMap { Int($0) } ?? 0
            return PortalReply(status: status, headers: headers, body: String(answer[end.upperBound...]))
        } catch {
            return PortalReply(status: 0, headers: [:], body: "\(error)")
        }
    }

    /// The answers in request order, with at most `width` requests in flight.
    func send(_ attacks: [Attack], concurrently width: Int) async throws -> [PortalReply] {
        try await withThrowingTaskGroup(of: (Int, PortalReply).self) { group in
            var replies = [PortalReply?](repeating: nil, count: attacks.count)
            var pending = attacks.indices.makeIterator()
            for _ in 0..<width {
                guard let i = pending.next() else { break }
                group.addTask { (i, try await self.send(attacks[i])) }
            }
            while let (i, reply) = try await group.next() {
                replies[i] = reply
                if let j = pending.next() { group.addTask { (j, try await self.send(attacks[j])) } }
            }
            return replies.map { $0! }
        }
    }

    /// A fresh form token from the customer's page, as a browser gets it.
    func formToken(customer: Int, purpose: String) async throws -> String {
        let page = try await send(Attack(kind: "page", path: "/portal/" + links[customer], outcome: .page(customer: customer)))
        return try #require(PortalTests.forms(in: page.body).first { $0.purpose == purpose }?.csrf)
    }

    func press(customer: Int, purpose: String, csrf: String, headers: [(String, String)]? = nil) async throws -> PortalReply {
        try await press(customer: customer, body: PortalTests.form([("csrf_token", csrf), ("purpose", purpose)]), headers: headers)
    }

    func press(customer: Int, body: String, headers: [(String, String)]? = nil,
               contentType: String? = "application/x-www-form-urlencoded") async throws -> PortalReply {
        let origin = configuration.baseURL ?? base
        let headers = (headers ?? [("Origin", origin)]) + (contentType.map { [("Content-Type", $0)] } ?? [])
        return try await send(Attack(kind: "press", post: true, path: "/portal/\(links[customer])/opt-out", headers: headers, body: body,
                                     outcome: .refused))
    }

    /// The outbox row id of a press, expired or not: the consent topic and the event id the token names.
    func outboxID(customer: Int, purpose: String, csrf: String) throws -> String {
        let press = try #require(OptOutToken(token: csrf[...], link: links[customer][...], purpose: purpose, signer: signer,
                                             now: Date(timeIntervalSince1970: 0)))
        return "kafka:\(configuration.consentTopic)#" + press.eventID(signer)
    }

    /// What is wrong with the answer to an attack, if anything.
    func problem(_ attack: Attack, _ reply: PortalReply) -> String? {
        let references = Set(reply.body.matches(of: /cust-\d{4}/).map { String($0.output) })
        switch attack.outcome {
        case .refused:
            guard attack.statuses.contains(reply.status) else { return "status \(reply.status): \(reply.body.prefix(200))" }
            if reply.status == 403, reply.body != Portal.forbiddenPage { return "not the one refusal page" }
            if !references.isEmpty { return "names \(references.sorted())" }
        case .page(let c):
            guard reply.status == 200 else { return "status \(reply.status), not the page" }
            if references != [customers[c]] { return "the page of \(customers[c]) names \(references.sorted())" }
            if reply.body.contains("<strong>Saved:") { return "a confirmation nobody earned" }
        case .optOut(let c, let purpose, _):
            guard reply.status == 303 else { return "status \(reply.status), not the redirect" }
            let page = (configuration.baseURL ?? "") + "/portal/" + links[c] + "?withdrawn=\(purpose)&saved="
            if reply.headers["location"]?.hasPrefix(page) != true { return "redirected to \(reply.headers["location"] ?? "nowhere")" }
        }
        return nil
    }
}

/// Forged and valid requests against a harness's portal from a seed: the same seed, the same attacks in the same
/// order (the form tokens it was given are the only material made afresh).
struct AttackGenerator {
    let portal: PortalHarness
    /// Form tokens by customer, page view and purpose.
    let forms: [[[String: String]]]
    var rng: SplitMix64

    init(portal: PortalHarness, forms: [[[String: String]]], seed: UInt64) {
        self.portal = portal
        self.forms = forms
        rng = SplitMix64(seed: seed)
    }

    var links: [String] { portal.links }
    var now: Date { portal.clock.now }

    /// `total` requests: every forged class in fixed numbers, the valid ones filling the rest, shuffled.
    mutating func attacks(total: Int) -> [Attack] {
        let classes: [(Int, (inout AttackGenerator) -> Attack)] = [
            (500, { $0.randomSignature() }), (700, { $0.bitFlipped() }), (300, { $0.anotherPayloadsSignature() }),
            (700, { $0.truncated() }), (700, { $0.editedPayload() }), (500, { $0.swapped() }), (400, { $0.expired() }),
            (300, { $0.otherSecret() }), (500, { $0.otherPurpose() }), (500, { $0.garbage() }), (200, { $0.overLong() }),
            (400, { $0.traversal() }),
            (500, { $0.otherCustomersToken() }), (500, { $0.otherPurposesToken() }), (300, { $0.otherKindOfToken() }),
            (300, { $0.expiredToken() }), (600, { $0.forgedToken() }), (400, { $0.forgedLink() }), (300, { $0.missingFields() }),
            (200, { $0.unknownPurpose() }), (300, { $0.duplicatedFields() }), (400, { $0.crossOrigin() }),
            (300, { $0.replay() }),
        ]
        var attacks = portal.customers.indices.map { validPress($0) }
        for (count, make) in classes { for _ in 0..<count { attacks.append(make(&self)) } }
        while attacks.count < total { attacks.append(validPage()) }
        attacks.shuffle(using: &rng)
        return attacks
    }

    // MARK: material

    static let otherMonths = ["2025-12", "2026-02", "2026-1", "2026-01 ", "2026-13"]
    /// Signing purposes other than a link's, and a form token's.
    static let notLinks = [OptOutToken.purpose, Portal.savedPurpose, "event", "", "Link"]
    static let notForms = [PortalLink.purpose, Portal.savedPurpose, "event", ""]

    mutating func customer() -> Int { Int.random(in: 0..<portal.customers.count, using: &rng) }
    mutating func other(than c: Int) -> Int { (c + Int.random(in: 1..<portal.customers.count, using: &rng)) % portal.customers.count }
    mutating func purpose() -> String { portal.purposes.randomElement(using: &rng)! }
    mutating func bytes(_ count: Int) -> [UInt8] { (0..<count).map { _ in UInt8.random(in: 0...255, using: &rng) } }
    mutating func formToken(_ c: Int, _ purpose: String) -> String { forms[c].randomElement(using: &rng)![purpose]! }
    /// The purpose each customer's valid presses are for.
    func ownPurpose(_ c: Int) -> String { portal.purposes[c % portal.purposes.count] }

    static func parts(_ token: String) -> (payload: String, signature: String) {
        let parts = token.split(separator: ".", omittingEmptySubsequences: false)
        return (String(parts[0]), String(parts[1]))
    }

    static func json(_ part: String) -> [(String, JSONValue)] {
        let text = String(decoding: Base64URL.decode(part[...])!, as: UTF8.self)
        guard case .object(let fields)? = try? JSONValue.parse(text) else { return [] }
        return fields
    }

    static func encode(_ fields: [(String, JSONValue)]) -> String { Base64URL.encode(Array(JSONValue.object(fields).serialized.utf8)) }

    static func replacing(_ key: String, with value: JSONValue, in fields: [(String, JSONValue)]) -> [(String, JSONValue)] {
        fields.map { $0.0 == key ? (key, value) : $0 }
    }

    /// The token with one bit of its payload or signature flipped (re-encoded, so that only the bytes differ).
    mutating func flipped(_ token: String) -> String {
        let (payload, signature) = Self.parts(token)
        let inPayload = Bool.random(using: &rng)
        var bytes = Base64URL.decode((inPayload ? payload : signature)[...])!
        bytes[Int.random(in: 0..<bytes.count, using: &rng)] ^= 1 << UInt8.random(in: 0...7, using: &rng)
        return inPayload ? Base64URL.encode(bytes) + "." + signature : payload + "." + Base64URL.encode(bytes)
    }

    func linkPayload(_ c: Int) -> JSONValue { .object(Self.json(Self.parts(links[c]).payload)) }

    func optOutPayload(_ c: Int, _ purpose: String) -> JSONValue {
        .object([("l", .string(Self.parts(links[c]).signature)), ("p", .string(purpose)), ("n", "bm9uY2U"),
                 ("e", .int(Int64(now.timeIntervalSince1970) + 3600))])
    }

    func form(_ csrf: String, _ purpose: String) -> String { PortalTests.form([("csrf_token", csrf), ("purpose", purpose)]) }

    var sameOrigin: [(String, String)] { [("Origin", portal.base), ("Content-Type", "application/x-www-form-urlencoded")] }

    func get(_ kind: String, _ token: String, statuses: Set<Int> = [403], raw: Bool = false) -> Attack {
        Attack(kind: "link: " + kind, path: "/portal/" + token, outcome: .refused, statuses: statuses, raw: raw)
    }

    func post(_ kind: String, link: String, body: String, headers: [(String, String)]? = nil,
              outcome: Attack.Outcome = .refused) -> Attack {
        Attack(kind: "opt-out: " + kind, post: true, path: "/portal/\(link)/opt-out", headers: headers ?? sameOrigin, body: body,
               outcome: outcome)
    }

    // MARK: valid requests

    mutating func validPage() -> Attack {
        let c = customer(), o = other(than: c)
        let foreignSaved = Base64URL.encode(portal.signer.mac(Portal.savedPurpose, Portal.savedPayload(links[o], "marketing")))
        let query = ["", "?lang=de", "?lang=fr", "?lang=es", "?lang=en", "?lang=xx", "?withdrawn=marketing&saved=" + foreignSaved,
                     "?withdrawn=marketing"].randomElement(using: &rng)!
        return Attack(kind: "valid: page", path: "/portal/" + links[c] + query, outcome: .page(customer: c))
    }

    func validPress(_ c: Int) -> Attack {
        let csrf = forms[c][0][ownPurpose(c)]!
        return post("valid press", link: links[c], body: form(csrf, ownPurpose(c)),
                    outcome: .optOut(customer: c, purpose: ownPurpose(c), csrf: csrf))
    }

    /// A token may be sent again until it expires (a double click, a browser's retry): it acts again for its own
    /// customer and purpose only, under the same event id. A later page view's token is a new press.
    mutating func replay() -> Attack {
        let c = customer(), purpose = ownPurpose(c), page = Int.random(in: 0..<forms[c].count, using: &rng)
        let csrf = forms[c][page][purpose]!
        let form = [("csrf_token", csrf), ("purpose", purpose)]
        let (body, headers): (String, [(String, String)]) = switch Int.random(in: 0..<5, using: &rng) {
        case 0: (self.form(csrf, purpose), sameOrigin)
        case 1: (self.form(csrf, purpose),
                 [("Referer", portal.base + "/portal/" + links[c]), ("Content-Type", "application/x-www-form-urlencoded")])
        case 2: (self.form(csrf, purpose), [("Content-Type", "application/x-www-form-urlencoded")])
        case 3: (PortalTests.form(form + [("purpose", portal.purposes.first { $0 != purpose }!)]), sameOrigin)
        default: (PortalTests.form([("lang", "de")] + form.reversed() + [("csrf_token", "")]), sameOrigin)
        }
        return post("replay or retry", link: links[c], body: body, headers: headers,
                    outcome: .optOut(customer: c, purpose: purpose, csrf: csrf))
    }

    // MARK: forged links

    mutating func randomSignature() -> Attack {
        get("random signature", Self.parts(links[customer()]).payload + "." + Base64URL.encode(bytes(32)))
    }

    mutating func bitFlipped() -> Attack { get("bit flipped", flipped(links[customer()])) }

    mutating func anotherPayloadsSignature() -> Attack {
        let c = customer()
        let later = try! Portal.link(configuration: portal.configuration, subject: portal.customers[c], month: PortalHarness.month,
                                     ttl: .days(Int64.random(in: 1...29, using: &rng)), now: now)
        let (mine, theirs) = (Self.parts(links[c]), Self.parts(String(later.split(separator: "/").last!)))
        return get("signature of another payload",
                   Bool.random(using: &rng) ? mine.payload + "." + theirs.signature : theirs.payload + "." + mine.signature)
    }

    mutating func truncated() -> Attack {
        let token = Array(links[customer()])
        let dot = token.firstIndex(of: ".")!
        let cut = switch Int.random(in: 0..<6, using: &rng) {
        case 0: String(token.prefix(Int.random(in: 1..<dot, using: &rng)))
        case 1: String(token.prefix(dot))
        case 2: String(token.prefix(dot + 1))
        case 3: String(token.prefix(Int.random(in: dot + 2..<token.count - 1, using: &rng)))
        case 4: String(token.prefix(token.count - 1))
        default: String(token.dropFirst(Int.random(in: 1...dot + 1, using: &rng)))
        }
        return get("truncated", cut)
    }

    mutating func editedPayload() -> Attack {
        let c = customer()
        let (payload, signature) = Self.parts(links[c])
        let fields = Self.json(payload)
        let expiry: Int64 = if case .int(let e)? = JSONValue.object(fields)["e"] { e } else { 0 }
        let edited = switch Int.random(in: 0..<7, using: &rng) {
        case 0: Self.encode(Self.replacing("s", with: .string(portal.customers[other(than: c)]), in: fields))
        case 1: Self.encode(Self.replacing("m", with: .string(Self.otherMonths.randomElement(using: &rng)!), in: fields))
        case 2: Self.encode(Self.replacing("e", with: .int(expiry + Int64.random(in: 1...100_000_000, using: &rng)), in: fields))
        case 3: Self.encode(fields + [("x", 1)])
        case 4: Self.encode(Self.replacing("s", with: .string(portal.customers[c].uppercased()), in: fields))
        case 5: Self.encode(["m", "e", "s"].compactMap { key in fields.first { $0.0 == key } })
        default: Base64URL.encode(Array(JSONValue.object(fields).serialized.replacingOccurrences(of: ",", with: ", ").utf8))
        }
        return get("payload edited under its signature", edited + "." + signature)
    }

    mutating func swapped() -> Attack {
        let a = customer(), b = other(than: a)
        return get("payload and signature of two customers", Self.parts(links[a]).payload + "." + Self.parts(links[b]).signature)
    }

    mutating func expired() -> Attack {
        let ttl = Int64.random(in: 60...(30 * 86_400), using: &rng)
        let overdue = [0, 1, Int64.random(in: 2...(90 * 86_400), using: &rng)].randomElement(using: &rng)!
        let link = try! Portal.link(configuration: portal.configuration, subject: portal.customers[customer()], month: PortalHarness.month,
                                    ttl: .seconds(ttl), now: now.addingTimeInterval(-Double(ttl + overdue)))
        return get("expired", String(link.split(separator: "/").last!))
    }

    mutating func otherSecret() -> Attack {
        var secret = PortalHarness.secret
        if Bool.random(using: &rng) { secret[Int.random(in: 0..<secret.count, using: &rng)] ^= 1 } else { secret = bytes(48) }
        let stranger = PortalConfiguration(secret: secret, consentTopic: "privacy.events")
        let link = try! Portal.link(configuration: stranger, subject: portal.customers[customer()], month: PortalHarness.month, now: now)
        return get("signed with another secret", String(link.split(separator: "/").last!))
    }

    mutating func otherPurpose() -> Attack {
        let c = customer()
        let token = switch Int.random(in: 0..<4, using: &rng) {
        case 0: formToken(c, purpose())
        case 1: portal.signer.seal(Self.notLinks.randomElement(using: &rng)!, linkPayload(c))
        case 2: Self.parts(links[c]).payload + "."
            + Base64URL.encode(portal.signer.mac(Portal.savedPurpose, Portal.savedPayload(links[c], purpose())))
        default: portal.signer.seal(PortalLink.purpose, optOutPayload(c, purpose()))
        }
        return get("a token of another kind", token)
    }

    mutating func garbage() -> Attack {
        let alphabet = TokenEdits.alphabet.map(String.init) + ["%2B", "%2F", "%3D", "=", "+", "~", "%20", "%00", "%FF", "%C3%A9", "%25"]
        let token = switch Int.random(in: 0..<4, using: &rng) {
        case 0: (0..<Int.random(in: 1...300, using: &rng)).map { _ in alphabet.randomElement(using: &rng)! }.joined()
        case 1:
            Base64URL.encode(bytes(Int.random(in: 0...120, using: &rng))) + "."
                + Base64URL.encode(bytes(Int.random(in: 0...40, using: &rng)))
        case 2: links[customer()] + ["=", "==", "%3D"].randomElement(using: &rng)!
        default: links[customer()].replacingOccurrences(of: "-", with: "%2B").replacingOccurrences(of: "_", with: "%2F") + "A"
        }
        return get("base64 garbage", token, raw: true)
    }

    mutating func overLong() -> Attack {
        let c = customer()
        let token = switch Int.random(in: 0..<4, using: &rng) {
        case 0: links[c] + String(repeating: "A", count: Int.random(in: 1...16_000, using: &rng))
        case 1: Base64URL.encode(bytes(Int.random(in: 1_000...40_000, using: &rng))) + "." + Base64URL.encode(bytes(32))
        case 2: links[c] + "." + links[c]
        default:
            Self.encode(Self.replacing("s", with: .string(String(repeating: portal.customers[c], count: 2_000)),
                                       in: Self.json(Self.parts(links[c]).payload)))
                + "." + Self.parts(links[c]).signature
        }
        return get("over-long", token)
    }

    /// Paths that are no portal route at all get the router's 404; the rest reach the portal as one odd token.
    mutating func traversal() -> Attack {
        let a = customer(), b = other(than: a)
        let (mine, theirs) = (links[a], links[b])
        let (token, statuses): (String, Set<Int>) = switch Int.random(in: 0..<12, using: &rng) {
        case 0: ("../" + mine, [404])
        case 1: (mine + "/../" + theirs, [404])
        case 2: (mine + "%2F..%2F" + theirs, [403])
        case 3: ("..%2F" + mine, [403])
        case 4: ("%2e%2e%2f" + mine, [403])
        case 5: (mine + ["%00", "%0A", ";x=1", "%20", "%2F"].randomElement(using: &rng)!, [403])
        case 6: (mine.replacingOccurrences(of: ".", with: "%2E"), [403])
        case 7: (mine.replacingOccurrences(of: ".", with: "/"), [404])
        case 8: ("", [404])
        case 9: ("./" + mine, [404])
        case 10: (mine + "%2F..%2F..%2Fhealthz", [403])
        default: (Self.parts(mine).payload + "%2E" + Self.parts(theirs).signature, [403])
        }
        return get("path traversal or encoded separator", token, statuses: statuses, raw: true)
    }

    // MARK: forged opt-outs

    mutating func otherCustomersToken() -> Attack {
        let a = customer(), b = other(than: a), purpose = purpose()
        return post("another customer's token", link: links[a], body: form(formToken(b, purpose), purpose))
    }

    mutating func otherPurposesToken() -> Attack {
        let a = customer(), purpose = purpose()
        let claimed = portal.purposes.filter { $0 != purpose }.randomElement(using: &rng)!
        return post("a token for another purpose", link: links[a], body: form(formToken(a, purpose), claimed))
    }

    mutating func otherKindOfToken() -> Attack {
        let a = customer(), purpose = purpose()
        let csrf = switch Int.random(in: 0..<4, using: &rng) {
        case 0: links[a]
        case 1: portal.signer.seal(Self.notForms.randomElement(using: &rng)!, optOutPayload(a, purpose))
        case 2: Base64URL.encode(portal.signer.mac(Portal.savedPurpose, Portal.savedPayload(links[a], purpose)))
        default: Self.parts(formToken(a, purpose)).payload + "." + Base64URL.encode(portal.signer.mac(PortalLink.purpose, Array(
            optOutPayload(a, purpose).serialized.utf8)))
        }
        return post("a token of another kind", link: links[a], body: form(csrf, purpose))
    }

    mutating func expiredToken() -> Attack {
        let a = customer(), purpose = purpose()
        let overdue = [0, 1, Double.random(in: 2...86_400, using: &rng).rounded()].randomElement(using: &rng)!
        let csrf = OptOutToken(link: links[a][...], purpose: purpose, now: now.addingTimeInterval(-OptOutToken.lifetime - overdue))
            .token(portal.signer)
        return post("expired token", link: links[a], body: form(csrf, purpose))
    }

    mutating func forgedToken() -> Attack {
        let a = customer(), purpose = purpose()
        let genuine = formToken(a, purpose)
        let (payload, signature) = Self.parts(genuine)
        let fields = Self.json(payload)
        var link = links[a], claimed = purpose
        let csrf: String
        switch Int.random(in: 0..<7, using: &rng) {
        case 0: csrf = flipped(genuine)
        case 1: csrf = String(genuine.prefix(Int.random(in: 0..<genuine.count, using: &rng)))
        case 2: csrf = payload + "." + Base64URL.encode(bytes(32))
        case 3:
            claimed = portal.purposes.filter { $0 != purpose }.randomElement(using: &rng)!
            csrf = Self.encode(Self.replacing("p", with: .string(claimed), in: fields)) + "." + signature
        case 4:
            link = links[other(than: a)]
            csrf = Self.encode(Self.replacing("l", with: .string(Self.parts(link).signature), in: fields)) + "." + signature
        case 5:
            let year = JSONValue.int(Int64(now.timeIntervalSince1970) + 86_400 * 365)
            csrf = Self.encode(Self.replacing("e", with: year, in: fields)) + "." + signature
        default:
            let index = Int.random(in: 0..<genuine.count, using: &rng)
            csrf = TokenEdits.altered(genuine, at: index, shift: Int.random(in: 1..<64, using: &rng))
        }
        return post("forged token", link: link, body: form(csrf, claimed))
    }

    mutating func forgedLink() -> Attack {
        let a = customer(), purpose = purpose()
        let link = switch Int.random(in: 0..<5, using: &rng) {
        case 0: flipped(links[a])
        case 1: Self.parts(links[a]).payload + "." + Self.parts(links[other(than: a)]).signature
        case 2: Self.parts(links[other(than: a)]).payload + "." + Self.parts(links[a]).signature
        case 3: String(try! Portal.link(configuration: portal.configuration, subject: portal.customers[a], month: PortalHarness.month,
                                        ttl: .seconds(60), now: now.addingTimeInterval(-60)).split(separator: "/").last!)
        default: String(try! Portal.link(configuration: portal.configuration, subject: portal.customers[a], month: PortalHarness.month,
                                         ttl: .days(Int64.random(in: 1...29, using: &rng)), now: now).split(separator: "/").last!)
        }
        return post("the token with a forged or other link", link: link, body: form(formToken(a, purpose), purpose))
    }

    mutating func missingFields() -> Attack {
        let a = customer(), purpose = purpose(), csrf = formToken(a, purpose)
        let body = [
            "", "purpose=\(purpose)", PortalTests.form([("csrf_token", csrf)]), PortalTests.form([("csrf_token", csrf), ("purpose", "")]),
            "csrf_token=&purpose=\(purpose)", PortalTests.form([("CSRF_TOKEN", csrf), ("Purpose", purpose)]),
            PortalTests.form([("csrf_token", csrf)]) + ";purpose=\(purpose)", "csrf_token&purpose", "=&=&&",
        ].randomElement(using: &rng)!
        return post("missing fields", link: links[a], body: body)
    }

    /// Even a token the portal signed (it never does, for these) cannot record a purpose the taxonomy does not know.
    mutating func unknownPurpose() -> Attack {
        let a = customer()
        let claimed = ["bogus", "marketing.bogus", "Marketing", "marketing ", "", "../marketing", "marketing\u{0}", "essential;marketing"]
            .randomElement(using: &rng)!
        let csrf = Bool.random(using: &rng)
            ? OptOutToken(link: links[a][...], purpose: claimed, now: now).token(portal.signer) : formToken(a, purpose())
        return post("a purpose not in the list", link: links[a], body: form(csrf, claimed))
    }

    /// The first of a repeated field counts.
    mutating func duplicatedFields() -> Attack {
        let a = customer(), purpose = purpose(), csrf = formToken(a, purpose)
        let another = portal.purposes.filter { $0 != purpose }.randomElement(using: &rng)!
        let fields = switch Int.random(in: 0..<3, using: &rng) {
        case 0: [("purpose", another), ("purpose", purpose), ("csrf_token", csrf)]
        case 1: [("csrf_token", formToken(other(than: a), purpose)), ("csrf_token", csrf), ("purpose", purpose)]
        default: [("csrf_token", ""), ("csrf_token", csrf), ("purpose", purpose)]
        }
        return post("duplicated fields", link: links[a], body: PortalTests.form(fields))
    }

    mutating func crossOrigin() -> Attack {
        let a = customer(), purpose = purpose()
        let host = portal.base.dropFirst("http://".count)
        let claimed = [("Origin", "null"), ("Origin", "https://evil.example"), ("Origin", "http://\(host).evil.example"),
                       ("Origin", "http://localhost:\(host.split(separator: ":").last!)"),
                       ("Referer", "https://evil.example/portal/" + links[a]),
                       ("Referer", "null"), ("Origin", "")].randomElement(using: &rng)!
        return post("another origin", link: links[a], body: form(formToken(a, purpose), purpose),
                    headers: [claimed, ("Content-Type", "application/x-www-form-urlencoded")])
    }
}
