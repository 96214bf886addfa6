/// The customer's monthly page: what a right-of-access answer needs, in plain words.
struct SubjectPage {
    let catalog: Catalog
    let context: DigestContext
    let digest: SubjectDigest

    private var t: Catalog { catalog }

    func document() -> Document {
        let org = t.organisationName(context)
        let month = t.month(digest.month)
        return Document(
            language: t.language,
            title: t.text(.subjectTitle, ["month": month]),
            lead: [
                .paragraph([.text(t.text(.subjectIntro, ["org": org, "month": month]))]),
                .paragraph([.text(t.text(.subjectReference, ["subject": digest.subject]))]),
            ],
            sections: [choices(), policyChanges(), glance(), access(), uses(), shares(), consentChanges(), deletions(), problems(),
                       retention(), rights(), contact()].compactMap { $0 },
            footer: [.paragraph([.text(t.text(.footerSentBy, ["org": org, "month": month]))])])
    }

    private var nothing: Block { .paragraph([.text(t.text(.nothingThisMonth))]) }

    /// What the month's change of rules changes for the customer, with the notice to read.
    private func policyChanges() -> Section? {
        guard let change = context.policyChange else { return nil }
        let sentences = PolicyChanges(from: change.before, to: change.after, language: t.language, context: context).sentences
        guard !sentences.isEmpty else { return nil }
        var blocks: [Block] = [.paragraph([.text(t.text(.noticeChangesIntro))]), .list(sentences.map { [.text($0)] })]
        if let url = context.organisation.privacyURL, !url.isEmpty { blocks.append(.paragraph([.link(t.text(.contactPrivacy), url: url)])) }
        return Section(id: "notice-changes", heading: t.text(.noticeChangesHeading), blocks: blocks)
    }

    private func glance() -> Section {
        let shares = digest.shares.values.flatMap(\.values).reduce(0) { $0 + $1.count }
        return Section(id: "glance", heading: t.text(.glanceHeading), blocks: [.facts([
            (t.text(.glanceAccesses), t.number(digest.accessTotal)),
            (t.text(.glanceUses), t.number(digest.useTotal)),
            (t.text(.glanceShares), t.number(shares)),
            (t.text(.glanceChoices), t.number(digest.consent.count)),
            (t.text(.glanceDeletions), t.number(digest.deletions.count)),
            (t.text(.glanceProblems), t.number(digest.violationTotal)),
        ])])
    }

    /// Consent-based purposes first (in the pipeline's order), then any other purpose the customer decided on.
    private var choicePurposes: [String] {
        var seen = Set<String>()
        let decided = digest.consentState.map(\.purpose) + digest.consent.map(\.purpose).sorted()
        return (context.consentPurposes + decided).filter { seen.insert($0).inserted }
    }

    /// The decision that stands for a purpose: the portal's own record of an opt-out just made, else the month's
    /// standing choice (a digest written before `consent_state` existed: the month's last decision); nil when the
    /// customer was never asked.
    private func standing(_ purpose: String) -> SubjectDigest.ConsentStanding? {
        let state = digest.consentState.first { $0.purpose == purpose }
            ?? digest.consent.last { $0.purpose == purpose }.map {
                SubjectDigest.ConsentStanding(purpose: purpose, status: $0.status, since: $0.time, source: $0.source)
            }
        guard let live = context.currentConsent[purpose], live != state?.status else { return state }
        return SubjectDigest.ConsentStanding(purpose: purpose, status: live, since: .distantPast, source: nil)
    }

