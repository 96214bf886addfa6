import Alerts
import Events
import Foundation
import Kafka
@testable import Rules

/// A violation for tests: rule, severity, actor and time as given.
func violation(
    _ id: String, rule: String = "role-access", severity: Severity = .high, actor: String? = "alice",
    subject: String = "s-1", time: String = "2026-03-01T10:00:00Z", tags: [String] = [], alert: [String] = []
) -> Violation {
    let t = Timestamp(rfc3339: time)!
    return Violation(
        id: id, rule: rule, kind: .access, reason: "category_not_allowed", severity: severity, time: t,
        subject: subject, actor: actor, event: "e-\(id)", detectedAt: t, message: "Alice read what she may not.",
        evidence: .object([("role", "support")]), tags: tags, alert: alert)
}

/// A pipeline folder with `pipeline.yaml` (the text given) and one rule file, loaded.
func pipeline(_ yaml: String, rules: String = defaultRules) throws -> Pipeline {
    let directory = FileManager.default.temporaryDirectory.appendingPathComponent("alerts-test-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: directory.appendingPathComponent("rules"), withIntermediateDirectories: true)
    try yaml.write(to: directory.appendingPathComponent("pipeline.yaml"), atomically: true, encoding: .utf8)
    try rules.write(to: directory.appendingPathComponent("rules/rules.yaml"), atomically: true, encoding: .utf8)
    return try PipelineLoader().load(directory: directory.path)
}

let defaultRules = """
    - rule: sharing
      kind: match
      severity: high
      when: event.type == "share"
      reason: shared
    """

/// A one-broker mock cluster with the `privacy.alerts` topic, and a producer to it (keep the cluster alive as long
/// as the producer is used).
func alertTopicProducer() throws -> (MockCluster, Producer) {
    let cluster = try MockCluster(brokers: 1)
    try cluster.createTopic("privacy.alerts", partitions: 1)
    var config = ProducerConfiguration(bootstrapServers: [cluster.bootstrapServers])
    config.messageTimeout = .seconds(30)
    return (cluster, try Producer(configuration: config))
}
