import Foundation

/// Knows which IANA time-zone names exist (Foundation's tz database).
package enum TimeZoneCatalog {
    package static func isKnown(_ name: String) -> Bool {
        TimeZone(identifier: name) != nil
    }
}
