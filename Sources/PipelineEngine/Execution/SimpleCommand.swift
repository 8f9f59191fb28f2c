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
struct SimpleCommand: Equatable {
    /// The file to execute (absolute, or relative to the working directory).
    var path: String
    /// Its arguments, the first the word as written.
    var argv: [String]
    /// The environment the shell would have passed.
    var environment: [String]

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
            let name = words.first, !name.utf8.contains(UInt8(ascii: "="))
        else { return nil }
        if shellWords.contains(name), !(words.count == 1 && sameAsProgram.contains(name)) { return nil }
        guard shellIsDash else { return nil }
        var path: String?
        var pwd: (index: Int, value: String)?
        for (index, entry) in environment.enumerated() {
            guard let name = shellName(entry), !name.elementsEqual("IFS".utf8), !name.elementsEqual("OPTIND".utf8), !name.elementsEqual("PPID".utf8)
            else { return nil }
            if name.elementsEqual("PATH".utf8) { path = String(entry.utf8.dropFirst(5))! }
            if name.elementsEqual("PWD".utf8) { pwd = (index, String(entry.utf8.dropFirst(4))!) }
        }
        let base = directory ?? FileManager.default.currentDirectoryPath
        let file: String
        if name.utf8.contains(UInt8(ascii: "/")) {
            guard isExecutableFile(name, in: base) else { return nil }
            file = name
        } else {
            // dash's search; an entry with `%` has a meaning of its own there: leave it to the shell.
            guard let path, !path.utf8.contains(UInt8(ascii: "%")) else { return nil }
            var hit: String?
            for entry in path.utf8.split(separator: UInt8(ascii: ":"), omittingEmptySubsequences: false) {
                let candidate = (entry.isEmpty ? "." : String(entry)!) + "/" + name
                if isExecutableFile(candidate, in: base) {
                    hit = candidate
                    break
                }
            }
            // `true` and `false` are dash's builtins: the program stands in only when it is the
            // system's own (not a shim earlier on PATH).
            guard let hit, !sameAsProgram.contains(name) || hit == "/bin/" + name || hit == "/usr/bin/" + name else { return nil }
            file = hit
        }
        var environment = environment
        let shellPWD = "PWD=" + workingDirectoryName(inherited: pwd?.value, directory: base)
        if let pwd { environment[pwd.index] = shellPWD } else { environment.append(shellPWD) }
        return SimpleCommand(path: file, argv: words, environment: environment)
    }

    /// The words of a plain command, or nil when the script holds anything the shell would interpret.
    static func words(of script: String) -> [String]? {
        var words: [String] = []
        var current: [UInt8] = []
        var bytes = Substring(script).utf8[...]
        while let first = bytes.first, isBlank(first) || first == UInt8(ascii: "\n") { bytes = bytes.dropFirst() }
        while let last = bytes.last, isBlank(last) || last == UInt8(ascii: "\n") { bytes = bytes.dropLast() }
        for byte in bytes {
            if isBlank(byte) {
                if !current.isEmpty { words.append(String(decoding: current, as: UTF8.self)) }
                current.removeAll(keepingCapacity: true)
            } else if isPlain(byte) {
                current.append(byte)
            } else {
                return nil
            }
        }
        if !current.isEmpty { words.append(String(decoding: current, as: UTF8.self)) }
        return words.isEmpty ? nil : words
    }

    static func isBlank(_ byte: UInt8) -> Bool { byte == UInt8(ascii: " ") || byte == UInt8(ascii: "\t") }

    /// Letters, digits and `- _ . / , + @ % : =`: bytes no shell gives a meaning inside a word.
    static func isPlain(_ byte: UInt8) -> Bool {
        switch byte {
        case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "0")...UInt8(ascii: "9"): return true
        default: return "-_./,+@%:=".utf8.contains(byte)
        }
    }

    /// The name of a `NAME=value` entry when it is a shell name (`[A-Za-z_][A-Za-z0-9_]*`, the names
    /// a shell keeps in the environment it passes on), else nil.
    static func shellName(_ entry: String) -> Substring.UTF8View? {
        let bytes = Substring(entry).utf8
        guard let equals = bytes.firstIndex(of: UInt8(ascii: "=")), equals != bytes.startIndex else { return nil }
        let name = bytes[..<equals]
        for (offset, byte) in name.enumerated() {
            let letter = byte == UInt8(ascii: "_") || (byte | 0x20 >= UInt8(ascii: "a") && byte | 0x20 <= UInt8(ascii: "z"))
            guard letter || (offset > 0 && byte >= UInt8(ascii: "0") && byte <= UInt8(ascii: "9")) else { return nil }
        }
        return name
    }

    /// Whether `path` (relative to `base` unless absolute) is a regular file this user may execute.
    static func isExecutableFile(_ path: String, in base: String) -> Bool {
        let full = path.hasPrefix("/") ? path : base + "/" + path
        var info = stat()
        return stat(full, &info) == 0 && info.st_mode & S_IFMT == S_IFREG && access(full, X_OK) == 0
    }

    /// `PWD` as dash exports it: the inherited value when it is absolute and names `directory`,
    /// else the physical path of `directory` (what `getcwd` returns there).
    static func workingDirectoryName(inherited: String?, directory: String) -> String {
        var here = stat()
        if let inherited, inherited.hasPrefix("/"), stat(directory, &here) == 0 {
            var there = stat()
            if stat(inherited, &there) == 0, there.st_dev == here.st_dev, there.st_ino == here.st_ino { return inherited }
        }
        guard let real = realpath(directory, nil) else { return directory }
        defer { free(real) }
        return String(cString: real)
    }
}
