internal import CLibPQ
import FoundationEssentials
import Glibc
import PipelineSpec

/// One libpq connection, used synchronously from the engine's loop (every statement is short and
/// bounded by `statement_timeout`). Parameters always go separately from the SQL text.
final class PostgresConnection: @unchecked Sendable {
    private var connection: OpaquePointer?
    /// The URL without its password, for messages.
    let redacted: String
    private let lock = Lock()
    /// Whether the last failed statement failed for a reason that may pass (the connection was
    /// lost, the server is shutting down or restarting, a statement timeout, a serialization
    /// failure): worth retrying, unlike a refusal of the statement itself.
    var lastFailureTransient = false
    /// Inside ``transaction(_:)``: a lost connection is reset but its statement not retried (the
    /// transaction died with it; a retry would run outside it).
    private var inTransaction = false

    /// Connects to `url` (`postgres://…` or `postgresql://…`).
    /// - Throws: ``EngineError`` (exit 2) with one line saying why.
    init(url: String) throws(EngineError) {
        redacted = Self.redact(url)
        try Self.loadLibPQ()
        // Bounded waits: a database that does not answer must not hang a deploy.
        let conninfo =
            url + (url.contains("?") ? "&" : "?")
            + "connect_timeout=5&application_name=pipeline&options=-c%20statement_timeout%3D10000%20-c%20client_min_messages%3Dwarning"
        connection = PQconnectdb(conninfo)
        guard let connection, PQstatus(connection) == CONNECTION_OK else {
            let message = connection.map { Self.message(PQerrorMessage($0)) } ?? "out of memory"
            PQfinish(connection)
            self.connection = nil
            throw EngineError("cannot reach the state database \(redacted): \(message)")
        }
    }

    deinit { if let connection { PQfinish(connection) } }

