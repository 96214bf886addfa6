import Digests
import Rules


extension DigestContext {
    /// What the digest pages take from a pipeline: `organisation` of `pipeline.yaml`, the enabled retention rules,
    /// every rule's kind and description, and the consent-based purposes (the list `consent_purposes`, which the
    /// default pipeline's consent rule uses).
    public init(pipeline: Pipeline, optOut: OptOutAction? = nil) {
        let org = pipeline.settings["organisation"]
        var retention: [RetentionPolicy] = []
        var rules: [String: RuleSummary] = [:]
        for rule in pipeline.rules {
            rules[rule.id] = RuleSummary(kind: rule.kind.rawValue, description: rule.description)
            if rule.enabled, case .retention(let categories, let keep, let from) = rule.spec {
                retention.append(RetentionPolicy(categories: categories.map(\.key), keep: keep,
                                                 from: from == .collect ? .collect : .relationshipEnd))
            }
        }
        self.init(
            organisation: Organisation(
                name: org?["name"]?.string ?? "", contactEmail: org?["contact_email"]?.string,
                privacyURL: org?["privacy_url"]?.string, supervisoryAuthority: org?["supervisory_authority"]?.string,
                supervisoryAuthorityURL: org?["supervisory_authority_url"]?.string),
            retention: retention, rules: rules, consentPurposes: pipeline.lists["consent_purposes"] ?? [], optOut: optOut)
    }
}
