import Daemon
import Digests
import Events
import Foundation
import Kafka
import Portal
import Rules
import Testing

#if canImport(FoundationNetworking)
import FoundationNetworking
#endif

/// The customer portal of a running daemon: signed links, the page in headless Chromium, and the opt-out that
/// becomes exactly one consent event on the consent topic.
@Suite(.serialized) struct PortalTests {
    struct Reply {
        var status: Int
        var body: String
        var url: URL?
    }

    static func request(_ url: String, method: String = "GET", headers: [String: String] = [:], body: String? = nil) async throws -> Reply {
        var request = URLRequest(url: try #require(URL(string: url)))
        request.httpMethod = method
        for (name, value) in headers { request.setValue(value, forHTTPHeaderField: name) }
        if let body {
            request.httpBody = Data(body.utf8)
            request.setValue("application/x-www-form-urlencoded", forHTTPHeaderField: "Content-Type")
        }
        let (data, response) = try await URLSession.shared.data(for: request)
        let http = response as? HTTPURLResponse
        return Reply(status: http?.statusCode ?? 0, body: String(decoding: data, as: UTF8.self), url: http?.url)
    }

    static func form(_ fields: [(String, String)]) -> String {
        var allowed = CharacterSet.alphanumerics
        allowed.insert(charactersIn: "-._~")
        return fields.map { "\($0.0)=\($0.1.addingPercentEncoding(withAllowedCharacters: allowed)!)" }.joined(separator: "&")
    }

    /// The opt-out forms of a portal page: where each posts, its token and its purpose.
    static func forms(in page: String) -> [(action: String, csrf: String, purpose: String)] {
        page.matches(of: /<form method="post" action="([^"]+)" class="optout"><input type="hidden" name="csrf_token" value="([^"]+)"><input type="hidden" name="purpose" value="([^"]+)">/)
            .map { (String($0.output.1), String($0.output.2), String($0.output.3)) }
    }

    /// Consent events from the portal on the events topic.
    static func portalEvents(_ fixture: DaemonFixture, atLeast count: Int) async throws -> [(key: [UInt8]?, event: JSONValue)] {
        func select(_ messages: [ConsumerMessage]) -> [(key: [UInt8]?, event: JSONValue)] {
            messages.compactMap { m in
                guard let v = try? JSONValue.parse(String(decoding: m.value, as: UTF8.self)), case .string("web")? = v["source"],
                      case .string(let id)? = v["id"], id.hasPrefix("portal-") else { return nil }
                return (m.key, v)
            }
        }
        return select(try await readTopic(fixture, fixture.eventsTopic, partitions: fixture.partitions, timeout: .seconds(30)) {
            select($0).count >= count
        })
    }

