import Foundation
import Testing

/// The intermittent SIGILL of `pipeline run` in libdispatch's event loop came from a descriptor
/// closed twice: a native check's script pipe was read and closed again after EOF, when its number
/// could already belong to libdispatch's epoll. Traced with strace, no descriptor the engine
/// touches may ever be unknown to the kernel (EBADF) — whatever it would hit in a lucky run.
@Suite(.timeLimit(.minutes(2)))
struct DescriptorTests {
    @Test func nativeChecksNeverReadOrCloseADescriptorTwice() throws {
        let strace = try #require(
            ["/usr/bin/strace", "/bin/strace"].first { FileManager.default.isExecutableFile(atPath: $0) },
            "strace is installed by scripts/install-deps --test")
        let box = try Sandbox(
            """
            version: 1
            name: fds
            stages:
              - id: check
                kind: infra-precheck
                checks:
                  - {name: one, run: 'echo one'}
                  - {name: two, run: 'echo two; echo more'}
                  - {name: quiet, run: 'true'}
              - id: verify
                kind: verify
                smoke: ['echo smoke', 'printf "no newline"', 'true']
            """)
        defer { box.remove() }
        let result = try Binary.run(
            executable: strace, ["-f", "-e", "trace=close,read,poll", "-o", "trace.txt", Binary.path, "run", "p.yml"],
            in: box.dir)
        #expect(result.status == 0, "\(result.stderr)")
        let trace = box.read("trace.txt")
        #expect(trace.contains("close("), "strace recorded nothing: \(trace.prefix(300))")
        let bad = trace.split(separator: "\n").filter { $0.contains("EBADF") }
        #expect(bad.isEmpty, "descriptors used after they were closed:\n\(bad.prefix(10).joined(separator: "\n"))")
    }
}
