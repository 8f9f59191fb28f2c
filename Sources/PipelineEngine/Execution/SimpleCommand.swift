import FoundationEssentials
import Glibc
import PipelineSpec

/// A script that is one plain command (`true`, `make test`, `./deploy.sh --env=prod`), run the way
/// `make` runs such a recipe line: executed directly, without starting `/bin/sh` first.
///
/// Only where the result is the one the shell would give:
/// - the shell is the default `/bin/sh -e -c` (or `/bin/sh -c`) and `/bin/sh` is dash, whose
///   behaviour here is known (it forks the command and exports `PWD`);
/// - the script, once leading and trailing blanks are trimmed, is words of letters, digits and
///   `- _ . / , + @ % : =` separated by spaces or tabs: nothing the shell would expand, quote,
///   redirect, glob, split on or treat as a keyword;
/// - the first word is not an assignment, a dash builtin or reserved word (`true` and `false`
///   alone excepted, when found in `/bin` or `/usr/bin`: the programs behave exactly as the
///   builtins), and names an executable
///   regular file (directly when it has a `/`, else the first on `PATH`, as dash searches it);
/// - the environment has no entry the shell would change or drop (`IFS`, `OPTIND`, `PPID`, a name
///   that is not a shell name); `PWD` is set as dash sets it.
///
/// Anything else, and any command that then fails to execute (a file without `#!`, say), goes to
/// the shell, so messages and exit codes (126, 127) stay the shell's.
struct SimpleCommand {
    /// The file to execute (absolute, or relative to the working directory).
    var path: String
    /// Its arguments, the first the word as written.
    var argv: [String]
    /// The environment given, as it was.
    var given: [String]
    /// `PWD` as the shell would export it (`PWD=…`), and the position of the given entry it
    /// replaces (nil: it is added at the end).
    var pwd: (index: Int?, entry: String)

    /// The environment the shell would have passed: ``given`` with ``pwd`` in place.
    var environment: [String] {
        var environment = given
        if let index = pwd.index { environment[index] = pwd.entry } else { environment.append(pwd.entry) }
        return environment
    }

    /// The shells a plain command may skip.
    static let skippableShells: [[String]] = [["/bin/sh", "-e", "-c"], ["/bin/sh", "-c"]]

    /// Whether `/bin/sh` is dash (looked at once).
    static let shellIsDash: Bool = {
        guard let real = realpath("/bin/sh", nil) else { return false }
        defer { free(real) }
        return String(cString: real).hasSuffix("/dash")
    }()

    /// dash's builtins and reserved words: run by the shell itself, never as a program.
    static let shellWords: Set<String> = [
        ".", ":", "[", "alias", "bg", "break", "cd", "chdir", "command", "continue", "echo", "eval", "exec", "exit", "export", "false",
        "fc", "fg", "getopts", "hash", "jobs", "kill", "local", "printf", "pwd", "read", "readonly", "return", "set", "shift", "test",
        "times", "trap", "true", "type", "ulimit", "umask", "unalias", "unset", "wait",
        "case", "do", "done", "elif", "else", "esac", "fi", "for", "if", "in", "then", "until", "while",
    ]

    /// Builtins whose program does exactly what the builtin does when given no argument.
    static let sameAsProgram: Set<String> = ["true", "false"]

