/// Replaces declared secrets' values with `***` in every line that leaves the engine.
///
/// A multi-line secret is masked line by line, so a value split across output lines is still
/// caught. Values shorter than ``minimumLength`` are not masked (they would blank ordinary text);
/// the engine warns about them instead. Transformed values (base64, URL-encoding) cannot be caught.
public struct SecretMasker: Sendable {
    /// The shortest value masked.
    public static let minimumLength = 4

    private let pieces: [String]
    /// Names of secrets too short to mask.
    public let unmaskable: [String]

    /// Creates a masker for the given secret names and values.
    public init(_ secrets: [(name: String, value: String)]) {
        var pieces = Set<String>()
        var unmaskable: [String] = []
        for (name, value) in secrets where !value.isEmpty {
            var masked = false
            for piece in [value] + value.split(separator: "\n").map(String.init) {
                let trimmed = piece.hasSuffix("\r") ? String(piece.dropLast()) : piece
                if trimmed.count >= Self.minimumLength {
                    pieces.insert(trimmed)
                    masked = true
                }
            }
            if !masked { unmaskable.append(name) }
        }
        self.pieces = pieces.sorted { $0.count > $1.count }
        self.unmaskable = unmaskable
    }

    /// Whether there is anything to mask.
    public var isEmpty: Bool { pieces.isEmpty }

    /// The text with every secret value replaced by `***`.
    public func mask(_ text: String) -> String {
        guard !pieces.isEmpty else { return text }
        var out = text
        for piece in pieces where out.contains(piece) {
            out = out.replacingAll(piece, with: "***")
        }
        return out
    }
}
