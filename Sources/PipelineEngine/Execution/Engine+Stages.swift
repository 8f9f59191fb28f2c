import Dispatch
import PipelineSpec
internal import CSystem
import FoundationEssentials
import Glibc

extension DeployEngine {
    /// Starts what can start: gates of stages whose needs succeeded, then attempts up to `--max-parallel`.
    func advanceStages(now: Int) throws(EngineError) -> Bool {
        var progressed = false
        let accepting: Bool = { if case .running = state { return true } else { return false } }()
        if openDirty {
            openStages.sort { positionInOrder[$0] < positionInOrder[$1] }
            openDirty = false
        }
        var active = 0
        for node in openStages {
            switch stages[node].phase {
            case .running, .gateCheck: if !stages[node].parkedAtSwitch { active += 1 }
            default: break
            }
        }
        // Group commit: every attempt this pass starts is journaled first, and the first spawn's
        // flush makes all of them (and the ends that freed their slots) durable with one fdatasync.
        var starting: [Int] = []
        for node in openStages {
            switch stages[node].phase {
            case .pending:
                guard accepting else { continue }
                if !stages[node].conditionDone, skipIfItShouldNot(node) {
                    progressed = true
                    continue
                }
                if try passGates(node, now: now, active: &active) { progressed = true }
            case .gateTimer(let until) where now >= until:
                stages[node].phase = .pending
                progressed = true
            case .retryDelay(let until, let gateCheck) where now >= until:
                guard accepting else { continue }
                stages[node].phase = gateCheck ? .pending : .ready
                progressed = true
            case .ready:
                guard accepting, active < maxParallel else { continue }
                if try beginAttempt(node, pipeline.stages[node]) { starting.append(node) }
                active += 1
                progressed = true
            case .running(let index) where stages[node].parkedAtSwitch:
                guard accepting, switchAfterPending(node).isEmpty else { continue }
                stages[node].parkedAtSwitch = false
                emit(.action(stage: node), "\(switchAfter(node).map { "'\($0)'" }.joined(separator: ", ")) succeeded")
                try runAction(node, index: index, startedAt: now)
                progressed = true
            default:
                continue
            }
        }
        for node in starting { try runAction(node, index: 0, startedAt: clock.now()) }
        // A stage that failed later in this pass stops what started before it, as if already running.
        if !starting.isEmpty, state.isFailing, options.onFailure == .stop { try stopInFlight() }
        return progressed
    }

