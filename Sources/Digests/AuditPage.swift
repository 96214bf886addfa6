/// The privacy office's audit of a month's weak points as a page: what got worse, rankings with the change since the
/// month before, erasure requests by outcome and age, data kept past its time, sensitive reads without a ticket.
struct AuditPage {
    let catalog: Catalog
    let context: DigestContext
    let audit: Audit

    private var t: Catalog { catalog }
    /// Rankings show this many entries; the JSON has them all.
    static let rankingLength = 10

    func document() -> Document {
        let org = t.organisationName(context)
        let month = t.month(audit.month)
        let intro: String = audit.previousMonth.map {
            t.text(.auditIntro, ["org": org, "month": month, "previous": t.month($0)])
        } ?? t.text(.auditIntroFirst, ["org": org, "month": month])
        var sections = [glance(), worse()]
        let dimensions: [(Audit.Dimension, Message, chart: Bool)] = [
            (.role, .auditByRoleHeading, true), (.rule, .auditByRuleHeading, true), (.system, .auditBySystemHeading, true),
            (.actor, .auditByActorHeading, false), (.category, .auditByCategoryHeading, false),
        ]
        for (dimension, heading, chart) in dimensions { sections.append(ranking(dimension, heading, chart: chart)) }
        sections += [erasure(), entries("retention", .auditRetentionHeading, .auditRetentionCaption, .columnData, .auditRetentionNone,
                                         audit.retentionOverdue, name: t.categoryName),
                     entries("sensitive", .auditSensitiveHeading, .auditSensitiveCaption, .columnWho, .auditSensitiveNone,
                             audit.sensitiveWithoutTicket, name: roleName)]
        return Document(
            language: t.language, title: t.text(.auditTitle, ["month": month]),
            lead: [.paragraph([.text(intro)])], sections: sections,
            footer: [.paragraph([.text(t.text(.auditFooter, ["org": org, "month": month]))])])
    }

    private func roleName(_ role: String) -> String { context.roleName(role, language: t.language) }

    private func name(_ dimension: Audit.Dimension) -> (String) -> String {
        switch dimension {
        case .role: roleName
        case .rule: { context.ruleTitle($0, language: t.language) }
        case .category: t.categoryName
        case .actor, .system: { $0 }
        }
    }

    /// `+3`, `−2`, `0`; empty without a previous month.
    private func change(_ n: Int?) -> String {
        guard let n else { return "" }
        return n > 0 ? "+" + t.number(n) : n < 0 ? "−" + t.number(-n) : "0"
    }

    /// A key figure: the change since the month before goes with the label, so that the number stays short.
    private func fact(_ label: Message, _ count: Int, previous: Int?) -> (label: String, value: String) {
        guard let previous, let since = audit.previousMonth else { return (t.text(label), t.number(count)) }
        return (t.text(label) + " " + t.text(.auditChangeSince, ["change": change(count - previous), "month": t.month(since)]), t.number(count))
    }

    private func glance() -> Section {
        let missingTicket = audit.sensitiveWithoutTicket.reduce(0) { $0 + $1.count }
        var facts: [(label: String, value: String)] = [
            fact(.auditViolations, audit.total, previous: audit.previousTotal),
            (t.text(.auditAffected), t.number(audit.subjectsAffected)),
        ]
        if audit.erasure.deadline != nil {
            facts += [(t.text(.auditErasureLate), t.number(audit.erasure.completedLate)),
                      (t.text(.auditErasureOverdue), t.number(audit.erasure.openOverdue))]
        }
        facts.append(fact(.auditSensitive, missingTicket, previous: audit.previousMonth == nil ? nil :
            audit.sensitiveWithoutTicket.reduce(0) { $0 + ($1.previous ?? 0) }))
        return Section(id: "glance", heading: t.text(.glanceHeading), blocks: [.facts(facts)])
    }

    private func dimensionName(_ d: Audit.Dimension) -> String {
        switch d {
        case .role: t.text(.auditDimensionRole)
        case .actor: t.text(.auditDimensionActor)
        case .system: t.text(.auditDimensionSystem)
        case .rule: t.text(.auditDimensionRule)
        case .category: t.text(.auditDimensionCategory)
        }
    }

    private func worse() -> Section {
        let heading = t.text(.auditWorseHeading)
        guard let since = audit.previousMonth else {
            return Section(id: "worse", heading: heading, blocks: [.paragraph([.text(t.text(.auditNoPrevious))])])
        }
        guard !audit.worse.isEmpty else {
            return Section(id: "worse", heading: heading, blocks: [.paragraph([.text(t.text(.auditWorseNone, ["month": t.month(since)]))])])
        }
        let items: [[Inline]] = audit.worse.prefix(Self.rankingLength).map { w in
            [.strong(name(w.dimension)(w.entry.key)),
             .text(" " + t.text(.auditWorseItem, ["dimension": dimensionName(w.dimension), "count": t.number(w.entry.count),
                                                  "previous": t.number(w.entry.previous ?? 0), "change": change(w.entry.change)]))]
        }
        return Section(id: "worse", heading: heading, blocks: [.list(items)])
    }

