import PipelineSpec
import FoundationEssentials
import Glibc

/// `git`, run as a child with its arguments as argv (never through a shell: a ref or a path
/// comes from the command line).
enum Git {
    struct Result {
        var status: Int32
        var stdout: [UInt8]
        var stderr: String
    }

    static func run(_ arguments: [String], in directory: String) -> Result {
        let scratch = FileManager.default.temporaryDirectory.appendingPathComponent("pipeline-git-\(UUID().uuidString)")
        try? FileManager.default.createDirectory(at: scratch, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: scratch) }
        let outPath = scratch.appendingPathComponent("out").path
        let errPath = scratch.appendingPathComponent("err").path
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_addopen(&actions, 1, outPath, O_WRONLY | O_CREAT | O_TRUNC, 0o600)
        posix_spawn_file_actions_addopen(&actions, 2, errPath, O_WRONLY | O_CREAT | O_TRUNC, 0o600)
        let argv = (["git", "-C", directory] + arguments).map { strdup($0) } + [nil]
        defer { argv.forEach { free($0) } }
        var pid: pid_t = 0
        guard posix_spawnp(&pid, "git", &actions, nil, argv, environ) == 0 else {
            return Result(status: 127, stdout: [], stderr: "git is not installed (or not on PATH)")
        }
        var status: Int32 = 0
        while waitpid(pid, &status, 0) < 0 && errno == EINTR {}
        let out = FileManager.default.contents(atPath: outPath).map { [UInt8]($0) } ?? []
        let err = (try? String(contentsOfFile: errPath, encoding: .utf8)) ?? ""
        let code: Int32 = (status & 0x7f) == 0 ? (status >> 8) & 0xff : 128 + (status & 0x7f)
        return Result(status: code, stdout: out, stderr: err.trimmed)
    }

    /// The file as it is at `ref` (`nil`: the merge base of HEAD and origin/HEAD).
    /// - Throws: a one-line message when there is no such ref, file or repository.
    static func file(_ path: String, at ref: String?) throws(GitError) -> (ref: String, bytes: [UInt8]) {
        let url = URL(fileURLWithPath: path)
        let directory = url.deletingLastPathComponent().path
        var base = ref ?? ""
        if ref == nil {
            let found = run(["merge-base", "HEAD", "origin/HEAD"], in: directory)
            guard found.status == 0 else {
                throw GitError("no base to compare with: \(found.stderr.isEmpty ? "there is no origin/HEAD" : found.stderr); pass --diff-base REF")
            }
            base = String(decoding: found.stdout, as: UTF8.self).trimmed
        }
        guard !base.hasPrefix("-") else { throw GitError("--diff-base '\(base)': not a git ref") }
        let shown = run(["show", "\(base):./\(url.lastPathComponent)"], in: directory)
        guard shown.status == 0 else { throw GitError("cannot read \(path) at '\(base)': \(shown.stderr)") }
        return (base, shown.stdout)
    }
}

struct GitError: Error {
    var message: String
    init(_ message: String) { self.message = message }
}