    /// Works through a stage's gates in order: approval, wait, window, check (the window is checked
    /// after the wait, so a stage never starts outside it).
    /// Returns true when the stage's phase changed.
    func passGates(_ node: Int, now: Int, active: inout Int) throws(EngineError) -> Bool {
        let stage = pipeline.stages[node]
        let gate = stage.gate
        if let approval = gate?.approval, !stages[node].approvalDone {
            let message = approval.message.map { resolve($0, stage: stage) } ?? "deploy stage '\(stage.id)'?"
            if options.approveAll || options.approved.contains(stage.id) {
                record(.stageApproved(stage: stage.id, by: options.approveAll ? "--yes" : "--approve"))
            } else if let answer = stages[node].approvalAnswer {
                stages[node].approvalAnswer = nil
                guard answer else {
                    stop(stage.id, reason: "approval", message: "approval of stage '\(stage.id)' was refused")
                    return true
                }
                record(.stageApproved(stage: stage.id, by: "prompt"))
            } else {
                // One prompt at a time; the answer comes through the loop (``Engine/readApproval()``).
                guard prompt == nil else { return false }
                try flush()
                if output.promptApproval(stage: stage.id, message: masker.mask(message)) {
                    prompt = ApprovalPrompt(node: node)
                    stages[node].phase = .awaitingApproval
                    return true
                }
                stop(
                    stage.id, reason: "approval",
                    message: "stage '\(stage.id)' needs approval (\(masker.mask(message))); continue with 'pipeline resume \(run.run) --approve \(stage.id)'")
                return true
            }
            stages[node].approvalDone = true
        }
        if let wait = gate?.wait, !stages[node].waitDone {
            stages[node].waitDone = true
            record(.gatePassed(stage: stage.id, gate: "wait", ms: wait.milliseconds))
            output.note("[\(stage.id)] waiting \(wait) before it starts")
            stages[node].phase = .gateTimer(until: now + wait.milliseconds)
            return true
        }
        if let window = gate?.window, !stages[node].windowDone {
            let wall = clock.wallMs()
            if let opens = DeployWindowClock.nextOpening(window, afterMs: wall) {
                if options.window == .fail {
                    stop(
                        stage.id, reason: "window",
                        message:
                            "stage '\(stage.id)' may only start within \(window.summary); it opens at \(EngineClock.iso(opens)) (pass --window wait to wait for it)"
                    )
                } else {
                    output.note("[\(stage.id)] outside the deploy window \(window.summary); waiting until \(EngineClock.iso(opens))")
                    stages[node].phase = .gateTimer(until: now + (opens - wall))
                }
                return true
            }
            stages[node].windowDone = true
            record(.gatePassed(stage: stage.id, gate: "window", ms: nil))
        }
        if let check = gate?.check, !stages[node].checkDone {
            guard active < maxParallel else { return false }
            stages[node].checkTries += 1
            let number = stages[node].checkNumberBase + stages[node].checkTries
            stages[node].log.reset(logPath("logs/\(stage.id).gate-check.\(number).log"))
            record(.attemptStarted(stage: stage.id, phase: .gateCheck, attempt: number, log: stages[node].log.path), apply: false)
            try spawn(
                check.source, shell: stage.shell, environment: environment(for: stage, attempt: stages[node].checkTries, outputsPath: "/dev/null"),
                timeoutMs: stage.timeout.milliseconds, purpose: .gateCheck(stage: node), attempt: (stage.id, .gateCheck, number))
            stages[node].phase = .gateCheck
            active += 1
            return true
        }
        stages[node].phase = .ready
        return true
    }

    func gateCheckFinished(_ node: Int, _ child: ChildProcess) throws(EngineError) {
        let stage = pipeline.stages[node]
        stages[node].log.close()
        record(
            .attemptFinished(
                attemptEnd(
                    stage.id, phase: .gateCheck, attempt: stages[node].checkNumberBase + stages[node].checkTries, child,
                    outcome: AttemptOutcome.of(child, interrupted: state.isInterrupting))), apply: false)
        if child.succeeded {
            stages[node].checkDone = true
            record(.gatePassed(stage: stage.id, gate: "check", ms: nil))
            stages[node].phase = .pending
            return
        }
        output.note("[\(stage.id)] gate check failed (\(child.statusText))")
        guard case .running = state else { stages[node].phase = .pending; return }
        if stages[node].checkTries < stage.retry.attempts {
            stages[node].phase = .retryDelay(until: clock.now() + retryDelay(stage.retry, after: stages[node].checkTries), gateCheck: true)
        } else {
            stop(stage.id, reason: "check", message: "the gate check of stage '\(stage.id)' failed \(stages[node].checkTries) time(s); the stage did not start")
            stages[node].phase = .pending
        }
    }

    /// Stops the run at a gate: nothing new starts; exit 4 once running stages end.
    func stop(_ stage: String, reason: String, message: String) {
        if case .running = state { state = .stopping(stage: stage, reason: reason, message: message) }
    }

