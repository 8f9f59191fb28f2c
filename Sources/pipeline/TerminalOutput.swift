import ArgumentParser
import FoundationEssentials
import Glibc
import PipelineEngine
import PipelineSpec

/// Prints the engine's words: stage lines prefixed with the stage id, live; status lines with
/// elapsed times. In GitHub Actions, attempts stream live inside `::group::`s, a failure is an
/// `::error` annotation on the stage in the pipeline file, and the step summary is written at the
/// end. With `--output json`, stdout carries the journal's lines and the human text goes to stderr.
/// With `--junit FILE`, a JUnit report is written when the run ends.
final class TerminalOutput: EngineOutput {
    let color: Bool
    let github: Bool
    let summaryPath: String?
    let interactive: Bool
    let json: Bool
    let junitPath: String?
    /// Where stage lines go: stdout, or stderr when stdout carries JSON.
    private let linesFD: Int32
    private let started = Date()

    /// GitHub: the stage whose attempt is streaming inside an open group, and the attempts running.
    private var grouped: String?
    private var running: [String: (attempt: Int, phase: String, alongside: Bool)] = [:]
    /// Probe and measurement events journaled by this process (for the reports).
    private(set) var checks: [JSONValue] = []

    init(environment: [String: String], json: Bool = false, junit: String? = nil, color choice: ColorChoice = .auto) {
        github = environment["GITHUB_ACTIONS"] == "true"
        summaryPath = github ? environment["GITHUB_STEP_SUMMARY"].flatMap { $0.isEmpty ? nil : $0 } : nil
        self.json = json
        junitPath = junit
        linesFD = json ? 2 : 1
        color = choice.enabled(fd: linesFD, environment: environment, github: github)
        interactive = isatty(0) == 1 && environment["CI"] == nil
    }

    private func emit(_ text: String) {
        if linesFD == 1 { Terminal.out(text) } else { Terminal.err(text) }
    }

    func stageLine(stage: String, line: String) {
        if github {
            emit(grouped == stage ? line + "\n" : "[\(stage)] \(line)\n")
            return
        }
        emit(color ? "\u{1B}[36m[\(stage)]\u{1B}[0m \(line)\n" : "[\(stage)] \(line)\n")
    }

    func note(_ text: String) {
        let elapsed = "+" + HumanDuration.text(Int(Date().timeIntervalSince(started) * 1000))
        Terminal.err(color ? "\u{1B}[2m\(elapsed)\u{1B}[0m \u{1B}[1m\(text)\u{1B}[0m\n" : "\(elapsed) \(text)\n")
    }

    func promptApproval(stage: String, message: String) -> Bool {
        guard interactive else { return false }
        Terminal.err("approve stage '\(stage)': \(message) [y/N] ")
        return true
    }

    func journaled(_ lines: [String]) {
        for line in lines {
            if json { Terminal.out(line + "\n") }
            if github || junitPath != nil, line.contains("\"type\":\"probe\"") || line.contains("\"type\":\"measurement\""),
                let event = JSONValue.parse(Substring(line))
            {
                checks.append(event)
            }
        }
    }

    /// GitHub: an attempt that starts alone streams inside its own group; once two run at once,
    /// every line is prefixed with its stage instead (groups cannot interleave), and each of those
    /// attempts is shown again, whole, as a group of its own when it ends.
    func attemptStarted(stage: String, attempt: Int, phase: String) {
        guard github else { return }
        if let open = grouped, open != stage {
            emit("::endgroup::\n")
            grouped = nil
            running[open]?.alongside = true
        }
        let alone = running.isEmpty
        running[stage] = (attempt, phase, !alone)
        if alone {
            emit("::group::\(stage) \(phase == "run" ? "" : phase + " ")attempt \(attempt)\n")
            grouped = stage
        }
    }

    func attemptEnded(stage: String, attempt: Int, phase: String, status: String, logPath: String) {
        guard github else { return }
        let entry = running.removeValue(forKey: stage)
        if grouped == stage {
            emit("[\(stage)] \(phase == "run" ? "" : phase + " ")attempt \(attempt): \(status)\n::endgroup::\n")
            grouped = nil
        }
        if entry?.alongside == true || entry == nil {
            emit("::group::\(stage) \(phase == "run" ? "" : phase + " ")attempt \(attempt): \(status) (its whole log)\n")
            let endsWithNewline = copyLog(logPath)
            emit(endsWithNewline ? "::endgroup::\n" : "\n::endgroup::\n")
        }
    }

    /// Copies a (masked) log to the output in 64 KiB chunks; whether it ended with a newline.
    private func copyLog(_ logPath: String) -> Bool {
        var endsWithNewline = true
        let fd = logPath.isEmpty ? -1 : open(logPath, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { return true }
        defer { close(fd) }
        var buffer = [UInt8](repeating: 0, count: 65536)
        while true {
            let n = buffer.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
            if n < 0 && errno == EINTR { continue }
            guard n > 0 else { break }
            Self.writeAll(linesFD, buffer[0..<n])
            endsWithNewline = buffer[n - 1] == UInt8(ascii: "\n")
        }
        return endsWithNewline
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
        if github {
            if let open = grouped {
                emit("::endgroup::\n")
                running[open] = nil
                grouped = nil
            }
            for line in RunReport(state: state, checks: checks).annotations() { emit(line + "\n") }
            if let summaryPath { appendSummary(RunReport(state: state, checks: checks).markdownSummary(), to: summaryPath) }
        }
        if let junitPath {
            do {
                try RunReport(state: state, checks: checks).junit().write(toFile: junitPath, atomically: true, encoding: .utf8)
            } catch {
                Terminal.err("warning: cannot write the JUnit report '\(junitPath)': \(TextTools.describe(error))\n")
            }
        }
    }

    /// Appends to the step summary, creating the file when it does not exist yet.
    private func appendSummary(_ text: String, to path: String) {
        let fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0o644)
        guard fd >= 0 else {
            Terminal.err("warning: cannot write the step summary '\(path)': \(String(cString: strerror(errno)))\n")
            return
        }
        Self.writeAll(fd, Array(text.utf8)[...])
        close(fd)
    }
}

/// `--color auto|always|never`: auto colours a terminal unless `NO_COLOR` is set to something
/// (no-color.org); a non-empty `CLICOLOR_FORCE` other than `0` colours even a pipe.
enum ColorChoice: String, CaseIterable, ExpressibleByArgument {
    case auto, always, never

    func enabled(fd: Int32, environment: [String: String], github: Bool = false) -> Bool {
        switch self {
        case .always: return true
        case .never: return false
        case .auto:
            if let value = environment["NO_COLOR"], !value.isEmpty { return false }
            if let force = environment["CLICOLOR_FORCE"], !force.isEmpty, force != "0" { return true }
            return !github && isatty(fd) == 1 && environment["TERM"] != "dumb"
        }
    }

    /// The same decision for the process's own environment, of which only the three variables
    /// it reads are taken (building the whole environment costs more than a small validate); the
    /// last of duplicate entries wins, as in `ProcessInfo.processInfo.environment`.
    func enabled(fd: Int32) -> Bool {
        var environment: [String: String] = [:]
        var entry = environ
        while let pointer = entry.pointee {
            for name in ["NO_COLOR=", "CLICOLOR_FORCE=", "TERM="] where strncmp(pointer, name, name.utf8.count) == 0 {
                environment[String(name.dropLast())] = String(cString: pointer + name.utf8.count)
            }
            entry += 1
        }
        return enabled(fd: fd, environment: environment)
    }
}
