import Foundation
import PipelineEngine
import PipelineSpec

/// Prints the engine's words: stage lines prefixed with the stage id, live; status lines;
/// in GitHub Actions, each attempt as a `::group::` and a step summary at the end.
final class TerminalOutput: EngineOutput {
    let color: Bool
    let github: Bool
    let summaryPath: String?
    let interactive: Bool

    init(environment: [String: String]) {
        github = environment["GITHUB_ACTIONS"] == "true"
        summaryPath = github ? environment["GITHUB_STEP_SUMMARY"] : nil
        color = isatty(1) == 1 && environment["NO_COLOR"] == nil && !github
        interactive = isatty(0) == 1 && environment["CI"] == nil
    }

    func stageLine(stage: String, line: String) {
        guard !github else { return }  // printed as a group when the attempt ends
        Terminal.out(color ? "\u{1B}[36m[\(stage)]\u{1B}[0m \(line)\n" : "[\(stage)] \(line)\n")
    }

    func note(_ text: String) {
        Terminal.err(color ? "\u{1B}[1m\(text)\u{1B}[0m\n" : "\(text)\n")
    }

    func promptApproval(stage: String, message: String) -> Bool {
        guard interactive else { return false }
        Terminal.err("approve stage '\(stage)': \(message) [y/N] ")
        return true
    }

    /// In GitHub Actions, prints the attempt's log (already masked) as a group. The log is
    /// copied in 64 KiB chunks, so a log of any size costs no more memory than one chunk.
    func attemptEnded(stage: String, attempt: Int, phase: String, status: String, logPath: String) {
        guard github else { return }
        Terminal.out("::group::\(stage) \(phase == "run" ? "" : phase + " ")attempt \(attempt): \(status)\n")
        var endsWithNewline = true
        let fd = logPath.isEmpty ? -1 : open(logPath, O_RDONLY | O_CLOEXEC)
        if fd >= 0 {
            var buffer = [UInt8](repeating: 0, count: 65536)
            while true {
                let n = buffer.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
                if n < 0 && errno == EINTR { continue }
                guard n > 0 else { break }
                Self.writeAll(1, buffer[0..<n])
                endsWithNewline = buffer[n - 1] == UInt8(ascii: "\n")
            }
            close(fd)
        }
        Terminal.out(endsWithNewline ? "::endgroup::\n" : "\n::endgroup::\n")
    }

    private static func writeAll(_ fd: Int32, _ bytes: ArraySlice<UInt8>) {
        bytes.withUnsafeBytes { buffer in
            var offset = 0
            while offset < buffer.count {
                let n = write(fd, buffer.baseAddress! + offset, buffer.count - offset)
                if n < 0 { if errno == EINTR { continue }; return }
                offset += n
            }
        }
    }

    func runEnded(_ state: RunState) {
        guard let summaryPath else { return }
        var text = "### pipeline `\(state.pipeline)`: \(state.status.rawValue)\n\nRun `\(state.run)`\n\n"
        text += "| stage | status | attempts | duration | rollback |\n|---|---|---:|---:|---|\n"
        for stage in state.stages {
            let ms = stage.attempts.compactMap(\.durationMs).reduce(0, +)
            text +=
                "| `\(stage.id)` | \(stage.status.rawValue) | \(stage.attempts.count) | \(Double(ms) / 1000)s | \(stage.rollback?.status.rawValue ?? "—") |\n"
        }
        if !state.remaining.isEmpty { text += "\n**Still applied, for a human to undo:** \(state.remaining.joined(separator: ", "))\n" }
        if let handle = FileHandle(forWritingAtPath: summaryPath) {
            handle.seekToEndOfFile()
            handle.write(Data(text.utf8))
            try? handle.close()
        }
    }
}
