import ArgumentParser
import FoundationEssentials
import Glibc
import PipelineEngine
import PipelineSpec

struct History: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "history", abstract: "List recorded runs, newest first, as an aligned table with durations.")

    @Option(help: "Where runs are recorded.")
    var stateDir = ".pipeline"

    @OptionGroup var state: StateArguments

    @Option(help: "Only the runs of this pipeline.")
    var pipeline: String?

    @Option(name: .customLong("env"), help: ArgumentHelp("Only the runs in this environment.", valueName: "NAME"))
    var environment: String?

    @Option(help: "At most this many runs (the newest).")
    var limit: Int?

    @Flag(
        help: "Print a JSON array of {run, pipeline, environment, release, status, started, ended, duration_ms} (null status: journal unreadable).")
    var json = false

    func run() throws {
        if let limit, limit < 1 { throw ValidationError("--limit: '\(limit)' must be at least 1") }
        let store = try CheckedStore.open(stateDir, state)
        var listed = store.runsNewestFirst().filter {
            (pipeline == nil || $0.pipeline == pipeline) && (environment == nil || $0.environment == environment)
        }
        if let limit { listed = Array(listed.prefix(limit)) }
        let runs = listed.map { ($0, try? store.load($0.id)) }
        if json {
            let rows: [JSONValue] = runs.map { listing, state in
                .object([
                    ("run", .string(listing.id)), ("pipeline", state.map { .string($0.pipeline) } ?? .null),
                    ("environment", state?.environment.map(JSONValue.string) ?? .null), ("release", state?.release.map(JSONValue.string) ?? .null),
                    ("status", state.map { .string($0.status.rawValue) } ?? .null),
                    ("started", state.map { .string($0.started) } ?? .null),
                    ("ended", state?.ended.map(JSONValue.string) ?? .null),
                    ("duration_ms", state?.elapsedMs().map(JSONValue.int) ?? .null),
                ])
            }
            Terminal.out(JSONValue.array(rows).pretty)
            return
        }
        guard !runs.isEmpty else {
            var what = pipeline.map { " of pipeline '\($0)'" } ?? ""
            if let environment { what += " in environment '\(environment)'" }
            Terminal.out("no runs\(what) recorded in '\(store.location)'\n")
            return
        }
        // ENV and RELEASE only when a listed run has one (files with environments, a release).
        let environments = runs.contains { $0.1?.environment != nil }
        let releases = runs.contains { $0.1?.release != nil }
        func row(_ id: String, _ pipeline: String, _ environment: String, _ status: String, _ started: String, _ release: String, _ duration: String)
            -> [String]
        {
            [id, pipeline] + (environments ? [environment] : []) + [status, started] + (releases ? [release] : []) + [duration]
        }
        var table = [row("RUN", "PIPELINE", "ENV", "STATUS", "STARTED", "RELEASE", "DURATION")]
        for (listing, state) in runs {
            guard let state else {
                table.append(row(listing.id, listing.pipeline, "", "(journal unreadable)", "", "", ""))
                continue
            }
            let duration = state.elapsedMs().map(HumanDuration.text) ?? (state.status == .running ? "running" : "—")
            table.append(
                row(
                    listing.id, state.pipeline, state.environment ?? "", state.status.rawValue, String(state.started.prefix(19)).replacingAll("T", with: " "),
                    state.release ?? "", duration))
        }
        Terminal.out(Self.aligned(table))
    }

    /// Columns padded to their widest cell, two spaces apart; the last column right-aligned.
    static func aligned(_ rows: [[String]]) -> String {
        let widths = (0..<(rows.first?.count ?? 0)).map { column in rows.map { TerminalText.escaped($0[column]).count }.max() ?? 0 }
        var out = ""
        for row in rows {
            var cells: [String] = []
            for (column, raw) in row.enumerated() {
                let cell = TerminalText.escaped(raw)
                let pad = String(repeating: " ", count: widths[column] - cell.count)
                cells.append(column == row.count - 1 ? pad + cell : cell + pad)
            }
            out += cells.joined(separator: "  ") + "\n"
        }
        return out
    }
}
