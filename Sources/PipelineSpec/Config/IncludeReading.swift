import PipelineYAML

/// What every decoder of one pipeline shares while it expands `include` entries: the files read so
/// far (each read once), how many entries were expanded, and the limits.
package final class IncludeReading {
    /// Reads a file's bytes (the loader's reader, bounded by the size limit); the error is one line.
    package typealias ReadFile = (String) -> Result<[UInt8], IncludeReadError>

    package struct IncludeReadError: Error {
        package var message: String
        package init(message: String) { self.message = message }
    }

    /// A stage file read and parsed, or why it could not be.
    package enum Loaded {
        case document(YAMLReader.Result)
        /// A problem reading it (not found, too large), reported at the include entry.
        case unreadable(String)
        /// A syntax or safety problem, located in the stage file.
        case invalid(YAMLProblem)
    }

    let read: ReadFile
    let limits: YAMLLimits
    /// Entries expanded so far (every one counts, also a file included twice).
    var expansions = 0
    private var cache: [String: Loaded] = [:]
    /// The stage files read, in the order first read, with their bytes (for excerpts and the file hash).
    package private(set) var sources: [(path: String, bytes: [UInt8])] = []

    package init(limits: YAMLLimits, read: @escaping ReadFile) {
        self.limits = limits
        self.read = read
    }

    /// The stage file at `path` (already normalized), read once however often it is included.
    func load(_ path: String) -> Loaded {
        if let cached = cache[path] { return cached }
        let loaded: Loaded
        switch read(path) {
        case .failure(let error):
            loaded = .unreadable(error.message)
        case .success(let bytes):
            sources.append((path, bytes))
            do {
                loaded = .document(try YAMLReader.read(bytes, limits: limits))
            } catch {
                loaded = .invalid(error)
            }
        }
        cache[path] = loaded
        return loaded
    }

    /// `path` joined to the directory of `including`, with `.` and `dir/..` removed lexically.
    static func resolve(_ path: String, from including: String) -> String {
        let directory = including.contains("/") ? String(including[..<including.lastIndex(of: "/")!]) : ""
        let joined = directory.isEmpty ? path : directory + "/" + path
        var parts: [Substring] = []
        for part in joined.split(separator: "/", omittingEmptySubsequences: true) {
            if part == "." { continue }
            if part == "..", let last = parts.last, last != ".." {
                parts.removeLast()
            } else {
                parts.append(part)
            }
        }
        return (joined.hasPrefix("/") ? "/" : "") + parts.joined(separator: "/")
    }
}
