import PipelineSpec
import Foundation

/// System calls the engine makes, each retried on `EINTR` in one place.
enum Posix {
    /// Writes all of `bytes` to `fd`; false (errno set) on an error other than EINTR.
    static func writeAll(_ fd: Int32, _ bytes: inout [UInt8]) -> Bool {
        var offset = 0
        while offset < bytes.count {
            let n = bytes.withUnsafeBytes { write(fd, $0.baseAddress! + offset, bytes.count - offset) }
            if n < 0 {
                if errno == EINTR { continue }
                return false
            }
            offset += n
        }
        return true
    }
}
