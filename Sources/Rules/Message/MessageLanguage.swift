import Events

/// The languages a rule's `message` may be written in, and a pipeline's `language:` (the one its violations use).
public enum MessageLanguage: String, CaseIterable, Sendable, Hashable, CustomStringConvertible {
    case en, es, de, fr

    public var description: String { rawValue }

    /// `13 Sep 2026`, `13 sept 2026`, `13. Sept. 2026`, `13 sept. 2026`: the UTC date of `time`.
    public func date(_ time: Timestamp) -> String {
        let (year, month, day) = time.civilDate
        var out = Self.numbers[Int(day)]
        out.reserveCapacity(32)
        out += self == .de ? ". " : " "
        out += monthNames[Int(month) - 1]
        out += " "
        out += String(year)
        return out
    }

    /// The date, then the UTC time of day: `13 Sep 2026, 14:05 UTC`.
    public func time(_ time: Timestamp) -> String {
        let second = time.secondOfDay
        let hour = Int(second / 3600), minute = Int(second % 3600 / 60)
        var out = date(time)
        out += ", "
        out += Self.twoDigits[hour]
        out += ":"
        out += Self.twoDigits[minute]
        out += " UTC"
        return out
    }

    /// 0 to 59 as text, and with a leading zero: a message renders a time or two per violation.
    private static let numbers = (0..<60).map { String($0) }
    private static let twoDigits = (0..<60).map { $0 < 10 ? "0\($0)" : String($0) }

    /// Short month names (CLDR's abbreviated ones), January first.
    var monthNames: [String] {
        switch self {
        case .en: Self.english
        case .es: Self.spanish
        case .de: Self.german
        case .fr: Self.french
        }
    }

    private static let english = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]
    private static let spanish = ["ene", "feb", "mar", "abr", "may", "jun", "jul", "ago", "sept", "oct", "nov", "dic"]
    private static let german = ["Jan.", "Feb.", "März", "Apr.", "Mai", "Juni", "Juli", "Aug.", "Sept.", "Okt.", "Nov.", "Dez."]
    private static let french = ["janv.", "févr.", "mars", "avr.", "mai", "juin", "juil.", "août", "sept.", "oct.", "nov.", "déc."]
}
