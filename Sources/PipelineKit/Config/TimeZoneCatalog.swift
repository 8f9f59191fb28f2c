import Foundation

/// Knows which IANA time-zone names exist (Foundation's tz database).
enum TimeZoneCatalog {
    static func isKnown(_ name: String) -> Bool {
        TimeZone(identifier: name) != nil
    }
}
