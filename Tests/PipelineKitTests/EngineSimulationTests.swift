import Foundation
import Testing

@testable import PipelineEngine
@testable import PipelineSpec

/// The engine in-process, on a manual clock, with simulated processes: scheduling, retries, gates,
/// timeouts and rollback are checked to the millisecond of engine time, without a shell and without
/// waiting. (The binary tests check the same behaviours with real processes.)
@Suite(.timeLimit(.minutes(1)))
struct EngineSimulationTests {
    /// Runs `yaml` in a fresh directory with simulated processes; returns the exit code, the spawner
    /// and what the engine said.
    static func run(
        _ yaml: String, maxParallel: Int = 4, killGraceMs: Int = 5000,
        behave: @escaping (String, [String: String]) -> SimulatedProcesses.Behaviour
    ) throws -> (Int32, SimulatedProcesses, RecordedOutput, Int) {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("pipeline-sim-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let file = dir.appendingPathComponent("p.yml").path
        try yaml.write(toFile: file, atomically: true, encoding: .utf8)
        let loaded = try PipelineLoader.load(path: file)
        let clock = EngineClock(manualAt: 1_764_547_200_000)  // 2025-12-01T00:00:00Z
        let processes = SimulatedProcesses(clock: clock, behave: behave)
        var options = EngineOptions()
        options.stateDirectory = dir.appendingPathComponent(".pipeline").path
        options.workingDirectory = dir.path
        options.maxParallel = maxParallel
        options.killGraceMs = killGraceMs
        options.clock = clock
        options.spawner = processes
        let output = RecordedOutput()
        let start = clock.now()
        let code = Engine.run(loaded, options: options, output: output)
        return (code, processes, output, start)
    }

    @Test func retriesBackOffOnTheEnginesClock() throws {
        var tries = 0
        let (code, processes, _, start) = try Self.run(
            """
            version: 1
            name: sim
            stages:
              - id: flaky
                run: ./deploy.sh
                retry: {attempts: 3, delay: 10s, backoff: 2, jitter: false}
            """
        ) { _, _ in
            tries += 1
            return .init(exitCode: tries < 3 ? 1 : 0, durationMs: 1000)
        }
        #expect(code == 0)
        // 1 s try, 10 s delay, 1 s try, 20 s delay (backoff 2), the third try.
        #expect(processes.spawns(of: "flaky").map { $0.at - start } == [0, 11_000, 32_000])
    }

    @Test func aTimeoutStopsTheGroupWithTERMThenKILLAfterTheGrace() throws {
        let (code, processes, output, start) = try Self.run(
            """
            version: 1
            name: sim
            stages:
              - {id: stuck, run: ./hang.sh, timeout: 2s}
            """, killGraceMs: 5000
        ) { _, _ in .init(durationMs: 3_600_000, ignoresTERM: true) }
        #expect(code == 1)
        #expect(processes.signals.filter { $0.signal != SIGCONT }.map { [Int($0.signal), $0.at - start] } == [[Int(SIGTERM), 2000], [Int(SIGKILL), 7000]])
        #expect(output.notes.contains { $0.contains("[stuck] timed out after 2s") }, "\(output.notes)")
    }

    @Test func aGateWaitDelaysTheStartByExactlyItsDuration() throws {
        let (code, processes, _, start) = try Self.run(
            """
            version: 1
            name: sim
            stages:
              - {id: soak, run: ./go.sh, gate: {wait: 5m}}
            """
        ) { _, _ in .init(durationMs: 10) }
        #expect(code == 0)
        #expect(processes.spawns(of: "soak").map { $0.at - start } == [300_000])
    }

    @Test func maxParallelIsHeldAndTheFanOutTakesThreeRounds() throws {
        var yaml = "version: 1\nname: sim\nstages:\n"
        for i in 1...5 { yaml += "  - {id: s\(i), needs: [], run: ./s.sh}\n" }
        let (code, processes, _, start) = try Self.run(yaml, maxParallel: 2) { _, _ in .init(durationMs: 10_000) }
        #expect(code == 0)
        let spans = processes.spawns.map { ($0.at - start, ($0.endedAt ?? 0) - start) }
        for time in stride(from: 0, to: 30_000, by: 500) {
            #expect(spans.filter { $0.0 <= time && time < $0.1 }.count <= 2, "more than 2 running at \(time) ms")
        }
        #expect(spans.map(\.1).max() == 30_000)
    }

    @Test func aFailureRollsBackTheFailedStageFirstThenTheOthersNewestFirstWithTheirOutputs() throws {
        let (code, processes, _, _) = try Self.run(
            """
            version: 1
            name: sim
            stages:
              - {id: a, kind: backend, outputs: [previous], run: ./a.sh, rollback: ./undo.sh}
              - {id: b, kind: backend, outputs: [previous], run: ./b.sh, rollback: ./undo.sh}
              - {id: c, kind: backend, outputs: [previous], run: ./c.sh, rollback: ./undo.sh}
            """
        ) { script, env in
            guard script.hasPrefix("./") && script != "./undo.sh" else { return .init(durationMs: 100) }
            let stage = env["PIPELINE_STAGE"] ?? ""
            let outputs = env["PIPELINE_OUTPUTS"] ?? "/dev/null"
            // Every stage records what its rollback needs first; c then fails.
            return .init(
                exitCode: stage == "c" ? 1 : 0, durationMs: 1000,
                atEnd: {
                    try? "previous=\(stage)-v41\n".write(toFile: outputs, atomically: false, encoding: .utf8)
                })
        }
        #expect(code == 1)
        let undos = processes.spawns.filter { $0.environment["PIPELINE_PHASE"] == "rollback" }
        #expect(undos.map { $0.environment["PIPELINE_STAGE"] ?? "" } == ["c", "b", "a"])
        #expect(undos.map { $0.environment["PIPELINE_OUTPUT_PREVIOUS"] ?? "" } == ["c-v41", "b-v41", "a-v41"])
    }
}

extension EngineSimulationTests {
    /// The window is checked after the wait: a wait that runs past the window's end never lets the
    /// stage start outside it (the run stops at the gate instead).
    @Test func aWaitThatEndsOutsideTheWindowStopsAtTheGate() throws {
        // The manual clock starts on Monday 2025-12-01 00:00 UTC; the window is 00:00-00:30 on Mondays.
        let (code, processes, output, _) = try Self.run(
            """
            version: 1
            name: sim
            stages:
              - {id: late, run: ./go.sh, gate: {wait: 1h, window: {hours: "00:00-00:30", days: [mon]}}}
            """
        ) { _, _ in .init(durationMs: 10) }
        #expect(code == 4, "\(output.notes)")
        #expect(processes.spawns.isEmpty, "the stage started outside its window")
    }
}
