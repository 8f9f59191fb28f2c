import Foundation
import PipelineKit
import Testing

/// Secrets, stage outputs, metric values and GitHub-mode log printing, with the real binary on
/// real pipeline files (the findings F06–F10, F17, F20 of the attack review, and HTTP redirects).
@Suite(.serialized, .timeLimit(.minutes(3))) struct SecretsAndOutputsTests {
    static let virtual = ["PIPELINE_TEST_CLOCK": "virtual"]

    /// Every file under the run's state directory, as bytes (logs, outputs, journal, snapshot).
    static func stateFiles(_ box: Sandbox) -> [(String, Data)] {
        var out: [(String, Data)] = []
        let root = box.dir.appendingPathComponent(".pipeline")
        let enumerator = FileManager.default.enumerator(at: root, includingPropertiesForKeys: nil)
        while let url = enumerator?.nextObject() as? URL {
            if let data = try? Data(contentsOf: url) { out.append((url.path, data)) }
        }
        return out
    }

    static func contains(_ data: Data, _ text: String) -> Bool { data.range(of: Data(text.utf8)) != nil }

    static func stageFinished(_ box: Sandbox, _ stage: String) throws -> [String: Any]? {
        try box.events().first { $0["type"] as? String == "stage_finished" && $0["stage"] as? String == stage }
    }

    // MARK: - F06: outputs are passed on as written; only what is shown is masked

    @Test func outputsReachLaterStagesAndTheRollbackAsWrittenAndAreJournaledMasked() throws {
        let box = try Sandbox(
            """
            version: 1
            name: f06
            secrets: [DB_PASSWORD]
            stages:
              - id: api
                kind: backend
                outputs: [previous]
                run: echo previous=api-postgres-0041 >> "$PIPELINE_OUTPUTS"
                rollback: printf '%s' "$PIPELINE_OUTPUT_PREVIOUS" > rollback-got.txt
              - id: use
                needs: [api]
                env: {PREV: '${{ stages.api.outputs.previous }}'}
                run: printf '%s' "$PREV" > downstream-got.txt; exit 1
            """)
        defer { box.remove() }
        let result = try box.pipeline(["run", "p.yml"], env: ["DB_PASSWORD": "postgres"])
        #expect(result.status == 1, "\(result.stderr)")
        #expect(box.read("downstream-got.txt") == "api-postgres-0041")
        #expect(box.read("rollback-got.txt") == "api-postgres-0041")
        let finished = try #require(try Self.stageFinished(box, "api"))
        #expect((finished["outputs"] as? [String: String]) == ["previous": "api-***-0041"])
        #expect((finished["masked"] as? [String]) == ["previous"])
        for (path, data) in Self.stateFiles(box) {
            #expect(!Self.contains(data, "postgres"), "\(path) holds the secret in clear")
        }
        try JournalSchemaTests.checkAll(box)
    }

    @Test func aRollbackFromTheJournalWarnsAboutAMaskedOutputAndDoesNotPassIt() throws {
        let box = try Sandbox(
            """
            version: 1
            name: f06b
            secrets: [DB_PASSWORD]
            stages:
              - id: api
                kind: backend
                outputs: [previous, revision]
                run: |
                  echo previous=api-postgres-0041 >> "$PIPELINE_OUTPUTS"
                  echo revision=r42 >> "$PIPELINE_OUTPUTS"
                rollback: printf '%s|%s' "${PIPELINE_OUTPUT_PREVIOUS-unset}" "$PIPELINE_OUTPUT_REVISION" > rollback-got.txt
            """)
        defer { box.remove() }
        let run = try box.pipeline(["run", "p.yml"], env: ["DB_PASSWORD": "postgres"])
        #expect(run.status == 0, "\(run.stderr)")
        let rollback = try box.pipeline(["rollback"], env: ["DB_PASSWORD": "postgres"])
        #expect(rollback.status == 0, "\(rollback.stderr)")
        #expect(rollback.stderr.contains("output 'previous' of stage 'api' held a secret and was journaled masked"), "\(rollback.stderr)")
        #expect(box.read("rollback-got.txt") == "unset|r42", "a masked value is not passed; the others are")
    }

    @Test func aResumedRunWarnsAboutAMaskedOutputAndDoesNotPassIt() throws {
        let box = try Sandbox(
            """
            version: 1
            name: f06c
            secrets: [DB_PASSWORD]
            stages:
              - id: api
                kind: backend
                outputs: [previous, revision]
                run: |
                  echo previous=api-postgres-0041 >> "$PIPELINE_OUTPUTS"
                  echo revision=r42 >> "$PIPELINE_OUTPUTS"
              - id: use
                needs: [api]
                gate: {approval: true}
                env: {PREV: '${{ stages.api.outputs.previous }}', REV: '${{ stages.api.outputs.revision }}'}
                run: printf '%s|%s' "$PREV" "$REV" > use-got.txt
            """)
        defer { box.remove() }
        let first = try box.pipeline(["run", "p.yml"], env: ["DB_PASSWORD": "postgres"])
        #expect(first.status == 4, "stopped at the approval gate: \(first.stderr)")
        let resumed = try box.pipeline(["resume", "--approve", "use"], env: ["DB_PASSWORD": "postgres"])
        #expect(resumed.status == 0, "\(resumed.stderr)")
        #expect(resumed.stderr.contains("output 'previous' of stage 'api' held a secret and was journaled masked"), "\(resumed.stderr)")
        #expect(box.read("use-got.txt") == "|r42", "never 'api-***-0041'")
    }

    // MARK: - F07: an outputs file that is not UTF-8

    @Test func aNonUTF8OutputsLineFailsTheAttemptAndNoSecretStaysOnDisk() throws {
        let box = try Sandbox(
            """
            version: 1
            name: f07
            secrets: [TOKEN]
            stages:
              - id: api
                kind: backend
                outputs: [previous, token, note]
                env: {T: '${{ secrets.TOKEN }}'}
                run: |
                  echo previous=v41 >> "$PIPELINE_OUTPUTS"
                  echo "token=$T" >> "$PIPELINE_OUTPUTS"
                  printf 'note=caf\\351\\n' >> "$PIPELINE_OUTPUTS"
            """)
        defer { box.remove() }
        let result = try box.pipeline(["run", "p.yml"], env: ["TOKEN": "s3cretvalue123"])
        #expect(result.status == 1, "\(result.stderr)")
        #expect(result.stderr.contains("outputs file line 3 is not valid UTF-8"), "\(result.stderr)")
        let finished = try #require(try Self.stageFinished(box, "api"))
        #expect(finished["status"] as? String == "failed")
        let attempt = try box.events().first { $0["type"] as? String == "attempt_finished" && $0["stage"] as? String == "api" }
        #expect(attempt?["outcome"] as? String == "failed")
        let run = try #require(box.runs.last)
        let file = try Data(contentsOf: box.dir.appendingPathComponent(".pipeline/runs/\(run)/outputs/api.1.env"))
        #expect(Self.contains(file, "token=***"), "the file stays for inspection, masked")
        for (path, data) in Self.stateFiles(box) {
            #expect(!Self.contains(data, "s3cretvalue123"), "\(path) holds the secret in clear")
        }
    }

    @Test func aFailedAttemptLeavesNoSecretInItsOutputsFile() throws {
        let box = try Sandbox(
            """
            version: 1
            name: f07b
            secrets: [TOKEN]
            stages:
              - id: api
                outputs: [token]
                env: {T: '${{ secrets.TOKEN }}'}
                run: echo "token=$T" >> "$PIPELINE_OUTPUTS"; exit 1
            """)
        defer { box.remove() }
        let result = try box.pipeline(["run", "p.yml"], env: ["TOKEN": "s3cretvalue123"])
        #expect(result.status == 1)
        for (path, data) in Self.stateFiles(box) {
            #expect(!Self.contains(data, "s3cretvalue123"), "\(path) holds the secret in clear")
        }
    }

    // MARK: - F17: multi-line values and names written twice

    @Test func aMultiLineValueCannotSetAnotherOutput() throws {
        let box = try Sandbox(
            """
            version: 1
            name: f17
            stages:
              - id: a
                kind: backend
                outputs: [message, previous]
                run: |
                  echo previous=v41 >> "$PIPELINE_OUTPUTS"
                  msg=$(printf 'fix typo\\nprevious=attacker-rev')
                  echo "message=$msg" >> "$PIPELINE_OUTPUTS"
                rollback: printf '%s' "$PIPELINE_OUTPUT_PREVIOUS" > got.txt
              - {id: b, needs: [a], run: 'exit 1'}
            """)
        defer { box.remove() }
        let result = try box.pipeline(["run", "p.yml"])
        #expect(result.status == 1)
        #expect(result.stderr.contains("outputs file line 3 sets 'previous' a second time"), "\(result.stderr)")
        #expect(box.read("got.txt") != "attacker-rev")
        #expect(try Self.stageFinished(box, "a")?["status"] as? String == "failed")
    }

    @Test func aHeredocCarriesAMultiLineValue() throws {
        let box = try Sandbox(
            """
            version: 1
            name: heredoc
            stages:
              - id: a
                kind: backend
                outputs: [message, previous]
                run: |
                  d="EOF_$(od -An -N8 -tx1 /dev/urandom | tr -d ' \\n')"
                  { echo "message<<$d"; printf 'fix typo\\nprevious=attacker-rev\\n'; echo "$d"; } >> "$PIPELINE_OUTPUTS"
                  echo previous=v41 >> "$PIPELINE_OUTPUTS"
                rollback: printf '%s' "$PIPELINE_OUTPUT_PREVIOUS" > got.txt
              - id: b
                needs: [a]
                env: {MSG: '${{ stages.a.outputs.message }}'}
                run: printf '%s' "$MSG" > msg.txt; exit 1
            """)
        defer { box.remove() }
        let result = try box.pipeline(["run", "p.yml"])
        #expect(result.status == 1, "\(result.stderr)")
        #expect(box.read("msg.txt") == "fix typo\nprevious=attacker-rev")
        #expect(box.read("got.txt") == "v41")
    }

    @Test func anUnclosedHeredocFailsTheAttempt() throws {
        let box = try Sandbox(
            """
            version: 1
            name: open
            stages:
              - id: a
                outputs: [message]
                run: printf 'message<<END\\nno end\\n' >> "$PIPELINE_OUTPUTS"
            """)
        defer { box.remove() }
        let result = try box.pipeline(["run", "p.yml"])
        #expect(result.status == 1)
        #expect(result.stderr.contains("outputs file line 1: 'message<<END' is not closed by a line 'END'"), "\(result.stderr)")
    }

    // MARK: - F09: a secret across the split of a very long line

    @Test func aSecretAcrossTheSplitOfAVeryLongLineIsMasked() throws {
        let box = try Sandbox(
            """
            version: 1
            name: f09
            secrets: [TOKEN]
            stages:
              - id: a
                env: {T: '${{ secrets.TOKEN }}'}
                run: |
                  python3 -c 'import os,sys,time; t=os.environ["T"]; sys.stdout.write("x"*65530+t[:8]); sys.stdout.flush(); time.sleep(0.3); sys.stdout.write(t[8:]+"\\n")'
            """)
        defer { box.remove() }
        let result = try box.pipeline(["run", "p.yml"], env: ["TOKEN": "s3cretvalue123"])
        #expect(result.status == 0, "\(result.stderr)")
        for fragment in ["s3cretva", "lue123"] {
            #expect(!result.stdout.contains(fragment), "the terminal shows part of the secret")
        }
        #expect(result.stdout.contains("x***"))
        let run = try #require(box.runs.last)
        let log = box.read(".pipeline/runs/\(run)/logs/a.1.log")
        #expect(!log.contains("s3cretva") && !log.contains("lue123"))
        let xs = log.split(separator: "\n").filter { $0.hasPrefix("xxxx") }.map { $0.filter { $0 == "x" }.count }
        #expect(xs.reduce(0, +) == 65530, "no byte is lost at the cut")
    }

    @Test func aSecretAcrossTheCutInACheckScriptIsMasked() throws {
        let box = try Sandbox(
            """
            version: 1
            name: f09b
            secrets: [TOKEN]
            stages:
              - id: pre
                kind: infra-precheck
                env: {T: '${{ secrets.TOKEN }}'}
                checks:
                  - name: long
                    timeout: 20s
                    run: |
                      python3 -c 'import os,sys,time; t=os.environ["T"]; sys.stdout.write("x"*65530+t[:8]); sys.stdout.flush(); time.sleep(0.3); sys.stdout.write(t[8:]+"\\n")'
            """)
        defer { box.remove() }
        let result = try box.pipeline(["run", "p.yml"], env: ["TOKEN": "s3cretvalue123"])
        #expect(result.status == 0, "\(result.stderr)")
        #expect(!result.stdout.contains("s3cretva") && !result.stdout.contains("lue123"), "the terminal shows part of the secret")
        #expect(result.stdout.contains("x***"))
    }

    @Test func theCutOfALongLineNeverSplitsASecretOrACharacter() {
        let masker = SecretMasker([(name: "TOKEN", value: "s3cretvalue123")])
        let secret = Array("s3cretvalue123".utf8)
        // A secret whose start has arrived: at least 13 bytes stay behind.
        let partial = [UInt8](repeating: 120, count: 100) + secret.prefix(8)
        #expect(masker.cut(partial) <= partial.count - 13)
        // A whole secret right at the cut moves to the part kept.
        let whole = [UInt8](repeating: 120, count: 100) + secret + [UInt8](repeating: 120, count: 5)
        let cut = masker.cut(whole)
        #expect(cut <= 100 || cut >= 114)
        // Without secrets, a character whose bytes have not all arrived is kept back.
        let none = SecretMasker([])
        let e = Array("é".utf8)
        #expect(none.cut([120, 120, e[0]]) == 2)
        #expect(none.cut([120, 120] + e) == 4)
        #expect(masker.mask(bytes: Array("a=s3cretvalue123\u{E9}".utf8) + [0xFF]) == Array("a=***\u{E9}".utf8) + [0xFF])
    }

    // MARK: - F10: a stage's environment holds only the secrets it binds

    @Test func aStageSeesOnlyTheSecretsItBinds() throws {
        let box = try Sandbox(
            """
            version: 1
            name: f10
            secrets: [TOKEN, OTHER]
            stages:
              - id: a
                run: '[ -z "${TOKEN+set}${OTHER+set}" ] && echo a-has-none > a.txt'
              - id: b
                env: {T: '${{ secrets.TOKEN }}'}
                run: |
                  [ -z "${TOKEN+set}${OTHER+set}" ] && printf '%s' "$T" | rev > b.txt
              - id: c
                env: {TOKEN: '${{ secrets.TOKEN }}'}
                run: printf '%s' "$TOKEN" | rev > c.txt
            """)
        defer { box.remove() }
        let result = try box.pipeline(["run", "p.yml"], env: ["TOKEN": "s3cretvalue123", "OTHER": "0therSecret"])
        #expect(result.status == 0, "\(result.stderr)")
        #expect(box.read("a.txt") == "a-has-none\n")
        #expect(box.read("b.txt") == "321eulavterc3s")
        #expect(box.read("c.txt") == "321eulavterc3s")
    }

    // MARK: - F08: non-finite metric values

    static func canary(_ analysis: String) -> String {
        """
        version: 1
        name: f08
        stages:
          - id: canary
            kind: canary
            steps: [100]
            bake: 0s
            interval: 100ms
            failure-limit: 1
            traffic: 'true'
            analysis:
              - \(analysis)
        """
    }

    /// A non-finite reading is never a pass: it has no value, so it is inconclusive, or a failure
    /// under `on-no-data: fail`.
    @Test(arguments: ["NaN", "-nan", "inf", "-inf"])
    func aNonFiniteMetricFailsTheRound(_ text: String) throws {
        let box = try Sandbox(Self.canary("{name: error-rate, run: \"echo '\(text)'\", max: 0.05, on-no-data: fail}"))
        defer { box.remove() }
        let result = try box.pipeline(["run", "p.yml"], env: Self.virtual)
        #expect(result.status == 1, "\(result.stdout)\(result.stderr)")
        #expect(result.stderr.contains("canary aborted at 100%"), "\(result.stderr)")
        #expect(result.stdout.contains("is not a finite number"), "\(result.stdout)")
        let rounds = try box.events().filter { $0["type"] as? String == "measurement" && $0["step"] as? Int == 100 }
        #expect(!rounds.isEmpty && rounds.allSatisfy { $0["verdict"] as? String == "fail" })

        let inconclusive = try Sandbox(Self.canary("{name: error-rate, run: \"echo '\(text)'\", max: 0.05, inconclusive-limit: 1}"))
        defer { inconclusive.remove() }
        let paused = try inconclusive.pipeline(["run", "p.yml"], env: Self.virtual)
        #expect(paused.status == 4, "\(paused.stdout)\(paused.stderr)")
        let readings = try inconclusive.events().filter { $0["type"] as? String == "measurement" }
        #expect(readings.map { $0["verdict"] as? String } == ["inconclusive"])
    }

    @Test func aNonFiniteBaselineFailsTheCanary() throws {
        let box = try Sandbox(Self.canary("{name: p95, run: 'echo NaN', max: \"baseline * 1.5\"}"))
        defer { box.remove() }
        let result = try box.pipeline(["run", "p.yml"], env: Self.virtual)
        #expect(result.status == 1, "\(result.stderr)")
        #expect(result.stderr.contains("cannot measure the baseline of 'p95'"), "\(result.stderr)")
    }

    @Test func aPrometheusNaNOverHTTPFailsTheRound() throws {
        func sample(_ value: String) -> [String: Any] {
            ["json": ["status": "success", "data": ["resultType": "vector", "result": [["metric": [String: String](), "value": [1733059200, value]]]]]]
        }
        let server = try ScriptedServer(["/api/v1/query": [sample("NaN")]])
        defer { server.stop() }
        let box = try Sandbox(
            Self.canary("{name: error-rate, http: {url: \"\(server.base)/api/v1/query\", json: data.result.0.value.1}, max: 0.05, on-no-data: fail}"))
        defer { box.remove() }
        let result = try box.pipeline(["run", "p.yml"], env: Self.virtual)
        #expect(result.status == 1, "\(result.stdout)\(result.stderr)")
        #expect(result.stderr.contains("canary aborted at 100%: error-rate = no value (≤ 0.05)"), "\(result.stderr)")
        #expect(result.stdout.contains("is not a finite number"), "\(result.stdout)")
    }

    // MARK: - HTTP probes do not follow redirects

    @Test func aVerifyProbeDoesNotFollowARedirect() throws {
        let server = try ScriptedServer(["/health": [["status": 302, "headers": ["Location": "/login"]]], "/login": [["status": 200, "body": "login"]]])
        defer { server.stop() }
        func pipeline(_ expect: Int) -> String {
            """
            version: 1
            name: redirect
            stages:
              - id: verify
                kind: verify
                http: { url: "\(server.base)/health", expect: \(expect), initial-delay: 0s, interval: 1s, failure-threshold: 1 }
            """
        }
        let box = try Sandbox(pipeline(200))
        defer { box.remove() }
        let failed = try box.pipeline(["run", "p.yml"], env: Self.virtual)
        #expect(failed.status == 1)
        #expect(failed.stderr.contains("(last: HTTP 302 (redirect to /login, not followed))"), "\(failed.stderr)")
        let probes = try box.events().filter { $0["type"] as? String == "probe" }
        #expect(probes.map { $0["status"] as? Int } == [302])

        try pipeline(302).write(to: box.dir.appendingPathComponent("p.yml"), atomically: true, encoding: .utf8)
        let passed = try box.pipeline(["run", "p.yml"], env: Self.virtual)
        #expect(passed.status == 0, "\(passed.stderr)")
    }

    @Test func precheckAndAnalysisDoNotFollowARedirect() throws {
        let server = try ScriptedServer([
            "/ready": [["status": 302, "headers": ["Location": "/ok"]]], "/ok": [["status": 200, "json": ["rate": 0.0]]],
            "/metrics": [["status": 301, "headers": ["Location": "/ok"]]],
        ])
        defer { server.stop() }
        let box = try Sandbox(
            """
            version: 1
            name: pre
            stages:
              - id: pre
                kind: infra-precheck
                checks:
                  - { name: api ready, http: { url: "\(server.base)/ready" } }
            """)
        defer { box.remove() }
        let result = try box.pipeline(["run", "p.yml"])
        #expect(result.status == 1)
        #expect(result.stderr.contains("'api ready': GET \(server.base)/ready returned 302 (redirect to /ok, not followed), expected 200"), "\(result.stderr)")

        try Self.canary("{name: error-rate, http: {url: \"\(server.base)/metrics\", json: rate}, max: \"baseline * 2\"}")
            .write(to: box.dir.appendingPathComponent("p.yml"), atomically: true, encoding: .utf8)
        let canary = try box.pipeline(["run", "p.yml"], env: Self.virtual)
        #expect(canary.status == 1)
        #expect(canary.stderr.contains("cannot measure the baseline of 'error-rate'"), "\(canary.stderr)")
        #expect(canary.stdout.contains("GET \(server.base)/metrics returned 301 (redirect to /ok, not followed)"), "\(canary.stdout)")
    }

    // MARK: - F20: GitHub mode prints each attempt's log without holding it in memory

    @Test(.timeLimit(.minutes(3))) func githubModeStreamsAnAttemptLog() throws {
        let size = 48 << 20
        let box = try Sandbox(
            """
            version: 1
            name: f20
            stages:
              - id: big
                run: head -c \(size) /dev/zero | tr '\\0' x
            """)
        defer { box.remove() }
        // Counts the bytes `pipeline` prints and reports its peak resident size (KiB).
        try """
        import resource, subprocess, sys
        p = subprocess.Popen(sys.argv[1:], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
        n = 0
        while True:
            chunk = p.stdout.read(1 << 16)
            if not chunk: break
            n += chunk.count(b"x")
        p.wait()
        print(p.returncode, n, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)
        """.write(to: box.dir.appendingPathComponent("measure.py"), atomically: true, encoding: .utf8)
        let result = try box.shell("python3 measure.py \"$PIPELINE\" run p.yml", env: ["GITHUB_ACTIONS": "true"])
        let words = result.stdout.split(separator: " ").compactMap { Int($0.trimmingCharacters(in: .whitespacesAndNewlines)) }
        try #require(words.count == 3, "\(result.stdout)\(result.stderr)")
        #expect(words[0] == 0)
        #expect(words[1] == size, "the whole log is printed")
        #expect(words[2] < 100 * 1024, "peak RSS \(words[2]) KiB for a \(size >> 20) MiB log")
    }
}