    /// Journals the start of a stage's next attempt (not yet durable).
    /// - Returns: true when its first action is to run now (``runAction(_:index:startedAt:)``),
    ///   false when the attempt already ended (a blue-green stage whose colours are unknown).
    func beginAttempt(_ node: Int, _ stage: Stage) throws(EngineError) -> Bool {
        stages[node].attempt += 1
        let attempt = stages[node].attempt
        stages[node].log.reset(logPath("logs/\(stage.id).\(attempt).log"))
        // Only stages that declare outputs get a file (created 0600 here, so the script appends to a private file);
        // the others write to /dev/null, since undeclared outputs are ignored anyway.
        if stage.outputs.isEmpty {
            stages[node].outputsPath = "/dev/null"
        } else {
            stages[node].outputsPath = logPath("outputs/\(stage.id).\(attempt).env")
            close(open(stages[node].outputsPath, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o600))
        }
        stages[node].actions = Action.plan(for: stage)
        stages[node].backupPath = nil
        if case .migrate(let spec) = stage.spec, spec.backup != nil {
            if let first = run.stage(stage.id)?.backup {
                // A retry (or a resume) must not back up a half-migrated database: the first
                // backup of the run is the state to restore.
                stages[node].actions.removeAll(where: \.isBackup)
                stages[node].backupPath = first
                output.note("[\(stage.id)] keeping the backup taken before the first attempt: \(first)")
            } else {
                try PrivateFiles.makeDirectory(logPath("backups"))
                stages[node].backupPath = absolute(logPath("backups/\(stage.id).\(attempt)"))
            }
        }
        record(.attemptStarted(stage: stage.id, phase: .run, attempt: attempt, log: stages[node].log.path))
        output.attemptStarted(stage: stage.id, attempt: attempt, phase: AttemptPhase.run.rawValue)
        let tryNumber = triesUsed(stage.id)
        output.note(
            "[\(stage.id)] attempt \(attempt)"
                + (tryNumber == attempt
                    ? "/\(stage.retry.attempts)" : " (try \(tryNumber)/\(stage.retry.attempts); attempts that were stopped before they finished do not count)")
                + " started")
        if case .blueGreen = stage.spec {
            do throws(EngineError) {
                try chooseColors(stage)
            } catch {
                // Which colour serves is unknown: deploying now could overwrite the live one.
                emit(.action(stage: node), error.message)
                try attemptFinished(node, ok: false, exitCode: nil, signal: nil, outcome: .failed)
                return false
            }
        }
        return true
    }

    /// Runs action `index` of the current attempt; finishes the attempt after the last one.
    func runAction(_ node: Int, index: Int, startedAt: Int) throws(EngineError) {
        let stage = pipeline.stages[node]
        while index < stages[node].actions.count {
            switch stages[node].actions[index] {
            case .native(let work):
                // Write-ahead, as for a script: the attempt's start (and the ends it depends on)
                // are on disk before its native work runs anything.
                try flush()
                startNative(node, work, startedAt: startedAt)
                stages[node].phase = .running(action: index)
                return
            case .script(let source, let label, var extra):
                if stages[node].actions[index].isSwitch {
                    let pending = switchAfterPending(node)
                    if !pending.isEmpty {
                        // Deploying the idle colour took no traffic; the switch must wait.
                        emit(.action(stage: node), "waiting for \(pending.map { "'\($0)'" }.joined(separator: ", ")) before the switch")
                        stages[node].parkedAtSwitch = true
                        stages[node].phase = .running(action: index)
                        return
                    }
                    try recordSwitch(stage)
                    if let live = run.stage(stage.id)?.liveColor { extra.append(("PIPELINE_FROM_COLOR", live)) }
                }
                if stages[node].actions.count > 1 || label.hasPrefix("smoke") { emit(.action(stage: node), "\(label)") }
                if let backup = stages[node].backupPath { extra.append(("PIPELINE_BACKUP_PATH", backup)) }
                let elapsed = clock.now() - startedAt
                let remaining = max(1, stage.timeout.milliseconds - elapsed)
                try spawn(
                    source, shell: stage.shell,
                    environment: environment(for: stage, attempt: stages[node].attempt, outputsPath: stages[node].outputsPath, extra: extra),
                    timeoutMs: remaining, purpose: .action(stage: node), attempt: (stage.id, .run, stages[node].attempt))
                stages[node].phase = .running(action: index)
                return
            }
        }
        try attemptFinished(node, ok: true, exitCode: 0, signal: nil, outcome: .succeeded)
    }