    private func table(_ caption: String, _ column: String, _ list: [Audit.Entry], name: (String) -> String) -> Table {
        let previous = audit.previousMonth != nil
        var columns = [t.text(.columnRank), column, t.text(.columnViolations)]
        if previous { columns += [t.text(.columnLastMonth), t.text(.columnDifference)] }
        let rows = list.prefix(Self.rankingLength).enumerated().map { i, e in
            [t.number(i + 1), name(e.key), t.number(e.count)] + (previous ? [t.number(e.previous ?? 0), change(e.change)] : [])
        }
        return Table(caption: caption, columns: columns, rows: rows, numeric: previous ? [0, 2, 3, 4] : [0, 2])
    }

    private func ranking(_ dimension: Audit.Dimension, _ heading: Message, chart: Bool) -> Section {
        let list = audit.rankings[dimension] ?? []
        let id = "by-" + dimension.rawValue
        guard list.contains(where: { $0.count > 0 || ($0.previous ?? 0) > 0 }) else {
            return Section(id: id, heading: t.text(heading), blocks: [.paragraph([.text(t.text(.orgViolationsNone))])])
        }
        let name = name(dimension)
        var blocks: [Block] = []
        if chart {
            let bars = list.filter { $0.count > 0 }.prefix(Self.rankingLength)
            blocks.append(.chart(Chart(id: dimension.rawValue, title: t.text(heading), labelHeading: dimensionName(dimension),
                                       valueHeading: t.text(.columnViolations),
                                       bars: bars.map { (label: name($0.key), value: $0.count, text: t.number($0.count)) })))
        }
        if dimension == .actor { blocks.append(.paragraph([.text(t.text(.auditByActorNote))])) }
        blocks.append(.table(table(t.text(.auditRankingCaption, ["dimension": dimensionName(dimension)]), dimensionName(dimension), list,
                                   name: name)))
        return Section(id: id, heading: t.text(heading), blocks: blocks)
    }

    private func erasure() -> Section {
        let e = audit.erasure
        let heading = t.text(.auditErasureHeading)
        guard !e.isEmpty else { return Section(id: "erasure", heading: heading, blocks: [.paragraph([.text(t.text(.auditErasureNone))])]) }
        var facts: [(label: String, value: String)] = [(t.text(.auditErasureRequested), t.number(e.requested))]
        if e.deadline != nil {
            facts += [(t.text(.auditErasureOnTime), t.number(e.completedOnTime)), (t.text(.auditErasureLateAnswered), t.number(e.completedLate))]
        } else {
            facts.append((t.text(.auditErasureAnswered), t.number(e.completed)))
        }
        facts.append((t.text(.auditErasureOpen), t.number(e.open)))
        if e.deadline != nil { facts.append((t.text(.auditErasureOpenOverdue), t.number(e.openOverdue))) }
        var blocks: [Block] = []
        if let deadline = e.deadline { blocks.append(.paragraph([.text(t.text(.auditErasureDeadline, ["deadline": t.duration(deadline)]))])) }
        blocks.append(.facts(facts))
        if let median = Self.median(e.daysToComplete) {
            blocks.append(.paragraph([.text(t.text(.auditErasureMedian, ["median": t.text(.auditDays, count: median),
                                                                          "max": t.text(.auditDays, count: e.daysToComplete.keys.max()!)]))]))
            blocks.append(.chart(weeks("answered", .auditErasureDaysChart, e.daysToComplete)))
        }
        if e.open > 0 { blocks.append(.chart(weeks("open", .auditErasureAgesChart, e.openAgeDays))) }
        return Section(id: "erasure", heading: heading, blocks: blocks)
    }

    /// Requests by whole weeks of age (`0–6 days`, `7–13 days`, …).
    private func weeks(_ id: String, _ title: Message, _ days: [Int: Int]) -> Chart {
        var byWeek: [Int: Int] = [:]
        for (d, n) in days { byWeek[d / 7, default: 0] += n }
        let last = byWeek.keys.max() ?? 0
        let bars = (0...last).map { w in
            (label: t.text(.auditDaysRange, ["from": t.number(w * 7), "to": t.number(w * 7 + 6)]),
             value: byWeek[w] ?? 0, text: t.number(byWeek[w] ?? 0))
        }
        return Chart(id: "erasure-" + id, title: t.text(title), labelHeading: t.text(title), valueHeading: t.text(.columnCount), bars: bars)
    }

    /// The median of a histogram (the lower middle for an even count).
    static func median(_ histogram: [Int: Int]) -> Int? {
        let total = histogram.values.reduce(0, +)
        guard total > 0 else { return nil }
        var seen = 0
        for (value, n) in histogram.sorted(by: { $0.key < $1.key }) {
            seen += n
            if seen * 2 >= total { return value }
        }
        return nil
    }

    private func entries(
        _ id: String, _ heading: Message, _ caption: Message, _ column: Message, _ none: Message, _ list: [Audit.Entry],
        name: (String) -> String
    ) -> Section {
        guard list.contains(where: { $0.count > 0 || ($0.previous ?? 0) > 0 }) else {
            return Section(id: id, heading: t.text(heading), blocks: [.paragraph([.text(t.text(none))])])
        }
        return Section(id: id, heading: t.text(heading), blocks: [.table(table(t.text(caption), t.text(column), list, name: name))])
    }
}

extension DigestRenderer {
    public func auditHTML(_ audit: Audit) -> String { HTMLWriter.write(auditDocument(audit)) }
    public func auditMarkdown(_ audit: Audit) -> String { MarkdownWriter.write(auditDocument(audit)) }

    func auditDocument(_ audit: Audit) -> Document {
        AuditPage(catalog: language.catalog, context: context, audit: audit).document()
    }
}
