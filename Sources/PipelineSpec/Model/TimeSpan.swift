/// A length of time written as `500ms`, `90s`, `10m`, `1h30m`, held in milliseconds.
public struct TimeSpan: Sendable, Hashable, Comparable, CustomStringConvertible {
    /// Milliseconds.
    public var milliseconds: Int

    /// Creates a span of milliseconds.
    public init(milliseconds: Int) { self.milliseconds = milliseconds }

    /// Creates a span of seconds.
    public static func seconds(_ s: Int) -> TimeSpan { TimeSpan(milliseconds: s * 1000) }
    /// Creates a span of minutes.
    public static func minutes(_ m: Int) -> TimeSpan { TimeSpan(milliseconds: m * 60_000) }

    /// Parses `1h30m`, `90s`, `500ms`: units h, m, s, ms, in that order, each at most once.
    /// - Returns: nil when the text is not a duration.
    public init?(parsing text: String) {
        // On bytes, with no allocation: every stage's `timeout` is parsed.
        var total = 0
        var nextUnit = 0
        var bytes = Substring(text).utf8[...]
        guard !bytes.isEmpty else { return nil }
        while !bytes.isEmpty {
            let digits = bytes.prefix { $0 >= UInt8(ascii: "0") && $0 <= UInt8(ascii: "9") }
            guard !digits.isEmpty, digits.count <= 9 else { return nil }
            bytes = bytes.dropFirst(digits.count)
            let letters = bytes.prefix { $0 >= UInt8(ascii: "a") && $0 <= UInt8(ascii: "z") }
            bytes = bytes.dropFirst(letters.count)
            // h, m, s, ms: the unit's index in that order, and its size.
            let index: Int
            let size: Int
            switch (letters.count, letters.first) {
            case (1, UInt8(ascii: "h")): (index, size) = (0, 3_600_000)
            case (1, UInt8(ascii: "m")): (index, size) = (1, 60_000)
            case (1, UInt8(ascii: "s")): (index, size) = (2, 1000)
            case (2, UInt8(ascii: "m")) where letters.last == UInt8(ascii: "s"): (index, size) = (3, 1)
            default: return nil
            }
            guard index >= nextUnit else { return nil }
            let number = digits.reduce(0) { $0 * 10 + Int($1 - UInt8(ascii: "0")) }
            total += number * size
            nextUnit = index + 1
        }
        milliseconds = total
    }

    /// The shortest spelling: `1h30m`, `90s` stays `1m30s`, `500ms`.
    public var description: String {
        if milliseconds == 0 { return "0s" }
        var rest = milliseconds
        var out = ""
        for (unit, size) in [("h", 3_600_000), ("m", 60_000), ("s", 1000), ("ms", 1)] where rest >= size {
            out += "\(rest / size)\(unit)"
            rest %= size
        }
        return out
    }

    public static func < (lhs: TimeSpan, rhs: TimeSpan) -> Bool { lhs.milliseconds < rhs.milliseconds }
}

/// How a failing step is retried: `attempts` counts every try, the first included.
public struct RetryPolicy: Sendable, Equatable {
    public var attempts: Int
    public var delay: TimeSpan
    public var backoff: Double
    public var maxDelay: TimeSpan
    public var jitter: Bool

    public init(attempts: Int, delay: TimeSpan, backoff: Double, maxDelay: TimeSpan, jitter: Bool) {
        self.attempts = attempts
        self.delay = delay
        self.backoff = backoff
        self.maxDelay = maxDelay
        self.jitter = jitter
    }

    /// One attempt, no retry.
    public static var none: RetryPolicy { FormatDefaults.retry }

    /// The delay before attempt `n + 1` after attempt `n` failed (1-based), without jitter.
    public func delay(afterAttempt n: Int) -> TimeSpan {
        var ms = Double(delay.milliseconds)
        if n > 1 { ms *= pow(backoff, Double(n - 1)) }
        return TimeSpan(milliseconds: Int(min(ms, Double(maxDelay.milliseconds))))
    }

    /// `3 attempts, 2s ×2.0 up to 1m` or `no retry`.
    public var summary: String {
        attempts <= 1 ? "no retry" : "\(attempts) attempts, \(delay) ×\(formatNumber(backoff)) up to \(maxDelay)\(jitter ? " ±jitter" : "")"
    }
}

private func pow(_ base: Double, _ exponent: Double) -> Double {
    var result = 1.0
    var n = Int(exponent)
    while n > 0 { result *= base; n -= 1 }
    return result
}
