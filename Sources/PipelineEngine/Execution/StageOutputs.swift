import PipelineSpec
internal import CSystem
import FoundationEssentials
import Glibc

/// The `$PIPELINE_OUTPUTS` file format (GitHub's `GITHUB_OUTPUT`):
///
/// - `NAME=value`: the rest of the line is the value (it may contain `=`);
/// - `NAME<<DELIMITER`, then the value's lines, then a line that is exactly `DELIMITER`:
///   a multi-line value (joined with `\n`, no final newline);
/// - empty lines are ignored, and a `\r` before a `\n` is dropped.
///
/// Whichever of `=` and `<<` comes first on a line decides. Any other line, a line that is not
/// UTF-8, an unclosed heredoc, or a name written twice is an error: the attempt fails, the
/// message names the line. Names the stage does not declare in `outputs` are ignored.
enum StageOutputs {
    struct Problem: Error, Sendable, Equatable {
        var message: String
    }

    /// The declared outputs in `bytes`, in declared order.
    static func parse(_ bytes: [UInt8], declared: [String]) -> Result<[(String, String)], Problem> {
        do throws(Problem) {
            let values = try parse(bytes, checking: Set(declared))
            return .success(declared.compactMap { name in values[name].map { (name, $0) } })
        } catch {
            return .failure(error)
        }
    }

    /// Every name the file sets.
    /// A name in `checking` written twice is an error (a value must not be able to replace a
    /// declared output); other names are ignored, whatever they hold.
    static func parse(_ bytes: [UInt8], checking declared: Set<String>? = nil) throws(Problem) -> [String: String] {
        var lines = bytes.split(separator: UInt8(ascii: "\n"), omittingEmptySubsequences: false)
        if lines.last?.isEmpty == true { lines.removeLast() }
        func text(_ index: Int) throws(Problem) -> String {
            var line = lines[index]
            if line.last == UInt8(ascii: "\r") { line = line.dropLast() }
            guard let text = String(validating: line, as: UTF8.self) else {
                throw Problem(message: "outputs file line \(index + 1) is not valid UTF-8")
            }
            return text
        }
        var values: [String: String] = [:]
        var index = 0
        while index < lines.count {
            let number = index + 1
            let line = try text(index)
            index += 1
            if line.isEmpty { continue }
            let equals = line.firstIndex(of: "=")
            let heredoc = line.range(of: "<<")
            let name: String
            let value: String
            if let equals, heredoc.map({ equals < $0.lowerBound }) ?? true {
                name = String(line[..<equals])
                value = String(line[line.index(after: equals)...])
            } else if let heredoc {
                name = String(line[..<heredoc.lowerBound])
                let delimiter = String(line[heredoc.upperBound...])
                guard !delimiter.isEmpty else {
                    throw Problem(message: "outputs file line \(number): '\(name)<<' has no delimiter (write '\(name)<<EOF', the value's lines, then 'EOF')")
                }
                var body: [String] = []
                var closed = false
                while index < lines.count {
                    let next = try text(index)
                    index += 1
                    if next == delimiter {
                        closed = true
                        break
                    }
                    body.append(next)
                }
                guard closed else {
                    throw Problem(message: "outputs file line \(number): '\(name)<<\(delimiter)' is not closed by a line '\(delimiter)'")
                }
                value = body.joined(separator: "\n")
            } else {
                throw Problem(message: "outputs file line \(number) is neither 'NAME=VALUE' nor 'NAME<<DELIMITER'")
            }
            guard !name.isEmpty else { throw Problem(message: "outputs file line \(number) has no name") }
            guard values[name] == nil || declared.map({ !$0.contains(name) }) == true else {
                throw Problem(
                    message:
                        "outputs file line \(number) sets '\(name)' a second time (write each output once; use 'NAME<<DELIMITER' for a value of several lines)")
            }
            values[name] = value
        }
        return values
    }

    /// The file's bytes; empty when it is missing or unreadable (a script may delete it).
    static func contents(of path: String) -> [UInt8] {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { return [] }
        defer { close(fd) }
        return Posix.readAll(fd)
    }

    /// Replaces the file's content (it keeps its 0600 mode).
    static func rewrite(_ path: String, _ bytes: [UInt8]) {
        let fd = open(path, O_WRONLY | O_TRUNC | O_CLOEXEC)
        guard fd >= 0 else { return }
        defer { close(fd) }
        var bytes = bytes
        _ = Posix.writeAll(fd, &bytes)
    }
}

