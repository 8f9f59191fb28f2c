import Foundation
import Testing

/// A temporary working directory with a pipeline file, where the real binary runs real scripts.
struct Sandbox {
    let dir: URL

    init(_ pipeline: String, name: String = "p.yml") throws {
        dir = FileManager.default.temporaryDirectory.appendingPathComponent("pipeline-run-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        try pipeline.write(to: dir.appendingPathComponent(name), atomically: true, encoding: .utf8)
    }

    func remove() { try? FileManager.default.removeItem(at: dir) }

    /// Runs `pipeline ARGS` in the sandbox.
    @discardableResult
    func pipeline(_ args: [String], env: [String: String] = [:]) throws -> Binary.Result {
        try Binary.run(args, in: dir, environment: env)
    }

    /// Runs a shell script in the sandbox with `$PIPELINE` set to the binary (for background jobs and signals).
    func shell(_ script: String, env: [String: String] = [:]) throws -> Binary.Result {
        var env = env
        env["PIPELINE"] = Binary.path
        return try Binary.run(executable: "/bin/sh", ["-c", script], in: dir, environment: env)
    }

    func read(_ relative: String) -> String {
        (try? String(contentsOf: dir.appendingPathComponent(relative), encoding: .utf8)) ?? ""
    }

    /// The run ids recorded.
    var runs: [String] {
        ((try? FileManager.default.contentsOfDirectory(atPath: dir.appendingPathComponent(".pipeline/runs").path)) ?? []).sorted()
    }

    /// The runs whose journal holds at least one complete line. A run killed between creating
    /// its directory and its first durable append recorded nothing (nothing had started either):
    /// `resume` and `rollback` rightly find no run there.
    var recordedRuns: [String] {
        runs.filter { read(".pipeline/runs/\($0)/events.jsonl").contains("\n") }
    }

    /// The run ids in the order the runs started (their `sequence`): ids of runs started in the
    /// same second do not sort that way.
    var runsInStartOrder: [String] {
        func sequence(_ run: String) -> Int {
            let first = read(".pipeline/runs/\(run)/events.jsonl").split(separator: "\n").first.map(String.init) ?? ""
            let json = try? JSONSerialization.jsonObject(with: Data(first.utf8)) as? [String: Any]
            return json?["sequence"] as? Int ?? 0
        }
        return runs.sorted { sequence($0) < sequence($1) }
    }

    /// Every journal event of one run, parsed.
    func events(of run: String) -> [[String: Any]] {
        read(".pipeline/runs/\(run)/events.jsonl").split(separator: "\n").compactMap {
            try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any]
        }
    }

    /// `pipeline status --json` of a run, parsed.
    func state(_ run: String? = nil) throws -> [String: Any] {
        let result = try pipeline(["status", "--json"] + (run.map { [$0] } ?? []))
        #expect(result.status == 0, "status failed: \(result.stderr)")
        return try #require(JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [String: Any])
    }

    /// Every journal event of the latest run, parsed.
    func events() throws -> [[String: Any]] {
        let run = try #require(runs.last)
        return read(".pipeline/runs/\(run)/events.jsonl").split(separator: "\n").compactMap {
            try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any]
        }
    }

    /// Stage records of a state, by id.
    static func stages(_ state: [String: Any]) -> [String: [String: Any]] {
        var out: [String: [String: Any]] = [:]
        for stage in state["stages"] as? [[String: Any]] ?? [] { out[stage["id"] as! String] = stage }
        return out
    }

    /// Every file under the sandbox, with its text.
    func allFiles() -> [(String, String)] {
        var out: [(String, String)] = []
        let enumerator = FileManager.default.enumerator(at: dir, includingPropertiesForKeys: nil)
        while let url = enumerator?.nextObject() as? URL {
            if let text = try? String(contentsOf: url, encoding: .utf8) { out.append((url.path, text)) }
        }
        return out
    }
}

/// Whether a process is gone (a zombie waiting for init counts as gone).
func processIsGone(_ pid: Int32) -> Bool {
    if kill(pid, 0) != 0 { return true }
    let stat = (try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8)) ?? ""
    guard let close = stat.lastIndex(of: ")") else { return true }
    return stat[stat.index(close, offsetBy: 2)] == "Z"
}