    /// What stands now for each purpose, since when and how it was given; an opt-out only where something is
    /// allowed.
    private func choices() -> Section? {
        let purposes = choicePurposes
        guard !purposes.isEmpty else { return nil }
        let standings = purposes.map(standing)
        let table = Table(
            caption: t.text(.choicesCaption),
            columns: [t.text(.columnPurpose), t.text(.columnChoice), t.text(.columnSince), t.text(.columnHow)],
            rows: zip(purposes, standings).map { p, s in
                let status: Message = switch s?.status {
                case "granted": .choiceGranted
                case "withdrawn": .choiceWithdrawn
                default: .choiceNeverAsked
                }
                let since = s.map { $0.since == .distantPast ? t.text(.choiceJustNow) : t.date($0.since) } ?? ""
                return [t.useName(p), t.text(status), since, s?.source.map(t.sourceName) ?? ""]
            })
        let buttons = zip(purposes, standings).map { p, s in
            s?.status == "granted" ? (purpose: p, label: t.text(.optOutButton, ["purpose": t.useName(p)])) : nil
        }
        let saved: [Block] = context.optOutSaved.map { [.paragraph([.strong(t.text(.optOutSaved, ["purpose": t.useName($0)]))])] } ?? []
        let blocks: [Block] = saved + [
            .paragraph([.text(t.text(.choicesIntro))]),
            .choices(ChoicesBlock(table: table, buttons: buttons, action: context.optOut, actionColumn: t.text(.columnChange),
                                  note: t.text(.optOutNote))),
        ]
        return Section(id: "choices", heading: t.text(.choicesHeading), blocks: blocks)
    }

    private func access() -> Section {
        guard digest.accessTotal > 0 else { return Section(id: "access", heading: t.text(.accessHeading), blocks: [nothing]) }
        var blocks: [Block] = [
            .paragraph([.text(t.text(.accessIntro, count: digest.accessTotal))]),
            .table(t.countTable(.accessByRoleCaption, .columnWho, digest.accessByRole, name: roleName)),
            .table(t.countTable(.accessByPurposeCaption, .columnPurpose, digest.accessByPurpose, name: t.useName)),
            .table(t.countTable(.accessByCategoryCaption, .columnData, digest.accessByCategory, name: t.categoryName)),
        ]
        if !digest.accessBySystem.isEmpty {
            blocks.append(.table(t.countTable(.accessBySystemCaption, .columnSystem, digest.accessBySystem) { $0 }))
        }
        return Section(id: "access", heading: t.text(.accessHeading), blocks: blocks)
    }

    private func roleName(_ role: String) -> String { context.roleName(role, language: t.language) }

    private func uses() -> Section {
        guard digest.useTotal > 0 else { return Section(id: "uses", heading: t.text(.usesHeading), blocks: [nothing]) }
        return Section(id: "uses", heading: t.text(.usesHeading), blocks: [
            .paragraph([.text(t.text(.usesIntro, count: digest.useTotal))]),
            .table(t.countTable(.usesCaption, .columnPurpose, digest.useByPurpose, name: t.useName)),
        ])
    }

    private func shares() -> Section {
        var rows: [[String]] = []
        for recipient in digest.shares.keys.sorted() {
            for (purpose, share) in digest.shares[recipient]!.sorted(by: { $0.key < $1.key }) {
                rows.append([recipient, t.useName(purpose), t.list(share.categories.sorted().map(t.categoryName)), t.number(share.count)])
            }
        }
        guard !rows.isEmpty else { return Section(id: "shares", heading: t.text(.sharesHeading), blocks: [nothing]) }
        return Section(id: "shares", heading: t.text(.sharesHeading), blocks: [
            .paragraph([.text(t.text(.sharesIntro))]),
            .table(Table(caption: t.text(.sharesCaption),
                         columns: [t.text(.columnRecipient), t.text(.columnPurpose), t.text(.columnData), t.text(.columnCount)],
                         rows: rows, numeric: [3])),
        ])
    }

