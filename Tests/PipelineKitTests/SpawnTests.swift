import Foundation
import Testing

/// How a script's process starts (`ps_spawn`: vfork and exec), through the real binary: what it
/// inherits of the engine (signals, descriptors, process group) and what a start that fails says.
@Suite(.timeLimit(.minutes(3)))
struct SpawnTests {
    /// The engine itself started with signals ignored (as `nohup` or a shell's `cmd &` leave them)
    /// and SIGPIPE ignored by its own `main`: every script still starts with each signal at its
    /// default and none blocked, run directly (a plain command) or by the shell. Its descriptors
    /// are /dev/null and the output pipe only, and it leads a process group of its own.
    @Test func aScriptStartsWithDefaultSignalsItsOwnGroupAndOnlyItsDescriptors() throws {
        let box = try Sandbox(
            """
            version: 1
            name: spawn
            stages:
              - { id: direct, run: "cat /proc/self/status" }
              - { id: shell, run: "cat /proc/self/status;" }
              - { id: fds, run: "ls -l /proc/self/fd/" }
              - { id: group, run: "read -r pid comm state ppid pgrp rest < /proc/self/stat; echo \\"pid=$pid pgrp=$pgrp\\"" }

            """)
        defer { box.remove() }
        let result = try box.shell("trap '' INT QUIT HUP TERM USR1 USR2 ALRM PIPE TSTP; exec \"$PIPELINE\" run p.yml")
        #expect(result.status == 0, "\(result.stderr)")
        // The test means something only if the engine did start with those signals ignored.
        let outer = try box.shell("trap '' INT QUIT USR1; grep '^SigIgn:' /proc/self/status")
        #expect(!outer.stdout.contains("0000000000000000"), "\(outer.stdout)")
        let run = try #require(box.runs.last)
        func log(_ stage: String) -> String { box.read(".pipeline/runs/\(run)/logs/\(stage).1.log") }
        for stage in ["direct", "shell"] {
            let status = log(stage)
            #expect(status.contains("SigIgn:\t0000000000000000\n"), "\(stage): \(status)")
            #expect(status.contains("SigBlk:\t0000000000000000\n"), "\(stage): \(status)")
            #expect(status.contains("SigCgt:\t0000000000000000\n"), "\(stage): \(status)")
        }
        // None of the engine's own descriptors (journal, logs, lock, signalfd, eventfd) is
        // inherited; what the engine itself inherited from its caller is passed on, as make does.
        let fds = log("fds").split(separator: "\n").filter { $0.contains(" -> ") }
        #expect(fds.count >= 3 && !fds.contains { $0.contains(".pipeline") || $0.contains("anon_inode") }, "\(log("fds"))")
        #expect(fds.first { $0.contains(" 0 -> ") }?.hasSuffix("/dev/null") == true, "\(log("fds"))")
        #expect(fds.first { $0.contains(" 1 -> ") }?.contains("pipe:") == true, "\(log("fds"))")
        #expect(fds.first { $0.contains(" 2 -> ") }?.contains("pipe:") == true, "\(log("fds"))")
        let group = log("group").split(separator: "\n").first { $0.hasPrefix("pid=") }.map(String.init) ?? ""
        let parts = group.split(separator: " ").map { $0.split(separator: "=").last.map(String.init) ?? "" }
        #expect(parts.count == 2 && !parts[0].isEmpty && parts[0] == parts[1], "\(log("group"))")
    }

    /// A shell that does not exist: the try did not start, says why (the exec's own error, from
    /// the child), and the run rolls back as for any failed stage.
    @Test func aStartThatFailsSaysWhyAndTheRunRollsBack() throws {
        let box = try Sandbox(
            """
            version: 1
            name: spawn
            stages:
              - { id: first, run: "true", rollback: "echo undone > undone.txt" }
              - { id: noshell, run: "echo never", shell: ["/nonexistent/sh", "-c"] }

            """)
        defer { box.remove() }
        let result = try box.pipeline(["run", "p.yml"])
        #expect(result.status != 0, "\(result.stderr)")
        #expect(result.stderr.contains("cannot start '/nonexistent/sh': No such file or directory"), "\(result.stderr)")
        #expect(
            result.stderr.contains("[noshell] attempt 1 not_started (could not start: cannot start '/nonexistent/sh': No such file or directory)"),
            "\(result.stderr)")
        #expect(box.read("undone.txt") == "undone\n", "\(result.stderr)")
    }
}