    /// The direct form of `argv` (a shell prefix and a script), or nil when the shell must run it.
    /// - Parameters:
    ///   - environment: the script's environment (`NAME=value`).
    ///   - directory: where it runs (nil: this process's directory).
    static func direct(_ argv: [String], environment: [String], directory: String?) -> SimpleCommand? {
        guard argv.count >= 3, skippableShells.contains(where: { $0.elementsEqual(argv.dropLast()) }), let words = words(of: argv[argv.count - 1]),
            let name = words.first, !contains(name, UInt8(ascii: "="))
        else { return nil }
        if shellWords.contains(name), !(words.count == 1 && sameAsProgram.contains(name)) { return nil }
        guard shellIsDash else { return nil }
        var path: String?
        var pwd: (index: Int, value: String)?
        for (index, entry) in environment.enumerated() {
            switch variable(entry) {
            case .other: continue
            case .changedByShell: return nil
            case .path: path = String(entry.utf8.dropFirst(5))!
            case .pwd: pwd = (index, String(entry.utf8.dropFirst(4))!)
            }
        }
        let base = directory ?? FileManager.default.currentDirectoryPath
        let file: String
        if contains(name, UInt8(ascii: "/")) {
            guard isExecutableFile(name, in: base) else { return nil }
            file = name
        } else {
            // dash's search; an entry with `%` has a meaning of its own there: leave it to the shell.
            guard let path, !contains(path, UInt8(ascii: "%")) else { return nil }
            let hit = search(name, on: path, in: base)
            // `true` and `false` are dash's builtins: the program stands in only when it is the
            // system's own (not a shim earlier on PATH).
            guard let hit, !sameAsProgram.contains(name) || hit == "/bin/" + name || hit == "/usr/bin/" + name else { return nil }
            file = hit
        }
        // The given environment is not copied: the entry is replaced where the vectors are built.
        let shellPWD = "PWD=" + workingDirectoryName(inherited: pwd?.value, directory: base)
        return SimpleCommand(path: file, argv: words, given: environment, pwd: (pwd?.index, shellPWD))
    }

    /// The words of a plain command, or nil when the script holds anything the shell would interpret.
    static func words(of script: String) -> [String]? {
        var script = script
        return script.withUTF8 { bytes in
            func isSpace(_ byte: UInt8) -> Bool { isBlank(byte) || byte == UInt8(ascii: "\n") }
            var low = 0
            var high = bytes.count
            while low < high, isSpace(bytes[low]) { low += 1 }
            while high > low, isSpace(bytes[high - 1]) { high -= 1 }
            var words: [String] = []
            var start = low
            for offset in low...high {
                guard offset < high, !isBlank(bytes[offset]) else {
                    if start < offset { words.append(String(decoding: UnsafeBufferPointer(rebasing: bytes[start..<offset]), as: UTF8.self)) }
                    start = offset + 1
                    continue
                }
                guard isPlain(bytes[offset]) else { return nil }
            }
            return words.isEmpty ? nil : words
        }
    }

    static func isBlank(_ byte: UInt8) -> Bool { byte == UInt8(ascii: " ") || byte == UInt8(ascii: "\t") }

