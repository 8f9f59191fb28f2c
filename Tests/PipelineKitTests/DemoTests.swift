import Foundation
import Testing

/// The README's main command, for real: pipelines/demo.yml deploys the demo shop (SQLite
/// migration, API v2 beside v1 behind a weighted router, web symlink switch, canary, verify),
/// and with DEMO_BREAK_V2=1 rolls everything back to exactly the state before.
@Suite(.serialized, .timeLimit(.minutes(5))) struct DemoTests {
    /// A working directory with `pipelines/` linked from the repository, so `.pipeline/` stays private to the test.
    static func workspace() throws -> Sandbox {
        let box = try Sandbox("", name: "unused.yml")
        try FileManager.default.createSymbolicLink(
            at: box.dir.appendingPathComponent("pipelines"),
            withDestinationURL: Binary.root.appendingPathComponent("pipelines"))
        return box
    }

    /// Three ports free on 127.0.0.1 now (the kernel's choice), so the demo never collides with
    /// another run of it; the README's fixed ports are the inputs' defaults.
    static func freePorts() throws -> (inputs: [String], env: [String: String], router: Int) {
        var ports: [Int] = []
        var sockets: [Int32] = []
        defer { sockets.forEach { close($0) } }
        while ports.count < 3 {
            let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
            try #require(fd >= 0)
            sockets.append(fd)
            var address = sockaddr_in()
            address.sin_family = sa_family_t(AF_INET)
            address.sin_addr.s_addr = inet_addr("127.0.0.1")
            address.sin_port = 0
            var length = socklen_t(MemoryLayout<sockaddr_in>.size)
            let bound = withUnsafeMutablePointer(to: &address) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, length) == 0 && getsockname(fd, $0, &length) == 0 }
            }
            try #require(bound)
            ports.append(Int(UInt16(bigEndian: address.sin_port)))
        }
        return (
            ["--input", "port=\(ports[0])", "--input", "v1-port=\(ports[1])", "--input", "v2-port=\(ports[2])"],
            ["DEMO_PORT": "\(ports[0])", "DEMO_V1_PORT": "\(ports[1])", "DEMO_V2_PORT": "\(ports[2])"], ports[0]
        )
    }

    /// Demo services still running from this test's working directory.
    static func demoProcesses(_ box: Sandbox) throws -> String {
        try box.shell(
            """
            for pid in $(pgrep -f "pipelines/demo/[s]ervice.py"); do
              [ "$(readlink /proc/$pid/cwd)" = "$(pwd -P)" ] && ps -o pid=,args= -p "$pid"
            done
            true
            """
        ).stdout
    }

    @Test func theDemoDeploysVersionTwo() throws {
        let box = try Self.workspace()
        defer { box.remove() }
        let ports = try Self.freePorts()
        let result = try box.pipeline(["run", "pipelines/demo.yml"] + ports.inputs)
        #expect(result.status == 0, "\(result.stdout)\n\(result.stderr)")
        #expect(result.stdout.contains("[migrate] applied 0002_add_price.sql"))
        // Behaviour, not measured values: the canary passed at 100 % and was promoted.
        #expect(
            result.stdout.contains("[canary] 100%: v2 error rate = ") && result.stderr.contains("[canary] promoted through"),
            "\(result.stdout)\n\(result.stderr)")
        #expect(result.stdout.contains("[verify] 3 items served by v2 with prices"))
        let link = try FileManager.default.destinationOfSymbolicLink(atPath: box.dir.appendingPathComponent(".pipeline/demo/web/current").path)
        #expect(link == "releases/v2")
        let dump = try box.shell("pipelines/demo/demo.sh snapshot", env: ports.env)
        #expect(dump.stdout.contains("price_cents INTEGER NOT NULL DEFAULT 0"))
        #expect(try Self.demoProcesses(box).isEmpty, "the demo leaves no process behind")
    }

    @Test func aBrokenVersionTwoIsRolledBackToExactlyTheStateBefore() throws {
        let box = try Self.workspace()
        defer { box.remove() }
        // The state before the deploy, as the first stage creates it.
        let ports = try Self.freePorts()
        let bootstrap = try box.shell(
            "pipelines/demo/demo.sh bootstrap && pipelines/demo/demo.sh snapshot && pipelines/demo/demo.sh stop-all >/dev/null", env: ports.env)
        #expect(bootstrap.status == 0, "\(bootstrap.stderr)")
        let before = String(bootstrap.stdout.split(separator: "\n").drop { !$0.hasPrefix("BEGIN") }.joined(separator: "\n"))

        let result = try box.pipeline(["run", "pipelines/demo.yml"] + ports.inputs, env: ["DEMO_BREAK_V2": "1"])
        #expect(result.status == 1, "\(result.stdout)\n\(result.stderr)")
        #expect(result.stderr.contains("canary aborted at 10%: v2 error rate = "), "\(result.stderr)")
        // Reverse order: traffic, web symlink, v2, database.
        let order = [
            "[canary] 2 consecutive failed analyses at 10%: aborting, traffic back to 0%", "[frontend] web/current -> releases/v1", "[backend] stopped v2",
            "[migrate] applied 0002_add_price.down.sql",
        ].map { result.stdout.range(of: $0)?.lowerBound }
        #expect(order.allSatisfy { $0 != nil }, "\(result.stdout)")
        #expect(order.compactMap { $0 } == order.compactMap { $0 }.sorted())
        let after = try box.shell("pipelines/demo/demo.sh snapshot", env: ports.env)
        #expect(after.stdout.trimmingCharacters(in: .newlines) == before.trimmingCharacters(in: .newlines))
        #expect(after.stdout.contains("INSERT INTO \"items\" VALUES(3,'cortado');"))
        #expect(after.stdout.contains("web/current -> releases/v1"))
        #expect(try Self.demoProcesses(box).isEmpty, "the rollback leaves no process behind")
        let state = try box.state()
        #expect(state["status"] as? String == "rolled_back")
    }

    /// Another process on the demo's router port, answering /health like a service would: the
    /// demo refuses rather than report someone else's service healthy or measure it.
    @Test(.timeLimit(.minutes(2))) func theDemoRefusesWhenItsPortsAreTaken() throws {
        let box = try Self.workspace()
        defer { box.remove() }
        try box.write(
            "squatter.py",
            """
            import json, sys
            from http.server import BaseHTTPRequestHandler, HTTPServer
            class H(BaseHTTPRequestHandler):
                def do_GET(self):
                    body = json.dumps({"status": "ok"}).encode()
                    self.send_response(200); self.send_header("Content-Length", str(len(body))); self.end_headers(); self.wfile.write(body)
                def log_message(self, *a): pass
            try:
                server = HTTPServer(("127.0.0.1", int(sys.argv[1])), H)
            except OSError:
                open("squatter.ready", "w").write("taken by someone else already"); sys.exit(0)
            open("squatter.ready", "w").write("listening")
            server.timeout = 0.2
            import time
            end = time.time() + 60
            while time.time() < end: server.handle_request()
            """)
        let ports = try Self.freePorts()
        let squatter = try Background(executable: "/usr/bin/env", ["python3", "squatter.py", "\(ports.router)"], in: box.dir)
        defer { squatter.signal(SIGKILL); _ = squatter.wait(seconds: 10) }
        #expect(waitUntil(seconds: 20) { box.exists("squatter.ready") })
        let result = try box.pipeline(["run", "pipelines/demo.yml"] + ports.inputs, within: 90)
        #expect(result.returned && result.status != 0, "\(result.output)")
        #expect(result.stdout.contains("[production] demo: port \(ports.router) on 127.0.0.1 is already taken"), "\(result.output)")
        #expect(!result.stdout.contains("router healthy"), "\(result.stdout)")
        #expect(try Self.demoProcesses(box).isEmpty, "the refused demo leaves no process behind")
    }
}
