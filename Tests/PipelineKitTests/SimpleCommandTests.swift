import Foundation
import Testing

@testable import PipelineEngine

/// A script that is one plain command runs without `/bin/sh` (as `make` runs such a line), and
/// exactly as the shell would have run it; anything else still goes to the shell.
@Suite(.timeLimit(.minutes(3)))
struct SimpleCommandTests {
    static let shell = ["/bin/sh", "-e", "-c"]
    static let environment = ["PATH=/usr/bin:/bin", "HOME=/root"]

    @Test(arguments: [
        ("true", ["true"]),
        ("  make test\n", ["make", "test"]),
        ("./deploy.sh --env=prod a,b +x @y 50% host:80", ["./deploy.sh", "--env=prod", "a,b", "+x", "@y", "50%", "host:80"]),
        ("a\tb", ["a", "b"]),
        ("\n\n \ttrue\n \n", ["true"]),
        ("a  \t b\t", ["a", "b"]),
    ])
    func plainWords(script: String, words: [String]) {
        #expect(SimpleCommand.words(of: script) == words)
    }

    @Test(arguments: [
        "echo $HOME", "a; b", "a && b", "a | b", "a > f", "a < f", "a &", "ls *.yml", "ls ?", "ls [ab]", "echo 'x'", "echo \"x\"",
        "echo \\x", "echo `x`", "(a)", "{ a; }", "~/bin/x", "a #c", "a\nb", "a \n b", "\na\n\nb\n", "a!", "é", "   ", "",
    ])
    func shellText(script: String) {
        #expect(SimpleCommand.words(of: script) == nil, "\(script)")
    }

    @Test(arguments: [
        ["/bin/sh", "-e", "-c", "echo hi"],  // a builtin: the shell's echo, not /bin/echo
        ["/bin/sh", "-e", "-c", "true --help"],  // /usr/bin/true would print help; the builtin ignores it
        ["/bin/sh", "-e", "-c", "test -f x"],
        ["/bin/sh", "-e", "-c", "cd /"],
        ["/bin/sh", "-e", "-c", "if"],
        ["/bin/sh", "-e", "-c", "A=1 env"],  // an assignment
        ["/bin/sh", "-e", "-c", "no-such-command-anywhere"],  // the shell says 'not found' (127)
        ["/bin/sh", "-e", "-x", "-c", "env"],  // -x traces: not the default shell
        ["/bin/bash", "-c", "env"],
        ["/bin/sh", "-c"],
    ])
    func goesToTheShell(argv: [String]) {
        #expect(SimpleCommand.direct(argv, environment: Self.environment, directory: "/") == nil, "\(argv)")
    }

    @Test(arguments: [["IFS=x"], ["OPTIND=3"], ["PPID=1"], ["A-B=1"], ["BASH_FUNC_f%%=() { :; }"]])
    func environmentTheShellWouldChange(extra: [String]) {
        #expect(SimpleCommand.direct(Self.shell + ["env"], environment: Self.environment + extra, directory: "/") == nil)
    }

    @Test(arguments: [
        ("PATH=/bin", SimpleCommand.Variable.path), ("PWD=/", .pwd), ("PATHS=/x", .other), ("PW=/", .other), ("_A1=1", .other),
        ("a=", .other), ("IFS=", .changedByShell), ("OPTIND=1", .changedByShell), ("PPID=2", .changedByShell),
        ("IFSX=1", .other), ("=x", .changedByShell), ("NOVALUE", .changedByShell), ("1A=x", .changedByShell),
        ("A-B=1", .changedByShell), ("É=1", .changedByShell), ("A B=1", .changedByShell),
    ])
    func eachVariableIsReadAsTheShellReadsIt(entry: String, expected: SimpleCommand.Variable) {
        #expect(SimpleCommand.variable(entry) == expected, "\(entry)")
    }

