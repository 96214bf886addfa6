/// The organisation's monthly report: the same story as the customers' pages, in aggregate, with charts.
struct OrgReport {
    let catalog: Catalog
    let context: DigestContext
    let digest: OrgDigest

    private var t: Catalog { catalog }

    func document() -> Document {
        let org = t.organisationName(context)
        let month = t.month(digest.month)
        let events = digest.eventsByType.values.reduce(0, +)
        var sections = [
            Section(id: "glance", heading: t.text(.glanceHeading), blocks: [.facts([
                (t.text(.orgSubjects), t.number(digest.subjects)),
                (t.text(.orgEvents), t.number(events)),
                (t.text(.orgViolations), t.number(digest.violationTotal)),
                (t.text(.orgAffected), t.number(digest.subjectsWithViolations)),
                (t.text(.orgLate), t.number(digest.lateEvents)),
            ])]),
            section("events", .orgEventsHeading, digest.eventsByType.isEmpty ? [] : [
                .chart(t.chart("events", .orgEventsChart, Catalog.ranked(digest.eventsByType), name: t.eventTypeName)),
            ]),
            violations(),
            section("access", .orgAccessHeading, digest.accessesByPurpose.isEmpty ? [] : [
                .chart(t.chart("purposes", .orgAccessPurposeChart, Catalog.ranked(digest.accessesByPurpose), name: t.useName)),
                .chart(t.chart("roles", .orgAccessRoleChart, Catalog.ranked(digest.accessesByRole), name: roleName)),
                .table(t.countTable(.orgAccessCategoryChart, .columnData, digest.accessesByCategory, name: t.categoryName)),
            ]),
            section("shares", .orgSharesHeading, digest.sharesByRecipient.isEmpty ? [] : [
                .chart(t.chart("recipients", .orgSharesChart, Catalog.ranked(digest.sharesByRecipient)) { $0 }),
            ]),
            consent(),
        ]
        let contact = t.contactBlocks(context)
        if !contact.isEmpty { sections.append(Section(id: "contact", heading: t.text(.contactHeading), blocks: contact)) }
        return Document(
            language: t.language, title: t.text(.orgTitle, ["month": month]),
            lead: [.paragraph([.text(t.text(.orgIntro, ["org": org, "month": month]))])],
            sections: sections,
            footer: [.paragraph([.text(t.text(.orgFooter, ["org": org, "month": month]))])])
    }

    private func section(_ id: String, _ heading: Message, _ blocks: [Block]) -> Section {
        Section(id: id, heading: t.text(heading), blocks: blocks.isEmpty ? [.paragraph([.text(t.text(.nothingThisMonth))])] : blocks)
    }

    private func violations() -> Section {
        guard digest.violationTotal > 0 else {
            return Section(id: "violations", heading: t.text(.orgViolationsHeading), blocks: [.paragraph([.text(t.text(.orgViolationsNone))])])
        }
        let severityOrder = ["critical", "high", "medium", "low"]
        let bySeverity = digest.violationsBySeverity.sorted { a, b in
            (severityOrder.firstIndex(of: a.key) ?? 4, a.key) < (severityOrder.firstIndex(of: b.key) ?? 4, b.key)
        }.map { (key: $0.key, count: $0.value) }
        return section("violations", .orgViolationsHeading, [
            .chart(t.chart("rules", .orgByRuleChart, Catalog.ranked(digest.violationsByRule), name: ruleTitle)),
            .chart(t.chart("severity", .orgBySeverityChart, bySeverity, name: t.severityName)),
        ])
    }

    private func roleName(_ role: String) -> String { context.roleName(role, language: t.language) }
    private func ruleTitle(_ rule: String) -> String { context.ruleTitle(rule, language: t.language) }

    private func consent() -> Section {
        let purposes = Set(digest.consentGranted.keys).union(digest.consentWithdrawn.keys).sorted()
        let rows = purposes.map { p in
            [t.useName(p), t.number(digest.consentGranted[p] ?? 0), t.number(digest.consentWithdrawn[p] ?? 0)]
        }
        return section("consent", .orgConsentHeading, rows.isEmpty ? [] : [
            .table(Table(caption: t.text(.orgConsentCaption),
                         columns: [t.text(.columnPurpose), t.text(.columnSaidYes), t.text(.columnSaidNo)], rows: rows, numeric: [1, 2])),
        ])
    }
}
