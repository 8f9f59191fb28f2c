import PipelineSpec
import FoundationEssentials
import Glibc

/// Files and directories the engine makes on this machine (state, logs, outputs, backups):
/// private to the user, never through a symlink.
enum PrivateFiles {
    /// Creates `path` and its parents with mode 0700; an existing component must be a directory of
    /// the user's, never a symlink.
    public static func makeDirectory(_ path: String) throws(EngineError) {
        var current = path.hasPrefix("/") ? "" : "."
        for part in path.split(separator: "/") {
            current += "/" + part
            if mkdir(current, 0o700) != 0 && errno != EEXIST {
                throw EngineError("cannot create directory '\(current)': \(String(cString: strerror(errno)))")
            }
        }
        var info = stat()
        guard lstat(path, &info) == 0, info.st_mode & S_IFMT == S_IFDIR else {
            throw EngineError("cannot use '\(path)' as a directory: it is a symlink or not a directory")
        }
        if info.st_uid == geteuid() { chmod(path, 0o700) }
    }

    /// Makes what a script left at `path` private whatever the umask: directories 0700, files 0600,
    /// recursively, never following a symlink (a link itself is left as it is).
    static func makePrivate(_ path: String) {
        var info = stat()
        guard lstat(path, &info) == 0 else { return }
        switch info.st_mode & S_IFMT {
        case S_IFREG:
            chmod(path, 0o600)
        case S_IFDIR:
            chmod(path, 0o700)
            for entry in (try? FileManager.default.contentsOfDirectory(atPath: path)) ?? [] { makePrivate(path + "/" + entry) }
        default:
            break
        }
    }
}
