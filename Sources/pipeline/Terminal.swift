import PipelineSpec

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// Writes to the standard streams without buffering surprises.
enum Terminal {
    static func out(_ text: String) { write(1, text) }
    static func err(_ text: String) { write(2, text) }

    private static func write(_ fd: Int32, _ text: String) {
        var text = text
        text.withUTF8 { buffer in
            var offset = 0
            while offset < buffer.count {
                let n = Glibc.write(fd, buffer.baseAddress! + offset, buffer.count - offset)
                if n < 0 { if errno == EINTR { continue }; return }
                offset += n
            }
        }
    }
}

/// Colour for rendered text diagnostics on a terminal: the severity word (red errors, yellow
/// warnings), the caret line in green. The text itself is unchanged (already escaped).
enum DiagnosticColors {
    static func paint(_ text: String, _ enabled: Bool) -> String {
        guard enabled else { return text }
        var out = ""
        for line in text.split(separator: "\n", omittingEmptySubsequences: false) {
            var line = String(line)
            if let range = line.range(of: ": error: ") {
                line.replaceSubrange(range, with: ": \u{1B}[1;31merror:\u{1B}[0m ")
            } else if let range = line.range(of: ": warning: ") {
                line.replaceSubrange(range, with: ": \u{1B}[1;33mwarning:\u{1B}[0m ")
            } else if line.hasSuffix("^"), line.dropLast().allSatisfy({ $0 == " " || $0 == "\t" }) {
                line = String(line.dropLast()) + "\u{1B}[1;32m^\u{1B}[0m"
            }
            out += line + "\n"
        }
        return String(out.dropLast())
    }
}
