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
        var text = text
        guard let total = text.withUTF8({ Self.milliseconds(in: $0) }) else { return nil }
        milliseconds = total
    }

    /// Parses a duration from its UTF-8 bytes, as ``init(parsing:)`` does (no `String` is made).
    package init?(parsingUTF8 bytes: UnsafeBufferPointer<UInt8>) {
        guard let total = Self.milliseconds(in: bytes) else { return nil }
        milliseconds = total
    }

    /// The milliseconds `bytes` spell, or nil. On a buffer, by index, with no allocation: every
    /// stage's `timeout` is parsed.
    private static func milliseconds(in bytes: UnsafeBufferPointer<UInt8>) -> Int? {
        guard !bytes.isEmpty else { return nil }
        var total = 0
        var nextUnit = 0
        var i = 0
        while i < bytes.count {
            var number = 0
            let digitsStart = i
            while i < bytes.count, bytes[i] >= UInt8(ascii: "0"), bytes[i] <= UInt8(ascii: "9") {
                number = number * 10 + Int(bytes[i] - UInt8(ascii: "0"))
                i += 1
                guard i - digitsStart <= 9 else { return nil }
            }
            guard i > digitsStart else { return nil }
            let lettersStart = i
            while i < bytes.count, bytes[i] >= UInt8(ascii: "a"), bytes[i] <= UInt8(ascii: "z") { i += 1 }
            // h, m, s, ms: the unit's index in that order, and its size.
            let index: Int
            let size: Int
            switch (i - lettersStart, lettersStart < i ? bytes[lettersStart] : 0) {
            case (1, UInt8(ascii: "h")): (index, size) = (0, 3_600_000)
            case (1, UInt8(ascii: "m")): (index, size) = (1, 60_000)
            case (1, UInt8(ascii: "s")): (index, size) = (2, 1000)
            case (2, UInt8(ascii: "m")) where bytes[lettersStart + 1] == UInt8(ascii: "s"): (index, size) = (3, 1)
            default: return nil
            }
            guard index >= nextUnit else { return nil }
            total += number * size
            nextUnit = index + 1
        }
        return total
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
