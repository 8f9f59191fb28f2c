import Foundation

/// A real HTTP server on 127.0.0.1 (Fixtures/servers/scripted_server.py) serving scripted
/// statuses, delays and metric values per path, for probes, verify and canary analysis.
final class ScriptedServer {
    let port: Int
    private let pid: pid_t
    private let dir: URL

    /// Starts the server with a script: path → list of responses.
    init(_ script: [String: [[String: Any]]]) throws {
        dir = FileManager.default.temporaryDirectory.appendingPathComponent("pipeline-server-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        let scriptPath = dir.appendingPathComponent("script.json").path
        try JSONSerialization.data(withJSONObject: script).write(to: URL(fileURLWithPath: scriptPath))
        let portPath = dir.appendingPathComponent("port").path
        let server = Fixtures.directory.appendingPathComponent("servers/scripted_server.py").path
        let words: [String] = ["/usr/bin/env", "python3", server, portPath, scriptPath]
        let argv: [UnsafeMutablePointer<CChar>?] = words.map { strdup($0) } + [nil]
        defer { argv.forEach { free($0) } }
        var child: pid_t = 0
        var attributes = Binary.cleanSignalAttributes()
        defer { posix_spawnattr_destroy(&attributes) }
        let rc = posix_spawn(&child, "/usr/bin/env", nil, &attributes, argv, environ)
        guard rc == 0 else { throw Binary.SpawnError(code: rc, executable: "python3") }
        pid = child
        let deadline = Date().addingTimeInterval(20)
        var found: Int?
        while found == nil, Date() < deadline {
            found = (try? String(contentsOfFile: portPath, encoding: .utf8)).flatMap { Int($0) }
            if found == nil { usleep(20_000) }
        }
        guard let found else {
            kill(child, SIGKILL)
            throw Binary.SpawnError(code: ETIMEDOUT, executable: "scripted_server.py")
        }
        port = found
    }

    var base: String { "http://127.0.0.1:\(port)" }

    /// The POST requests received so far: path, content type and JSON body of each, in order.
    func posts() -> [[String: Any]] {
        let text = (try? String(contentsOf: dir.appendingPathComponent("port.posts"), encoding: .utf8)) ?? ""
        return text.split(separator: "\n").compactMap { try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any] }
    }

    func stop() {
        kill(pid, SIGTERM)
        var status: Int32 = 0
        waitpid(pid, &status, 0)
        try? FileManager.default.removeItem(at: dir)
    }
}

/// A loopback TCP port with nothing listening (bound, then closed).
func closedPort() -> Int {
    let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    var address = sockaddr_in()
    address.sin_family = sa_family_t(AF_INET)
    address.sin_addr.s_addr = inet_addr("127.0.0.1")
    address.sin_port = 0
    _ = withUnsafePointer(to: &address) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) } }
    var length = socklen_t(MemoryLayout<sockaddr_in>.size)
    _ = withUnsafeMutablePointer(to: &address) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) } }
    close(fd)
    return Int(UInt16(bigEndian: address.sin_port))
}
