internal import CHTTP
import FoundationEssentials
import Glibc
import PipelineSpec

/// Native HTTP and TCP probes (no shelling out to curl), used by infra-precheck, verify and canary.
/// HTTP goes through libcurl's library, loaded on the first request (see `CHTTP`).
///
/// HTTP probes never follow redirects: the status judged is the one the probed URL answered
/// (`expect: 302` can pass, and a health check redirected to a login page fails).
enum Probes {
    /// The result of one HTTP GET.
    struct HTTPResult: Sendable {
        var status: Int?
        var body: Data
        var error: String?
        var milliseconds: Int
        /// The `Location` of a redirect that was not followed.
        var location: String? = nil

        /// The status for a message: `503`, `302 (redirect to /login, not followed)`.
        var statusText: String {
            "\(status ?? 0)" + (location.map { " (redirect to \($0), not followed)" } ?? "")
        }
    }

    /// GET `url` with a timeout; never throws, never follows a redirect. Gives up early (error
    /// `cancelled`) once `cancelled` says so, so a stopped stage or an interrupted run does not
    /// wait for a slow server.
    static func get(_ url: String, timeoutMs: Int, cancelled: () -> Bool = { false }) -> HTTPResult {
        request(url, method: "GET", body: nil, timeoutMs: timeoutMs, cancelled: cancelled)
    }

    /// POSTs a JSON body to `url` with a timeout (a `notify` webhook); never throws, never follows a redirect.
    static func postJSON(_ url: String, body: Data, timeoutMs: Int) -> HTTPResult {
        request(url, method: "POST", body: body, timeoutMs: timeoutMs, cancelled: { false })
    }

    static func request(_ url: String, method: String, body: Data?, timeoutMs: Int, cancelled: () -> Bool) -> HTTPResult {
        let started = EngineClock.monotonicMs()
        guard let target = URL(string: url), target.scheme == "http" || target.scheme == "https" else {
            return HTTPResult(status: nil, body: Data(), error: "'\(url)' is not an http(s) URL", milliseconds: 0)
        }
        return withoutActuallyEscaping(cancelled) { cancelled in
            let transfer = Transfer(cancelled: cancelled)
            var status = 0
            var location = [CChar](repeating: 0, count: 2048)
            var error = [CChar](repeating: 0, count: 512)
            let payload = body ?? Data()
            let outcome = payload.withUnsafeBytes { bytes in
                withExtendedLifetime(transfer) {
                    pl_http_request(
                        url, method, bytes.baseAddress?.assumingMemoryBound(to: CChar.self), bytes.count,
                        body == nil ? nil : "application/json", timeoutMs,
                        { data, size, context in
                            let transfer = Unmanaged<Transfer>.fromOpaque(context!).takeUnretainedValue()
                            guard transfer.body.count + size <= Transfer.limit else {
                                transfer.tooLarge = true
                                return 0
                            }
                            if let data { transfer.body.append(UnsafeRawPointer(data).assumingMemoryBound(to: UInt8.self), count: size) }
                            return size
                        },
                        { context in Unmanaged<Transfer>.fromOpaque(context!).takeUnretainedValue().cancelled() ? 1 : 0 },
                        Unmanaged.passUnretained(transfer).toOpaque(), &status, &location, location.count, &error, error.count)
                }
            }
            let elapsed = EngineClock.monotonicMs() - started
            if transfer.tooLarge {
                return HTTPResult(status: nil, body: Data(), error: "the response is larger than \(Transfer.limit >> 20) MiB", milliseconds: elapsed)
            }
            switch Int(outcome) {
            case Int(PL_HTTP_OK):
                let sent = Self.string(location)
                let redirect = (300..<400).contains(status) && !sent.isEmpty ? sent : nil
                return HTTPResult(status: status, body: transfer.body, error: nil, milliseconds: elapsed, location: redirect)
            case Int(PL_HTTP_CANCELLED):
                return HTTPResult(status: nil, body: Data(), error: "cancelled", milliseconds: elapsed)
            case Int(PL_HTTP_TIMED_OUT):
                return HTTPResult(status: nil, body: Data(), error: "timed out after \(TimeSpan(milliseconds: timeoutMs))", milliseconds: elapsed)
            default:
                return HTTPResult(status: nil, body: Data(), error: Self.string(error), milliseconds: elapsed)
            }
        }
    }

    /// What one request's callbacks share: the body so far and the caller's cancel check.
    private final class Transfer {
        /// The most of a body kept: a probe, a webhook's answer or a Prometheus result is small,
        /// and a server that sends without end must not exhaust the engine's memory.
        static let limit = 16 << 20
        let cancelled: () -> Bool
        var body = Data()
        var tooLarge = false
        init(cancelled: @escaping () -> Bool) { self.cancelled = cancelled }
    }

