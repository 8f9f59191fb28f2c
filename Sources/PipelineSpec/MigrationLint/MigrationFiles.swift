import FoundationEssentials
import Glibc

/// A file to lint.
package struct MigrationFile: Sendable {
    /// The path shown in findings: as given, or the given directory or glob prefix joined
    /// with the path found under it.
    package var path: String
    /// The absolute path to read.
    package var location: String
    /// Indices of the `paths` arguments that led to it.
    package var arguments: [Int]
    /// Named directly rather than found in a directory or by a glob: if it is not a
    /// migration, that is an error instead of a file to skip.
    package var explicit: Bool

    /// The lowercased extension (`sql`, `py`), or "".
    package var fileExtension: String {
        let name = path.split(separator: "/").last.map(String.init) ?? path
        guard let dot = name.lastIndex(of: "."), dot != name.startIndex else { return "" }
        return name[name.index(after: dot)...].lowercased()
    }
}

/// Turns the paths given to the linter (files, directories, globs) into files.
package enum MigrationFiles {
    package struct Expansion: Sendable {
        /// Each file once, in argument order, then sorted within a directory or glob.
        package var files: [MigrationFile] = []
        /// `path: error: …` lines.
        package var errors: [Diagnostic] = []
        /// Indices of arguments already reported in `errors`.
        package var failed: Set<Int> = []
    }

    /// Expands paths relative to `base`.
    ///
    /// A directory is searched recursively for `*.sql` and `*.py` files (skipping hidden
    /// entries and `__pycache__`). A glob may use `*`, `?`, `[…]` in any component and
    /// `**` for any number of directories; a directory it matches is searched like one given directly.
    package static func expand(_ paths: [String], base: String) -> Expansion {
        let fileManager = FileManager.default
        let base = absolute(base, relativeTo: fileManager.currentDirectoryPath)
        var expansion = Expansion()
        var indexByKey: [String: Int] = [:]

        func add(path: String, location: String, argument: Int, explicit: Bool) {
            let key = URL(fileURLWithPath: location).resolvingSymlinksInPath().path
            if let existing = indexByKey[key] {
                if !expansion.files[existing].arguments.contains(argument) { expansion.files[existing].arguments.append(argument) }
                return
            }
            indexByKey[key] = expansion.files.count
            expansion.files.append(MigrationFile(path: path, location: location, arguments: [argument], explicit: explicit))
        }

        func addTree(path: String, location: String, argument: Int) {
            for (relative, file) in filesUnder(location) {
                add(path: join(path, relative), location: file, argument: argument, explicit: false)
            }
        }

        for (argument, path) in paths.enumerated() {
            if GlobPattern.isGlob(path) {
                let matches = glob(path, base: base)
                if matches.isEmpty {
                    expansion.errors.append(.file(.error, path: path, message: "no files match this pattern"))
                    expansion.failed.insert(argument)
                }
                for match in matches {
                    if isDirectory(match.location) {
                        addTree(path: match.path, location: match.location, argument: argument)
                    } else if isCandidate(match.location) {
                        add(path: match.path, location: match.location, argument: argument, explicit: false)
                    }
                }
            } else {
                let location = absolute(path, relativeTo: base)
                if isDirectory(location) {
                    addTree(path: path, location: location, argument: argument)
                } else if fileManager.fileExists(atPath: location) {
                    add(path: path, location: location, argument: argument, explicit: true)
                } else {
                    expansion.errors.append(.file(.error, path: path, message: "no such file or directory"))
                    expansion.failed.insert(argument)
                }
            }
        }
        return expansion
    }

    // MARK: - Paths

    private static func absolute(_ path: String, relativeTo base: String) -> String {
        let joined = path.hasPrefix("/") ? path : base + "/" + path
        return URL(fileURLWithPath: joined).standardizedFileURL.path
    }

    /// `dir` + `/` + `name`, without doubling slashes, and without a leading `./` for `.`.
    private static func join(_ directory: String, _ name: String) -> String {
        if directory.isEmpty || directory == "." { return name }
        return directory.hasSuffix("/") ? directory + name : directory + "/" + name
    }

    private static func isDirectory(_ location: String) -> Bool {
        var directory = false
        return FileManager.default.fileExists(atPath: location, isDirectory: &directory) && directory
    }

    private static func isCandidate(_ location: String) -> Bool {
        let lower = location.lowercased()
        return lower.hasSuffix(".sql") || lower.hasSuffix(".py")
    }

    /// Visible entries of a directory, sorted; [] when it cannot be listed.
    private static func entries(_ location: String) -> [String] {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: location)) ?? []
        return names.filter { !$0.hasPrefix(".") && $0 != "__pycache__" }.sorted()
    }

    /// Candidate files under a directory, recursively: (path relative to it, absolute path).
    /// Each real directory is visited once, so symbolic-link loops end.
    private static func filesUnder(_ root: String) -> [(String, String)] {
        var out: [(String, String)] = []
        var visited: Set<String> = []
        func walk(_ location: String, _ relative: String, depth: Int) {
            let real = URL(fileURLWithPath: location).resolvingSymlinksInPath().path
            guard depth < 64, visited.insert(real).inserted else { return }
            for name in entries(location) {
                let child = location + "/" + name
                let childRelative = relative.isEmpty ? name : relative + "/" + name
                if isDirectory(child) {
                    walk(child, childRelative, depth: depth + 1)
                } else if isCandidate(child) {
                    out.append((childRelative, child))
                }
            }
        }
        walk(root, "", depth: 0)
        return out
    }

    /// Every directory under `location` (not itself), recursively, sorted.
    private static func directoriesUnder(_ location: String, path: String) -> [(path: String, location: String)] {
        var out: [(path: String, location: String)] = []
        var visited: Set<String> = []
        func walk(_ location: String, _ path: String, depth: Int) {
            let real = URL(fileURLWithPath: location).resolvingSymlinksInPath().path
            guard depth < 64, visited.insert(real).inserted else { return }
            for name in entries(location) where isDirectory(location + "/" + name) {
                let child = (path: join(path, name), location: location + "/" + name)
                out.append(child)
                walk(child.location, child.path, depth: depth + 1)
            }
        }
        walk(location, path, depth: 0)
        return out
    }

    /// Files and directories matching a glob, in sorted order.
    private static func glob(_ pattern: String, base: String) -> [(path: String, location: String)] {
        let absolutePattern = pattern.hasPrefix("/")
        var current: [(path: String, location: String)] = [(absolutePattern ? "/" : "", absolutePattern ? "" : base)]
        for component in pattern.split(separator: "/", omittingEmptySubsequences: true).map(String.init) {
            var next: [(path: String, location: String)] = []
            for item in current {
                if component == "**" {
                    next.append(item)
                    next += directoriesUnder(item.location.isEmpty ? "/" : item.location, path: item.path)
                } else if GlobPattern.isGlob(component) {
                    let glob = GlobPattern(component)
                    let directory = item.location.isEmpty ? "/" : item.location
                    var names = entries(directory)
                    if component.hasPrefix(".") {
                        names = ((try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? []).sorted()
                    }
                    for name in names where glob.matches(name) {
                        next.append((join(item.path, name), item.location + "/" + name))
                    }
                } else {
                    let location = item.location + "/" + component
                    if FileManager.default.fileExists(atPath: location) {
                        next.append((component == "." ? item.path : join(item.path, component), location))
                    }
                }
            }
            current = next
        }
        var seen: Set<String> = []
        return current.filter { seen.insert(URL(fileURLWithPath: $0.location).standardizedFileURL.path).inserted }
    }
}
