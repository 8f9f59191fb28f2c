import Foundation
import Testing

/// The crash-consistency campaign: `pipeline run` is killed with SIGKILL at pseudo-random moments
/// (a fixed seed, so a failure replays), sometimes again while it recovers, and the result of
/// `resume` or `rollback` is checked against a side-effect ledger the stage scripts write — what
/// really happened to the "target", not only what the journal says.
@Suite(.timeLimit(.minutes(5)))
struct CrashConsistencyTests {
    /// Six stages in a chain, each a `start`/`end` pair around a short sleep, each undoable.
    static let chain: String = {
        var text = "version: 1\nname: ledger\nstages:\n"
        for i in 1...6 {
            text += """
                  - id: s\(i)
                    kind: backend
                    run: 'echo start s\(i) >> ledger; sleep 0.15; echo end s\(i) >> ledger'
                    rollback: 'echo undo-start s\(i) >> ledger; sleep 0.05; echo undo s\(i) >> ledger'

                """
        }
        return text
    }()

    /// A small deterministic generator (SplitMix64), so the kill moments of a failing trial replay.
    struct Moments {
        var state: UInt64
        mutating func next(upTo limit: Double) -> Double {
            state &+= 0x9E37_79B9_7F4A_7C15
            var z = state
            z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
            z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
            z ^= z >> 31
            return Double(z % 10_000) / 10_000 * limit
        }
    }

    /// Kills `run` at a random moment, then resumes (waiting for the dead engine's process groups):
    /// every stage ends applied, and a stage the journal had as succeeded is never applied again (the
    /// one that was running may run again: it is idempotent by default).
    @Test func killedAtRandomMomentsThenResumedAppliesEveryStageOnce() throws {
        var moments = Moments(state: 0x5EED_0001)
        var killedMidRun = 0
        for trial in 0..<6 {
            let box = try Sandbox(Self.chain)
            defer { box.remove() }
            let engine = try box.background(["run", "p.yml"])
            usleep(useconds_t(100_000 + moments.next(upTo: 0.9) * 1_000_000))
            engine.signal(SIGKILL)
            guard let code = engine.wait(seconds: 20) else { Issue.record("trial \(trial): the engine did not die"); continue }
            if code != 137 || box.recordedRuns.isEmpty { continue }  // it finished before the kill, or had recorded nothing
            killedMidRun += 1
            // What the journal knew at the crash: those stages must never run again.
            let journaled = Set(Sandbox.stages(try box.state()).filter { $0.value["status"] as? String == "succeeded" }.map(\.key))
            let resumed = try box.pipeline(["resume", "--wait-lock"], within: 60)
            #expect(resumed.returned && resumed.status == 0, "trial \(trial): \(resumed.output)")
            let ledger = Ledger(box)
            #expect(!ledger.hasOverlappingStarts, "trial \(trial): two copies of a stage ran at once: \(ledger.text)")
            for i in 1...6 {
                #expect(ledger.contains("end s\(i)"), "trial \(trial): s\(i) never finished: \(ledger.text)")
                // A stage journaled as succeeded before the crash is never applied again.
                if journaled.contains("s\(i)") {
                    #expect(ledger.count("start s\(i)") == 1, "trial \(trial): s\(i) re-ran after it had finished: \(ledger.text)")
                }
            }
            #expect(ledger.count(prefix: "undo") == 0, "trial \(trial): something was undone: \(ledger.text)")
        }
        #expect(killedMidRun >= 3, "only \(killedMidRun) of 6 trials killed the engine mid-run: the campaign tested too little")
    }

    /// Kills `run` at a random moment, then (sometimes) kills `rollback` too, then rolls back to
    /// the end: every stage that started is undone after its last start, newest first, and the
    /// run reads `rolled_back` with nothing remaining.
    @Test func killedAtRandomMomentsThenRolledBackUndoesEverythingThatStarted() throws {
        var moments = Moments(state: 0x5EED_0002)
        var killedMidRun = 0
        for trial in 0..<6 {
            let box = try Sandbox(Self.chain)
            defer { box.remove() }
            let engine = try box.background(["run", "p.yml"])
            usleep(useconds_t(100_000 + moments.next(upTo: 0.9) * 1_000_000))
            engine.signal(SIGKILL)
            guard let code = engine.wait(seconds: 20) else { Issue.record("trial \(trial): the engine did not die"); continue }
            if code != 137 || box.recordedRuns.isEmpty { continue }
            killedMidRun += 1
            if trial % 2 == 1 {
                // Kill the rollback too, once it has started undoing something.
                let rollback = try box.background(["rollback", "--wait-lock"])
                _ = waitUntil(seconds: 10) { Ledger(box).count(prefix: "undo-start") > 0 }
                rollback.signal(SIGKILL)
                _ = rollback.wait(seconds: 20)
            }
            let finished = try box.pipeline(["rollback", "--wait-lock"], within: 60)
            #expect(finished.returned && finished.status == 0, "trial \(trial): \(finished.output)")
            let ledger = Ledger(box)
            var lastUndone = -1
            for i in (1...6).reversed() {
                guard let start = ledger.lastIndex(of: "start s\(i)") else { continue }
                let undo = ledger.lastIndex(of: "undo s\(i)")
                #expect(undo.map { $0 > start } == true, "trial \(trial): s\(i) started but was not undone after: \(ledger.text)")
                // Newest first: s(i) is undone before s(i-1) (compare last undos).
                if let undo {
                    #expect(undo > lastUndone, "trial \(trial): undo order wrong: \(ledger.text)")
                    lastUndone = undo
                }
            }
            let state = try box.state()
            #expect(state["status"] as? String == "rolled_back", "trial \(trial): \(state["status"] ?? "nil"); \(finished.output)")
            #expect((state["remaining"] as? [String])?.isEmpty == true, "trial \(trial): remaining \(state["remaining"] ?? "nil")")
        }
        #expect(killedMidRun >= 3, "only \(killedMidRun) of 6 trials killed the engine mid-run: the campaign tested too little")
    }
}
