import Events
import Foundation

/// What a privacy notice says, taken from the rules a pipeline enforces, so that the notice cannot say something
/// other than what is checked: the data the rules name, the purposes staff may use it for and those that need the
/// customer's consent, how long it is kept, who receives it, which roles may see what, and how fast erasure is.
public struct PolicyFacts: Sendable, Equatable {
    /// What a staff role may see, and why (an `access` rule's grant).
    public struct RoleAccess: Sendable, Equatable {
        public var role: String
        public var purposes: [String]
        public var categories: [String]

        public init(role: String, purposes: [String], categories: [String]) {
            self.role = role
            self.purposes = purposes
            self.categories = categories
        }
    }

    public var organisation: Organisation
    /// Every data category the rules name, sorted.
    public var categories: [String]
    /// Purposes that need the customer's yes (the list `consent_purposes`).
    public var consentPurposes: [String]
    /// Purposes staff may use data for without asking (granted to a role, not in `consentPurposes`), sorted.
    public var servicePurposes: [String]
    public var retention: [RetentionPolicy]
    /// Third parties data may go to (the list `disclosed_recipients`).
    public var recipients: [String]
    public var roles: [RoleAccess]
    /// The shortest time within which an erasure request is answered (a `deadline` rule tagged `erasure`).
    public var erasureWithin: Duration?
    /// How long after a customer says no a use may still happen (the longest `grace` of the `consent` rules).
    public var consentGrace: Duration?

    public init(organisation: Organisation, categories: [String] = [], consentPurposes: [String] = [],
                servicePurposes: [String] = [], retention: [RetentionPolicy] = [], recipients: [String] = [],
                roles: [RoleAccess] = [], erasureWithin: Duration? = nil, consentGrace: Duration? = nil) {
        self.organisation = organisation
        self.categories = categories
        self.consentPurposes = consentPurposes
        self.servicePurposes = servicePurposes
        self.retention = retention
        self.recipients = recipients
        self.roles = roles
        self.erasureWithin = erasureWithin
        self.consentGrace = consentGrace
    }

    /// The facts as JSON (`policy render --format json`).
    public var json: JSONValue {
        func strings(_ list: [String]) -> JSONValue { .array(list.map(JSONValue.string)) }
        func seconds(_ d: Duration?) -> JSONValue { d.map { .int($0.microseconds / 1_000_000) } ?? .null }
        let org: JSONValue = .object([
            ("name", .string(organisation.name)), ("contact_email", organisation.contactEmail.map(JSONValue.string) ?? .null),
            ("privacy_url", organisation.privacyURL.map(JSONValue.string) ?? .null),
        ])
        let keep: [JSONValue] = retention.map { r in
            .object([("categories", strings(r.categories)), ("keep_seconds", seconds(r.keep)), ("from", .string(r.from.rawValue))])
        }
        let grants: [JSONValue] = roles.map { r in
            .object([("role", .string(r.role)), ("purposes", strings(r.purposes)), ("categories", strings(r.categories))])
        }
        return .object([
            ("organisation", org),
            ("categories", strings(categories)),
            ("purposes", .object([("with_consent", strings(consentPurposes)), ("without_consent", strings(servicePurposes))])),
            ("retention", .array(keep)),
            ("recipients", strings(recipients)),
            ("roles", .array(grants)),
            ("erasure_within_seconds", seconds(erasureWithin)),
            ("consent_grace_seconds", seconds(consentGrace)),
        ])
    }
}

/// The privacy notice for people, in one language, from `PolicyFacts` and the pipeline's names of its roles.
struct PolicyNoticePage {
    let catalog: Catalog
    let facts: PolicyFacts
    let texts: [Language: DigestContext.Texts]

    private var t: Catalog { catalog }
    private var context: DigestContext { DigestContext(organisation: facts.organisation, retention: facts.retention, texts: texts) }

    func document() -> Document {
        let org = t.organisationName(context)
        return Document(
            language: t.language,
            title: t.text(.noticeTitle, ["org": org]),
            lead: [.paragraph([.text(t.text(.noticeIntro, ["org": org]))])],
            sections: [data(), purposes(), sayingNo(), SubjectPage.retentionSection(t, context), sharing(), staff(),
                       erasure(), contact()].compactMap { $0 },
            footer: [.paragraph([.text(t.text(.noticeFooter))])])
    }

    private func data() -> Section {
        Section(id: "data", heading: t.text(.noticeDataHeading), blocks: [
            .paragraph([.text(t.text(.noticeDataIntro))]),
            .list(facts.categories.map { [.text(t.categoryName($0))] }),
        ])
    }

