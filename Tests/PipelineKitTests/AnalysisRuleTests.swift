import Foundation
import Testing

/// The rules of canary and watch analyses, each by a real run of the binary on a real pipeline
/// file: metric scripts read the values the test scripted (`NAME.values`, one per reading, the
/// last one repeating), with the virtual clock for bakes and intervals.
@Suite(.serialized, .timeLimit(.minutes(5))) struct AnalysisRuleTests {
    static let virtual = ["PIPELINE_TEST_CLOCK": "virtual"]

    /// Prints the next scripted value of `$1` (`down` exits 7 saying "connection refused").
    static let next = """
        f="$1.values"; v=$(head -n 1 "$f"); [ "$(wc -l < "$f")" -gt 1 ] && sed -i 1d "$f"
        [ "$v" = down ] && { echo "connection refused" >&2; exit 7; }
        echo "$v"
        """

    /// A sandbox with the pipeline and each metric's scripted values.
    static func box(_ pipeline: String, _ values: [String: [String]]) throws -> Sandbox {
        let box = try Sandbox(pipeline)
        try box.write("next.sh", next)
        for (name, list) in values { try box.write("\(name).values", list.joined(separator: "\n") + "\n") }
        return box
    }

    static func canary(steps: String = "[10, 50, 100]", bake: String = "1m", analysis: String, extra: String = "") -> String {
        """
        version: 1
        name: rules
        stages:
          - { id: api, kind: backend, run: "echo deployed >> ran.log", rollback: "echo undeployed >> ran.log" }
          - id: shift
            kind: canary
            traffic: echo "$PIPELINE_TRAFFIC_PERCENT" >> traffic.log
            steps: \(steps)
            bake: \(bake)
            interval: 30s
        \(extra)
            analysis:
        \(analysis)
          - { id: verify, kind: verify, smoke: ["true"] }
        """
    }

    static func measurements(_ box: Sandbox, _ metric: String) throws -> [[String: Any]] {
        try box.events().filter { $0["type"] as? String == "measurement" && $0["metric"] as? String == metric && $0["verdict"] as? String != "baseline" }
    }

    static let twoRules = """
              - { name: payment-errors, run: sh next.sh payments, max: 0, failure-limit: 1 }
              - { name: error-rate, run: sh next.sh errors, max: 0.05, failure-limit: 5 }
        """

    /// "Any payment error → roll back now" aborts at the first bad reading; the 5 % rule beside it
    /// waits for five bad readings in a row (and its count carries from one step to the next).
    @Test func aOnePaymentErrorRuleAbortsAtOnceWhileTheFivePercentRuleWaits() throws {
        let payment = try Self.box(Self.canary(analysis: Self.twoRules), ["payments": ["0", "1"], "errors": ["0.01"]])
        defer { payment.remove() }
        let first = try payment.pipeline(["run", "p.yml"], env: Self.virtual)
        #expect(first.status == 1, "\(first.stderr)")
        #expect(payment.read("traffic.log") == "0\n10\n0\n")
        #expect(first.stderr.contains("canary aborted at 10%: payment-errors = 1 (≤ 0) [1 failed reading in a row]"), "\(first.stderr)")
        #expect(try Self.measurements(payment, "payment-errors").map { $0["verdict"] as? String } == ["pass", "fail"])
        #expect(payment.read("ran.log") == "deployed\nundeployed\n")

        // Bad error rates from the second reading on: readings 2 and 3 at 10 %, then 4, 5, 6 at 50 %.
        let rate = try Self.box(Self.canary(analysis: Self.twoRules), ["payments": ["0"], "errors": ["0.01", "0.2"]])
        defer { rate.remove() }
        let second = try rate.pipeline(["run", "p.yml"], env: Self.virtual)
        #expect(second.status == 1, "\(second.stderr)")
        let verdicts = try Self.measurements(rate, "error-rate").map { "\($0["step"] as? Int ?? -1):\($0["verdict"] as? String ?? "")" }
        #expect(verdicts == ["10:pass", "10:fail", "50:fail", "50:fail", "100:fail", "100:fail"])
        #expect(second.stderr.contains("canary aborted at 100%: error-rate = 0.2 (≤ 0.05) [5 failed readings in a row]"), "\(second.stderr)")
    }

    /// `for: 1m`: a bound broken for less than a minute does not fail the metric; one broken for
    /// a minute does (readings every 30 s: the third bad one in a row).
    @Test func forHoldsTheVerdictUntilTheBoundStaysBrokenThatLong() throws {
        let analysis = "      - { name: error-rate, run: sh next.sh errors, max: 0.05, for: 1m }"
        let box = try Self.box(
            Self.canary(steps: "[10, 100]", bake: "5m", analysis: analysis), ["errors": ["0.2", "0.2", "0.01", "0.2", "0.2", "0.2", "0.01"]])
        defer { box.remove() }
        let result = try box.pipeline(["run", "p.yml"], env: Self.virtual)
        #expect(result.status == 1, "\(result.stderr)")
        #expect(try Self.measurements(box, "error-rate").map { $0["verdict"] as? String } == ["fail", "fail", "pass", "fail", "fail", "fail"])
        #expect(
            result.stderr.contains("canary aborted at 10%: error-rate = 0.2 (≤ 0.05) [3 failed readings in a row, broken for 1m or more]"), "\(result.stderr)")
    }

    /// A zero baseline: `max(baseline * 1.5, 0.01)` floors the bound at 1 %; plain `baseline * 1.5`
    /// is 0, which the run says, and the first error fails it.
    @Test func aFloorKeepsAZeroBaselineFromFailingTheFirstError() throws {
        let floored = try Self.box(
            Self.canary(steps: "[100]", analysis: "      - { name: error-rate, run: sh next.sh errors, max: \"max(baseline * 1.5, 0.01)\" }"),
            ["errors": ["0", "0.005"]])
        defer { floored.remove() }
        let ok = try floored.pipeline(["run", "p.yml"], env: Self.virtual)
        #expect(ok.status == 0, "\(ok.stderr)")
        #expect(ok.stdout.contains("100%: error-rate = 0.005 (≤ 0.01 (max(baseline * 1.5, 0.01))): pass"), "\(ok.stdout)")

        let bare = try Self.box(
            Self.canary(steps: "[100]", analysis: "      - { name: error-rate, run: sh next.sh errors, max: \"baseline * 1.5\", failure-limit: 1 }"),
            ["errors": ["0", "0.005"]])
        defer { bare.remove() }
        let failed = try bare.pipeline(["run", "p.yml"], env: Self.virtual)
        #expect(failed.status == 1)
        #expect(failed.stdout.contains("warning: the baseline of 'error-rate' is 0, so 'baseline * 1.5' is 0"), "\(failed.stdout)")
        #expect(failed.stderr.contains("error-rate = 0.005 (≤ 0 (baseline * 1.5))"), "\(failed.stderr)")
    }

    /// A baseline that cannot be read: a rule with a floor goes on with the floor; one without
    /// stops the canary before any traffic shifts, with the reason.
    @Test func aMissingBaselineIsHandledByTheRule() throws {
        let analysis = """
                  - { name: floored, run: sh next.sh floored, max: "max(baseline * 2, 0.5)" }
                  - { name: bare, run: sh next.sh bare, max: "baseline * 2" }
            """
        let box = try Self.box(Self.canary(steps: "[100]", analysis: analysis), ["floored": ["down", "0.4"], "bare": ["down"]])
        defer { box.remove() }
        let result = try box.pipeline(["run", "p.yml"], env: Self.virtual)
        #expect(result.status == 1)
        #expect(box.read("traffic.log") == "0\n")
        #expect(result.stdout.contains("baseline floored: no value (the script exited 7: connection refused)"), "\(result.stdout)")
        #expect(
            result.stderr.contains("cannot measure the baseline of 'bare' (the script exited 7: connection refused), and 'baseline * 2' needs it"),
            "\(result.stderr)")
        let baseline = try box.events().filter { $0["type"] as? String == "measurement" && $0["verdict"] as? String == "baseline" }
        #expect(baseline.map { $0["reason"] as? String } == ["the script exited 7: connection refused", "the script exited 7: connection refused"])
    }

    /// No data is inconclusive (journaled with the reason); `inconclusive-limit` of them in a row
    /// pause the canary: exit 4 without a terminal; `pipeline promote` continues with the next step.
    @Test func noDataPausesTheCanaryAndPromoteContinues() throws {
        let analysis = "      - { name: error-rate, run: sh next.sh errors, max: 0.05, inconclusive-limit: 2 }"
        let box = try Self.box(Self.canary(analysis: analysis), ["errors": ["0.01", "down", "down", "0.01"]])
        defer { box.remove() }
        let first = try box.pipeline(["run", "p.yml"], env: Self.virtual)
        #expect(first.status == 4, "\(first.stdout)\(first.stderr)")
        #expect(first.stderr.contains("stage 'shift' paused at 50%: 2 inconclusive readings of 'error-rate' in a row"), "\(first.stderr)")
        let readings = try Self.measurements(box, "error-rate")
        #expect(readings.map { "\($0["step"] as? Int ?? -1):\($0["verdict"] as? String ?? "")" } == ["10:pass", "10:inconclusive", "50:inconclusive"])
        #expect(readings.last?["reason"] as? String == "the script exited 7: connection refused")
        #expect(readings.last?["value"] is NSNull)
        let run = try #require(box.runs.first)
        let promote = try box.pipeline(["promote", run], env: Self.virtual)
        #expect(promote.status == 0, "\(promote.stdout)\(promote.stderr)")
        #expect(promote.stderr.contains("promoting run \(run) past the pause of stage 'shift'"), "\(promote.stderr)")
        // The baseline is not measured again and traffic goes on from 50 % to 100 %.
        #expect(box.read("traffic.log") == "0\n10\n50\n100\n")
        #expect(try box.pipeline(["status", run]).stdout.contains("succeeded"))
        JournalSchemaTests.expectTypes(try JournalSchemaTests.checkAll(box), "operator")
    }

    /// `on-no-data: fail` counts a reading without a value as a failed one (Flagger's way).
    @Test func onNoDataFailCountsMissingDataAsAFailure() throws {
        let analysis = "      - { name: error-rate, run: sh next.sh errors, max: 0.05, on-no-data: fail, failure-limit: 2 }"
        let box = try Self.box(Self.canary(analysis: analysis), ["errors": ["down"]])
        defer { box.remove() }
        let summary = box.dir.appendingPathComponent("summary.md").path
        let result = try box.pipeline(["run", "p.yml"], env: Self.virtual.merging(["GITHUB_ACTIONS": "true", "GITHUB_STEP_SUMMARY": summary]) { $1 })
        #expect(result.status == 1)
        // The step summary's measurement rows say why a reading had no value.
        #expect(
            box.read("summary.md").contains("| error-rate | no value: the script exited 7: connection refused | ≤ 0.05 | fail |"), "\(box.read("summary.md"))")
        #expect(try Self.measurements(box, "error-rate").map { $0["verdict"] as? String } == ["fail", "fail"])
        #expect(result.output.contains("error-rate = no value (≤ 0.05): the script exited 7: connection refused"), "\(result.output)")
    }

    /// Per-step settings: `{percent, bake}` holds that step for its own bake; `{pause: true}` stops
    /// the run for a person (exit 4), `resume` continues after it.
    @Test func stepSettingsBakeAndPause() throws {
        let box = try Self.box(
            Self.canary(steps: "[10, {percent: 50, bake: 2m}, {pause: true}, 100]", analysis: "      - { name: e, run: sh next.sh e, max: 1 }"),
            ["e": ["0"]])
        defer { box.remove() }
        let first = try box.pipeline(["run", "p.yml"], env: Self.virtual)
        #expect(first.status == 4, "\(first.stderr)")
        #expect(first.stderr.contains("paused at 50%: step 3 is a pause; continue with 'pipeline promote"), "\(first.stderr)")
        let steps = try Self.measurements(box, "e").map { $0["step"] as? Int ?? 0 }
        #expect(steps == [10, 10, 50, 50, 50, 50], "1m bake at 10 %, 2m at 50 %, a reading every 30 s")
        let resumed = try box.pipeline(["resume"], env: Self.virtual)
        #expect(resumed.status == 0, "\(resumed.stderr)")
        #expect(box.read("traffic.log") == "0\n10\n50\n100\n")
    }

    /// `consecutive-successes: 3` holds a step past its bake until three good readings in a row.
    @Test func consecutiveSuccessesHoldAStepUntilEnoughGoodReadings() throws {
        let analysis = "      - { name: e, run: sh next.sh e, max: 0.05, consecutive-successes: 3, failure-limit: 10 }"
        let box = try Self.box(Self.canary(steps: "[100]", analysis: analysis), ["e": ["0.2", "0.01", "0.2", "0.01", "0.01", "0.01"]])
        defer { box.remove() }
        let result = try box.pipeline(["run", "p.yml"], env: Self.virtual)
        #expect(result.status == 0, "\(result.stderr)")
        #expect(try Self.measurements(box, "e").map { $0["verdict"] as? String } == ["fail", "pass", "fail", "pass", "pass", "pass"])
    }

    static let watchPipeline = """
        version: 1
        name: watched
        stages:
          - { id: api, kind: backend, run: "echo deployed >> ran.log", rollback: "echo undeployed >> ran.log" }
          - id: shift
            kind: canary
            traffic: echo "$PIPELINE_TRAFFIC_PERCENT" >> traffic.log
            steps: [100]
            bake: 30s
            interval: 30s
            analysis:
              - { name: p95, run: sh next.sh p95, max: "baseline * 2" }
          - id: verify
            kind: verify
            smoke: ["true"]
          - id: watch
            kind: watch
            duration: 1h
            interval: 5m
            baseline: shift
            analysis:
              - { name: p95, run: sh next.sh p95, max: "baseline * 2", failure-limit: 2 }
              - { name: errors, run: sh next.sh errors, max: 0.05 }
        """

    /// A watch analyses for its duration without touching traffic, against the canary's baseline;
    /// when it fails, the run rolls back like after any failed stage (the canary's traffic to 0 first).
    @Test func aWatchThatFailsRollsTheRunBack() throws {
        let box = try Self.box(Self.watchPipeline, ["p95": ["0.2", "0.25", "0.3", "0.5", "0.9", "0.9"], "errors": ["0.01"]])
        defer { box.remove() }
        let result = try box.pipeline(["run", "p.yml"], env: Self.virtual)
        #expect(result.status == 1, "\(result.stderr)")
        #expect(result.stderr.contains("watch failed: p95 = 0.9 (≤ 0.4 (baseline * 2)) [2 failed readings in a row]"), "\(result.stderr)")
        let watch = try box.events().filter { $0["type"] as? String == "measurement" && $0["stage"] as? String == "watch" }
        #expect(watch.map { $0["step"] as? Int }.allSatisfy { $0 == 0 })
        // No traffic change by the watch; the rollback sends the canary to 0 %, then undoes the backend.
        #expect(box.read("traffic.log") == "0\n100\n0\n")
        #expect(box.read("ran.log") == "deployed\nundeployed\n")
    }

    @Test func aWatchThatHoldsSucceeds() throws {
        let box = try Self.box(Self.watchPipeline, ["p95": ["0.2"], "errors": ["0.01"]])
        defer { box.remove() }
        let result = try box.pipeline(["run", "p.yml"], env: Self.virtual)
        #expect(result.status == 0, "\(result.stderr)")
        #expect((result.stdout + result.stderr).contains("[watch] watched for 1h: every analysis held"), "\(result.stderr)")
        // Twelve rounds of two metrics in the hour.
        #expect(try box.events().filter { $0["type"] as? String == "measurement" && $0["stage"] as? String == "watch" }.count == 24)
    }
}