    /// Starts the native work of a stage on its own thread.
    func startNative(_ node: Int, _ work: Action.NativeWork, startedAt: Int) {
        let stage = pipeline.stages[node]
        let task = NativeTask(clock: clock)
        // A watch holds for its `duration` by design: its `timeout` bounds what comes on top.
        let held: Int = { if case .watch(let spec) = work { return spec.duration.milliseconds } else { return 0 } }()
        task.deadline = task.startedAt + held + max(1, stage.timeout.milliseconds - (clock.now() - startedAt))
        // What the stage's scripts will see: the process environment, the pipeline's and the stage's `env`.
        let stageEnvironment = environmentValues(
            stageID: stage.id, stageEnv: stage.env.map { ($0.name, $0.value.raw) },
            attempt: stages[node].attempt, outputsPath: stages[node].outputsPath)
        let environmentList = stageEnvironment.map { "\($0.key)=\($0.value)" }
        var resolved: [String: String] = [:]
        for template in Self.templates(in: work) { resolved[template.raw] = resolve(template, stage: stage) }
        let table = resolved
        let context = KindContext(
            stage: stage.id, shell: stage.shell, environment: environmentList, directory: options.workingDirectory,
            masker: masker, resolve: { table[$0.raw] ?? $0.raw }, run: run.run, pauseWaits: options.pause == .wait, resume: analysisResume(stage))
        let base = Posix.directory(of: run.file)
        emit(.action(stage: node), work.label)
        tasks[task.readFD] = (task, node)
        task.start { task in
            switch work {
            case .envPresync(let spec): return EnvPresyncRunner.run(spec, environment: stageEnvironment, base: base, task)
            case .precheck(let checks): return PrecheckRunner.run(checks, context, task)
            case .canary(let spec): return CanaryRunner.run(spec, context, task)
            case .verify(let probe): return VerifyRunner.run(probe, context, task)
            case .watch(let spec): return WatchRunner.run(spec, context, task)
            }
        }
    }

    static func templates(in work: Action.NativeWork) -> [Template] {
        switch work {
        case .envPresync: return []
        case .precheck(let checks): return checks.compactMap { if case .http(let p) = $0.probe { return p.url } else { return nil } }
        case .canary(let spec): return analysisTemplates(spec.analysis)
        case .watch(let spec): return analysisTemplates(spec.analysis)
        case .verify(let probe): return [probe.url]
        }
    }

    /// Takes a native task's reports: lines to show and log, events to journal, and its verdict.
    func collect(_ task: NativeTask, node: Int) throws(EngineError) {
        let (reports, verdict) = task.collect()
        let purpose = Purpose.action(stage: node)
        for report in reports {
            switch report {
            case .line(let line):
                let masked = masker.mask(line)
                output.stageLine(stage: stageID(purpose), line: masked)
                writeLog(purpose, masked + "\n")
            case .event(let event):
                // Probe errors and URLs can carry a secret (a token in a query string): mask like any output.
                record(event.masked(masker.mask))
            case .durable(let event, let done):
                record(event.masked(masker.mask))
                try flush()
                done.signal()
            }
        }
        guard let verdict else { return }
        tasks[task.readFD] = nil
        if verdict.paused, case .running = stages[node].phase {
            try attemptFinished(node, ok: false, exitCode: nil, signal: nil, outcome: .paused)
            stop(pipeline.stages[node].id, reason: "pause", message: verdict.message)
            return
        }
        guard case .running(let index) = stages[node].phase else { return }
        emit(purpose, verdict.message)
        let more = index + 1 < stages[node].actions.count
        if verdict.ok, more, !state.isInterrupting, !state.isFailing {
            try runAction(node, index: index + 1, startedAt: task.startedAt)
            return
        }
        // More to do but the run is failing or interrupted: the attempt did not finish its work.
        let outcome = AttemptOutcome.decide(
            exitedZero: verdict.ok && !more, timedOut: task.timedOut,
            interrupted: state.isInterrupting, stopped: verdict.ok || task.isCancelled)
        try attemptFinished(node, ok: outcome == .succeeded, exitCode: nil, signal: nil, outcome: outcome)
    }

