import PipelineSpec
import FoundationEssentials
import Glibc

/// System calls the engine makes, each retried on `EINTR` in one place.
enum Posix {
    /// The directory part of a path, as `dirname` without its `.`: `/a/b` → `/a`, `/a` → `/`,
    /// `b` → `` (trailing slashes ignored).
    static func directory(of path: String) -> String {
        var path = Substring(path)
        while path.count > 1, path.hasSuffix("/") { path.removeLast() }
        guard let slash = path.lastIndex(of: "/") else { return "" }
        return slash == path.startIndex ? "/" : String(path[..<slash])
    }

    /// One `read` into `buffer`, retried on EINTR: bytes read, 0 at end of file, -1 on an error
    /// (errno set; EAGAIN on a non-blocking descriptor with nothing to read).
    static func read(_ fd: Int32, _ buffer: inout [UInt8]) -> Int {
        while true {
            let n = buffer.withUnsafeMutableBytes { Glibc.read(fd, $0.baseAddress, $0.count) }
            if n < 0 && errno == EINTR { continue }
            return n
        }
    }

    /// The whole rest of `fd`, until end of file or an error.
    static func readAll(_ fd: Int32) -> [UInt8] {
        var bytes: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 65536)
        while true {
            let n = read(fd, &buffer)
            guard n > 0 else { return bytes }
            bytes.append(contentsOf: buffer[0..<n])
        }
    }

    /// What `waitpid(pid, WNOHANG)` says.
    enum Reaped {
        case running
        /// It exited with this wait status (and is reaped now).
        case exited(Int32)
        /// It is not (or no longer) a child of this process.
        case gone
    }

    /// `waitpid(pid, WNOHANG)`, retried on EINTR.
    static func reap(_ pid: Int32) -> Reaped {
        var status: Int32 = 0
        while true {
            let reaped = waitpid(pid, &status, WNOHANG)
            if reaped < 0 && errno == EINTR { continue }
            if reaped == pid { return .exited(status) }
            return reaped < 0 ? .gone : .running
        }
    }

    /// `flock`, retried on EINTR: true when taken.
    static func lock(_ fd: Int32, _ operation: Int32) -> Bool {
        while flock(fd, operation) != 0 {
            if errno != EINTR { return false }
        }
        return true
    }

    /// Writes all of `bytes` to `fd`; false (errno set) on an error other than EINTR.
    static func writeAll(_ fd: Int32, _ bytes: inout [UInt8]) -> Bool {
        bytes.withUnsafeBytes { writeAll(fd, $0) }
    }

    /// Writes all of `text`'s UTF-8 to `fd`, without copying it; false (errno set) on an error other than EINTR.
    static func writeAll(_ fd: Int32, _ text: String) -> Bool {
        var text = text
        return text.withUTF8 { writeAll(fd, UnsafeRawBufferPointer($0)) }
    }

    /// Writes all of `bytes` to `fd`; false (errno set) on an error other than EINTR.
    static func writeAll(_ fd: Int32, _ bytes: UnsafeRawBufferPointer) -> Bool {
        var offset = 0
        while offset < bytes.count {
            let n = write(fd, bytes.baseAddress! + offset, bytes.count - offset)
            if n < 0 {
                if errno == EINTR { continue }
                return false
            }
            offset += n
        }
        return true
    }
}