    private func purposes() -> Section {
        var blocks: [Block] = []
        if !facts.servicePurposes.isEmpty {
            blocks.append(.paragraph([.text(t.text(.noticeServicePurposes))]))
            blocks.append(.list(facts.servicePurposes.map { [.text(t.useName($0))] }))
        }
        if !facts.consentPurposes.isEmpty {
            blocks.append(.paragraph([.strong(t.text(.noticeConsentPurposes))]))
            blocks.append(.list(facts.consentPurposes.map { [.text(t.useName($0))] }))
        }
        return Section(id: "purposes", heading: t.text(.noticePurposesHeading), blocks: blocks)
    }

    private func sayingNo() -> Section? {
        guard !facts.consentPurposes.isEmpty else { return nil }
        var blocks: [Block] = [.paragraph([.text(t.text(.noticeSayNo))])]
        if let grace = facts.consentGrace, grace.microseconds > 0 {
            blocks.append(.paragraph([.text(t.text(.noticeGrace, ["duration": t.duration(grace)]))]))
        }
        return Section(id: "say-no", heading: t.text(.noticeSayNoHeading), blocks: blocks)
    }

    private func sharing() -> Section {
        guard !facts.recipients.isEmpty else {
            return Section(id: "sharing", heading: t.text(.noticeSharingHeading), blocks: [.paragraph([.text(t.text(.noticeSharingNone))])])
        }
        return Section(id: "sharing", heading: t.text(.noticeSharingHeading), blocks: [
            .paragraph([.text(t.text(.noticeSharingIntro))]),
            .list(facts.recipients.map { [.text($0)] }),
        ])
    }

    private func staff() -> Section? {
        guard !facts.roles.isEmpty else { return nil }
        let table = Table(
            caption: t.text(.noticeStaffCaption), columns: [t.text(.columnWho), t.text(.columnData), t.text(.noticeColumnWhy)],
            rows: facts.roles.map { r in
                [context.roleName(r.role, language: t.language), t.list(r.categories.map(t.categoryName)),
                 t.list(r.purposes.map(t.useName))]
            })
        return Section(id: "staff", heading: t.text(.noticeStaffHeading), blocks: [
            .paragraph([.text(t.text(.noticeStaffIntro))]), .table(table),
        ])
    }

    private func erasure() -> Section {
        let sentence = facts.erasureWithin.map { t.text(.noticeErasureWithin, ["duration": t.duration($0)]) }
            ?? t.text(.noticeErasureAsk)
        return Section(id: "erasure", heading: t.text(.rightsHeading), blocks: [
            .paragraph([.text(t.text(.rightsIntro))]),
            .list([Message.rightAccess, .rightCorrection, .rightErasure, .rightObjection].map { [.text(t.text($0))] }),
            .paragraph([.text(sentence)]),
        ])
    }

    private func contact() -> Section? {
        let blocks = t.contactBlocks(context)
        return blocks.isEmpty ? nil : Section(id: "contact", heading: t.text(.contactHeading), blocks: blocks)
    }
}

extension DigestRenderer {
    /// The privacy notice; its roles are named by the context's pipeline texts.
    public func policyHTML(_ facts: PolicyFacts) -> String {
        HTMLWriter.write(PolicyNoticePage(catalog: language.catalog, facts: facts, texts: context.texts).document())
    }

    public func policyMarkdown(_ facts: PolicyFacts) -> String {
        MarkdownWriter.write(PolicyNoticePage(catalog: language.catalog, facts: facts, texts: context.texts).document())
    }
}

/// What changes for customers between two notices, in plain sentences of one language ("We now keep your browsing
/// history for 180 days instead of 1 year."). Roles are named by the context's pipeline texts.
public struct PolicyChanges: Sendable {
    public var sentences: [String]

