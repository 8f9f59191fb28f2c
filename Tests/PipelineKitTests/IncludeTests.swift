import Foundation
import Testing

/// Shared stages: `- include:` of a stage file (`kind: stages`), through the real binary on real files.
@Suite(.timeLimit(.minutes(3))) struct IncludeTests {
    /// A stage file of two stages that record what they ran into the sandbox's ledger.
    static let smoke = """
        version: 1
        kind: stages
        description: Smoke tests of one region
        parameters:
          region:
            description: where to test
          greeting:
            default: hello
        stages:
          - id: health
            outputs: [status]
            env:
              REGION: ${{ parameters.region }}
            run: |
              echo "health $REGION" >> ledger
              echo "status=ok-$REGION" >> "$PIPELINE_OUTPUTS"
          - id: smoke
            env:
              STATUS: ${{ stages.health.outputs.status }}
              GREETING: "${{ parameters.greeting }} from ${{ env.TEAM }}"
            run: echo "smoke $STATUS $GREETING" >> ledger
        """

    @Test func aPipelineRunsTheSameStageFileTwiceWithDifferentParameters() throws {
        let box = try Sandbox(
            """
            version: 1
            name: shop
            env:
              TEAM: checkout
            stages:
              - id: build
                run: echo build >> ledger
              - include: stages/smoke.yml
                prefix: eu
                with:
                  region: eu-west-1
              - include: stages/smoke.yml
                prefix: us
                needs: [build]
                with:
                  region: us-east-1
                  greeting: hi
              - id: done
                needs: [eu-smoke, us-smoke]
                run: echo done >> ledger
            """)
        defer { box.remove() }
        try box.write("stages/smoke.yml", Self.smoke)
        let result = try box.pipeline(["run", "p.yml"])
        #expect(result.status == 0, "\(result.stderr)")
        let ledger = Ledger(box)
        #expect(ledger.lines.first == "build")
        #expect(ledger.lines.last == "done")
        // Each copy read its own parameter values and its own stage's output (the prefix keeps them apart).
        #expect(ledger.contains("health eu-west-1") && ledger.contains("health us-east-1"), "\(ledger.text)")
        #expect(ledger.contains("smoke ok-eu-west-1 hello from checkout"), "\(ledger.text)")
        #expect(ledger.contains("smoke ok-us-east-1 hi from checkout"), "\(ledger.text)")
        // The journal knows the stages by their final ids; the included stages needed 'build' (the entry's needs).
        let finished = try box.events().filter { $0["type"] as? String == "stage_finished" }.compactMap { $0["stage"] as? String }
        #expect(Set(finished) == ["build", "eu-health", "eu-smoke", "us-health", "us-smoke", "done"])
        let order = ledger.lines
        #expect(order.firstIndex(of: "health eu-west-1")! > order.firstIndex(of: "build")!)
        #expect(order.firstIndex(of: "smoke ok-us-east-1 hi from checkout")! > order.firstIndex(of: "health us-east-1")!)

        // The plan says where each included stage came from, in every format that lists details.
        let plan = try box.pipeline(["plan", "p.yml"])
        #expect(plan.status == 0, "\(plan.stderr)")
        #expect(plan.stdout.contains("from:     stages/smoke.yml (included from p.yml:8:5)"), "\(plan.stdout)")
        #expect(plan.stdout.contains("from:     stages/smoke.yml (included from p.yml:12:5)"), "\(plan.stdout)")
        let json = try box.pipeline(["plan", "p.yml", "--format", "json"])
        let object = try #require(try JSONSerialization.jsonObject(with: Data(json.stdout.utf8)) as? [String: Any])
        let stages = try #require(object["stages"] as? [[String: Any]])
        let usSmoke = try #require(stages.first { $0["id"] as? String == "us-smoke" })
        let source = try #require(usSmoke["source"] as? [String: Any])
        #expect(source["file"] as? String == "stages/smoke.yml")
        #expect((source["included_from"] as? [[String: Any]])?.first?["line"] as? Int == 12)
        #expect(stages.first { $0["id"] as? String == "build" }?["source"] == nil)
    }

    @Test func anErrorInAnIncludedFileNamesBothFiles() throws {
        let box = try Sandbox(
            """
            version: 1
            name: shop
            env:
              TEAM: checkout
            stages:
              - id: build
                run: make
              - include: stages/smoke.yml
                with:
                  region: eu
            """)
        defer { box.remove() }
        try box.write("stages/smoke.yml", Self.smoke.replacingOccurrences(of: "    outputs: [status]", with: "    outputs: [status]\n    timout: 5s"))
        for command in [["validate", "p.yml"], ["plan", "p.yml"], ["run", "p.yml"]] {
            let result = try box.pipeline(command)
            #expect(result.status == 2, "\(command): \(result.stderr)")
            #expect(
                result.stderr.contains(
                    "stages/smoke.yml:12:5: error: unknown key 'timout' in stage 'health'; did you mean 'timeout'? (included from p.yml:8:5)"),
                "\(command): \(result.stderr)")
            // The excerpt is the included file's line.
            #expect(result.stderr.contains("\n    timout: 5s\n    ^\n"), "\(result.stderr)")
        }
        let json = try box.pipeline(["validate", "--format", "json", "p.yml"])
        let object = try #require(try JSONSerialization.jsonObject(with: Data(json.stdout.utf8)) as? [String: Any])
        let first = try #require((object["diagnostics"] as? [[String: Any]])?.first)
        #expect(first["file"] as? String == "stages/smoke.yml")
        let site = try #require((first["included_from"] as? [[String: Any]])?.first)
        #expect(site["file"] as? String == "p.yml" && site["line"] as? Int == 8 && site["column"] as? Int == 5)
        #expect(!(first["message"] as? String ?? "").contains("included from"), "JSON keeps the message and the site apart")
        let github = try box.pipeline(["validate", "--format", "github", "p.yml"])
        #expect(github.stderr.hasPrefix("::error file=stages/smoke.yml,line=12,col=5::unknown key 'timout'"), "\(github.stderr)")
        #expect(github.stderr.contains("(included from p.yml:8:5)"))
    }

    @Test func aCycleOfIncludesAndTooDeepIncludesAreLocatedErrors() throws {
        let box = try Sandbox(
            """
            version: 1
            name: loop
            stages:
              - include: a.yml
            """)
        defer { box.remove() }
        try box.write("a.yml", "version: 1\nkind: stages\nstages:\n  - id: a\n    run: 'true'\n  - include: sub/b.yml\n")
        try box.write("sub/b.yml", "version: 1\nkind: stages\nstages:\n  - include: ../a.yml\n")
        let cycle = try box.pipeline(["validate", "p.yml"])
        #expect(cycle.status == 2)
        #expect(
            cycle.stderr.contains("sub/b.yml:4:14: error: include cycle: a.yml -> sub/b.yml -> a.yml (included from a.yml:6:5, from p.yml:4:5)"),
            "\(cycle.stderr)")
        // A pipeline including itself is the shortest cycle (its top level is not a stage file, but the cycle is found first).
        try box.write("self.yml", "version: 1\nname: self\nstages:\n  - include: self.yml\n")
        let selfCycle = try box.pipeline(["validate", "self.yml"])
        #expect(selfCycle.stderr.contains("self.yml:4:14: error: include cycle: self.yml -> self.yml"), "\(selfCycle.stderr)")

        // A chain of ten distinct files stops at the depth limit (8 files), at the entry that goes too deep.
        try box.write("deep.yml", "version: 1\nname: deep\nstages:\n  - include: d1.yml\n")
        for level in 1...10 {
            try box.write("d\(level).yml", "version: 1\nkind: stages\nstages:\n  - id: s\(level)\n    run: 'true'\n  - include: d\(level + 1).yml\n")
        }
        let deep = try box.pipeline(["validate", "deep.yml"])
        #expect(deep.status == 2)
        #expect(deep.stderr.contains("d7.yml:6:14: error: includes nest deeper than 8 files: deep.yml -> d1.yml"), "\(deep.stderr)")
        #expect(deep.stderr.components(separatedBy: ": error: ").count == 2, "one error: \(deep.stderr)")
    }

    /// A path written in a file cannot make `pipeline` wait: a FIFO (or a device) is refused, never opened for a blocking read.
    @Test func anIncludeOfSomethingOtherThanARegularFileIsRefusedWithoutWaiting() throws {
        let box = try Sandbox("version: 1\nname: fifo\nstages:\n  - include: pipe.yml\n  - include: ../../../../../../dev/zero\n")
        defer { box.remove() }
        #expect(mkfifo(box.dir.appendingPathComponent("pipe.yml").path, 0o600) == 0)
        let result = try box.pipeline(["validate", "p.yml"], within: 30)
        #expect(result.status == 2, "\(result.output)")
        #expect(result.output.contains("p.yml:4:14: error: cannot include 'pipe.yml': is not a regular file"), "\(result.output)")
        #expect(result.output.contains("p.yml:5:14: error: cannot include '../../../../../../dev/zero': is not a regular file"), "\(result.output)")
    }

    @Test func aStageFileIsValidatedAloneButNeverRunOrPlanned() throws {
        let box = try Sandbox(Self.smoke, name: "smoke.yml")
        defer { box.remove() }
        let alone = try box.pipeline(["validate", "smoke.yml"])
        #expect(alone.status == 0, "\(alone.stderr)")
        #expect(alone.stderr == "smoke.yml: valid\n")
        // Alone, what only an include can check (env.*, parameters given) is left; the rest is checked.
        try box.write("broken.yml", Self.smoke.replacingOccurrences(of: "${{ stages.health.outputs.status }}", with: "${{ stages.helth.outputs.status }}"))
        let broken = try box.pipeline(["validate", "broken.yml"])
        #expect(broken.status == 2)
        #expect(broken.stderr.contains("broken.yml:19:15: error: '${{ stages.helth.outputs.status }}' names unknown stage 'helth'; did you mean 'health'?"))
        for command in [["plan", "smoke.yml"], ["run", "smoke.yml"]] {
            let refused = try box.pipeline(command)
            #expect(refused.status == 2)
            #expect(refused.stderr.hasPrefix("smoke.yml:2:1: error: this is a stage file ('kind: stages')"), "\(refused.stderr)")
        }
    }

    @Test func lintsHoldAcrossFilesAndAreReportedWhereTheStageIsWritten() throws {
        let box = try Sandbox(
            """
            version: 1
            name: shop
            stages:
              - id: api
                kind: backend
                run: ./deploy-api.sh
                rollback: ./undo-api.sh
              - include: stages/web.yml
                needs: []
              - id: verify
                kind: verify
                needs: [api, web]
                smoke: [./smoke.sh]
            """)
        defer { box.remove() }
        try box.write("stages/web.yml", "version: 1\nkind: stages\nstages:\n  - id: web\n    kind: frontend\n    run: ./deploy-web.sh\n")
        let result = try box.pipeline(["validate", "p.yml"])
        #expect(result.status == 0, "\(result.stderr)")
        #expect(
            result.stderr.contains(
                "stages/web.yml:4:5: warning: frontend 'web' does not need backend 'api': the new UI could call an API that is not deployed yet (included from p.yml:8:5) [frontend-before-backend]"
            ), "\(result.stderr)")
        #expect(result.stderr.contains("stages/web.yml:5:5: warning: frontend 'web' has no 'rollback'"), "\(result.stderr)")
        let strict = try box.pipeline(["validate", "--strict", "p.yml"])
        #expect(strict.status == 2)
        // Given the include 'needs: [api]', the ordering rule holds again.
        try box.write("p.yml", box.read("p.yml").replacingOccurrences(of: "    needs: []\n", with: "    needs: [api]\n"))
        let fixed = try box.pipeline(["validate", "p.yml"])
        #expect(!fixed.stderr.contains("frontend-before-backend"), "\(fixed.stderr)")
    }

    @Test func resumeRefusesARunWhoseIncludedFileChanged() throws {
        let box = try Sandbox(
            """
            version: 1
            name: gated
            env:
              TEAM: t
            stages:
              - include: stages/smoke.yml
                with: {region: eu}
              - id: ship
                gate: {approval: true}
                run: echo ship >> ledger
            """)
        defer { box.remove() }
        try box.write("stages/smoke.yml", Self.smoke)
        let stopped = try box.pipeline(["run", "p.yml"])
        #expect(stopped.status == 4, "stops at the approval: \(stopped.stderr)")
        try box.write("stages/smoke.yml", Self.smoke.replacingOccurrences(of: "default: hello", with: "default: bonjour"))
        let resumed = try box.pipeline(["resume", "--approve", "ship"])
        #expect(resumed.status != 0)
        #expect(resumed.stderr.contains("changed since run"), "\(resumed.stderr)")
        #expect(!Ledger(box).contains("ship"))
    }
}
