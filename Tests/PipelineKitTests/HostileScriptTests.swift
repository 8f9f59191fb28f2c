import Foundation
import Testing

/// Stage scripts that misbehave on purpose: binary output, no newline for megabytes, a TERM-ignoring
/// child. The engine must stay up, keep its output bounded and masked, and journal the run to its end.
@Suite(.timeLimit(.minutes(3)))
struct HostileScriptTests {
    @Test func binaryOutputWithoutNewlinesIsLoggedMaskedAndTheRunGoesOn() throws {
        let box = try Sandbox(
            """
            version: 1
            name: hostile
            secrets: [TOKEN]
            stages:
              - id: noise
                env: {T: '${{ secrets.TOKEN }}'}
                run: |
                  head -c 300000 /dev/urandom
                  printf 'before-%s-after' "$T"
                  head -c 300000 /dev/urandom
              - {id: next, run: 'echo next ran'}
            """)
        defer { box.remove() }
        let result = try box.pipeline(["run", "p.yml"], env: ["TOKEN": "s3cretvalue123"], within: 120)
        #expect(result.returned && result.status == 0, "\(result.stderr.suffix(500))")
        #expect(result.stdout.contains("[next] next ran"))
        #expect(!result.stdout.contains("s3cretvalue123"), "the secret was printed in clear")
        #expect(result.stdout.contains("before-***-after"), "the masked secret is missing from the output")
        let run = try #require(box.runs.first)
        let log = box.read(".pipeline/runs/\(run)/logs/noise.1.log")
        #expect(!log.isEmpty, "the stage's log is missing")
        #expect(!log.contains("s3cretvalue123"), "the secret is in clear in the log")
        let state = try box.state()
        #expect(state["status"] as? String == "succeeded")
    }

    /// A script that closes its output and goes on: the end of its output is not its end (the engine
    /// reaps a script whose output ended only once it has exited, however long that takes), its exit
    /// status is the one recorded, and what needs it starts after it.
    @Test func aScriptThatClosesItsOutputAndRunsOnIsWaitedFor() throws {
        let box = try Sandbox(
            """
            version: 1
            name: hostile
            stages:
              - id: quiet
                run: |
                  echo before closing
                  exec >&- 2>&-
                  sleep 0.3
                  touch quiet-done
                  exit 3
              - {id: next, needs: [quiet], run: 'echo next ran'}
            """)
        defer { box.remove() }
        let result = try box.pipeline(["run", "p.yml"], within: 60)
        #expect(result.returned && result.status != 0, "\(result.stderr.suffix(500))")
        #expect(result.stdout.contains("[quiet] before closing"))
        #expect(!result.stdout.contains("next ran"), "a stage ran after its need failed")
        #expect(FileManager.default.fileExists(atPath: box.dir.appendingPathComponent("quiet-done").path), "the run ended before the script did")
        let finished = try box.events().filter { $0["type"] as? String == "attempt_finished" && $0["stage"] as? String == "quiet" }
        #expect(finished.count == 1 && finished.first?["exit_code"] as? Int == 3, "\(finished)")
    }
}
