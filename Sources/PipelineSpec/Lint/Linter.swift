import PipelineYAML

/// The domain's rules (DOMAIN.md) checked on a valid pipeline: each finding is a warning with a
/// stable id and a one-line reason; `--strict` makes them errors.
public enum Linter {
    /// The rule ids, with the reason each exists.
    public enum Rule: String, CaseIterable, Sendable {
        case frontendBeforeBackend = "frontend-before-backend"
        case deployBeforePrepare = "deploy-before-prepare"
        case missingRollback = "missing-rollback"
        case canaryWithoutAnalysis = "canary-without-analysis"
        case canaryNotTo100 = "canary-not-to-100"
        case noVerify = "no-verify"
        case irreversibleCrossing = "irreversible-crossing"
        case migrateWithoutBackup = "migrate-without-backup"
        case windowInPeak = "window-in-peak"
        case retryDelayCapped = "retry-delay-capped"
        case relativeDowngrade = "relative-downgrade"
    }

    /// Lints a pipeline whose graph is known.
    /// - Returns: warnings, in stage order.
    /// - Complexity: O(S · (V + E)) for S stages of the kinds the ordering rules look at.
    public static func lint(_ pipeline: Pipeline, graph: StageGraph) -> [Diagnostic] {
        var out: [Diagnostic] = []
        // Stages are read in place, by index: a `Stage` copied out of the array costs a retain
        // (and a release) of each of its fields.
        let stages = pipeline.stages
        var current: Int?
        func warn(_ rule: Rule, _ mark: Mark, _ message: String) {
            // A rule the stage lists in `allow` is accepted for it.
            if let current, stages[current].allow.contains(rule.rawValue) { return }
            // A stage of an included file is reported there (with where it was included from).
            let origin = current.flatMap { stages[$0].origin }
            out.append(
                Diagnostic(
                    .warning, path: origin?.path ?? pipeline.path, mark: mark, message: message, code: rule.rawValue, includedFrom: origin?.includedFrom ?? []))
        }
        // In one pass over the stages (each a read of memory: a large file's stages do not stay
        // in the cache between passes).
        var backends: [Int] = []
        var preparations: [Int] = []
        var deploys: [Int] = []
        var verifies: [Int] = []
        for i in stages.indices {
            switch stages[i].kind {
            case .backend:
                backends.append(i)
                deploys.append(i)
            case .envPresync, .infraPrecheck, .migrate: preparations.append(i)
            case .frontend, .canary, .blueGreen: deploys.append(i)
            case .verify: verifies.append(i)
            case .command, .watch: break
            }
        }
        var ancestorsCache: [Int: Set<Int>] = [:]
        func ancestors(_ node: Int) -> Set<Int> {
            if let cached = ancestorsCache[node] { return cached }
            let result = graph.ancestors(of: node)
            ancestorsCache[node] = result
            return result
        }

        for i in stages.indices {
            current = i
            // Made only for a warning: most stages get none.
            func name() -> String { "'\(stages[i].id)'" }
            switch stages[i].kind {
            case .frontend:
                for b in backends where !ancestors(i).contains(b) {
                    warn(
                        .frontendBeforeBackend, stages[i].mark(of: "needs"),
                        "frontend \(name()) does not need backend '\(stages[b].id)': the new UI could call an API that is not deployed yet")
                }
            case .canary:
                if case .canary(let spec) = stages[i].spec {
                    if spec.analysis.isEmpty {
                        warn(
                            .canaryWithoutAnalysis, stages[i].mark(of: "kind"),
                            "canary \(name()) has no 'analysis': traffic would shift without any metric able to stop it")
                    }
                    if let last = spec.percents.last, last != 100 {
                        warn(
                            .canaryNotTo100, stages[i].mark(of: "steps"),
                            "canary \(name()) ends at \(last)%: the new version never takes all traffic; end the steps at 100")
                    }
                }
            case .migrate:
                if case .migrate(let spec) = stages[i].spec, spec.backup == nil {
                    warn(
                        .migrateWithoutBackup, stages[i].mark(of: "kind"),
                        "migrate \(name()) has no 'backup': take one right before migrating so a failed migration can be restored")
                }
                if let rollback = stages[i].rollback, Self.isRelativeDowngrade(rollback.source) {
                    warn(
                        .relativeDowngrade, stages[i].mark(of: "rollback"),
                        "the rollback of migrate \(name()) downgrades by one step ('-1'): after a failed migration it would remove the previous, live revision; record the revision before migrating (an output) and downgrade to it"
                    )
                }
            default: break
            }
            if stages[i].kind.isDeploy {
                // A blue-green stage's switch also waits for its `switch-after` stages: what they
                // prepare is ready before any traffic reaches the new release.
                var before = ancestors(i)
                if case .blueGreen(let spec) = stages[i].spec {
                    for id in spec.switchAfter { if let n = graph.index[id] { before.formUnion(ancestors(n).union([n])) } }
                }
                for p in preparations where !before.contains(p) && p != i {
                    let reason =
                        stages[i].kind == .blueGreen
                        ? "its switch could send traffic to the new release before its config, infrastructure or schema is ready (deploying the idle colour takes no traffic; switching does)"
                        : "code could ship before its config, infrastructure or schema is ready"
                    warn(
                        .deployBeforePrepare, stages[i].mark(of: "needs"),
                        "\(stages[i].kind.rawValue) \(name()) does not need \(stages[p].kind.rawValue) '\(stages[p].id)': \(reason)")
                }
            }
            let restorable: Bool = {
                if case .migrate(let spec) = stages[i].spec { return spec.restore != nil }
                return false
            }()
            if stages[i].kind == .backend || stages[i].kind == .frontend || stages[i].kind == .migrate, stages[i].rollback == nil, !restorable {
                warn(
                    .missingRollback, stages[i].mark(of: "kind"),
                    "\(stages[i].kind.rawValue) \(name()) has no 'rollback': a later failure could not undo it")
            }
            if let window = stages[i].gate?.window, window.start < 9 * 60, window.end > 8 * 60 || window.end < window.start {
                warn(
                    .windowInPeak, stages[i].mark(of: "gate"),
                    "the deploy window of \(name()) includes the 08:00-09:00 morning peak; prefer 10:00-17:00")
            }
            if stages[i].retry.attempts > 1, stages[i].retry.delay > stages[i].retry.maxDelay {
                warn(
                    .retryDelayCapped, stages[i].mark(of: "retry"),
                    "the retry delay of \(name()) (\(stages[i].retry.delay)) is longer than its max-delay (\(stages[i].retry.maxDelay)): every retry waits \(stages[i].retry.maxDelay); raise max-delay or shorten delay"
                )
            }
            if !stages[i].reversible {
                let later = graph.descendants(of: i)
                let earlierWithRollback = ancestors(i).filter { stages[$0].rollback != nil }.sorted()
                if !later.isEmpty, !earlierWithRollback.isEmpty {
                    let names = earlierWithRollback.map { "'\(stages[$0].id)'" }.joined(separator: ", ")
                    warn(
                        .irreversibleCrossing, stages[i].mark(of: "reversible"),
                        "\(name()) is not reversible: if a later stage fails, rollback stops here and \(names) stay applied; plan that deploy separately")
                }
            }
        }
        current = nil
        if !deploys.isEmpty {
            let covered = verifies.contains { v in deploys.allSatisfy { ancestors(v).contains($0) } }
            if !covered {
                let last = deploys.last!
                current = last
                warn(
                    .noVerify, stages[last].mark(of: "kind"),
                    verifies.isEmpty
                        ? "no 'verify' stage: nothing checks the service works after the deploy"
                        : "no 'verify' stage needs every deploy stage: the last deploy is never checked")
            }
        }
        return out
    }

    /// Whether a rollback script downgrades by a relative step (`alembic downgrade -1`,
    /// `migrate down 1` is not matched: only the `downgrade -N` form).
    static func isRelativeDowngrade(_ script: String) -> Bool {
        let words = script.split(whereSeparator: { $0 == " " || $0 == "\t" || $0 == "\n" }).map(String.init)
        for (i, word) in words.enumerated() where word == "downgrade" && i + 1 < words.count {
            let next = words[i + 1].trimmingCharacters(in: "\"'")
            if next.hasPrefix("-"), Int(next.dropFirst()) != nil { return true }
        }
        return false
    }
}

extension String {
    fileprivate func trimmingCharacters(in set: String) -> String {
        var text = Substring(self)
        while let first = text.first, set.contains(first) { text = text.dropFirst() }
        while let last = text.last, set.contains(last) { text = text.dropLast() }
        return String(text)
    }
}