    @Test func thePortalShowsTheCustomersMonthAndRecordsOneOptOutPerPress() async throws {
        let fixture = try DaemonDigestTests.fixture(extraSettings: """
            portal:
              secret: ${PORTAL_SECRET}
              consent_topic: privacy.events
              link_ttl: 7d
              port: 0
            """)
        defer { try? FileManager.default.removeItem(at: fixture.directory) }
        let secret = "test-secret-" + UUID().uuidString + UUID().uuidString
        var environment = fixture.environment
        environment["PORTAL_SECRET"] = secret
        let (lines, _) = fixture.traffic(events: 1_500, seed: 61)
        let (daemon, admin, base) = try await fixture.startInProcess(logLevel: .warning, environment: environment, portal: true)
        defer { daemon.cancel() }
        try await fixture.produce(lines, end: DaemonDigestTests.month.startOfNextMonth + .minutes(10))
        let written = fixture.directory.appendingPathComponent("out/digests/2026-01")
        try await waitUntil("the month's digests", timeout: .seconds(90)) {
            FileManager.default.fileExists(atPath: written.appendingPathComponent("org.json").path)
        }
        let subjects = try String(contentsOf: written.appendingPathComponent("subjects.jsonl"), encoding: .utf8)
            .split(separator: "\n").map { try SubjectDigest(jsonText: String($0)) }
        let customer = try #require(subjects.first { $0.accessTotal > 0 })
        let other = try #require(subjects.last { $0.subject != customer.subject })

        let pipeline = try PipelineLoader().load(directory: fixture.directory.path)
        let portal = try #require(try PortalConfiguration.load(pipeline: pipeline, environment: environment))
        #expect(!portal.description.contains(secret))
        let path = try Portal.link(configuration: portal, subject: customer.subject, month: "2026-01")

        // A valid link opens the customer's page, with their figures and an opt-out form.
        let page = try await Self.request(base + path + "?lang=en")
        #expect(page.status == 200)
        #expect(page.body.contains(customer.subject))
        #expect(!page.body.contains(other.subject + "<"), "nothing of another customer")
        #expect(page.body.contains("<form method=\"post\""))

        // Every refusal is the same 403, whatever was wrong.
        let forbidden = try await Self.request(base + "/portal/nonsense")
        #expect(forbidden.status == 403)
        let token = String(path.dropFirst("/portal/".count))
        for index in 0..<token.count {
            let reply = try await Self.request(base + "/portal/" + TokenEdits.altered(token, at: index, shift: 1))
            #expect(reply.status == 403 && reply.body == forbidden.body, "altered at \(index)")
        }
        let expired = try Portal.link(configuration: portal, subject: customer.subject, month: "2026-01", ttl: .seconds(60),
                                      now: Date().addingTimeInterval(-120))
        let theirs = try Portal.link(configuration: portal, subject: other.subject, month: "2026-01")
        let swapped = theirs.split(separator: ".")[0] + "." + path.split(separator: ".")[1]
        let stranger = PortalConfiguration(secret: Array("an attacker's secret, thirty-two bytes or more".utf8), consentTopic: "x")
        for bad in [expired, String(swapped), try Portal.link(configuration: stranger, subject: customer.subject, month: "2026-01")] {
            let reply = try await Self.request(base + bad)
            #expect(reply.status == 403 && reply.body == forbidden.body, "\(bad)")
        }

        // The page fits a phone and a desktop, and the opt-out is near the top.
        for (name, width, height) in Chromium.sizes {
            let m = try Chromium.measure(page.body, width: width, height: height)
            #expect(m.scrollWidth <= width, "\(name): \(m.scrollWidth)px wide in a \(width)px viewport")
            #expect(m.buttonTop >= 0 && m.buttonTop <= 1.5 * Double(height), "\(name): the first opt-out button is at \(m.buttonTop)px")
            let png = try Chromium.screenshot(page.body, width: width, height: height, docsName: "portal-\(name).png")
            #expect(PNGImage.problems(ofPage: png, width: width, height: height) == [], "\(name)")
        }

        // Pressing the first opt-out, twice (a double click, a retry), records one consent event.
        let (action, csrf, purpose) = try #require(Self.forms(in: page.body).first)
        let fields = Self.form([("csrf_token", csrf), ("purpose", purpose)])
        for _ in 0..<2 {
            let pressed = try await Self.request(base + action, method: "POST", headers: ["Origin": base], body: fields)
            #expect(pressed.status == 200)
            #expect(pressed.url?.query?.contains("withdrawn=") == true, "redirected to the page: \(pressed.url?.absoluteString ?? "")")
            #expect(pressed.body.contains("<strong>Saved: from now on we do not use your data for"), "a confirmation")
        }
        // A confirmation comes only from a recorded press: a hand-written `?withdrawn=` (or a wrong `saved`) shows none.
        for forged in ["?withdrawn=\(purpose)", "?withdrawn=\(purpose)&saved=AAAA"] {
            let reply = try await Self.request(base + "/portal/" + token + forged)
            #expect(reply.status == 200 && !reply.body.contains("<strong>Saved:"), "\(forged)")
        }
        for (headers, body) in [
            (["Origin": "https://evil.example"], fields),
            (["Referer": "https://evil.example/page"], fields),
            (["Origin": base], Self.form([("csrf_token", csrf), ("purpose", "personalize")])),
            (["Origin": base], Self.form([("purpose", purpose)])),
        ] {
            let reply = try await Self.request(base + action, method: "POST", headers: headers, body: body)
            #expect(reply.status == 403 && reply.body == forbidden.body, "\(headers) \(body)")
        }
        let anotherAction = action.replacingOccurrences(of: token, with: String(theirs.dropFirst("/portal/".count)))
        #expect(try await Self.request(base + anotherAction, method: "POST", headers: ["Origin": base], body: fields).status == 403,
                "a form token works only with its own link")

        // Every opt-out recorded is published (the outbox empty), and the topic is read to its end: a second event for
        // the press, had one been recorded, would be among these.
        try await waitUntil("the outbox published", timeout: .seconds(30)) {
            let samples = PrometheusText.parse(await httpGet(admin + "/metrics")?.1 ?? "")
            let consents = samples.samples.filter { $0.name == "consentinel_outputs_published_total" && $0.labels.contains("consent") }
            return consents.reduce(0) { $0 + $1.value } >= 1 && samples.sum("consentinel_outbox_depth") == 0
        }
        let events = try await Self.portalEvents(fixture, atLeast: 1)
        #expect(events.count == 1, "exactly one consent event for one press")
        let event = try #require(events.first)
        #expect(event.key == Array(customer.subject.utf8))
        #expect(event.event["type"] == .string("consent"))
        #expect(event.event["status"] == .string("withdrawn"))
        #expect(event.event["subject"] == .string(customer.subject))
        #expect(event.event["purpose"] == .string(purpose))
        // The daemon reads it back as a valid event: no dead letter names it.
        let deadLetters = (try? String(contentsOf: fixture.deadLettersFile, encoding: .utf8)) ?? ""
        #expect(!deadLetters.contains("portal-"))
        // Two listeners: the portal serves no metrics or health, and health and metrics serve no portal page.
        #expect(await httpGet(base + "/metrics")?.0 == 404)
        #expect(await httpGet(base + "/healthz")?.0 == 404)
        #expect(await httpGet(admin + path)?.0 == 404)
        let metrics = PrometheusText.parse(await httpGet(admin + "/metrics")?.1 ?? "")
        let requests = { (outcome: String) in
            metrics.samples.filter { $0.name == "consentinel_portal_requests_total" && $0.labels.contains("\"\(outcome)\"") }
                .reduce(0) { $0 + $1.value }
        }
        #expect(requests("opt_out") == 2)
        #expect(requests("refused") >= Double(token.count + 8))
        #expect(requests("page") >= 3, "the page, and after each press the redirect to it")
    }
}
