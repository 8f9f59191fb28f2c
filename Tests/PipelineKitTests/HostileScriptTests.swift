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
}