    func actionFinished(_ node: Int, _ child: ChildProcess) throws(EngineError) {
        guard case .running(let index) = stages[node].phase else { return }
        if child.succeeded, stages[node].actions[index].isBackup, let path = stages[node].backupPath {
            // The artifact is journaled before the migration runs, so a rollback (even a later
            // `pipeline rollback`) can restore it.
            var info = stat()
            guard stat(path, &info) == 0 else {
                emit(.action(stage: node), "the backup script succeeded but wrote nothing at $PIPELINE_BACKUP_PATH (\(path)); not migrating without a backup")
                try attemptFinished(node, ok: false, exitCode: child.exitCode, signal: nil, outcome: .failed)
                return
            }
            PrivateFiles.makePrivate(path)
            record(.backup(stage: pipeline.stages[node].id, attempt: stages[node].attempt, path: path, bytes: Int(info.st_size)))
            try flush()
            emit(.action(stage: node), "backup written: \(path) (\(info.st_size) bytes)")
        }
        if child.succeeded, case .running = state, index + 1 < stages[node].actions.count {
            try runAction(node, index: index + 1, startedAt: child.startedAt)
            return
        }
        if child.succeeded, case .stopping = state, index + 1 < stages[node].actions.count {
            try runAction(node, index: index + 1, startedAt: child.startedAt)
            return
        }
        // A step that succeeded with more to do, not continued because the run is failing or interrupted.
        let unfinished = child.succeeded && index + 1 < stages[node].actions.count
        let outcome =
            unfinished
            ? (state.isInterrupting ? .interrupted : .stopped)
            : AttemptOutcome.of(child, interrupted: state.isInterrupting, stopped: state.isFailing)
        if !child.succeeded {
            emit(.action(stage: node), "attempt \(stages[node].attempt) \(outcome == .timedOut ? "timed out" : outcome.rawValue) (\(child.statusText))")
        }
        try attemptFinished(
            node, ok: child.succeeded && index + 1 >= stages[node].actions.count, exitCode: child.exitCode, signal: child.signalName, outcome: outcome,
            startedAt: nil)
    }

    /// Tries of a stage's attempts that count against its retry budget (interrupted ones do not).
    func triesUsed(_ id: String) -> Int {
        (run.stage(id)?.attempts ?? []).filter { $0.outcome?.usesBudget ?? true }.count
    }

    func attemptFinished(_ node: Int, ok: Bool, exitCode: Int?, signal: String?, outcome: AttemptOutcome, startedAt: Int? = nil) throws(EngineError) {
        let (ok, outcome, outputs) = endOutputs(node, ok: ok, outcome: outcome)  // outputs that cannot be read fail the attempt
        let stage = pipeline.stages[node]
        let attempt = stages[node].attempt
        let started = run.stage(stage.id)?.attempts.last?.startedClock ?? clock.now()
        record(
            .attemptFinished(
                .init(
                    stage: stage.id, phase: .run, attempt: attempt, exitCode: exitCode, signal: signal,
                    durationMs: clock.now() - started, outcome: outcome)))
        stages[node].log.close()
        output.attemptEnded(stage: stage.id, attempt: attempt, phase: "run", status: outcome.rawValue, logPath: stages[node].log.path)
        if outcome == .interrupted || outcome == .paused {
            // What it wrote before it was stopped is what its rollback needs.
            recordPartialOutputs(node, outputs)
            stages[node].phase = .pending
            return
        }
        if ok {
            recordFinished(node, status: .succeeded, outputs: outputs)
            stageEnded(node, succeeded: true)
            output.note("[\(stage.id)] succeeded in \(HumanDuration.text(run.stage(stage.id).map(RunState.durationMs) ?? 0))")
            return
        }
        let canRetry: Bool = {
            if case .running = state { return true }; if case .stopping = state { return true }; return false
        }()
        let tries = triesUsed(stage.id)
        if canRetry, tries < stage.retry.attempts, !abortedByOperator.contains(node) {
            let delay = retryDelay(stage.retry, after: tries)
            output.note("[\(stage.id)] retrying in \(TimeSpan(milliseconds: delay)) (try \(tries + 1)/\(stage.retry.attempts))")
            stages[node].phase = .retryDelay(until: clock.now() + delay, gateCheck: false)
            return
        }
        // A failed attempt's outputs (say `previous`, written before it failed) go to its rollback.
        recordFinished(node, status: .failed, outputs: outputs)
        stageEnded(node, succeeded: false)
        output.note(
            "[\(stage.id)] failed after \(tries) attempt\(tries == 1 ? "" : "s") (\(HumanDuration.text(run.stage(stage.id).map(RunState.durationMs) ?? 0)))")
        if !state.isFailing && !state.isInterrupting {
            state = .failing(stage: stage.id)
            if options.onFailure == .stop { try stopInFlight() }
        }
    }

