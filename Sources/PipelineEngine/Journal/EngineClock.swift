import PipelineSpec
import FoundationEssentials
import Glibc

/// The engine's time source. Real by default; the virtual clock (tests, `PIPELINE_TEST_CLOCK=virtual`)
/// jumps over idle waits (retry delays, gate waits, bake times) instead of sleeping, while child
/// processes still run in real time.
public final class EngineClock: @unchecked Sendable {
    /// Virtual time skipped so far; native tasks skip from their own threads, hence the lock.
    private var offset = 0
    private let lock = Lock()
    private var offsetMs: Int { lock.withLock { offset } }
    private let wallBaseMs: Int?
    /// Whether idle waits are skipped.
    public let isVirtual: Bool
    /// A manual clock: time moves only when it is skipped (in-process engine tests).
    private let frozenAt: Int?

    /// Creates a clock.
    /// - Parameters:
    ///   - virtual: skip idle waits instead of sleeping.
    ///   - wallStart: pretend the wall clock read this (ms since 1970) when the clock was made.
    public init(virtual: Bool = false, wallStart: Int? = nil) {
        isVirtual = virtual
        frozenAt = nil
        wallBaseMs = wallStart.map { $0 - Self.monotonicMs() }
    }

    /// A manual clock that reads `wallStart` (ms since 1970) until it is moved: only waits the engine
    /// skips (and simulated processes) advance it, never real time.
    public init(manualAt wallStart: Int) {
        isVirtual = true
        frozenAt = Self.monotonicMs()
        wallBaseMs = wallStart - frozenAt!
    }

    /// Milliseconds on a monotonic scale (virtual offset included).
    public func now() -> Int { (frozenAt ?? Self.monotonicMs()) + offsetMs }

    /// Milliseconds since 1970 (virtual offset included).
    public func wallMs() -> Int {
        if let base = wallBaseMs { return base + now() }
        var ts = timespec()
        clock_gettime(CLOCK_REALTIME, &ts)
        return Int(ts.tv_sec) * 1000 + Int(ts.tv_nsec) / 1_000_000 + offsetMs
    }

    /// Moves virtual time forward (no-op on a real clock).
    public func skip(_ ms: Int) {
        if isVirtual, ms > 0 { lock.withLock { offset += ms } }
    }

    /// The wall time as ISO 8601 UTC with milliseconds: `2026-11-22T10:00:00.000Z`.
    public func timestamp() -> String { Self.iso(wallMs()) }

    static func iso(_ ms: Int) -> String {
        var seconds = time_t(ms / 1000)
        var parts = tm()
        gmtime_r(&seconds, &parts)
        let year = parts.tm_year + 1900
        let millis = Int32(ms % 1000)
        if year >= 0, year <= 9999, millis >= 0 {
            // The common case, written as 24 bytes at once (a journal batch stamps one per event line).
            return String(unsafeUninitializedCapacity: 24) { out in
                func put(_ v: Int32, _ digits: Int, at offset: Int) {
                    var v = v
                    for i in stride(from: offset + digits - 1, through: offset, by: -1) {
                        out[i] = UInt8(ascii: "0") + UInt8(v % 10)
                        v /= 10
                    }
                }
                put(year, 4, at: 0)
                put(parts.tm_mon + 1, 2, at: 5)
                put(parts.tm_mday, 2, at: 8)
                put(parts.tm_hour, 2, at: 11)
                put(parts.tm_min, 2, at: 14)
                put(parts.tm_sec, 2, at: 17)
                put(millis, 3, at: 20)
                for (offset, byte) in [(4, "-"), (7, "-"), (10, "T"), (13, ":"), (16, ":"), (19, "."), (23, "Z")] as [(Int, Unicode.Scalar)] {
                    out[offset] = UInt8(ascii: byte)
                }
                return 24
            }
        }
        func pad(_ v: Int32, _ n: Int) -> String { let s = String(v); return String(repeating: "0", count: max(0, n - s.count)) + s }
        return
            "\(pad(parts.tm_year + 1900, 4))-\(pad(parts.tm_mon + 1, 2))-\(pad(parts.tm_mday, 2))T\(pad(parts.tm_hour, 2)):\(pad(parts.tm_min, 2)):\(pad(parts.tm_sec, 2)).\(pad(Int32(ms % 1000), 3))Z"
    }

    static func monotonicMs() -> Int {
        var ts = timespec()
        clock_gettime(CLOCK_MONOTONIC, &ts)
        return Int(ts.tv_sec) * 1000 + Int(ts.tv_nsec) / 1_000_000
    }
}
