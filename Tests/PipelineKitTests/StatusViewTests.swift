import Foundation
import Testing

/// What an operator reads: `status` with the failure reason, the log, durations and what to run
/// next; `status --watch` following a live run; `history` as an aligned table; colour only on a
/// terminal (a real one, under tmux), `NO_COLOR` honoured only when non-empty.
@Suite(.serialized, .timeLimit(.minutes(3))) struct StatusViewTests {
    static let failing = """
        version: 1
        name: shop
        stages:
          - { id: build, kind: command, run: "echo compiled" }
          - { id: api, kind: backend, run: "exit 3", rollback: "true" }
          - { id: verify, kind: verify, smoke: ["true"] }
        """

    @Test func statusSaysWhyWhereAndWhatNext() throws {
        let box = try Sandbox(Self.failing)
        defer { box.remove() }
        #expect(try box.pipeline(["run", "p.yml"]).status == 1)
        let run = try #require(box.runs.first)
        let status = try box.pipeline(["status"])
        #expect(status.status == 0, "\(status.output)")
        let lines = status.stdout.split(separator: "\n").map(String.init)
        #expect(lines.first?.hasPrefix("run \(run) of 'shop': rolled_back (took ") == true, "\(status.stdout)")
        #expect(lines.contains("failed: stage 'api': exit 3 on attempt 1 of 1; log: .pipeline/runs/\(run)/logs/api.1.log"), "\(status.stdout)")
        #expect(lines.contains { $0.hasPrefix("  build   succeeded    ") && $0.hasSuffix(", 1 attempt; rollback: nothing_to_undo") }, "\(status.stdout)")
        #expect(lines.contains("  verify  pending"), "\(status.stdout)")
        #expect(!status.stdout.contains("\u{1B}["), "colour on a pipe")
    }

    @Test func historyIsAnAlignedTableFilteredAndLimited() throws {
        let box = try Sandbox(Self.failing)
        defer { box.remove() }
        try box.write("q.yml", "version: 1\nname: other\nstages:\n  - { id: a, kind: command, run: 'true' }\n")
        #expect(try box.pipeline(["run", "p.yml"]).status == 1)
        #expect(try box.pipeline(["run", "q.yml"]).status == 0)
        #expect(try box.pipeline(["run", "q.yml"]).status == 0)
        let all = try box.pipeline(["history"]).stdout.split(separator: "\n").map(String.init)
        #expect(all.count == 4, "\(all)")
        #expect(all[0].hasPrefix("RUN ") && all[0].hasSuffix("DURATION"), "\(all)")
        // Aligned: each column starts at the same offset on every line.
        let statusColumn = all[0].range(of: "STATUS")!.lowerBound.utf16Offset(in: all[0])
        for line in all.dropFirst() {
            let offset = line.index(line.startIndex, offsetBy: statusColumn)
            #expect(line[offset...].hasPrefix("succeeded") || line[offset...].hasPrefix("rolled_back"), "\(all)")
        }
        let limited = try box.pipeline(["history", "--pipeline", "other", "--limit", "1"]).stdout.split(separator: "\n")
        let newestOther = all.first { $0.contains(" other ") }?.split(separator: " ").first
        #expect(limited.count == 2 && limited[1].split(separator: " ").first == newestOther, "\(limited) \(all)")
        let json = try box.pipeline(["history", "--json", "--pipeline", "shop"])
        let rows = try #require(try JSONSerialization.jsonObject(with: Data(json.stdout.utf8)) as? [[String: Any]])
        #expect(rows.count == 1 && rows[0]["duration_ms"] is Int, "\(json.stdout)")
    }

    @Test func statusWatchFollowsALiveRunToItsEnd() throws {
        let box = try Sandbox(
            """
            version: 1
            name: live
            stages:
              - { id: wait, kind: command, run: 'while [ ! -e go ]; do sleep 0.05; done' }
              - { id: after, kind: command, run: 'true' }
            """)
        defer { box.remove() }
        let run = try box.background(["run", "p.yml"])
        #expect(waitUntil(seconds: 30) { box.runs.count == 1 })
        let watch = try box.background(["status", "--watch"])
        #expect(waitUntil(seconds: 30) { watch.stdout.contains("of 'live': running") }, "\(watch.output)")
        _ = FileManager.default.createFile(atPath: box.dir.appendingPathComponent("go").path, contents: nil)
        #expect(run.wait(seconds: 60) == 0, "\(run.output)")
        #expect(watch.wait(seconds: 30) == 0, "status --watch did not end with the run: \(watch.output)")
        let last = watch.stdout.components(separatedBy: "\nrun ").last ?? ""
        #expect(last.contains("of 'live': succeeded"), "\(watch.stdout)")
    }

    /// On a real terminal (tmux): colour by default, none with NO_COLOR=1, colour again with an
    /// empty NO_COLOR (no-color.org: only a non-empty value disables it), none with --color never.
    @Test func colourOnATerminalOnly() throws {
        let box = try Sandbox(Self.failing)
        defer { box.remove() }
        #expect(try box.pipeline(["run", "p.yml"]).status == 1)
        func onTerminal(_ env: String, _ args: String = "", command: String = "status") throws -> String {
            // Its own server (socket) per terminal: no race with another server shutting down.
            let session = "pipeline-test-\(UInt32.random(in: 0...UInt32.max))"
            let script = "cd '\(box.dir.path)' && env -u NO_COLOR -u CLICOLOR_FORCE \(env) '\(Binary.path)' \(command) \(args); echo done-$?; sleep 30"
            let start = try Binary.run(
                executable: "/usr/bin/env", ["tmux", "-L", session, "new-session", "-d", "-s", session, "-x", "200", "-y", "50", script])
            try #require(start.status == 0, "tmux: \(start.stderr)")
            defer { _ = try? Binary.run(executable: "/usr/bin/env", ["tmux", "-L", session, "kill-server"]) }
            var screen = ""
            _ = waitUntil(seconds: 30) {
                screen = (try? Binary.run(executable: "/usr/bin/env", ["tmux", "-L", session, "capture-pane", "-p", "-e", "-t", session]).stdout) ?? ""
                return screen.contains("done-")
            }
            #expect(screen.contains("done-0"), "\(screen)")
            return screen
        }
        let plain = try onTerminal("TERM=xterm")
        #expect(plain.contains("\u{1B}[32m"), "no colour on a terminal: \(plain.debugDescription)")
        #expect(!(try onTerminal("TERM=xterm NO_COLOR=1")).contains("\u{1B}[32m"), "colour despite NO_COLOR=1")
        #expect(try onTerminal("TERM=xterm NO_COLOR=").contains("\u{1B}[32m"), "an empty NO_COLOR disabled colour")
        #expect(!(try onTerminal("TERM=xterm", "--color never")).contains("\u{1B}[32m"), "colour despite --color never")
        // Diagnostics too: the severity in red on a terminal, never with NO_COLOR=1.
        try box.write("bad.yml", "version: 1\nname: x\nstages:\n  - {id: a, kind: comand, run: 'true'}\n")
        let diagnostics = try onTerminal("TERM=xterm", "bad.yml; true", command: "validate")
        #expect(diagnostics.contains("\u{1B}[31merror:"), "\(diagnostics.debugDescription)")
        #expect(!(try onTerminal("TERM=xterm NO_COLOR=1", "bad.yml; true", command: "validate")).contains("\u{1B}[31m"))
    }
}
