import Foundation
import Testing

@testable import PipelineEngine
@testable import PipelineSpec

/// The engine's decisions that depend only on the recorded run, tested in-process: journals are
/// built from typed events, replayed, and the rollback plan, liveness bookkeeping and replay
/// compatibility are checked without a process or a clock.
@Suite struct EngineRecordTests {
    static func stage(
        _ id: String, kind: String = "backend", rollback: String? = "undo", traffic: String? = nil,
        restore: String? = nil, reversible: Bool = true
    ) -> RunDefinition.StageDefinition {
        .init(
            id: id, kind: kind, rollback: rollback, traffic: traffic, restore: restore, shell: ["/bin/sh", "-c"], timeoutMs: 1000,
            retry: .none, env: [], reversible: reversible, outputs: [])
    }

    /// A journal of `events` after a `run_started` of `stages`, replayed.
    static func replay(_ stages: [RunDefinition.StageDefinition], _ events: [JournalEvent], boot: String = "boot-1") throws -> RunState {
        let start = JournalEvent.runStarted(
            .init(
                run: "20261201T000000Z-000001", pipeline: "p", file: "/p.yml", workdir: "/", fileHash: "h",
                pid: 42, host: "h1", boot: boot, sequence: 1,
                definition: RunDefinition(env: [], secrets: [], stages: stages)))
        // Through the journal's text form, as a real replay reads it.
        let lines = ([start] + events).enumerated().map { i, event in event.line(time: "2026-12-01T00:00:0\(i % 10).000Z", clockMs: i * 10) }
        let parsed = try lines.map { try #require(JSONValue.parse(Substring($0.compact))) }
        return try #require(RunState.replay(parsed))
    }

    static func started(_ id: String, _ n: Int = 1) -> JournalEvent { .attemptStarted(stage: id, phase: .run, attempt: n, log: "logs/\(id).\(n).log") }
    static func finished(_ id: String, _ outcome: AttemptOutcome, phase: AttemptPhase = .run, _ n: Int = 1) -> JournalEvent {
        .attemptFinished(.init(stage: id, phase: phase, attempt: n, exitCode: outcome == .succeeded ? 0 : 1, signal: nil, durationMs: 5, outcome: outcome))
    }
    static func succeeded(_ id: String) -> [JournalEvent] {
        [started(id), finished(id, .succeeded), .stageFinished(stage: id, status: .succeeded, outputs: [], masked: [], note: nil)]
    }

    @Test func aStageRunningWhenTheEngineDiedIsUndoneFirst() throws {
        let run = try Self.replay([Self.stage("a"), Self.stage("b"), Self.stage("c")], Self.succeeded("a") + [Self.started("b")])
        #expect(run.rollbackQueue(failed: nil) == ["b", "a"])
        #expect(run.halfAppliedStages(failed: nil) == ["b"])
    }

    @Test func aSkippedStageIsReplayedSkippedAndNeverInTheRollback() throws {
        let run = try Self.replay(
            [Self.stage("a"), Self.stage("b"), Self.stage("c")],
            Self.succeeded("a") + [
                .stageSkipped(stage: "b", condition: "inputs.extra", reason: "if: inputs.extra: false"), Self.started("c"), Self.finished("c", .failed),
            ])
        #expect(run.stage("b")?.status == .skipped)
        #expect(run.stage("b")?.skipReason == "if: inputs.extra: false")
        #expect(run.completionOrder == ["a"])
        #expect(run.rollbackQueue(failed: "c") == ["c", "a"])
        #expect(run.halfAppliedStages(failed: "c") == ["c"])
    }

    @Test func anInterruptedAttemptIsHalfAppliedAndItsStageStaysPending() throws {
        let run = try Self.replay([Self.stage("a"), Self.stage("b")], Self.succeeded("a") + [Self.started("b"), Self.finished("b", .interrupted)])
        #expect(run.stage("b")?.status == .pending)
        #expect(run.rollbackQueue(failed: nil) == ["b", "a"])
    }

    @Test func theFailedStageLeadsThenOtherHalfAppliedStagesNewestFirst() throws {
        let events =
            Self.succeeded("a") + [
                Self.started("b"), Self.started("c"), Self.finished("c", .failed),
                .stageFinished(stage: "c", status: .failed, outputs: [], masked: [], note: nil),
                Self.finished("b", .stopped), .stageFinished(stage: "b", status: .failed, outputs: [], masked: [], note: nil),
            ]
        let run = try Self.replay([Self.stage("a"), Self.stage("b"), Self.stage("c")], events)
        #expect(run.rollbackQueue(failed: "b") == ["b", "c", "a"])
        #expect(run.rollbackQueue(failed: "c") == ["c", "b", "a"])
    }

    @Test func aStageWhoseScriptNeverStartedAppliedNothing() throws {
        let events =
            Self.succeeded("api") + [
                Self.started("web"), Self.finished("web", .notStarted),
                .stageFinished(stage: "web", status: .failed, outputs: [], masked: [], note: nil),
            ]
        let run = try Self.replay([Self.stage("api"), Self.stage("web")], events)
        #expect(run.rollbackQueue(failed: "web") == ["api"])
    }

    @Test func aStageWithNothingToUndoIsLeftOutButAnIrreversibleOneStopsTheRollback() throws {
        let events = Self.succeeded("plain") + Self.succeeded("irreversible") + [Self.started("c")]
        let run = try Self.replay(
            [Self.stage("plain", rollback: nil), Self.stage("irreversible", rollback: nil, reversible: false), Self.stage("c", rollback: nil)], events)
        #expect(run.rollbackQueue(failed: nil) == ["irreversible", "plain"])
        #expect(run.undoSteps(run.definition.stage("plain")!) == [])
    }

    @Test(arguments: [(25, [UndoStep.traffic, .rollback]), (100, [.traffic, .rollback]), (0, [.rollback])])
    func aCanaryIsSentBackToZeroUnlessTheJournalSaysItIsThere(percent: Int, steps: [UndoStep]) throws {
        let stamp = JournalEvent.NativeStamp(at: "2026-12-01T00:00:00.000Z", atMs: 1)
        let run = try Self.replay(
            [Self.stage("canary", kind: "canary", traffic: "./traffic.sh")],
            [Self.started("canary"), .traffic(stamp, stage: "canary", percent: 10), .traffic(stamp, stage: "canary", percent: percent)])
        #expect(run.undoSteps(run.definition.stage("canary")!) == steps)
    }

    @Test func aSucceededTrafficResetCountsAsTrafficAtZero() throws {
        let stamp = JournalEvent.NativeStamp(at: "2026-12-01T00:00:00.000Z", atMs: 1)
        let run = try Self.replay(
            [Self.stage("canary", kind: "canary", traffic: "./traffic.sh")],
            [
                Self.started("canary"), .traffic(stamp, stage: "canary", percent: 50), .rollbackBegun(queue: ["canary"], failedStage: nil),
                .rollbackStarted(stage: "canary"), .attemptStarted(stage: "canary", phase: .traffic, attempt: 1, log: "l"),
                Self.finished("canary", .succeeded, phase: .traffic),
            ])
        #expect(run.undoSteps(run.definition.stage("canary")!) == [.rollback])
    }

    @Test func aMigrateStageWithoutADowngradeIsRestoredFromItsJournaledBackup() throws {
        let withBackup = try Self.replay(
            [Self.stage("db", kind: "migrate", rollback: nil, restore: "./restore.sh")],
            Self.succeeded("db").prefix(1) + [.backup(stage: "db", attempt: 1, path: "/b", bytes: 3)] + Self.succeeded("db").dropFirst())
        #expect(withBackup.undoSteps(withBackup.definition.stage("db")!) == [.restore])
        let without = try Self.replay([Self.stage("db", kind: "migrate", rollback: nil, restore: "./restore.sh")], Self.succeeded("db"))
        #expect(without.undoSteps(without.definition.stage("db")!) == [])
    }

    @Test func aRollbackUnderWayIsKnownUntilTheRunFinishes() throws {
        let begun = Self.succeeded("a") + [.rollbackBegun(queue: ["a"], failedStage: "b"), .rollbackStarted(stage: "a")]
        let running = try Self.replay([Self.stage("a"), Self.stage("b")], begun)
        #expect(running.rollbackBegun && running.failedStage == "b")
        let done = try Self.replay([Self.stage("a"), Self.stage("b")], begun + [.runFinished(status: .rolledBack, remaining: [], note: nil, failedStage: "b")])
        #expect(!done.rollbackBegun)
        // A journal of a version before `rollback_begun`: its rollback_started says the same.
        let old = try Self.replay([Self.stage("a"), Self.stage("b")], Self.succeeded("a") + [.rollbackStarted(stage: "a")])
        #expect(old.rollbackBegun)
    }

    @Test func processGroupsAreOpenUntilTheirTryEndsAndForgottenAfterAReboot() throws {
        let events: [JournalEvent] = [Self.started("a"), .processStarted(stage: "a", phase: .run, attempt: 1, pgid: 4242)]
        let open = try Self.replay([Self.stage("a")], events)
        #expect(open.openGroups == ["a/run/1": 4242])
        #expect(open.stage("a")?.attempts.last?.pgid == 4242)
        let ended = try Self.replay([Self.stage("a")], events + [Self.finished("a", .succeeded)])
        #expect(ended.openGroups.isEmpty)
        let rebooted = try Self.replay(
            [Self.stage("a")],
            events + [
                .runResumed(
                    pid: 7, host: "h1", boot: "boot-2", purpose: .resume, forced: false,
                    definition: nil, fileHash: nil)
            ])
        #expect(rebooted.openGroups.isEmpty)
        #expect(rebooted.stage("a")?.attempts.last?.outcome == .unknown)
    }

    @Test func resumeForceOnAChangedFileKeepsTheRemovedStagesInTheRecord() throws {
        let changed = RunDefinition(env: [], secrets: [], stages: [Self.stage("new"), Self.stage("b")])
        let run = try Self.replay(
            [Self.stage("a"), Self.stage("b")],
            Self.succeeded("a") + [
                .runResumed(
                    pid: 7, host: "h1", boot: "boot-1", purpose: .resume, forced: true,
                    definition: changed, fileHash: "h2")
            ])
        #expect(Set(run.definition.stages.map(\.id)) == ["new", "b", "a"])
        #expect(run.stage("a")?.status == .succeeded)
        #expect(run.stage("new")?.status == .pending)
        #expect(run.fileHash == "h2")
        #expect(run.rollbackQueue(failed: nil) == ["a"])
    }

    @Test func theAttemptOutcomeIsDecidedOnceWithOnePrecedence() {
        #expect(AttemptOutcome.decide(exitedZero: true, timedOut: true, interrupted: true, stopped: true) == .succeeded)
        #expect(AttemptOutcome.decide(exitedZero: false, timedOut: true, interrupted: true, stopped: true) == .timedOut)
        #expect(AttemptOutcome.decide(exitedZero: false, timedOut: false, interrupted: true, stopped: true) == .interrupted)
        #expect(AttemptOutcome.decide(exitedZero: false, timedOut: false, interrupted: false, stopped: true) == .stopped)
        #expect(AttemptOutcome.decide(exitedZero: false, timedOut: false, interrupted: false, stopped: false) == .failed)
        #expect(!AttemptOutcome.interrupted.usesBudget && !AttemptOutcome.unknown.usesBudget && AttemptOutcome.failed.usesBudget)
    }

    /// Every event type survives its journal line: written, parsed and written again, the same text.
    @Test func everyEventRoundTripsThroughItsJournalLine() throws {
        let stamp = JournalEvent.NativeStamp(at: "2026-12-01T00:00:00.000Z", atMs: 1)
        var definition = RunDefinition(env: [("A", "1")], secrets: ["S"], stages: [Self.stage("a", traffic: "t")])
        definition.hooks = HookDefinitions(
            notify: [.init(events: ["failed"], run: nil, webhook: "https://h/${{ secrets.S }}", timeoutMs: 5000)], rollbackBefore: "on",
            rollbackAfter: nil, rollbackTimeoutMs: 60000, shell: ["/bin/bash", "-c"])
        let events: [JournalEvent] = [
            .runStarted(
                .init(run: "r", pipeline: "p", file: "f", workdir: "w", fileHash: "h", pid: 1, host: "h", boot: "b", sequence: 3, definition: definition)),
            .runResumed(pid: 2, host: "h", boot: "b", purpose: .resume, forced: true, definition: definition, fileHash: "h2"),
            .stageApproved(stage: "a", by: "prompt"), .gatePassed(stage: "a", gate: "wait", ms: 5),
            Self.started("a"), .processStarted(stage: "a", phase: .run, attempt: 1, pgid: 9), Self.finished("a", .timedOut),
            .stageFinished(stage: "a", status: .succeeded, outputs: [("previous", "v1")], masked: ["previous"], note: nil),
            .stageSkipped(stage: "b", condition: "inputs.extra", reason: "if: inputs.extra: false"),
            .stageSkipped(stage: "c", condition: nil, reason: "it reads an output of 'b', which was skipped"),
            .outputsRecorded(stage: "a", outputs: [("x", "y")], masked: []), .backup(stage: "a", attempt: 1, path: "/b", bytes: 2),
            .runWaiting(stage: "a", reason: "approval", message: "m"), .rollbackBegun(queue: ["a"], failedStage: "a"),
            .rollbackStarted(stage: "a"), .rollbackFinished(stage: "a", status: .rolledBack, method: "rollback"),
            .runFinished(status: .rolledBack, remaining: [], note: "n", failedStage: "a"), .runInterrupted,
            .probe(stamp, stage: "a", attempt: 1, url: "http://x", status: 200, error: nil, ms: 3, ok: true),
            .measurement(stamp, stage: "a", step: 10, metric: "m", value: 0.5, bound: "≤ 1", verdict: "pass"),
            .traffic(stamp, stage: "a", percent: 10),
            .measurement(
                stamp, stage: "a", step: 10, metric: "m", value: nil, bound: "≤ 1", verdict: "inconclusive", reason: "HTTP 503: down",
                warnings: ["w"]),
            .analysisPaused(stamp, stage: "a", step: 2, reason: "a pause step"),
            .control(stage: "a", action: "promote", request: "r1", by: "me@host"),
            .colors(stage: "a", live: "blue", idle: "green", decidedBy: "r0"), .colors(stage: "a", live: "blue", idle: "green", decidedBy: nil),
            .colorSwitch(stage: "a", color: "green"),
            .hook(stamp, name: "notify 1", event: "failed", ok: false, detail: "POST http://x returned HTTP 500", ms: 4),
        ]
        #expect(Set(events.compactMap(\.kind)) == Set(JournalEvent.Kind.allCases), "a kind has no case here")
        let batch = JournalEvent.encode(events, time: "2026-12-01T00:00:00.000Z", clockMs: 1)
        #expect(batch.text == Array(batch.lines.map { $0 + "\n" }.joined().utf8))
        for (event, written) in zip(events, batch.lines) {
            let line = event.line(time: "2026-12-01T00:00:00.000Z", clockMs: 1)
            // The journal's line, written straight from the fields, is the value's JSON text.
            #expect(written == line.compact)
            #expect(try JSONSerialization.jsonObject(with: Data(written.utf8)) is [String: Any])
            let parsed = try #require(JSONValue.parse(Substring(line.compact)))
            let record = try #require(JournalRecord(json: parsed))
            #expect(record.event.line(time: record.time, clockMs: record.clockMs).compact == line.compact)
        }
    }
}

/// The byte-level JSON writer the journal uses, checked against Foundation's reader and `String(Int)`.
@Suite struct JSONWriterTests {
    @Test("strings with every control character, quotes, backslashes and non-ASCII text read back as written")
    func quotedStringsReadBack() throws {
        var samples = ["", "s0", "plain text", "\"", "\\", "a\"b\\c", "tab\there", "line\nbreak\r\n", "ünïcödé ✓ 🚀", "\u{7F}del", "end\\"]
        samples += (0..<0x20).map { "x" + String(UnicodeScalar(UInt8($0))) + "y" }
        samples.append(String(repeating: "long-run/", count: 200) + "\u{1}")
        for sample in samples {
            let quoted = JSON.quote(sample)
            let read = try JSONSerialization.jsonObject(with: Data(quoted.utf8), options: .fragmentsAllowed)
            #expect(read as? String == sample, "\(quoted)")
            #expect(JSONValue.parse(Substring(quoted)) == .string(sample))
        }
        // Each byte that needs escaping, at every place in and around the eight-byte words read at once.
        for byte in Array(0..<0x20) + [0x22, 0x5C] {
            for place in 0..<26 {
                var bytes = Array(repeating: UInt8(ascii: "a"), count: 26)
                bytes[place] = UInt8(byte)
                for prefix in ["", "é"] {
                    let sample = prefix + String(decoding: bytes, as: UTF8.self)
                    let read = try JSONSerialization.jsonObject(with: Data(JSON.quote(sample).utf8), options: .fragmentsAllowed)
                    #expect(read as? String == sample, "byte \(byte) at \(place)")
                }
            }
        }
        // A string made from a slice of another goes through the same writer.
        let sliced = String("--\"cut\"--".dropFirst(2).dropLast(2))
        #expect(JSON.quote(sliced) == #""\"cut\"""#)
    }