    /// Letters, digits and `- _ . / , + @ % : =`: bytes no shell gives a meaning inside a word.
    static func isPlain(_ byte: UInt8) -> Bool {
        switch byte {
        case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "0")...UInt8(ascii: "9"): return true
        default: return "-_./,+@%:=".utf8.contains(byte)
        }
    }

    /// What an environment entry is to the shell, as far as running a plain command goes.
    enum Variable: Equatable {
        /// Passed on as it is.
        case other
        /// `IFS`, `OPTIND`, `PPID` or a name that is not a shell name: the shell would change or drop it.
        case changedByShell
        /// `PATH=…`: where the command is searched.
        case path
        /// `PWD=…`: replaced by the value dash exports.
        case pwd
    }

    /// What `entry` (`NAME=value`) is to the shell. Reads the bytes in place: it runs for every
    /// variable of every plain command a run starts.
    static func variable(_ entry: String) -> Variable {
        if let kind = entry.utf8.withContiguousStorageIfAvailable(variable(bytes:)) { return kind }
        var entry = entry
        return entry.withUTF8(variable(bytes:))
    }

    /// ``variable(_:)`` for an entry's UTF-8.
    static func variable(bytes: UnsafeBufferPointer<UInt8>) -> Variable {
        var equals = 0
        while equals < bytes.count {
            let byte = bytes[equals]
            if byte == UInt8(ascii: "=") { break }
            let letter = byte == UInt8(ascii: "_") || (byte | 0x20 >= UInt8(ascii: "a") && byte | 0x20 <= UInt8(ascii: "z"))
            guard letter || (equals > 0 && byte >= UInt8(ascii: "0") && byte <= UInt8(ascii: "9")) else { return .changedByShell }
            equals += 1
        }
        guard equals > 0, equals < bytes.count else { return .changedByShell }
        // Only names of three to six bytes can be one of the five below.
        guard equals >= 3, equals <= 6 else { return .other }
        let name = UnsafeRawBufferPointer(rebasing: UnsafeRawBufferPointer(bytes)[..<equals])
        func named(_ literal: StaticString) -> Bool {
            literal.utf8CodeUnitCount == name.count && memcmp(literal.utf8Start, name.baseAddress!, name.count) == 0
        }
        if named("PATH") { return .path }
        if named("PWD") { return .pwd }
        if named("IFS") || named("OPTIND") || named("PPID") { return .changedByShell }
        return .other
    }

    /// Whether `text`'s UTF-8 holds `byte` (memchr on the bytes in place).
    static func contains(_ text: String, _ byte: UInt8) -> Bool {
        if let found = text.utf8.withContiguousStorageIfAvailable({ bytes in
            bytes.baseAddress.map { memchr($0, Int32(byte), bytes.count) != nil } ?? false
        }) {
            return found
        }
        return text.utf8.contains(byte)
    }

    /// The first `name` on `path` (`:`-separated; an empty entry is `.`) that is an executable
    /// regular file, as dash searches it. Each candidate is built in one reused buffer: this runs for
    /// every plain command a run starts.
    static func search(_ name: String, on path: String, in base: String) -> String? {
        var name = name
        var path = path
        var candidate: [UInt8] = []
        candidate.reserveCapacity(path.utf8.count + name.utf8.count + 2)
        return path.withUTF8 { entries in
            name.withUTF8 { word in
                var start = 0
                while start <= entries.count {
                    let end = entries[start...].firstIndex(of: UInt8(ascii: ":")) ?? entries.count
                    candidate.removeAll(keepingCapacity: true)
                    if start == end { candidate.append(UInt8(ascii: ".")) } else { candidate.append(contentsOf: entries[start..<end]) }
                    candidate.append(UInt8(ascii: "/"))
                    candidate.append(contentsOf: word)
                    if isExecutableFile(candidate, in: base) { return String(decoding: candidate, as: UTF8.self) }
                    start = end + 1
                }
                return nil
            }
        }
    }

    /// Whether `path` (relative to `base` unless absolute) is a regular file this user may execute.
    static func isExecutableFile(_ path: String, in base: String) -> Bool { isExecutableFile(Array(path.utf8), in: base) }

    /// ``isExecutableFile(_:in:)`` for a path's UTF-8.
    static func isExecutableFile(_ path: [UInt8], in base: String) -> Bool {
        var full: [UInt8]
        if path.first == UInt8(ascii: "/") {
            full = path
        } else {
            full = Array(base.utf8)
            full.append(UInt8(ascii: "/"))
            full.append(contentsOf: path)
        }
        full.append(0)
        return full.withUnsafeBytes { bytes in
            let file = bytes.baseAddress!.assumingMemoryBound(to: CChar.self)
            var info = stat()
            return stat(file, &info) == 0 && info.st_mode & S_IFMT == S_IFREG && access(file, X_OK) == 0
        }
    }

    /// `PWD` as dash exports it: the inherited value when it is absolute and names `directory`,
    /// else the physical path of `directory` (what `getcwd` returns there).
    static func workingDirectoryName(inherited: String?, directory: String) -> String {
        var here = stat()
        if let inherited, inherited.utf8.first == UInt8(ascii: "/"), stat(directory, &here) == 0 {
            var there = stat()
            if stat(inherited, &there) == 0, there.st_dev == here.st_dev, there.st_ino == here.st_ino { return inherited }
        }
        guard let real = realpath(directory, nil) else { return directory }
        defer { free(real) }
        return String(cString: real)
    }
}