    private func consentChanges() -> Section {
        guard !digest.consent.isEmpty else { return Section(id: "consent", heading: t.text(.consentHeading), blocks: [nothing]) }
        let rows = digest.consent.map { c in
            [t.date(c.time), t.useName(c.purpose), t.text(c.status == "granted" ? .decisionGranted : .decisionWithdrawn),
             c.source.map(t.sourceName) ?? ""]
        }
        return Section(id: "consent", heading: t.text(.consentHeading), blocks: [
            .table(Table(caption: t.text(.consentCaption),
                         columns: [t.text(.columnWhen), t.text(.columnPurpose), t.text(.columnDecision), t.text(.columnHow)], rows: rows)),
        ])
    }

    private func deletions() -> Section {
        guard !digest.deletions.isEmpty else { return Section(id: "deletions", heading: t.text(.deletionsHeading), blocks: [nothing]) }
        return Section(id: "deletions", heading: t.text(.deletionsHeading), blocks: [.list(digest.deletions.map { d in
            let what = d.categories.contains("*") ? t.text(.deletedEverything) : t.list(d.categories.map(t.categoryName))
            return [.text(t.text(.deletionItem, ["date": t.date(d.time), "categories": what]))]
        })])
    }

    private func problems() -> Section {
        guard digest.violationTotal > 0 else {
            return Section(id: "problems", heading: t.text(.problemsHeading), blocks: [.paragraph([.text(t.text(.problemsNone))])])
        }
        return Section(id: "problems", heading: t.text(.problemsHeading), blocks: [
            .paragraph([.text(t.text(.problemsIntro))]),
            .list(Catalog.ranked(digest.violationsByRule).map { rule in
                [.text(t.text(.problemItem, ["problem": problemSentence(rule.key)], count: rule.count))]
            }),
        ])
    }

    /// The pipeline's sentence for the rule, else the catalog's for its kind, else a sentence naming its description
    /// or id.
    private func problemSentence(_ rule: String) -> String {
        if let s = context.ruleSentence(rule, language: t.language) { return s }
        if let kind = context.rules[rule]?.kind, let s = t.kindSentences[kind] { return s }
        return t.text(.unknownRule, ["rule": context.rules[rule]?.description ?? rule])
    }

    private func retention() -> Section { Self.retentionSection(t, context) }

    /// How long each kind of data is kept and from when (the customer's page and the privacy notice).
    static func retentionSection(_ t: Catalog, _ context: DigestContext) -> Section {
        guard !context.retention.isEmpty else {
            return Section(id: "retention", heading: t.text(.retentionHeading), blocks: [.paragraph([.text(t.text(.retentionNone))])])
        }
        return Section(id: "retention", heading: t.text(.retentionHeading), blocks: [
            .paragraph([.text(t.text(.retentionIntro))]),
            .list(context.retention.map { r in
                let values = ["categories": t.list(r.categories.map(t.categoryName)), "duration": t.duration(r.keep)]
                return [.text(t.text(r.from == .collect ? .retentionFromCollect : .retentionFromRelationshipEnd, values))]
            }),
        ])
    }

    private func rights() -> Section {
        let org = context.organisation
        var complaint: [Inline]
        if let authority = org.supervisoryAuthority, !authority.isEmpty {
            let parts = t.text(.rightComplaintNamed, ["authority": "\u{0}"]).components(separatedBy: "\u{0}")
            complaint = [.text(parts[0])]
            complaint.append(org.supervisoryAuthorityURL.map { .link(authority, url: $0) } ?? .text(authority))
            complaint.append(.text(parts.dropFirst().joined()))
        } else {
            complaint = [.text(t.text(.rightComplaint))]
        }
        return Section(id: "rights", heading: t.text(.rightsHeading), blocks: [
            .paragraph([.text(t.text(.rightsIntro))]),
            .list([Message.rightAccess, .rightCorrection, .rightErasure, .rightObjection].map { [.text(t.text($0))] }),
            .paragraph(complaint),
        ])
    }

    private func contact() -> Section? {
        let blocks = t.contactBlocks(context)
        guard !blocks.isEmpty else { return nil }
        return Section(id: "contact", heading: t.text(.contactHeading), blocks: blocks)
    }
}
