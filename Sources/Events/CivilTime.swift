/// Calendar arithmetic on the proleptic Gregorian calendar in UTC (Howard Hinnant's days-from-civil).
public enum CivilTime {
    public static func daysFromCivil(year: Int64, month: Int64, day: Int64) -> Int64 {
        let y = month <= 2 ? year - 1 : year
        let era = (y >= 0 ? y : y - 399) / 400
        let yoe = y - era * 400
        let mp = (month + 9) % 12
        let doy = (153 * mp + 2) / 5 + day - 1
        let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy
        return era * 146097 + doe - 719468
    }

    public static func civilFromDays(_ z0: Int64) -> (year: Int64, month: Int64, day: Int64) {
        let z = z0 + 719468
        let era = (z >= 0 ? z : z - 146096) / 146097
        let doe = z - era * 146097
        let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365
        let y = yoe + era * 400
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100)
        let mp = (5 * doy + 2) / 153
        let d = doy - (153 * mp + 2) / 5 + 1
        let m = mp < 10 ? mp + 3 : mp - 9
        return (m <= 2 ? y + 1 : y, m, d)
    }

    public static func isLeap(_ year: Int64) -> Bool { (year % 4 == 0 && year % 100 != 0) || year % 400 == 0 }

    public static func daysIn(month: Int64, year: Int64) -> Int64 {
        switch month {
        case 2: return isLeap(year) ? 29 : 28
        case 4, 6, 9, 11: return 30
        default: return 31
        }
    }
}

extension Timestamp {
    /// Parses an RFC 3339 date-time (`T`/`t`/space separator, `Z`/`z` or `±HH:MM`, optional fraction).
    public init?(rfc3339 text: String) {
        var text = text
        let parsed: Timestamp? = text.withUTF8 { buffer in
            RFC3339.parse(UnsafeRawBufferPointer(buffer))
        }
        guard let parsed else { return nil }
        self = parsed
    }

    /// RFC 3339 in UTC with `Z`; the fraction is printed only when non-zero, as milliseconds when that is exact.
    public var rfc3339: String {
        let us = microseconds
        let secs = us >= 0 ? us / 1_000_000 : (us - 999_999) / 1_000_000
        let frac = us - secs * 1_000_000
        let days = secs >= 0 ? secs / 86400 : (secs - 86399) / 86400
        let sod = secs - days * 86400
        let (y, m, d) = CivilTime.civilFromDays(days)
        if y >= 0 && y <= 9999 {
            // The common case, written straight into the string's storage.
            return String(unsafeUninitializedCapacity: 27) { buf in
                var i = 0
                func digits(_ value: Int64, _ width: Int) {
                    var v = value
                    for k in stride(from: width - 1, through: 0, by: -1) {
                        buf[i + k] = UInt8(truncatingIfNeeded: v % 10) + 48
                        v /= 10
                    }
                    i += width
                }
                func put(_ byte: UInt8) {
                    buf[i] = byte
                    i += 1
                }
                digits(y, 4); put(45); digits(m, 2); put(45); digits(d, 2); put(84)
                digits(sod / 3600, 2); put(58); digits(sod % 3600 / 60, 2); put(58); digits(sod % 60, 2)
                if frac != 0 {
                    put(46)
                    if frac % 1000 == 0 { digits(frac / 1000, 3) } else { digits(frac, 6) }
                }
                put(90)
                return i
            }
        }
        var out = pad(y, 4) + "-" + pad(m, 2) + "-" + pad(d, 2) + "T"
        out += pad(sod / 3600, 2) + ":" + pad(sod % 3600 / 60, 2) + ":" + pad(sod % 60, 2)
        if frac != 0 {
            out += frac % 1000 == 0 ? "." + pad(frac / 1000, 3) : "." + pad(frac, 6)
        }
        return out + "Z"
    }

    /// `YYYY-MM` of the UTC month containing this instant.
    public var monthKey: String {
        let (y, m, _) = civilDate
        return pad(y, 4) + "-" + pad(m, 2)
    }

    public var civilDate: (year: Int64, month: Int64, day: Int64) {
        let secs = microseconds >= 0 ? microseconds / 1_000_000 : (microseconds - 999_999) / 1_000_000
        let days = secs >= 0 ? secs / 86400 : (secs - 86399) / 86400
        return CivilTime.civilFromDays(days)
    }

