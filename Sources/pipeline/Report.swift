import ArgumentParser
import FoundationEssentials
import Glibc
import PipelineEngine
import PipelineSpec

/// How a run report is written.
enum ReportFormat: String, CaseIterable, ExpressibleByArgument { case html, junit, markdown }

struct Report: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "report",
        abstract: "Write a report of a recorded run: html (one self-contained page with the timeline and metric charts), junit or markdown.",
        discussion: "Exit status: 0, or 2 when there is no such run or its journal cannot be read.")

    @Argument(help: "The run id (default: the latest run).")
    var runID: String?

    @Option(help: "Report format: html, junit or markdown (the step summary).")
    var format: ReportFormat = .html

    @Option(name: [.customShort("o"), .customLong("output")], help: "Write to this file instead of stdout.")
    var output: String?

    @Option(help: "Where runs are recorded.")
    var stateDir = ".pipeline"

    @OptionGroup var state: StateArguments

    @Option(help: "Without RUN: the latest run of this pipeline.")
    var pipeline: String?

    func run() throws {
        let store = try CheckedStore.open(stateDir, state)
        let (run, events) = try Lock.orExit { () throws(EngineError) in
            let latest = store.runsNewestFirst().first { pipeline == nil || $0.pipeline == pipeline }
            guard let id = try runID.map(RunID.checked) ?? latest?.id else {
                throw EngineError("no runs\(pipeline.map { " of pipeline '\($0)'" } ?? "") recorded in '\(store.location)'")
            }
            return (try store.load(id), try store.events(id))
        }
        let checks = events.filter { ["probe", "measurement"].contains($0["type"]?.string ?? "") }
        let report = RunReport(state: run, checks: checks)
        let text: String
        switch format {
        case .html: text = report.html(events: events)
        case .junit: text = report.junit()
        case .markdown: text = report.markdownSummary()
        }
        guard let output else {
            Terminal.out(text)
            return
        }
        do {
            try text.write(toFile: output, atomically: true, encoding: .utf8)
        } catch {
            Terminal.err("error: cannot write '\(output)': \(TextTools.describe(error))\n")
            throw ExitCode(2)
        }
    }
}
