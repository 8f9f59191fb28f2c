import PipelineSpec

/// An environment's `requires`: a run there starts only when, in each required environment, the
/// newest run of the same pipeline with the same release succeeded (a run rolled back since, by
/// itself or by `pipeline rollback`, no longer counts). Read from the runs where they live, through
/// ``StateStore`` listing and replay, so it holds for every store.
public enum Promotion {
    /// What a required environment has for a release.
    public enum Evidence: Sendable, Equatable {
        /// A run of the release succeeded there and was not rolled back since.
        case succeeded(run: String)
        /// The newest run of the release there did not succeed (or is not finished).
        case notSucceeded(run: String, status: RunState.Status)
        /// No run of the release is recorded there.
        case none
    }

    /// The newest run of `pipeline` in `environment` deploying `release`, as evidence.
    /// - Complexity: O(*r*) journal replays at most, *r* the runs of `pipeline` recorded (newest
    ///   first, stopping at the first with the release); runs of other environments are skipped unread.
    public static func evidence(in store: any StateStore, pipeline: String, environment: String, release: String) -> Evidence {
        for listing in store.runsNewestFirst() where listing.pipeline == pipeline && (listing.environment ?? environment) == environment {
            guard let state = try? store.load(listing.id), state.environment == environment, state.release == release else { continue }
            return state.status == .succeeded ? .succeeded(run: state.run) : .notSucceeded(run: state.run, status: state.status)
        }
        return .none
    }

    /// Refuses a run in `environment` whose requirements do not hold.
    /// - Throws: ``EngineError`` with exit 4 and one line naming every missing requirement.
    public static func check(_ pipeline: Pipeline, in store: any StateStore) throws(EngineError) {
        guard let environment = pipeline.environment, !environment.requires.isEmpty, let release = pipeline.release else { return }
        var missing: [String] = []
        for required in environment.requires {
            switch evidence(in: store, pipeline: pipeline.name, environment: required, release: release) {
            case .succeeded: continue
            case .none: missing.append("'\(required)' has no run of it")
            case .notSucceeded(let run, let status):
                missing.append(
                    "in '\(required)' its latest run \(run) is \(status.rawValue)\(status == .running || status == .waiting ? ", not finished" : "")")
            }
        }
        guard !missing.isEmpty else { return }
        throw EngineError(
            "environment '\(environment.name)' requires release '\(release)' of '\(pipeline.name)' to have succeeded in \(environment.requires.map { "'\($0)'" }.joined(separator: ", ")): "
                + missing.joined(separator: "; ") + "; nothing was run (override with --skip-requires REASON)",
            exitCode: ExitStatus.stoppedAtGate)
    }
}
