import FoundationEssentials
import FoundationInternationalization

/// Knows which IANA time-zone names exist: ICU's tz database, which FoundationInternationalization
/// brings. FoundationEssentials alone knows only UTC and fixed offsets, and finds ICU's time zones
/// at run time only if they are linked in: ``databaseVersion`` names a symbol that lives beside
/// them, so the static release binary links them (a release-binary test checks a named zone).
package enum TimeZoneCatalog {
    package static func isKnown(_ name: String) -> Bool {
        TimeZone(identifier: name) != nil
    }

    /// The version of the tz database in use (e.g. `2025b`).
    package static var databaseVersion: String { TimeZone.timeZoneDataVersion }
}