    /// A `PATH` entry is absolute when its first byte is `/` (as dash and the kernel read it), even
    /// when a combining mark follows and `String.hasPrefix("/")` would say no.
    @Test func aPathEntryIsAbsoluteByItsFirstByte() throws {
        let base = FileManager.default.temporaryDirectory.appendingPathComponent("pipeline-path-\(UUID().uuidString)")
        let odd = base.appendingPathComponent("\u{301}x")
        try FileManager.default.createDirectory(at: odd, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: base) }
        let tool = odd.appendingPathComponent("tool")
        try "#!/bin/sh\n".write(to: tool, atomically: true, encoding: .utf8)
        try FileManager.default.setAttributes([.posixPermissions: 0o755], ofItemAtPath: tool.path)
        #expect(SimpleCommand.search("tool", on: "\u{301}x", in: base.path) == "\u{301}x/tool")
        #expect(SimpleCommand.search("tool", on: "/\u{301}x", in: base.path) == nil)
        #expect(SimpleCommand.search("tool", on: "/nonexistent::/bin", in: base.path + "/\u{301}x") == "./tool")
    }

    @Test func plainCommandRunsDirectlyWithTheShellsPWD() throws {
        try #require(SimpleCommand.shellIsDash, "these cases are for dash as /bin/sh")
        let command = try #require(SimpleCommand.direct(Self.shell + ["env -0"], environment: Self.environment, directory: "/tmp"))
        #expect(command.path == "/usr/bin/env")
        #expect(command.argv == ["env", "-0"])
        #expect(command.environment.sorted() == (Self.environment + ["PWD=/tmp"]).sorted())
        let bare = try #require(SimpleCommand.direct(["/bin/sh", "-c", "true"], environment: Self.environment + ["PWD=/nonexistent"], directory: "/tmp"))
        #expect(bare.path == "/usr/bin/true")
        #expect(bare.environment.contains("PWD=/tmp") && !bare.environment.contains("PWD=/nonexistent"))
    }

    /// `true` alone is dash's builtin; the program stands in for it only when it is the system's
    /// own, not a `true` found earlier on PATH.
    @Test func aTrueShimOnPathGoesToTheShell() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("pipeline-shim-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let shim = dir.appendingPathComponent("true")
        try "#!/bin/sh\nexit 1\n".write(to: shim, atomically: true, encoding: .utf8)
        try FileManager.default.setAttributes([.posixPermissions: 0o755], ofItemAtPath: shim.path)
        #expect(SimpleCommand.direct(Self.shell + ["true"], environment: ["PATH=\(dir.path):/usr/bin:/bin"], directory: "/") == nil)
        if SimpleCommand.shellIsDash {
            #expect(SimpleCommand.direct(Self.shell + ["true"], environment: Self.environment, directory: "/") != nil)
        }
    }

    /// Through the real binary: the plain command sees the same environment as under the shell
    /// (`env;` is shell text), a file without `#!` still runs as a shell script, a missing command
    /// gets the shell's message and 127, and a relative path runs from the working directory.
    @Test func runThroughTheEngineAsTheShellWould() throws {
        let box = try Sandbox(
            """
            version: 1
            name: plain
            stages:
              - { id: direct, run: "env" }
              - { id: shell, run: "env;" }
              - { id: relative, run: "./tool.sh one two" }
              - { id: noshebang, run: "./plain" }
              - { id: missing, run: "no-such-command-anywhere" }

            """)
        defer { box.remove() }
        try box.write("tool.sh", "#!/bin/sh\necho \"tool $# $1 $2 $0\"\n")
        try box.write("plain", "echo \"no shebang ran\"\n")
        for file in ["tool.sh", "plain"] { chmod(box.dir.appendingPathComponent(file).path, 0o755) }
        let result = try box.pipeline(["run", "p.yml"])
        #expect(result.status != 0, "\(result.stderr)")
        let run = try #require(box.runs.last)
        func log(_ stage: String) -> String { box.read(".pipeline/runs/\(run)/logs/\(stage).1.log") }
        let direct = log("direct").split(separator: "\n").filter { !$0.hasPrefix("PIPELINE_STAGE=") }.sorted()
        let shell = log("shell").split(separator: "\n").filter { !$0.hasPrefix("PIPELINE_STAGE=") }.sorted()
        #expect(!direct.isEmpty && direct == shell, "direct:\n\(direct)\nshell:\n\(shell)")
        #expect(log("relative").contains("tool 2 one two ./tool.sh"), "\(log("relative"))")
        #expect(log("noshebang").contains("no shebang ran"), "\(log("noshebang"))")
        #expect(log("missing").contains("no-such-command-anywhere: not found"), "\(log("missing"))")
        #expect(result.stderr.contains("[missing] attempt 1 failed (exit 127)"), "\(result.stderr)")
        // Without an inherited PWD the direct command's PWD is added, not replaced: still the shell's.
        let unset = try box.shell("env -u PWD \"$PIPELINE\" run p.yml")
        #expect(unset.status != 0, "\(unset.stderr)")
        let again = try #require(box.runs.first { $0 != run })
        func logOfAgain(_ stage: String) -> [Substring] {
            box.read(".pipeline/runs/\(again)/logs/\(stage).1.log").split(separator: "\n").filter { !$0.hasPrefix("PIPELINE_STAGE=") }.sorted()
        }
        #expect(logOfAgain("direct").contains { $0.hasPrefix("PWD=/") }, "\(logOfAgain("direct"))")
        #expect(
            !logOfAgain("direct").isEmpty && logOfAgain("direct") == logOfAgain("shell"), "direct:\n\(logOfAgain("direct"))\nshell:\n\(logOfAgain("shell"))")
    }
}
