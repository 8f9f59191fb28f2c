import PipelineSpec
/// Replaces declared secrets' values with `***` in every line that leaves the engine.
///
/// A multi-line secret is masked line by line, so a value split across output lines is still
/// caught. Values shorter than ``minimumLength`` are not masked (they would blank ordinary text);
/// the engine warns about them instead. Transformed values (base64, URL-encoding) cannot be caught.
///
/// Output too long to wait for its newline is cut into pieces before it is masked; ``cut(_:)``
/// chooses the cut so that no secret is split between two pieces (see `ChildProcess.readLines`).
public struct SecretMasker: Sendable {
    /// The shortest value masked.
    public static let minimumLength = 4

    private let pieces: [String]
    /// The same pieces as UTF-8 bytes, longest first.
    private let pieceBytes: [[UInt8]]
    /// Names of secrets too short to mask.
    public let unmaskable: [String]
    /// Length in UTF-8 bytes of the longest value masked (0 when there is none).
    public let longestPiece: Int

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
        pieceBytes = pieces.map { Array($0.utf8) }.sorted { $0.count > $1.count }
        longestPiece = pieceBytes.first?.count ?? 0
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

    /// The bytes with every secret value replaced by `***`, whatever the encoding of the rest
    /// (for files a script wrote, which need not be valid UTF-8).
    public func mask(bytes: [UInt8]) -> [UInt8] {
        guard !pieceBytes.isEmpty else { return bytes }
        var out = bytes
        for piece in pieceBytes {
            var result: [UInt8] = []
            var i = 0
            var changed = false
            while i < out.count {
                if Self.matches(piece, in: out, at: i) {
                    result.append(contentsOf: "***".utf8)
                    i += piece.count
                    changed = true
                } else {
                    result.append(out[i])
                    i += 1
                }
            }
            if changed { out = result }
        }
        return out
    }

    /// Where to cut `bytes` (the start of a line still missing its end) so that masking
    /// `bytes[..<cut]` now and the rest later, joined to what follows, hides every secret:
    /// - no secret found in `bytes` straddles the cut;
    /// - at least ``longestPiece`` − 1 bytes stay behind, so a secret that later bytes complete
    ///   starts in the part kept;
    /// - the cut falls between UTF-8 characters, so neither piece decodes to a replacement character.
    ///
    /// Returns `bytes.count` (everything) when there is nothing to keep back, and never 0 for a
    /// non-empty input: a secret longer than the input cannot hold it back for ever.
    public func cut(_ bytes: [UInt8]) -> Int {
        let count = bytes.count
        var cut = count - max(0, longestPiece - 1)
        if cut == count, let lead = (max(0, count - 3)..<count).last(where: { bytes[$0] & 0xC0 != 0x80 }) {
            // Keep back a character whose last bytes have not arrived yet.
            let length = bytes[lead] >= 0xF0 ? 4 : bytes[lead] >= 0xE0 ? 3 : bytes[lead] >= 0xC0 ? 2 : 1
            if lead + length > count { cut = lead }
        }
        var moved = true
        while moved, cut > 0 {
            moved = false
            // Never inside a UTF-8 sequence (continuation bytes are 10xxxxxx).
            while cut > 0, cut < count, bytes[cut] & 0xC0 == 0x80 {
                cut -= 1
                moved = true
            }
            // Never inside a secret: move before any occurrence that crosses the cut.
            for piece in pieceBytes where piece.count > 1 {
                var start = max(0, cut - piece.count + 1)
                while start < cut {
                    if start + piece.count <= count, Self.matches(piece, in: bytes, at: start) {
                        cut = start
                        moved = true
                        break
                    }
                    start += 1
                }
            }
        }
        return cut > 0 ? cut : count
    }

    private static func matches(_ piece: [UInt8], in bytes: [UInt8], at start: Int) -> Bool {
        guard start + piece.count <= bytes.count, bytes[start] == piece[0] else { return false }
        for k in 1..<piece.count where bytes[start + k] != piece[k] { return false }
        return true
    }
}
