import Foundation
import Testing

/// State-dir hygiene (/work/shared/ATTACK_FINDINGS.md F14, F15, F18, F24, F25): what the engine
/// trusts on disk, and how it picks "the latest run". The real binary; tests run as root here.
@Suite(.timeLimit(.minutes(5))) struct StateDirTests {
    static let oneStage = """
        version: 1
        name: hygiene
        stages:
          - {id: a, kind: backend, run: 'echo deploy $PIPELINE_RUN_ID >> ledger', rollback: 'echo undo $PIPELINE_RUN_ID >> ledger'}
        """

    static func mode(_ path: String) -> Int? {
        var info = stat()
        guard lstat(path, &info) == 0 else { return nil }
        return Int(info.st_mode) & 0o7777
    }

    /// The run id the engine announced on stderr (`run ID of 'NAME' …`).
    static func announcedRun(_ stderr: String) -> String? {
        // Engine lines start with the time since the command started: `+3ms run 2026…`.
        let lines = stderr.split(separator: "\n").map { $0.hasPrefix("+") ? $0.drop { $0 != " " }.dropFirst() : $0 }
        guard let line = lines.first(where: { $0.hasPrefix("run ") }) else { return nil }
        return line.split(separator: " ").dropFirst().first.map(String.init)
    }

    // MARK: - F14

    /// F14: a lock file that is a symlink must not be followed: the run refuses (exit 2, one line)
    /// and the file it points to is unchanged.
    @Test("F14: a lock file that is a symlink is refused, its target untouched", .timeLimit(.minutes(3)))
    func aSymlinkedLockFileIsRefused() throws {
        let box = try Sandbox(Self.oneStage)
        defer { box.remove() }
        try FileManager.default.createDirectory(at: box.dir.appendingPathComponent(".pipeline/locks"), withIntermediateDirectories: true)
        try box.write("victim.txt", "precious\n")
        try FileManager.default.createSymbolicLink(
            atPath: box.dir.appendingPathComponent(".pipeline/locks/hygiene.lock").path,
            withDestinationPath: "../../victim.txt")
        let result = try box.pipeline(["run", "p.yml"], within: 30)
        #expect(result.status == 2, "exit \(String(describing: result.status)): \(result.output)")
        // One error line (the file's lint warnings may come before it).
        let errors = result.stderr.split(separator: "\n").filter { $0.contains("error:") }
        #expect(errors.count == 1 && errors[0].contains("symlink"), "expected one error line: \(result.stderr)")
        #expect(box.read("victim.txt") == "precious\n", "the lock's symlink target was overwritten: \(box.read("victim.txt"))")
        #expect(Ledger(box).lines.isEmpty, "the run went ahead")
    }

    // MARK: - F15

    /// F15: a state dir writable by others, or owned by another user, is refused for `run` (exit 2),
    /// and `rollback` does not execute scripts from a journal anyone could have planted there.
    @Test(
        "F15: an unsafe state dir is refused by run and rollback", .timeLimit(.minutes(3)),
        arguments: ["world-writable", "owned-by-uid-12345"])
    func anUnsafeStateDirIsRefused(_ hazard: String) throws {
        try #require(getuid() == 0, "needs root to chown the state dir to another user")
        let box = try Sandbox(Self.oneStage)
        defer { box.remove() }
        let first = try box.pipeline(["run", "p.yml", "--state-dir", "state"], within: 30)
        #expect(first.status == 0, "\(first.output)")
        #expect(Ledger(box).count(prefix: "deploy ") == 1)
        // Make it unsafe: what a shared directory, or another user, would leave.
        for relative in ["state", "state/runs", "state/locks"] {
            let path = box.dir.appendingPathComponent(relative).path
            if hazard == "world-writable" {
                #expect(chmod(path, 0o777) == 0)
            } else {
                #expect(chown(path, 12345, 12345) == 0)
            }
        }
        let run = try box.pipeline(["run", "p.yml", "--state-dir", "state"], within: 30)
        #expect(run.status == 2, "run accepted a \(hazard) state dir (exit \(String(describing: run.status))): \(run.output)")
        #expect(Ledger(box).count(prefix: "deploy ") == 1, "a stage ran with a \(hazard) state dir")
        let rollback = try box.pipeline(["rollback", "--state-dir", "state"], within: 30)
        #expect(rollback.status == 2, "rollback accepted a \(hazard) state dir (exit \(String(describing: rollback.status))): \(rollback.output)")
        #expect(Ledger(box).count(prefix: "undo ") == 0, "rollback executed a script from a journal in a \(hazard) state dir")
    }

    // MARK: - F24

    /// F24: a run id with `/` or `..` is not a run id: refused, nothing read or executed outside the state dir.
    @Test("F24: a run id that is a path is refused", .timeLimit(.minutes(3)), arguments: ["status", "resume", "rollback"])
    func aRunIDThatIsAPathIsRefused(_ command: String) throws {
        let box = try Sandbox(Self.oneStage)
        defer { box.remove() }
        #expect(try box.pipeline(["run", "p.yml"], within: 30).status == 0)
        let run = try #require(box.runs.first)
        // A journal outside the state dir, reachable as ../../outside from .pipeline/runs/.
        try FileManager.default.createDirectory(at: box.dir.appendingPathComponent("outside"), withIntermediateDirectories: true)
        try box.write("outside/events.jsonl", box.read(".pipeline/runs/\(run)/events.jsonl"))
        let result = try box.pipeline([command, "../../outside"], within: 30)
        #expect(result.status == 2, "exit \(String(describing: result.status)): \(result.output)")
        #expect(result.stderr.contains("invalid run id"), "'\(command) ../../outside' was not refused as an invalid run id: \(result.output)")
        #expect(Ledger(box).count(prefix: "undo ") == 0, "a rollback script ran from a journal outside the state dir")
    }

    // MARK: - F25

    /// F25: under umask 000, a migrate backup artifact directory the script made ends 0700, its files 0600.
    @Test("F25: a backup artifact directory is private whatever the umask", .timeLimit(.minutes(3)))
    func backupArtifactsArePrivateUnderUmask000() throws {
        let box = try Sandbox(
            """
            version: 1
            name: f25
            stages:
              - id: db
                kind: migrate
                backup: mkdir "$PIPELINE_BACKUP_PATH" && echo dump > "$PIPELINE_BACKUP_PATH/data"
                run: echo migrated >> ledger
                restore: echo restore >> ledger
            """)
        defer { box.remove() }
        let result = try box.shell("umask 000 && exec \"$PIPELINE\" run p.yml", within: 30)
        #expect(result.status == 0, "\(result.output)")
        let run = try #require(box.runs.first)
        let artifact = box.dir.appendingPathComponent(".pipeline/runs/\(run)/backups/db.1").path
        let dirMode = Self.mode(artifact), fileMode = Self.mode(artifact + "/data")
        #expect(dirMode == 0o700, "backups/db.1 is \(dirMode.map { String($0, radix: 8) } ?? "missing"), expected 700")
        #expect(fileMode == 0o600, "backups/db.1/data is \(fileMode.map { String($0, radix: 8) } ?? "missing"), expected 600")
    }

    // MARK: - F18

    /// F18: with the wall clock stepped back between two runs (the second's id sorts first),
    /// `status` and `rollback` without an id pick the run started last.
    @Test("F18: the latest run is the newest started, not the largest id", .timeLimit(.minutes(3)))
    func theLatestRunIsTheNewestStarted() throws {
        let box = try Sandbox(Self.oneStage)
        defer { box.remove() }
        var now = timespec()
        clock_gettime(CLOCK_REALTIME, &now)
        let nowMs = Int(now.tv_sec) * 1000
        let first = try box.pipeline(["run", "p.yml"], env: ["PIPELINE_TEST_NOW_MS": "\(nowMs)"], within: 30)
        #expect(first.status == 0, "\(first.output)")
        // One hour earlier on the wall clock: a clock stepped back, or another machine's skew.
        let second = try box.pipeline(["run", "p.yml"], env: ["PIPELINE_TEST_NOW_MS": "\(nowMs - 3_600_000)"], within: 30)
        #expect(second.status == 0, "\(second.output)")
        let older = try #require(Self.announcedRun(first.stderr)), newer = try #require(Self.announcedRun(second.stderr))
        #expect(box.runs.count == 2)

        let status = try box.pipeline(["status"], within: 20)
        #expect(
            status.stdout.hasPrefix("run \(newer) "), "status picked \(status.stdout.split(separator: "\n").first ?? "") instead of the newest run \(newer)")
        let rollback = try box.pipeline(["rollback"], within: 30)
        #expect(rollback.status == 0, "\(rollback.output)")
        let ledger = Ledger(box)
        #expect(ledger.contains("undo \(newer)"), "rollback did not undo the newest run \(newer); ledger: \(ledger.text)")
        #expect(!ledger.contains("undo \(older)"), "rollback undid the older run \(older); ledger: \(ledger.text)")
    }
}
