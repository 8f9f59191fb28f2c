import PipelineSpec
internal import Crypto

/// Content hashes recorded in the journal.
enum Hashing {
    /// Lowercase hex SHA-256.
    static func sha256(_ bytes: [UInt8]) -> String {
        SHA256.hash(data: bytes).map { byte in
            let hex = String(byte, radix: 16)
            return byte < 16 ? "0" + hex : hex
        }.joined()
    }
}
