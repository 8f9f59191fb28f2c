/// Durations as people read them in a log or a summary: `8ms`, `9.9s`, `1m 5s`, `2h 3m`.
public enum HumanDuration {
    /// - Parameter ms: milliseconds (negative values read as 0).
    public static func text(_ ms: Int) -> String {
        let ms = max(0, ms)
        if ms < 1000 { return "\(ms)ms" }
        if ms < 60_000 {
            let tenths = (ms + 50) / 100
            return tenths % 10 == 0 ? "\(tenths / 10)s" : "\(tenths / 10).\(tenths % 10)s"
        }
        let seconds = (ms + 500) / 1000
        if seconds < 3600 { return seconds % 60 == 0 ? "\(seconds / 60)m" : "\(seconds / 60)m \(seconds % 60)s" }
        let minutes = (seconds + 30) / 60
        return minutes % 60 == 0 ? "\(minutes / 60)h" : "\(minutes / 60)h \(minutes % 60)m"
    }
}

/// GitHub Actions workflow commands (`::error file=…::message`): data and property escaping, as
/// the runner's own toolkit does it.
public enum WorkflowCommand {
    /// A message: `%`, CR and LF escaped.
    public static func escapeData(_ s: String) -> String {
        s.replacingAll("%", with: "%25").replacingAll("\r", with: "%0D").replacingAll("\n", with: "%0A")
    }

    /// A property value (`file=`, `title=`): also `:` and `,`.
    public static func escapeProperty(_ s: String) -> String {
        escapeData(s).replacingAll(":", with: "%3A").replacingAll(",", with: "%2C")
    }

    /// `::NAME key=value,…::message`.
    public static func line(_ name: String, _ properties: [(String, String)], _ message: String) -> String {
        let props = properties.map { "\($0.0)=\(escapeProperty($0.1))" }.joined(separator: ",")
        return "::\(name)\(props.isEmpty ? "" : " " + props)::\(escapeData(message))"
    }
}