    @Test("integers are written as String(Int) writes them")
    func decimals() {
        var rng = SystemRandomNumberGenerator()
        let values =
            [0, 1, -1, 9, 10, 99, 100, Int.max, Int.min, Int.max - 1, Int.min + 1]
            + (0..<500).map { _ in Int.random(in: .min ... .max, using: &rng) >> Int.random(in: 0..<63, using: &rng) }
        for value in values {
            var out: [UInt8] = [UInt8(ascii: "#")]
            JSON.appendDecimal(value, to: &out)
            #expect(String(decoding: out.dropFirst(), as: UTF8.self) == String(value))
            #expect(JSONValue.int(value).compact == String(value))
        }
    }

    @Test("compact and pretty text of nested values parse to the same value")
    func compactMatchesPretty() throws {
        let value = JSONValue.object([
            ("a", .array([.int(1), .null, .bool(true), .bool(false), .double(0.25), .string("x\ny")])), ("empty", .object([])), ("none", .array([])),
            ("nested", .object([("k", .array([.array([]), .object([("q", .string("\u{0}"))])]))])),
        ])
        let compact = try #require(JSONValue.parse(Substring(value.compact)))
        let pretty = try #require(JSONValue.parse(Substring(value.pretty)))
        #expect(compact.pretty == pretty.pretty)
        #expect(!value.compact.contains(" ") && !value.compact.contains("\n"))
    }
}
