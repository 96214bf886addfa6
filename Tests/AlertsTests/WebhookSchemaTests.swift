import Foundation
import Storage
import Testing

@testable import Alerts
@testable import Rules

/// `AlertPayload.webhook` against docs/schemas/webhook.schema.json (the validator is
/// Tests/ReplayTests/SchemaValidator.swift; Tests/AlertsTests/SchemaValidator.swift is a link to it).
@Suite struct WebhookSchemaTests {
    let schema: SchemaValidator

    init() throws { schema = try SchemaValidator(named: "webhook") }

    static let ids = ["3f2a9c1d5e7b80461a2b3c4d5e6f7081", "0a1b2c3d4e5f60718293a4b5c6d7e8f9"]

    func body(_ message: AlertMessage) -> String { AlertPayload.webhook(message).serialized }

    @Test func aTriggerMatchesTheSchema() {
        let message = AlertMessage(route: "security", violations: [AlertViolation(violation(Self.ids[0]))])
        #expect(schema.errors(json: body(message)) == [])
        #expect(body(message).hasPrefix(#"{"type":"consentinel.alert","version":1,"action":"trigger","#))
    }

    @Test func aGroupMatchesTheSchema() {
        let message = AlertMessage(route: "security", violations: [
            AlertViolation(violation(Self.ids[0], time: "2026-03-01T10:00:00Z")),
            AlertViolation(violation(Self.ids[1], actor: nil, time: "2026-03-01T10:03:00.250Z")),
        ])
        #expect(schema.errors(json: body(message)) == [])
    }

    @Test func aResolveMatchesTheSchema() {
        let message = AlertMessage(route: "pager", action: .resolve, violations: [AlertViolation(violation(Self.ids[1]))])
        #expect(schema.errors(json: body(message)) == [])
        #expect(body(message).contains(#""action":"resolve""#))
    }

    @Test func aRedactedSampleMatchesTheSchema() {
        let message = AlertMessage(route: "security", violations: [AlertViolation(violation(Self.ids[0]))])
        let hashed = AlertRedaction(subject: .hash, actor: .hash, evidence: .drop, key: Secret("a key of the tests"))
        let dropped = AlertRedaction(subject: .drop, actor: .drop, evidence: .drop)
        for redaction in [hashed, dropped] {
            #expect(schema.errors(json: body(redaction.apply(message))) == [])
        }
    }

    @Test func theNoticeOfAlertsSetAsideMatchesTheSchema() {
        let settings = AlertChannelSettings(name: "webhook", kind: .standardError)
        let destination = AlertDispatcher.Destination(
            name: "security/webhook", route: AlertRoute(name: "security", channels: [settings]), settings: settings,
            channel: StandardErrorAlertChannel())
        let notice = AlertDispatcher.setAsideNotice(
            SetAsideSummary(count: 12, first: Date(timeIntervalSince1970: 1_772_000_000), last: Date(), lastSeq: 40),
            destination: destination)
        let message = AlertMessage(route: "security", violations: [notice])
        #expect(schema.errors(json: body(message)) == [])
    }

    @Test func aBodyWithoutItsVersionOrWithAnotherIsRejected() throws {
        let message = AlertMessage(route: "security", violations: [AlertViolation(violation(Self.ids[0]))])
        let text = body(message)
        #expect(schema.errors(json: text.replacingOccurrences(of: #""version":1,"#, with: ""))
                == ["/: the required property 'version' is missing"])
        #expect(!schema.isValid(json: text.replacingOccurrences(of: #""version":1,"#, with: #""version":2,"#)))
        #expect(!schema.isValid(json: text.replacingOccurrences(of: #""count":1,"#, with: #""count":"1","#)))
    }
}
