import PipelineSpec
internal import CSystem
import FoundationEssentials
import Glibc

/// An operator's request to a running canary or watch (`pipeline promote`, `pipeline abort`),
/// recorded where the run lives; the engine running it takes it in its loop and journals a
/// `control` event naming the request, so a request is acted on once.
public struct OperatorRequest: Sendable, Equatable {
    /// What the operator asks for.
    public enum Action: String, Sendable, CaseIterable {
        /// End the current bake or pause and move to the next step (a watch: end it, passed).
        case promote
        /// Set traffic to 0 % and fail the stage, so the run rolls back.
        case abort
    }

    /// A random id, unique per request.
    public var id: String
    public var run: String
    public var action: Action
    /// `user@host` of whoever asked.
    public var by: String

    public init(run: String, action: Action, by: String = OperatorRequest.requester) {
        var bytes = [UInt8](repeating: 0, count: 8)
        for i in bytes.indices { bytes[i] = UInt8.random(in: 0...255) }
        id = bytes.map { String($0, radix: 16).count == 1 ? "0" + String($0, radix: 16) : String($0, radix: 16) }.joined()
        self.run = run
        self.action = action
        self.by = by
    }

    init(id: String, run: String, action: Action, by: String) {
        self.id = id
        self.run = run
        self.action = action
        self.by = by
    }

    /// `alice@build-7`.
    public static var requester: String {
        let user = getpwuid(geteuid()).map { String(cString: $0.pointee.pw_name) } ?? ProcessInfo.processInfo.environment["USER"] ?? "uid \(geteuid())"
        return "\(user)@\(Host.name)"
    }

    /// One line of `requests.jsonl`.
    var json: JSONValue {
        .object([("id", .string(id)), ("run", .string(run)), ("action", .string(action.rawValue)), ("by", .string(by))])
    }

    init?(json: JSONValue) {
        guard let id = json["id"]?.string, let run = json["run"]?.string, let action = json["action"]?.string.flatMap(Action.init(rawValue:)) else {
            return nil
        }
        self.init(id: id, run: run, action: action, by: json["by"]?.string ?? "")
    }
}

extension StateStore {
    /// Records an operator request for the engine running `request.run`.
    public func postRequest(_ request: OperatorRequest) throws(EngineError) {
        throw EngineError("the state store at \(location) does not take operator requests")
    }

    /// The operator requests recorded for a run, oldest first.
    public func requests(run: String) throws(EngineError) -> [OperatorRequest] { [] }
}

extension LocalStateStore {
    func requestsPath(_ run: String) -> String { runDirectory(run) + "/requests.jsonl" }

    /// Appends one line to the run's `requests.jsonl` (0600, one `write`, then `fsync`).
    public func postRequest(_ request: OperatorRequest) throws(EngineError) {
        let path = requestsPath(request.run)
        let fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC | O_NOFOLLOW, 0o600)
        guard fd >= 0 else { throw EngineError("cannot record the request in '\(path)': \(String(cString: strerror(errno)))") }
        defer { close(fd) }
        var bytes = Array((request.json.compact + "\n").utf8)
        guard Posix.writeAll(fd, &bytes), fsync(fd) == 0 else {
            throw EngineError("cannot record the request in '\(path)': \(String(cString: strerror(errno)))")
        }
    }

    /// Reads `requests.jsonl`; a line that does not parse (a torn last line) is skipped.
    public func requests(run: String) throws(EngineError) -> [OperatorRequest] {
        let fd = open(requestsPath(run), O_RDONLY | O_CLOEXEC | O_NOFOLLOW)
        guard fd >= 0 else { return [] }
        defer { close(fd) }
        let text = String(decoding: Posix.readAll(fd), as: UTF8.self)
        return text.split(separator: "\n").compactMap { JSONValue.parse($0).flatMap(OperatorRequest.init(json:)) }
    }
}

extension PostgresStateStore {
    public func postRequest(_ request: OperatorRequest) throws(EngineError) {
        try db.query(
            "INSERT INTO pipeline.requests (id, run, action, requested_by) VALUES ($1, $2, $3, $4)",
            [request.id, request.run, request.action.rawValue, request.by])
    }

    public func requests(run: String) throws(EngineError) -> [OperatorRequest] {
        let rows = try db.query("SELECT id, run, action, requested_by FROM pipeline.requests WHERE run = $1 ORDER BY requested, id", [run])
        return rows.compactMap { row in
            guard let id = row[0] ?? nil, let action = (row[2] ?? nil).flatMap(OperatorRequest.Action.init(rawValue:)) else { return nil }
            return OperatorRequest(id: id, run: row[1] ?? run, action: action, by: row[3] ?? "")
        }
    }
}
