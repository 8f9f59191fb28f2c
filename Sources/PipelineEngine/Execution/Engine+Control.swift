import PipelineSpec
import FoundationEssentials
import Glibc

extension Engine {
    /// How long `pipeline promote`/`abort` waits for the running engine to take a request.
    static let controlAnswerMs = 30_000

    /// `pipeline promote` / `pipeline abort` of a run, from any terminal or machine that reaches its
    /// state. A run whose canary or watch runs now gets a request through the state store, which its
    /// engine takes within a second; a run stopped at a pause (exit 4) is continued here (promote:
    /// as `resume`) or rolled back (abort: as `rollback`, traffic to 0 % first).
    /// - Returns: the exit status: 0 when the request was taken; 2 when the run runs no canary or
    ///   watch (nothing was asked); 3 when its engine did not take it in time; else what the resume
    ///   or rollback returned.
    public static func control(
        _ action: OperatorRequest.Action, runID: String?, pipeline: String? = nil, options: EngineOptions, output: EngineOutput
    ) -> Int32 {
        let verb = action.rawValue
        do throws(EngineError) {
            let store = try StateStores.open(options.stateURL ?? options.stateDirectory, localRoot: options.stateDirectory, leaseTTLms: options.leaseTTLms)
            let id: String
            if let runID { id = try RunID.checked(runID) } else { id = try latest(store, pipeline: pipeline, command: verb) }
            let state = try store.load(id)
            let kinds = Dictionary(state.definition.stages.map { ($0.id, $0.kind) }, uniquingKeysWith: { first, _ in first })
            func isAnalysis(_ stage: String) -> Bool { kinds[stage] == StageKind.canary.rawValue || kinds[stage] == StageKind.watch.rawValue }
            switch state.status {
            case .running:
                let running = state.stages.filter { $0.status == .running }
                guard let stage = running.first(where: { isAnalysis($0.id) }) else {
                    let doing = running.map { "'\($0.id)' (\(kinds[$0.id] ?? "?"))" }.joined(separator: ", ")
                    throw EngineError(
                        "run \(id) is not running a canary or watch (running: \(doing.isEmpty ? "nothing right now" : doing)); nothing to \(verb)")
                }
                let request = OperatorRequest(run: id, action: action)
                try store.postRequest(request)
                let traffic = stage.traffic.map { ", traffic at \($0)%" } ?? ""
                output.note("\(verb) of run \(id) requested (stage '\(stage.id)', \(kinds[stage.id] ?? "")\(traffic)); waiting for its engine to take it")
                let giveUp = EngineClock.monotonicMs() + controlAnswerMs
                while EngineClock.monotonicMs() < giveUp {
                    if let now = try? store.load(id), now.handledRequests.contains(request.id) {
                        output.note(
                            action == .promote
                                ? "taken: stage '\(stage.id)' ends its current bake or pause and moves to the next step"
                                : "taken: stage '\(stage.id)' sets traffic to 0% and fails; the run rolls back (follow it with 'pipeline status \(id)')")
                        return ExitStatus.succeeded
                    }
                    usleep(100_000)
                }
                throw EngineError(
                    "the engine of run \(id) did not take the \(verb) request within \(TimeSpan(milliseconds: controlAnswerMs)); it stays recorded and is taken when the engine next looks",
                    exitCode: ExitStatus.rollbackFailed)
            case .waiting where state.waiting?.reason == "pause" && isAnalysis(state.waiting?.stage ?? ""):
                let stage = state.waiting?.stage ?? ""
                if action == .promote {
                    output.note("promoting run \(id) past the pause of stage '\(stage)'")
                    return resume(runID: id, options: options, output: output)
                }
                output.note("aborting run \(id), paused at stage '\(stage)': traffic to 0%, then rollback")
                return rollback(runID: id, options: options, output: output)
            default:
                let waiting = state.waiting.map { " at stage '\($0.stage)' (\($0.reason))" } ?? ""
                throw EngineError("run \(id) is not running a canary or watch (it is \(state.status.rawValue)\(waiting)); nothing to \(verb)")
            }
        } catch {
            output.note("error: \(error.message)")
            return error.exitCode
        }
    }
}