    /// libpq is loaded on first use, not linked: a `pipeline` without `--state postgres://…`
    /// never pays for loading it (and what it pulls in) at start-up.
    private static func loadLibPQ() throws(EngineError) {
        var reason = [CChar](repeating: 0, count: 512)
        guard pl_libpq_load(&reason, reason.count) != 0 else { return }
        let why = String(decoding: reason.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
        throw EngineError("the PostgreSQL state store needs libpq (Debian and Ubuntu: apt-get install libpq5): \(why)")
    }

    /// `postgres://user:secret@host/db` → `postgres://user@host/db`.
    static func redact(_ url: String) -> String {
        guard let scheme = url.range(of: "://"), let at = url[scheme.upperBound...].lastIndex(of: "@") else { return url }
        let userinfo = url[scheme.upperBound..<at]
        guard let colon = userinfo.firstIndex(of: ":") else { return url }
        return String(url[..<colon]) + String(url[at...])
    }

    /// The first column of the first row, as an integer.
    static func firstInt(_ rows: [[String?]]) -> Int? {
        guard let value = rows.first?.first ?? nil else { return nil }
        return Int(value)
    }

    /// The password in a URL's userinfo, if any (masked like a secret).
    static func password(of url: String) -> [String] {
        guard let scheme = url.range(of: "://"), let at = url[scheme.upperBound...].lastIndex(of: "@") else { return [] }
        let userinfo = url[scheme.upperBound..<at]
        guard let colon = userinfo.firstIndex(of: ":") else { return [] }
        let password = String(userinfo[userinfo.index(after: colon)...])
        return password.isEmpty ? [] : [password.removingPercentEncoding ?? password, password]
    }

    /// Connection exceptions (08), operator intervention (57: shutdown, restart, statement
    /// timeout), transaction rollbacks (40: serialization, deadlock), insufficient resources (53).
    static func isTransient(sqlState: UnsafePointer<CChar>?) -> Bool {
        guard let sqlState else { return true }  // no SQLSTATE: the server never answered
        return ["08", "57", "40", "53"].contains(String(String(cString: sqlState).prefix(2)))
    }

    static func message(_ text: UnsafePointer<CChar>?) -> String {
        guard let text else { return "unknown error" }
        return String(cString: text).trimmed.replacing("\n", with: "; ")
    }

    /// Runs `body` in one transaction: committed when it returns, rolled back when it throws.
    func transaction<T>(_ body: () throws(EngineError) -> T) throws(EngineError) -> T {
        try query("BEGIN")
        inTransaction = true
        defer { inTransaction = false }
        do throws(EngineError) {
            let result = try body()
            try query("COMMIT")
            return result
        } catch {
            let transient = lastFailureTransient
            inTransaction = false
            _ = try? query("ROLLBACK")
            lastFailureTransient = transient
            throw error
        }
    }

    /// Runs one statement with text parameters; returns its rows (NULL as nil).
    /// - Throws: ``EngineError`` (exit 3) when the statement fails; the connection is reset once
    ///   and (outside a transaction) the statement retried when the connection itself was lost.
    @discardableResult
    func query(_ sql: String, _ parameters: [String?] = []) throws(EngineError) -> [[String?]] {
        try lock.withLock { () throws(EngineError) -> [[String?]] in
            do throws(EngineError) {
                return try run(sql, parameters)
            } catch {
                guard let connection, PQstatus(connection) != CONNECTION_OK else { throw error }
                PQreset(connection)
                guard PQstatus(connection) == CONNECTION_OK, !inTransaction else {
                    lastFailureTransient = true
                    throw error
                }
                return try run(sql, parameters)
            }
        }
    }

    /// Waits until a notification arrives on a channel this session `LISTEN`s to, a signal arrives
    /// on `signalFD` (-1: none), or `timeoutMs` passes.
    /// - Returns: the payloads received (empty after a timeout, a signal or a lost connection:
    ///   the caller looks at the database again either way), and whether a signal arrived.
    func awaitNotifications(timeoutMs: Int, signalFD: Int32) -> (payloads: [String], signalled: Bool) {
        lock.withLock {
            guard let connection else { return ([], false) }
            var payloads = drainNotifications(connection)
            guard payloads.isEmpty else { return (payloads, false) }
            let socket = PQsocket(connection)
            var fds = [pollfd(fd: socket, events: Int16(POLLIN), revents: 0), pollfd(fd: signalFD, events: Int16(POLLIN), revents: 0)]
            let ready = poll(&fds, nfds_t(fds.count), Int32(clamping: max(0, timeoutMs)))
            if ready < 0, errno != EINTR { usleep(UInt32(clamping: min(timeoutMs, 1000) * 1000)) }  // never spin
            if fds[1].revents != 0 { return ([], true) }
            if fds[0].revents != 0, PQconsumeInput(connection) == 1 { payloads = drainNotifications(connection) }
            return (payloads, false)
        }
    }

    private func drainNotifications(_ connection: OpaquePointer) -> [String] {
        var payloads: [String] = []
        while let notice = PQnotifies(connection) {
            payloads.append(String(cString: notice.pointee.extra))
            PQfreemem(notice)
        }
        return payloads
    }

    private func run(_ sql: String, _ parameters: [String?]) throws(EngineError) -> [[String?]] {
        guard let connection else { throw EngineError("the state database connection is closed", exitCode: 3) }
        let values = parameters.map { $0.map { strdup($0) } ?? nil }
        defer { values.forEach { free($0) } }
        let result = values.map { UnsafePointer<CChar>($0) }.withUnsafeBufferPointer { buffer in
            PQexecParams(connection, sql, Int32(parameters.count), nil, buffer.baseAddress, nil, nil, 0)
        }
        defer { PQclear(result) }
        let status = PQresultStatus(result)
        guard status == PGRES_COMMAND_OK || status == PGRES_TUPLES_OK else {
            lastFailureTransient = PQstatus(connection) != CONNECTION_OK || Self.isTransient(sqlState: PQresultErrorField(result, Int32(UInt8(ascii: "C"))))
            throw EngineError("the state database refused a statement: \(Self.message(PQresultErrorMessage(result)))", exitCode: 3)
        }
        var rows: [[String?]] = []
        for row in 0..<PQntuples(result) {
            rows.append(
                (0..<PQnfields(result)).map { column in
                    PQgetisnull(result, row, column) == 1 ? nil : String(cString: PQgetvalue(result, row, column))
                })
        }
        return rows
    }
}
