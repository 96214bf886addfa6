import Events
import Digests
import Rules


extension DigestContext {
    /// What the digest pages take from a pipeline: `organisation` of `pipeline.yaml`, the enabled retention rules,
    /// every rule's kind and description, the consent-based purposes (the list `consent_purposes`, which the
    /// default pipeline's consent rule uses), and its words for people (`texts/`).
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
        var texts: [Language: Texts] = [:]
        for (code, t) in pipeline.texts {
            guard let language = Language(rawValue: code) else { continue }
            texts[language] = Texts(roles: t.roles, ruleTitles: t.ruleTitles, ruleSentences: t.ruleSentences)
        }
        self.init(
            organisation: Organisation(
                name: org?["name"]?.string ?? "", contactEmail: org?["contact_email"]?.string,
                privacyURL: org?["privacy_url"]?.string, supervisoryAuthority: org?["supervisory_authority"]?.string,
                supervisoryAuthorityURL: org?["supervisory_authority_url"]?.string),
            retention: retention, rules: rules, consentPurposes: pipeline.lists["consent_purposes"] ?? [], optOut: optOut,
            texts: texts)
    }
}

extension PolicyFacts {
    /// The notice's facts from the rules a pipeline enforces: data categories from its retention rules, its access
    /// grants and its lists of categories; purposes from the grants and `consent_purposes`; recipients from
    /// `disclosed_recipients`; the erasure time from its `deadline` rules tagged `erasure`.
    public init(pipeline: Pipeline) {
        let context = DigestContext(pipeline: pipeline)
        let consent = context.consentPurposes
        var categories = Set<String>(), service = Set<String>()
        var roles: [PolicyFacts.RoleAccess] = []
        var erasure: Events.Duration?, grace: Events.Duration?
        for rule in pipeline.rules where rule.enabled {
            switch rule.spec {
            case .access(_, let grants):
                for (role, grant) in grants.sorted(by: { $0.key < $1.key }) {
                    let purposes = grant.purposes.map(\.key), kinds = grant.categories.map(\.key)
                    roles.append(PolicyFacts.RoleAccess(role: role.description, purposes: purposes, categories: kinds))
                    categories.formUnion(kinds)
                    service.formUnion(purposes.filter { p in !consent.contains { p == $0 || p.hasPrefix($0 + ".") } })
                }
            case .deadline(_, _, let within, _) where rule.tags.contains("erasure"):
                erasure = erasure.map { Swift.min($0, within) } ?? within
            case .consent(_, let ruleGrace):
                grace = grace.map { Swift.max($0, ruleGrace) } ?? ruleGrace
            default:
                break
            }
        }
        for policy in context.retention { categories.formUnion(policy.categories) }
        for (_, items) in pipeline.lists where !items.isEmpty && items.allSatisfy({ pipeline.taxonomy.categories.node($0) != nil }) {
            categories.formUnion(items)
        }
        // A whole top-level family (`user`: everything) says nothing the more precise keys do not.
        let precise = categories.filter { key in key.contains(".") || !categories.contains { $0.hasPrefix(key + ".") } }
        self.init(
            organisation: context.organisation, categories: precise.sorted(), consentPurposes: consent,
            servicePurposes: service.sorted(), retention: context.retention,
            recipients: pipeline.lists["disclosed_recipients"] ?? [], roles: roles, erasureWithin: erasure, consentGrace: grace)
    }
}
