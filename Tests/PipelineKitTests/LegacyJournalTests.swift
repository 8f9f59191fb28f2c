import Foundation
import Testing

/// Journals written by the previous version of `pipeline` (commit cde34fd: no `host`, `sequence`,
/// `process_started` or `rollback_begun`) still replay, and `status`, `rollback` and `resume` act
/// on them as on new ones. The fixtures were recorded with that version's release binary.
@Suite(.timeLimit(.minutes(3)))
struct LegacyJournalTests {
    static let fixtures = Binary.root.appendingPathComponent("Tests/PipelineKitTests/Fixtures/journals")

    /// A sandbox holding the fixture's pipeline file and its run, the recorded paths pointing there.
    static func restore(_ name: String) throws -> (Sandbox, String) {
        let dir = fixtures.appendingPathComponent(name)
        let box = try Sandbox(try String(contentsOf: dir.appendingPathComponent("p.yml"), encoding: .utf8))
        let run = try String(contentsOf: dir.appendingPathComponent("run-id"), encoding: .utf8).trimmingCharacters(in: .whitespacesAndNewlines)
        let journal = try String(contentsOf: dir.appendingPathComponent("events.jsonl"), encoding: .utf8)
            .replacingOccurrences(of: "@WORKDIR@", with: box.dir.path)
        let runDir = box.dir.appendingPathComponent(".pipeline/runs/\(run)")
        try FileManager.default.createDirectory(at: runDir, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        try FileManager.default.setAttributes([.posixPermissions: 0o700], ofItemAtPath: box.dir.appendingPathComponent(".pipeline").path)
        try journal.write(to: runDir.appendingPathComponent("events.jsonl"), atomically: true, encoding: .utf8)
        return (box, run)
    }

    @Test func anOldRunKilledMidStageReadsAbandonedAndRollsBackTheRunningStageFirst() throws {
        let (box, run) = try Self.restore("legacy-abandoned")
        defer { box.remove() }
        let status = try box.pipeline(["status", run])
        #expect(status.status == 0 && status.stdout.contains("abandoned"), "\(status.stdout)\(status.stderr)")
        let rollback = try box.pipeline(["rollback", run], within: 60)
        #expect(rollback.status == 0, "\(rollback.output)")
        #expect(Ledger(box).lines == ["undo b", "undo a v41"], "the running stage first, with a's recorded output: \(Ledger(box).text)")
        #expect(try box.state(run)["status"] as? String == "rolled_back")
    }

    @Test func anOldRunInterruptedWhileRollingBackIsFinishedByResumeNeverRedeployed() throws {
        let (box, run) = try Self.restore("legacy-interrupted-rollback")
        defer { box.remove() }
        let resumed = try box.pipeline(["resume", run], within: 60)
        #expect(resumed.status == 1, "a failed run whose rollback completed exits 1: \(resumed.output)")
        #expect(Ledger(box).lines == ["undo-start b", "undo b", "undo a"], "\(Ledger(box).text)")
        #expect(!resumed.output.contains("deploy"), "\(resumed.output)")
        #expect(try box.state(run)["status"] as? String == "rolled_back")
    }
}