    /// Seconds into the UTC day, 0..<86400.
    public var secondOfDay: Int64 {
        let secs = microseconds >= 0 ? microseconds / 1_000_000 : (microseconds - 999_999) / 1_000_000
        let r = secs % 86400
        return r < 0 ? r + 86400 : r
    }

    /// UTC hour of day, 0–23.
    public var hour: Int64 { secondOfDay / 3600 }

    /// ISO weekday in UTC, 1 = Monday … 7 = Sunday.
    public var weekday: Int64 {
        let secs = microseconds >= 0 ? microseconds / 1_000_000 : (microseconds - 999_999) / 1_000_000
        let days = secs >= 0 ? secs / 86400 : (secs - 86399) / 86400
        // 1970-01-01 was a Thursday (4).
        let w = (days + 3) % 7
        return (w < 0 ? w + 7 : w) + 1
    }

    /// The first instant of the UTC month containing this instant.
    public var startOfMonth: Timestamp {
        let (y, m, _) = civilDate
        return Timestamp(seconds: CivilTime.daysFromCivil(year: y, month: m, day: 1) * 86400)
    }

    /// The first instant of the next UTC month.
    public var startOfNextMonth: Timestamp {
        let (y, m, _) = civilDate
        let (ny, nm) = m == 12 ? (y + 1, Int64(1)) : (y, m + 1)
        return Timestamp(seconds: CivilTime.daysFromCivil(year: ny, month: nm, day: 1) * 86400)
    }
}

private func pad(_ value: Int64, _ width: Int) -> String {
    let s = String(value)
    return s.count >= width ? s : String(repeating: "0", count: width - s.count) + s
}

/// The RFC 3339 date-time grammar on raw bytes, shared by the event decoder and the command line.
///
/// `YYYY-MM-DD` `T`|`t`|space `hh:mm:ss` [`.` fraction] `Z`|`z`|`±hh:mm`. Dates are checked against the calendar
/// (no February 30, leap years as Gregorian); `23:59:60` (a leap second) is rejected; a fraction longer than six
/// digits is truncated to microseconds.
public enum RFC3339 {
    public static func parse(_ b: UnsafeRawBufferPointer) -> Timestamp? {
        let n = b.count
        guard n >= 20 else { return nil }
        // Two ASCII digits as a number, or a negative value when either byte is not a digit.
        @inline(__always) func two(_ i: Int) -> Int64 {
            let hi = b[i] &- 48, lo = b[i + 1] &- 48
            return hi < 10 && lo < 10 ? Int64(hi) * 10 + Int64(lo) : -1
        }
        let century = two(0), yy = two(2), month = two(5), day = two(8)
        let hour = two(11), minute = two(14), second = two(17)
        guard century >= 0, yy >= 0, month >= 1, month <= 12, day >= 1, hour >= 0, hour <= 23,
              minute >= 0, minute <= 59, second >= 0, second <= 59,
              b[4] == 45, b[7] == 45, b[13] == 58, b[16] == 58,
              b[10] == 84 || b[10] == 116 || b[10] == 32
        else { return nil }
        let year = century * 100 + yy
        guard day <= CivilTime.daysIn(month: month, year: year) else { return nil }
        var i = 19
        var micros: Int64 = 0
        if b[i] == 46 {
            i += 1
            let start = i
            while i < n {
                let d = b[i] &- 48
                guard d < 10 else { break }
                if i - start < 6 { micros = micros * 10 + Int64(d) } // digits past microseconds are dropped
                i += 1
            }
            guard i > start else { return nil }
            for _ in min(i - start, 6)..<6 { micros *= 10 }
        }
        guard i < n else { return nil }
        var offsetSeconds: Int64 = 0
        switch b[i] {
        case 90, 122:
            i += 1
        case 43, 45:
            guard i + 6 == n, b[i + 3] == 58 else { return nil }
            let oh = two(i + 1), om = two(i + 4)
            guard oh >= 0, oh <= 23, om >= 0, om <= 59 else { return nil }
            offsetSeconds = (oh * 3600 + om * 60) * (b[i] == 45 ? -1 : 1)
            i += 6
        default:
            return nil
        }
        guard i == n else { return nil }
        let days = CivilTime.daysFromCivil(year: year, month: month, day: day)
        let seconds = days * 86400 + hour * 3600 + minute * 60 + second - offsetSeconds
        return Timestamp(microseconds: seconds * 1_000_000 + micros)
    }
}
