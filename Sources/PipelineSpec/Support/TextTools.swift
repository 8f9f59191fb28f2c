import FoundationEssentials
import Glibc

/// Text helpers that Foundation would give, written here because the binary links only
/// FoundationEssentials (each is a few lines on the standard library).
extension StringProtocol {
    /// Without leading and trailing white space, newlines included (Foundation's
    /// `trimmingCharacters(in: .whitespacesAndNewlines)`).
    package var trimmed: String {
        String(drop { $0.isWhitespace }.reversed().drop { $0.isWhitespace }.reversed())
    }

    /// Without leading and trailing spaces and tabs; newlines kept (Foundation's
    /// `trimmingCharacters(in: .whitespaces)`).
    package var trimmedSpaces: String {
        func blank(_ c: Character) -> Bool { c.isWhitespace && !c.isNewline }
        return String(drop(while: blank).reversed().drop(while: blank).reversed())
    }

    /// `%XX` escapes decoded; nil when an escape is malformed or the bytes are not UTF-8
    /// (Foundation's `removingPercentEncoding`).
    package var removingPercentEncoding: String? {
        var bytes: [UInt8] = []
        var iterator = utf8.makeIterator()
        while let byte = iterator.next() {
            guard byte == UInt8(ascii: "%") else {
                bytes.append(byte)
                continue
            }
            guard let high = iterator.next().flatMap(Self.hexValue), let low = iterator.next().flatMap(Self.hexValue) else { return nil }
            bytes.append(high << 4 | low)
        }
        return String(validating: bytes, as: UTF8.self)
    }

    private static func hexValue(_ byte: UInt8) -> UInt8? {
        switch byte {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): byte - UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): byte - UInt8(ascii: "a") + 10
        case UInt8(ascii: "A")...UInt8(ascii: "F"): byte - UInt8(ascii: "A") + 10
        default: nil
        }
    }
}

package enum TextTools {
    /// `value` with exactly three decimals (`printf("%.3f")`), for seconds in reports.
    package static func threeDecimals(_ value: Double) -> String {
        guard value.isFinite else { return "0.000" }
        let thousandths = Int((abs(value) * 1000).rounded())
        let fraction = String(thousandths % 1000)
        return (value < 0 && thousandths > 0 ? "-" : "") + "\(thousandths / 1000)." + String(repeating: "0", count: 3 - fraction.count) + fraction
    }

    /// What went wrong, in words, for an error from a FoundationEssentials file operation (its
    /// underlying POSIX error's text, as `strerror` gives it) or any other error.
    package static func describe(_ error: any Error) -> String {
        if let error = error as? CocoaError, let posix = error.underlying as? POSIXError {
            return String(cString: strerror(posix.code.rawValue))
        }
        if let posix = error as? POSIXError { return String(cString: strerror(posix.code.rawValue)) }
        return String(describing: error)
    }
}
