import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif

/// Native HTTP and TCP probes (no shelling out to curl), used by infra-precheck, verify and canary.
enum Probes {
    /// The result of one HTTP GET.
    struct HTTPResult: Sendable {
        var status: Int?
        var body: Data
        var error: String?
        var milliseconds: Int
    }

    /// GET `url` with a timeout; never throws. Gives up early (error `cancelled`) once `cancelled` says so,
    /// so a stopped stage or an interrupted run does not wait for a slow server.
    static func get(_ url: String, timeoutMs: Int, cancelled: () -> Bool = { false }) -> HTTPResult {
        let started = EngineClock.monotonicMs()
        guard let target = URL(string: url), target.scheme == "http" || target.scheme == "https" else {
            return HTTPResult(status: nil, body: Data(), error: "'\(url)' is not an http(s) URL", milliseconds: 0)
        }
        var request = URLRequest(url: target, cachePolicy: .reloadIgnoringLocalAndRemoteCacheData, timeoutInterval: Double(timeoutMs) / 1000)
        request.httpMethod = "GET"
        let configuration = URLSessionConfiguration.ephemeral
        configuration.timeoutIntervalForRequest = Double(timeoutMs) / 1000
        configuration.timeoutIntervalForResource = Double(timeoutMs) / 1000
        let session = URLSession(configuration: configuration)
        defer { session.finishTasksAndInvalidate() }
        let done = DispatchSemaphore(value: 0)
        let box = ResultBox()
        let task = session.dataTask(with: request) { data, response, error in
            box.set(data: data, status: (response as? HTTPURLResponse)?.statusCode, error: error)
            done.signal()
        }
        task.resume()
        let giveUp = started + timeoutMs + 1000
        while done.wait(timeout: .now() + .milliseconds(50)) == .timedOut {
            if cancelled() {
                task.cancel()
                return HTTPResult(status: nil, body: Data(), error: "cancelled", milliseconds: EngineClock.monotonicMs() - started)
            }
            if EngineClock.monotonicMs() >= giveUp {
                task.cancel()
                return HTTPResult(status: nil, body: Data(), error: "timed out after \(TimeSpan(milliseconds: timeoutMs))", milliseconds: EngineClock.monotonicMs() - started)
            }
        }
        let elapsed = EngineClock.monotonicMs() - started
        let (data, status, error) = box.get()
        if let error {
            let text = (error as NSError).code == NSURLErrorTimedOut ? "timed out after \(TimeSpan(milliseconds: timeoutMs))" : error.localizedDescription
            return HTTPResult(status: nil, body: Data(), error: text, milliseconds: elapsed)
        }
        return HTTPResult(status: status, body: data ?? Data(), error: nil, milliseconds: elapsed)
    }

    private final class ResultBox: @unchecked Sendable {
        private let lock = NSLock()
        private var data: Data?
        private var status: Int?
        private var error: Error?
        func set(data: Data?, status: Int?, error: Error?) { lock.withLock { (self.data, self.status, self.error) = (data, status, error) } }
        func get() -> (Data?, Int?, Error?) { lock.withLock { (data, status, error) } }
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
            let fd = socket(info.pointee.ai_family, info.pointee.ai_socktype | Int32(SOCK_NONBLOCK.rawValue) | Int32(SOCK_CLOEXEC.rawValue), info.pointee.ai_protocol)
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

    /// The number at a dotted path (`metrics.error_rate`, `p95.0`) in a JSON document.
    static func number(in body: Data, at path: String) -> Double? {
        guard var value = try? JSONSerialization.jsonObject(with: body, options: [.fragmentsAllowed]) else { return nil }
        for key in path.split(separator: ".") where !key.isEmpty {
            if let object = value as? [String: Any], let next = object[String(key)] {
                value = next
            } else if let array = value as? [Any], let index = Int(key), array.indices.contains(index) {
                value = array[index]
            } else {
                return nil
            }
        }
        if let number = value as? NSNumber { return number.doubleValue }
        if let text = value as? String { return Double(text) }
        return nil
    }
}