    /// Stops every script (TERM to its group, then KILL after the grace) and native task in flight;
    /// scripts whose start is journaled are started first and stopped with them, as if already running.
    func stopInFlight() throws(EngineError) {
        try flush()
        for (_, job) in jobs { terminate(job.child) }
        for (_, entry) in tasks { entry.task.cancel() }
    }

    /// Ends the run once nothing is left to do: every stage succeeded, or a gate stopped it.
    func checkRunEnd() throws(EngineError) {
        guard !busy, prompt == nil else { return }
        switch state {
        case .running:
            if succeededCount + skippedCount == stages.count {
                record(.runFinished(status: .succeeded, remaining: nil, note: nil, failedStage: nil))
                output.note("run \(run.run) succeeded" + (run.elapsedMs(now: clock.timestamp()).map { " in \(HumanDuration.text($0))" } ?? ""))
                notify(.succeeded)
                state = .finished(ExitStatus.succeeded)
            } else if openStages.isEmpty {
                // Nothing running, nothing startable: cannot happen with a valid graph, but never spin.
                record(.runFinished(status: .failed, remaining: nil, note: "no stage could start", failedStage: nil))
                state = .finished(ExitStatus.failedRolledBack)
            }
        case .stopping(let stage, let reason, let message):
            if openStages.contains(where: {
                if case .retryDelay(_, false) = stages[$0].phase { return true }; return false
            }) {
                return
            }
            record(.runWaiting(stage: stage, reason: reason, message: message))
            output.note("stopped: \(message)")
            notify(.waiting, reason: message)
            state = .finished(ExitStatus.stoppedAtGate)
        default:
            break
        }
    }

}

/// When a deploy window is open.
enum DeployWindowClock {
    /// nil when `wallMs` is inside the window, else when it next opens (ms since 1970).
    static func nextOpening(_ window: DeployWindow, afterMs wallMs: Int) -> Int? {
        guard let zone = TimeZone(identifier: window.timezone) else { return nil }
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = zone
        let now = Date(timeIntervalSince1970: Double(wallMs) / 1000)
        func isoWeekday(_ date: Date) -> Int { (calendar.component(.weekday, from: date) + 5) % 7 + 1 }
        let parts = calendar.dateComponents([.hour, .minute], from: now)
        let minute = (parts.hour ?? 0) * 60 + (parts.minute ?? 0)
        let today = isoWeekday(now)
        let overnight = window.end < window.start
        if window.days.contains(today) {
            if overnight ? minute >= window.start : (minute >= window.start && minute < window.end) { return nil }
        }
        if overnight, minute < window.end {
            let yesterday = (today + 5) % 7 + 1
            if window.days.contains(yesterday) { return nil }
        }
        let startOfToday = calendar.startOfDay(for: now)
        for offset in 0...7 {
            guard let day = calendar.date(byAdding: .day, value: offset, to: startOfToday),
                let opening = calendar.date(byAdding: .minute, value: window.start, to: day)
            else { continue }
            if opening > now, window.days.contains(isoWeekday(day)) {
                return Int(opening.timeIntervalSince1970 * 1000)
            }
        }
        return nil
    }
}