    public init(from old: PolicyFacts, to new: PolicyFacts, language: Language, context: DigestContext = DigestContext()) {
        let t = language.catalog
        var out: [String] = []
        func added(_ what: String) { out.append(t.text(.changeAdded, ["what": what])) }
        func removed(_ what: String) { out.append(t.text(.changeRemoved, ["what": what])) }
        func compare(_ a: [String], _ b: [String], _ phrase: (String) -> String) {
            for x in b where !a.contains(x) { added(phrase(x)) }
            for x in a where !b.contains(x) { removed(phrase(x)) }
        }
        compare(old.consentPurposes, new.consentPurposes) { t.text(.changeConsentPurpose, ["purpose": t.useName($0)]) }
        compare(old.servicePurposes, new.servicePurposes) { t.text(.changeServicePurpose, ["purpose": t.useName($0)]) }
        compare(old.categories, new.categories) { t.text(.changeCategory, ["category": t.categoryName($0)]) }
        compare(old.recipients, new.recipients) { t.text(.changeRecipient, ["recipient": $0]) }

        // Retention, per category: a longer or shorter time, or a rule that comes or goes.
        func byCategory(_ facts: PolicyFacts) -> [String: RetentionPolicy] {
            var out: [String: RetentionPolicy] = [:]
            for r in facts.retention { for c in r.categories { out[c] = r } }
            return out
        }
        let before = byCategory(old), after = byCategory(new)
        func sentence(_ r: RetentionPolicy, _ category: String) -> String {
            t.text(r.from == .collect ? .retentionFromCollect : .retentionFromRelationshipEnd,
                   ["categories": t.categoryName(category), "duration": t.duration(r.keep)])
        }
        for category in Set(before.keys).union(after.keys).sorted() {
            switch (before[category], after[category]) {
            case let (a?, b?) where a.keep != b.keep && a.from == b.from:
                out.append(t.text(.changeRetention, [
                    "categories": t.categoryName(category), "new": t.duration(b.keep), "old": t.duration(a.keep),
                ]))
            case let (a?, b?) where a.from != b.from:
                removed(sentence(a, category))
                added(sentence(b, category))
            case (nil, let b?): added(sentence(b, category))
            case (let a?, nil): removed(sentence(a, category))
            default: break
            }
        }

        func grants(_ facts: PolicyFacts) -> [String] {
            facts.roles.map { r in
                t.text(.changeRole, ["role": context.roleName(r.role, language: language),
                                     "categories": t.list(r.categories.map(t.categoryName)),
                                     "purposes": t.list(r.purposes.map(t.useName))])
            }
        }
        compare(grants(old), grants(new)) { $0 }

        /// A time that changed (`changed`), or that comes or goes (`stated`, the notice's own sentence).
        func time(_ a: Duration?, _ b: Duration?, changed: Message, stated: Message) {
            switch (a, b) {
            case let (a?, b?) where a != b: out.append(t.text(changed, ["new": t.duration(b), "old": t.duration(a)]))
            case (nil, let b?): added(t.text(stated, ["duration": t.duration(b)]))
            case (let a?, nil): removed(t.text(stated, ["duration": t.duration(a)]))
            default: break
            }
        }
        time(old.consentGrace, new.consentGrace, changed: .changeGrace, stated: .noticeGrace)
        time(old.erasureWithin, new.erasureWithin, changed: .changeErasure, stated: .noticeErasureWithin)
        sentences = out
    }

    /// One sentence a line, or that nothing changes.
    public func text(_ language: Language) -> String {
        (sentences.isEmpty ? [language.catalog.text(.changeNone)] : sentences).joined(separator: "\n") + "\n"
    }
}

extension PolicyFacts {
    /// The facts read back from `json` (as a store keeps the notice of each pipeline version).
    public init(jsonText: String, origin: String = "notice") throws(DigestError) {
        let j = try DigestJSON(text: jsonText, origin: origin)
        func strings(_ value: Any?) -> [String] { (value as? [Any] ?? []).compactMap { $0 as? String } }
        let org = j.child("organisation")
        self.init(
            organisation: Organisation(
                name: org.object["name"] as? String ?? "", contactEmail: org.object["contact_email"] as? String,
                privacyURL: org.object["privacy_url"] as? String),
            categories: strings(j.object["categories"]),
            consentPurposes: strings(j.child("purposes").object["with_consent"]),
            servicePurposes: strings(j.child("purposes").object["without_consent"]),
            retention: j.list("retention").map { r in
                RetentionPolicy(categories: strings(r.object["categories"]), keep: .seconds(Int64(r.int("keep_seconds"))),
                                from: RetentionPolicy.Clock(rawValue: r.object["from"] as? String ?? "") ?? .collect)
            },
            recipients: strings(j.object["recipients"]),
            roles: j.list("roles").map { r in
                RoleAccess(role: r.object["role"] as? String ?? "", purposes: strings(r.object["purposes"]),
                           categories: strings(r.object["categories"]))
            },
            erasureWithin: (j.object["erasure_within_seconds"] as? NSNumber).map { .seconds($0.int64Value) },
            consentGrace: (j.object["consent_grace_seconds"] as? NSNumber).map { .seconds($0.int64Value) })
    }
}