    private static func string(_ buffer: [CChar]) -> String {
        String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    /// Connects to `host:port` within a timeout; nil on success, else why not.
    static func tcp(host: String, port: Int, timeoutMs: Int, cancelled: () -> Bool = { false }) -> String? {
        var hints = addrinfo()
        hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
        var list: UnsafeMutablePointer<addrinfo>?
        let rc = getaddrinfo(host, String(port), &hints, &list)
        guard rc == 0, let first = list else { return "cannot resolve '\(host)': \(String(cString: gai_strerror(rc)))" }
        defer { freeaddrinfo(list) }
        var lastError = "no address"
        var entry: UnsafeMutablePointer<addrinfo>? = first
        while let info = entry {
            entry = info.pointee.ai_next
            let fd = socket(
                info.pointee.ai_family, info.pointee.ai_socktype | Int32(SOCK_NONBLOCK.rawValue) | Int32(SOCK_CLOEXEC.rawValue), info.pointee.ai_protocol)
            guard fd >= 0 else { continue }
            defer { close(fd) }
            if connect(fd, info.pointee.ai_addr, info.pointee.ai_addrlen) == 0 { return nil }
            guard errno == EINPROGRESS else { lastError = String(cString: strerror(errno)); continue }
            var pfd = pollfd(fd: fd, events: Int16(POLLOUT), revents: 0)
            let giveUp = EngineClock.monotonicMs() + timeoutMs
            var n: Int32 = 0
            while n == 0, EngineClock.monotonicMs() < giveUp {
                if cancelled() { return "cancelled" }
                n = poll(&pfd, 1, Int32(max(1, min(50, giveUp - EngineClock.monotonicMs()))))
            }
            if n == 0 { lastError = "timed out after \(TimeSpan(milliseconds: timeoutMs))"; continue }
            var error: Int32 = 0
            var length = socklen_t(MemoryLayout<Int32>.size)
            getsockopt(fd, SOL_SOCKET, SO_ERROR, &error, &length)
            if error == 0 { return nil }
            lastError = String(cString: strerror(error))
        }
        return "cannot connect to \(host):\(port): \(lastError)"
    }

    /// Why a metric has no value (the round, or the baseline, fails).
    struct NotANumber: Error, Sendable {
        var message: String
    }

    /// The finite number in `text` (`0.05`, ` 12 `, `1e-3`). NaN and ±infinity (`NaN`, `-nan`,
    /// `inf`) are not numbers here: a metric that reads one fails its round instead of passing
    /// every bound (every comparison with NaN is false).
    static func finiteNumber(_ text: String) -> Double? {
        guard let value = Double(text.trimmedSpaces), value.isFinite else { return nil }
        return value
    }

    /// The number an analysis script printed: its last non-empty line.
    static func number(printed lines: [String]) -> Result<Double, NotANumber> {
        guard let last = lines.last(where: { !$0.trimmedSpaces.isEmpty }) else {
            return .failure(NotANumber(message: "the script printed no number"))
        }
        guard let value = finiteNumber(last) else {
            return .failure(NotANumber(message: "'\(last.trimmedSpaces.prefix(80))' is not a finite number"))
        }
        return .success(value)
    }

    /// The number at a dotted path (`metrics.error_rate`, `p95.0`) in a JSON document: a JSON
    /// number, or a string holding one (Prometheus writes sample values as strings); finite only.
    static func number(in body: Data, at path: String) -> Result<Double, NotANumber> {
        guard var value = JSONValue.parse(String(decoding: body, as: UTF8.self)[...]) else {
            return .failure(NotANumber(message: "the response is not JSON"))
        }
        for key in path.split(separator: ".") where !key.isEmpty {
            if let next = value[String(key)] {
                value = next
            } else if let array = value.array, let index = Int(key), array.indices.contains(index) {
                value = array[index]
            } else {
                return .failure(NotANumber(message: "the response has nothing at '\(path)'"))
            }
        }
        switch value {
        case .int(let number):
            return .success(Double(number))
        case .double(let number):
            guard number.isFinite else { return .failure(NotANumber(message: "the value at '\(path)' is not a finite number")) }
            return .success(number)
        case .string(let text):
            guard let number = finiteNumber(text) else {
                return .failure(NotANumber(message: "'\(text.prefix(80))' at '\(path)' is not a finite number"))
            }
            return .success(number)
        default:
            break
        }
        return .failure(NotANumber(message: "the value at '\(path)' is not a number"))
    }
}
