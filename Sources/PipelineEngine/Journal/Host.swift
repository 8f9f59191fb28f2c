import PipelineSpec
import FoundationEssentials
import Glibc

/// Facts about this machine the engine records and checks: its name, and whether a process group lives.
enum Host {
    /// This machine's host name (recorded with each engine start: a process group can only be probed there).
    static let name: String = {
        var buffer = [CChar](repeating: 0, count: 256)
        guard gethostname(&buffer, buffer.count) == 0 else { return "" }
        return String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }()

    /// This boot of the kernel (`/proc/sys/kernel/random/boot_id`): a process group recorded under
    /// another boot cannot be alive, whatever its number.
    static let bootID: String = {
        ((try? String(contentsOfFile: "/proc/sys/kernel/random/boot_id", encoding: .utf8)) ?? "")
            .trimmed
    }()

    /// Whether any process of group `pgid` is alive (EPERM: alive, but another user's).
    /// Zombies (exited, not yet reaped by whoever adopted them) do not count: they run nothing.
    static func groupAlive(_ pgid: Int) -> Bool {
        guard pgid > 0 else { return false }
        guard kill(-pid_t(pgid), 0) == 0 || errno == EPERM else { return false }
        guard let entries = try? FileManager.default.contentsOfDirectory(atPath: "/proc") else { return true }
        for entry in entries where entry.first?.isNumber == true {
            // "pid (comm) S ppid pgrp …": comm may hold spaces and parentheses, so split after the last ')'.
            guard let stat = try? String(contentsOfFile: "/proc/\(entry)/stat", encoding: .utf8),
                let close = stat.lastIndex(of: ")")
            else { continue }
            let fields = stat[stat.index(after: close)...].split(separator: " ")
            guard fields.count > 2, Int(fields[2]) == pgid else { continue }
            if fields[0] != "Z" { return true }
        }
        return false
    }

    /// Whether process `pid` is alive.
    static func processAlive(_ pid: Int) -> Bool {
        guard pid > 0 else { return false }
        return kill(pid_t(pid), 0) == 0 || errno == EPERM
    }

    /// The pids holding a `flock` on the file with inode `inode`, read from `/proc/locks` (without
    /// touching the lock, so a starting run is never refused because someone looked).
    static func flockHolders(inode: UInt64) -> [Int] {
        guard let text = try? String(contentsOfFile: "/proc/locks", encoding: .utf8) else { return [] }
        var pids: [Int] = []
        for line in text.split(separator: "\n") {
            // "1: FLOCK  ADVISORY  WRITE 1234 08:01:5678 0 EOF"
            let fields = line.split(separator: " ", omittingEmptySubsequences: true)
            guard fields.count >= 6, fields[1] == "FLOCK", let pid = Int(fields[4]) else { continue }
            let device = fields[5].split(separator: ":")
            guard let last = device.last, UInt64(last) == inode else { continue }
            pids.append(pid)
        }
        return pids
    }
}
