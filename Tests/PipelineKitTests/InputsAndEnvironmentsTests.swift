import Foundation
import Testing

/// `inputs:` and `environments:` through the real binary: values of every type reach typed
/// fields and scripts, and every wrong choice is one located error before anything runs.
@Suite(.timeLimit(.minutes(3))) struct InputsAndEnvironmentsTests {
    static let file = """
        version: 1
        name: typed
        inputs:
          tag:
            description: what to deploy
            required: true
          attempts:
            type: number
            default: 2
          rerunnable:
            type: boolean
            default: "false"
          limit:
            type: duration
            default: 30s
          label:
            default: plain
        release: ${{ inputs.tag }}
        environments:
          staging:
            env:
              URL: http://staging.example
            vars:
              steps: [50, 100]
          production:
            env:
              URL: http://production.example
            vars:
              steps: [10, 50, 100]
            inputs:
              limit: 2m
              label: careful
        stages:
          - id: deploy
            kind: backend
            retry: ${{ inputs.attempts }}
            idempotent: ${{ inputs.rerunnable }}
            timeout: ${{ inputs.limit }}
            env:
              TAG: ${{ inputs.tag }}
              WHERE: ${{ environment.name }} at ${{ environment.env.URL }}
              LABEL: ${{ inputs.label }}
            run: printf '%s|%s|%s|%s|%s|%s\\n' "$TAG" "$WHERE" "$LABEL" "$URL" "$PIPELINE_ENVIRONMENT" "$PIPELINE_RELEASE" > seen.txt
            rollback: "true"
          - id: canary
            kind: canary
            steps: ${{ environment.vars.steps }}
            bake: 0s
            interval: 1s
            traffic: "true"
            rollback: "true"
        """

    static func plan(_ box: Sandbox, _ args: [String]) throws -> [String: Any] {
        let result = try box.pipeline(["plan", "p.yml", "--format", "json"] + args)
        #expect(result.status == 0, "\(result.stderr)")
        return try #require(JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [String: Any])
    }

    static func stage(_ plan: [String: Any], _ id: String) -> [String: Any] {
        (plan["stages"] as? [[String: Any]] ?? []).first { $0["id"] as? String == id } ?? [:]
    }

    @Test func everyTypeReachesTheTypedFieldThatReadsIt() throws {
        let box = try Sandbox(Self.file)
        defer { box.remove() }
        let staging = try Self.plan(
            box, ["--env", "staging", "--input", "tag=v1", "--input", "attempts=3", "--input", "rerunnable=true", "--input", "limit=90s"])
        let deploy = Self.stage(staging, "deploy")
        #expect((deploy["retry"] as? [String: Any])?["attempts"] as? Int == 3)
        #expect(deploy["idempotent"] as? Bool == true)
        #expect(deploy["timeout_ms"] as? Int == 90_000)
        #expect((Self.stage(staging, "canary")["summary"] as? String ?? "").contains("50% → 100%"))

        // Defaults, then the environment's own values.
        let production = try Self.plan(box, ["--env", "production", "--input", "tag=v1"])
        #expect((Self.stage(production, "deploy")["retry"] as? [String: Any])?["attempts"] as? Int == 2)
        #expect(Self.stage(production, "deploy")["idempotent"] as? Bool == false)
        #expect(Self.stage(production, "deploy")["timeout_ms"] as? Int == 120_000)
        #expect((Self.stage(production, "canary")["summary"] as? String ?? "").contains("10% → 50% → 100%"))
        // --input wins over the environment.
        let flagged = try Self.plan(box, ["--env", "production", "--input", "tag=v1", "--input", "limit=5m"])
        #expect(Self.stage(flagged, "deploy")["timeout_ms"] as? Int == 300_000)
    }

    @Test func valuesReachScriptsThroughEnvNeverThroughShellText() throws {
        let box = try Sandbox(Self.file)
        defer { box.remove() }
        let run = try box.pipeline(["run", "p.yml", "--env", "production", "--input", "tag=$(touch pwned)"])
        #expect(run.status == 0, "\(run.stderr)")
        #expect(
            box.read("seen.txt") == "$(touch pwned)|production at http://production.example|careful|http://production.example|production|$(touch pwned)\n")
        #expect(!FileManager.default.fileExists(atPath: box.dir.appendingPathComponent("pwned").path))
    }

    struct Refusal: Sendable, CustomStringConvertible {
        var args: [String]
        var first: String
        var description: String { args.joined(separator: " ") }
    }

    static let refusals: [Refusal] = [
        Refusal(
            args: ["plan", "--env", "staging"],
            first: "p.yml:4:3: error: input 'tag' is required: give it with --input tag=VALUE or in the environment's 'inputs'"),
        Refusal(
            args: ["plan", "--env", "staging", "--input", "tag=v1", "--input", "attempts=many"],
            first: "p.yml:7:3: error: --input attempts=many: input 'attempts' is a number; 'many' is not a number"),
        Refusal(
            args: ["plan", "--env", "staging", "--input", "tag=v1", "--input", "rerunnable=yes"],
            first: "p.yml:10:3: error: --input rerunnable=yes: input 'rerunnable' is a boolean; 'yes' is not a boolean; write 'true' or 'false'"),
        Refusal(
            args: ["plan", "--env", "staging", "--input", "tag=v1", "--input", "limit=10"],
            first: "p.yml:13:3: error: --input limit=10: input 'limit' is a duration; '10' is not a duration; add a unit: '10s'"),
        Refusal(
            args: ["plan", "--env", "staging", "--input", "tag=v1", "--input", "atempts=3"],
            first:
                "p.yml:3:1: error: --input 'atempts': no input 'atempts' is declared; declared: 'attempts', 'label', 'limit', 'rerunnable', 'tag'; did you mean 'attempts'?"
        ),
        Refusal(
            args: ["run", "--input", "tag=v1"],
            first: "p.yml:19:1: error: this file declares environments 'production', 'staging': choose one with --env NAME"),
        Refusal(
            args: ["plan", "--env", "stagin", "--input", "tag=v1"],
            first: "p.yml:19:1: error: --env 'stagin': no environment 'stagin' is declared; declared: 'production', 'staging'; did you mean 'staging'?"),
        Refusal(
            args: ["validate", "--input", "tag=${{ secrets.X }}"],
            first: "p.yml:4:3: error: --input 'tag': a value cannot hold '${{ … }}'; it is used as written"),
    ]

    @Test("a wrong choice is one located error and exit 2, and nothing runs", arguments: refusals)
    func refused(_ refusal: Refusal) throws {
        let box = try Sandbox(Self.file)
        defer { box.remove() }
        var args = refusal.args
        args.insert("p.yml", at: 1)
        let result = try box.pipeline(args)
        #expect(result.status == 2)
        #expect(result.stderr.split(separator: "\n").first.map(String.init) == refusal.first)
        #expect(box.runs.isEmpty)
    }

    @Test func envOnAFileWithoutEnvironmentsIsRefused() throws {
        let box = try Sandbox("version: 1\nname: plain\nstages:\n  - id: a\n    run: \"true\"\n")
        defer { box.remove() }
        let result = try box.pipeline(["run", "p.yml", "--env", "production"])
        #expect(result.status == 2)
        #expect(result.stderr.hasPrefix("p.yml:1:1: error: --env 'production': this file declares no 'environments'\n"))
    }

    @Test func aStringInputIsNotABooleanAndTheErrorNamesTheReference() throws {
        let box = try Sandbox(
            """
            version: 1
            name: strict
            inputs:
              flag: {default: "true"}
            stages:
              - id: a
                idempotent: ${{ inputs.flag }}
                run: "true"
            """)
        defer { box.remove() }
        let result = try box.pipeline(["validate", "p.yml"])
        #expect(result.status == 2)
        #expect(
            result.stderr.hasPrefix(
                "p.yml:7:17: error: 'idempotent' of stage 'a': expected 'true' or 'false', found a string (the value of '${{ inputs.flag }}')\n"))
    }

    @Test func validateWithoutEnvChecksEveryEnvironmentAndNamesWhereAProblemIs() throws {
        let box = try Sandbox(
            """
            version: 1
            name: each
            environments:
              staging:
                vars: {bake: 1m}
              production:
                vars: {bake: 5}
            stages:
              - id: a
                kind: canary
                steps: [100]
                bake: ${{ environment.vars.bake }}
                traffic: "true"
                rollback: "true"
            """)
        defer { box.remove() }
        let all = try box.pipeline(["validate", "p.yml"])
        #expect(all.status == 2)
        #expect(
            all.stderr.contains(
                "p.yml:12:11: error: 'bake' of stage 'a': '5' is not a duration; add a unit: '5s' (the value of '${{ environment.vars.bake }}') (in environment 'production')\n"
            ))
        // The lint ran where the file is valid; it is not said to hold in staging only.
        #expect(all.stderr.contains("any metric able to stop it [canary-without-analysis]"))
        let staging = try box.pipeline(["validate", "p.yml", "--env", "staging"])
        #expect(!staging.stderr.contains("error:"), "\(staging.stderr)")
    }

    @Test func everyLintHoldsInEachEnvironment() throws {
        let box = try Sandbox(
            """
            version: 1
            name: lint
            environments:
              staging: {vars: {steps: [50, 100]}}
              production: {vars: {steps: [10, 50]}}
            stages:
              - {id: api, kind: backend, run: "true", rollback: "true"}
              - id: canary
                kind: canary
                steps: ${{ environment.vars.steps }}
                traffic: "true"
                rollback: "true"
                analysis: [{name: errors, run: echo 0, max: 1}]
              - {id: verify, kind: verify, smoke: ["true"]}
            """)
        defer { box.remove() }
        let all = try box.pipeline(["validate", "--strict", "p.yml"])
        #expect(all.status == 2)
        #expect(all.stderr.contains("ends at 50%"), "\(all.stderr)")
        #expect(all.stderr.contains("(in environment 'production')"), "\(all.stderr)")
        #expect(try box.pipeline(["validate", "--strict", "p.yml", "--env", "staging"]).status == 0)
    }
}