extension Engine {

    /// Reads and parses an outputs file, and rewrites it with every secret masked.
    func scrubAndParseOutputs(_ path: String, declared: [String]) -> Result<[(String, String)], StageOutputs.Problem> {
        let bytes = StageOutputs.contents(of: path)
        let masked = masker.mask(bytes: bytes)
        if masked != bytes { StageOutputs.rewrite(path, masked) }
        return StageOutputs.parse(bytes, declared: declared)
    }

    /// Outputs as shown and journaled, and the names of those a secret had to be masked in.
    func maskedForJournal(_ outputs: [(String, String)]) -> (shown: [(String, String)], masked: [String]) {
        let shown = outputs.map { ($0.0, masker.mask($0.1)) }
        return (shown, zip(outputs, shown).filter { $0.0.1 != $0.1.1 }.map(\.0.0))
    }

    /// Keeps the values as written for this process, and says when the journal could not.
    func keepClear(_ id: String, _ outputs: [(String, String)], masked: [String]) {
        run.update(id) { $0.clearOutputs = outputs }
        for name in masked {
            output.note(
                "[\(id)] output '\(name)' contains a secret: later stages and the rollback get it as written, but it is shown and journaled masked, so a later 'pipeline resume' or 'pipeline rollback' cannot pass it on"
            )
        }
    }

    /// A stage's outputs as scripts receive them: as written, while this process has them;
    /// else as journaled, leaving out (with a warning) those whose journaled value is masked.
    /// `receiver` says who goes without (`stage 'use'`, `the rollback of 'api'`).
    func outputsForScripts(of id: String, receiver: @autoclosure () -> String) -> [(String, String)] {
        guard let record = run.stage(id) else { return [] }
        if let clear = record.clearOutputs { return clear }
        guard !record.maskedOutputs.isEmpty else { return record.outputs }
        let who = receiver()
        for name in record.maskedOutputs {
            output.note(
                "warning: output '\(name)' of stage '\(id)' held a secret and was journaled masked; only the engine process that ran '\(id)' had its value, so \(who) does not get it"
            )
        }
        return record.outputs.filter { !record.maskedOutputs.contains($0.0) }
    }
}

extension DeployEngine {
    /// Called when an attempt ends, before it is journaled. Masks the secrets in the attempt's
    /// outputs file (whatever the attempt's fate: the file stays for inspection, never with a
    /// secret in clear) and reads its outputs — also those of a failed or interrupted attempt,
    /// which its rollback needs. Outputs of a succeeded attempt that cannot be read fail it, with
    /// a message naming the line; those of an attempt that failed anyway are read as far as they go.
    func endOutputs(_ node: Int, ok: Bool, outcome: AttemptOutcome) -> (ok: Bool, outcome: AttemptOutcome, outputs: [(String, String)]) {
        let stage = pipeline.stages[node]
        guard !stage.outputs.isEmpty, stages[node].outputsPath != "/dev/null", !stages[node].outputsPath.isEmpty else { return (ok, outcome, []) }
        switch readOutputs(stages[node].outputsPath, declared: stage.outputs) {
        case .success(let outputs):
            return (ok, outcome, outputs)
        case .failure(let problem):
            emit(.action(stage: node), ok ? "\(problem.message); the attempt fails" : "\(problem.message); its outputs are not passed on")
            return (false, ok ? .failed : outcome, [])
        }
    }

    /// Journals a stage's end with its outputs masked, naming those that had to be masked
    /// (`masked`), and keeps the values as written in memory for later stages and rollbacks of
    /// this process.
    func recordFinished(_ node: Int, status: RunState.StageStatus, outputs: [(String, String)]) {
        let id = pipeline.stages[node].id
        let (shown, masked) = maskedForJournal(outputs)
        record(.stageFinished(stage: id, status: status, outputs: shown, masked: masked, note: nil))
        keepClear(id, outputs, masked: masked)
    }

    /// Journals the outputs an attempt wrote before it was interrupted (the stage stays unfinished).
    func recordPartialOutputs(_ node: Int, _ outputs: [(String, String)]) {
        guard !outputs.isEmpty else { return }
        let id = pipeline.stages[node].id
        let (shown, masked) = maskedForJournal(outputs)
        record(.outputsRecorded(stage: id, outputs: shown, masked: masked))
        keepClear(id, outputs, masked: masked)
    }
}
