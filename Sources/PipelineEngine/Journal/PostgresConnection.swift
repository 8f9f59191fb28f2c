internal import CLibPQ
import Foundation
import PipelineSpec

/// One libpq connection, used synchronously from the engine's loop (every statement is short and
/// bounded by `statement_timeout`). Parameters always go separately from the SQL text.
final class PostgresConnection: @unchecked Sendable {
    private var connection: OpaquePointer?
    /// The URL without its password, for messages.
    let redacted: String
    private let lock = NSLock()

    /// Connects to `url` (`postgres://…` or `postgresql://…`).
    /// - Throws: ``EngineError`` (exit 2) with one line saying why.
    init(url: String) throws(EngineError) {
        redacted = Self.redact(url)
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

    deinit { PQfinish(connection) }

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

    static func message(_ text: UnsafePointer<CChar>?) -> String {
        guard let text else { return "unknown error" }
        return String(cString: text).trimmingCharacters(in: .whitespacesAndNewlines).replacingOccurrences(of: "\n", with: "; ")
    }

    /// Runs one statement with text parameters; returns its rows (NULL as nil).
    /// - Throws: ``EngineError`` (exit 3) when the statement fails; the connection is reset once
    ///   and the statement retried when the connection itself was lost.
    @discardableResult
    func query(_ sql: String, _ parameters: [String?] = []) throws(EngineError) -> [[String?]] {
        lock.lock()
        defer { lock.unlock() }
        do {
            return try run(sql, parameters)
        } catch {
            guard let connection, PQstatus(connection) != CONNECTION_OK else { throw error }
            PQreset(connection)
            guard PQstatus(connection) == CONNECTION_OK else { throw error }
            return try run(sql, parameters)
        }
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
