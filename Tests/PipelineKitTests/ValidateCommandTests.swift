import Foundation
import PipelineSpec
import Testing

/// `pipeline validate` on real files: every bad input gets located diagnostics and exit 2.
@Suite(.timeLimit(.minutes(2))) struct ValidateCommandTests {
    static let invalid = Fixtures.names(in: "invalid", ext: "yml")

    @Test("each invalid fixture prints exactly its expected diagnostics and exits 2", arguments: invalid)
    func invalidFixture(_ name: String) throws {
        let result = try Binary.run(["validate", "invalid/\(name).yml"], in: Fixtures.directory)
        #expect(result.status == 2)
        #expect(result.stdout.isEmpty)
        let expectedPath = "invalid/\(name).expected"
        if Fixtures.update { try Fixtures.write(expectedPath, result.stderr) }
        let expected = try #require(Fixtures.read(expectedPath), "missing \(expectedPath): run with PIPELINE_UPDATE_GOLDEN=1 and review it")
        #expect(result.stderr == expected)
        // Every diagnostic line has the shape compilers and CI annotators parse.
        let headlines = result.stderr.split(separator: "\n").filter { $0.hasPrefix("invalid/") }
        #expect(!headlines.isEmpty)
        for line in headlines {
            // Included stage files live in invalid/included/.
            #expect(line.wholeMatch(of: /invalid\/[a-z0-9\/-]+\.yml:[0-9]+:[0-9]+: (error|warning): .+/) != nil, "\(line)")
        }
    }

    @Test func invalidFixturesAreAllListed() {
        #expect(Self.invalid.count >= 25)
        for name in [
            "syntax-error", "duplicate-key", "alias", "billion-laughs", "too-deep", "norway-boolean", "tag",
            "custom-tag", "non-scalar-key", "invalid-utf8", "empty", "not-a-mapping", "unknown-keys",
            "wrong-types", "missing-required", "bad-durations", "bad-ids", "duplicate-stage-ids",
            "unknown-needs", "cycle", "wrong-kind-keys", "bad-references", "include-error", "include-cycle", "include-duplicate-id", "bad-conditions",
        ] {
            #expect(Self.invalid.contains(name), "fixture \(name)")
        }
    }

    @Test func lintWarningsPassButFailUnderStrict() throws {
        let normal = try Binary.run(["validate", "lint/every-rule.yml"], in: Fixtures.directory)
        #expect(normal.status == 0)
        if Fixtures.update { try Fixtures.write("lint/every-rule.expected", normal.stderr) }
        #expect(normal.stderr == Fixtures.read("lint/every-rule.expected"))
        let codes = Set(normal.stderr.matches(of: /\[([a-z0-9-]+)\]$/.anchorsMatchLineEndings()).map { String($0.1) })
        #expect(
            codes == [
                "missing-rollback", "frontend-before-backend", "deploy-before-prepare", "window-in-peak",
                "migrate-without-backup", "irreversible-crossing", "canary-without-analysis", "no-verify", "canary-not-to-100",
            ])

        let strict = try Binary.run(["validate", "--strict", "lint/every-rule.yml"], in: Fixtures.directory)
        #expect(strict.status == 2)
        #expect(strict.stderr.contains("lint/every-rule.yml:25:5: error: canary 'canary' ends at 50%"))
        #expect(!strict.stderr.contains(": warning: "))
    }

    /// A retry delay above its max-delay is capped at run time; the file is told so, at the retry.
    @Test func aRetryDelayAboveItsCapIsAWarning() throws {
        let box = try Sandbox(
            """
            version: 1
            name: capped
            stages:
              - id: api
                kind: command
                run: "true"
                retry: {attempts: 3, delay: 2m}
              - {id: ok, kind: command, run: "true", retry: {attempts: 3, delay: 2m, max-delay: 5m}}
            """)
        defer { box.remove() }
        let result = try box.pipeline(["validate", "p.yml"])
        #expect(result.status == 0, "\(result.output)")
        #expect(
            result.stderr.contains(
                "p.yml:7:5: warning: the retry delay of 'api' (2m) is longer than its max-delay (1m): every retry waits 1m; raise max-delay or shorten delay [retry-delay-capped]"
            ), "\(result.stderr)")
        #expect(!result.stderr.contains("'ok'"), "\(result.stderr)")
    }

    @Test func jsonFormatIsMachineReadable() throws {
        let result = try Binary.run(["validate", "--format", "json", "invalid/unknown-keys.yml"], in: Fixtures.directory)
        #expect(result.status == 2)
        let object = try #require(JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [String: Any])
        #expect(object["errors"] as? Int == 4)
        let first = try #require((object["diagnostics"] as? [[String: Any]])?.first)
        #expect(first["file"] as? String == "invalid/unknown-keys.yml")
        #expect(first["line"] as? Int == 3)
        #expect(first["column"] as? Int == 1)
        #expect(first["severity"] as? String == "error")
        #expect(first["message"] as? String == "unknown key 'descripton' in the pipeline; did you mean 'description'?")
    }

    @Test func githubFormatPrintsWorkflowAnnotations() throws {
        let result = try Binary.run(["validate", "--format", "github", "invalid/unknown-needs.yml", "lint/every-rule.yml"], in: Fixtures.directory)
        #expect(result.status == 2)
        let lines = result.stderr.split(separator: "\n").map(String.init)
        #expect(lines.first == "::error file=invalid/unknown-needs.yml,line=10,col=13::stage 'frontend' needs unknown stage 'backnd'; did you mean 'backend'?")
        #expect(
            lines.contains(
                "::warning file=lint/every-rule.yml,line=25,col=5,title=canary-not-to-100::canary 'canary' ends at 50%25: the new version never takes all traffic; end the steps at 100"
            ))
    }

    @Test func severalFilesAreCheckedTogether() throws {
        let result = try Binary.run(["validate", "invalid/cycle.yml", "invalid/alias.yml"], in: Fixtures.directory)
        #expect(result.status == 2)
        #expect(result.stderr.contains("invalid/cycle.yml:5:5: error: cycle in 'needs': a -> c -> b -> a"))
        #expect(result.stderr.contains("invalid/alias.yml:3:11: error: anchors"))
    }

    @Test func hugeFileIsRefusedBeforeParsing() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("pipeline-huge-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let file = dir.appendingPathComponent("huge.yml")
        var text = "version: 1\nname: huge\ndescription: \""
        text += String(repeating: "x", count: 17 << 20)
        text += "\"\nstages: [{id: a, run: 'true'}]\n"
        try text.write(to: file, atomically: false, encoding: .utf8)
        let result = try Binary.run(["validate", "huge.yml"], in: dir)
        #expect(result.status == 2)
        #expect(result.stderr.hasPrefix("huge.yml:1:1: error: file is 17.0 MiB; the limit is 16.0 MiB\n"))
    }

    @Test func veryDeepNestingStopsAtTheLimit() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("pipeline-deep-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        // 200,000 levels: libyaml alone would take minutes; the reader stops at level 65.
        let text = "version: 1\nname: deep\nstages: " + String(repeating: "[", count: 200_000) + String(repeating: "]", count: 200_000) + "\n"
        try text.write(to: dir.appendingPathComponent("deep.yml"), atomically: false, encoding: .utf8)
        let result = try Binary.run(["validate", "deep.yml"], in: dir)
        #expect(result.status == 2)
        #expect(result.stderr.hasPrefix("deep.yml:3:72: error: nesting is deeper than 64 levels\n"))
    }

    @Test func missingFileIsALocatedError() throws {
        let result = try Binary.run(["validate", "no-such-file.yml"], in: Fixtures.directory)
        #expect(result.status == 2)
        #expect(result.stderr.hasPrefix("no-such-file.yml:1:1: error: cannot read the file: No such file or directory\n"))
    }

    @Test func stringsStayStringsWhereStringsAreExpected() throws {
        let result = try Binary.run(["plan", "--format", "json", "valid/norway.yml"], in: Fixtures.directory)
        #expect(result.status == 0, "\(result.stderr)")
        #expect(result.stdout.contains("\"name\": \"NO\""))
        #expect(result.stdout.contains("\"pipeline\": \"no\""))
    }

    @Test func usageErrorsExit2() throws {
        let result = try Binary.run(["validate", "--format", "xml", "x.yml"], in: Fixtures.directory)
        #expect(result.status == 2)
        #expect(result.stderr.contains("xml"))
    }
}

/// `pipeline validate FILE…` with nothing but file names skips argument-parser (its parse costs
/// more than checking a small file, issue 15); `pipeline validate -- FILE…` is the same command
/// read by argument-parser. Both must print the same bytes and exit the same, on valid, invalid,
/// linted, included and missing files, one or several, with and without colour.
@Suite(.timeLimit(.minutes(3))) struct ValidateFastArgumentsTests {
    static let cases: [[String]] =
        ValidateCommandTests.invalid.map { ["Tests/PipelineKitTests/Fixtures/invalid/\($0).yml"] }
        + Fixtures.names(in: "valid", ext: "yml").map { ["Tests/PipelineKitTests/Fixtures/valid/\($0).yml"] }
        + [
            ["pipelines/demo.yml"], ["pipelines/storefront.yml", "pipelines/regions.yml"], ["pipelines/stages/region.yml"],
            ["Tests/PipelineKitTests/Fixtures/lint/every-rule.yml"],
            ["pipelines/demo.yml", "Tests/PipelineKitTests/Fixtures/invalid/cycle.yml", "no-such-file.yml"],
            ["help"], ["plan"],
        ]

    @Test("validate FILE… prints what argument-parser's reading of it prints", arguments: cases)
    func theFastPathMatchesArgumentParser(_ files: [String]) throws {
        let scratch = try Sandbox("version: 1\nname: unused\nstages:\n  - { id: a, run: 'true' }\n")
        defer { scratch.remove() }
        let log = scratch.dir.appendingPathComponent("fast.log").path
        for colour in [["NO_COLOR": "1"], ["NO_COLOR": "", "CLICOLOR_FORCE": "1"]] {
            let environment = colour.merging(["PIPELINE_TEST_FAST_ARGUMENTS_LOG": log]) { a, _ in a }
            try? FileManager.default.removeItem(atPath: log)
            let fast = try Binary.run(["validate"] + files, environment: environment)
            #expect((try? String(contentsOfFile: log, encoding: .utf8)) == "validate\n", "the fast path was not taken for \(files)")
            try? FileManager.default.removeItem(atPath: log)
            let parsed = try Binary.run(["validate", "--"] + files, environment: environment)
            #expect(!FileManager.default.fileExists(atPath: log), "argument-parser's path took the fast path")
            #expect(fast.status == parsed.status, "\(files)")
            #expect(fast.stdout == parsed.stdout, "\(files)")
            #expect(fast.stderr == parsed.stderr, "\(files)")
            #expect(fast.status == 0 || fast.status == 2)
        }
    }

    @Test func versionAloneSkipsArgumentParserAndPrintsTheSame() throws {
        let scratch = try Sandbox("version: 1\nname: unused\nstages:\n  - { id: a, run: 'true' }\n")
        defer { scratch.remove() }
        let log = scratch.dir.appendingPathComponent("fast.log").path
        let fast = try Binary.run(["--version"], environment: ["PIPELINE_TEST_FAST_ARGUMENTS_LOG": log])
        #expect((try? String(contentsOfFile: log, encoding: .utf8)) == "version\n")
        try? FileManager.default.removeItem(atPath: log)
        // `--version --` is the same request, read by argument-parser.
        let parsed = try Binary.run(["--version", "--"], environment: ["PIPELINE_TEST_FAST_ARGUMENTS_LOG": log])
        #expect(!FileManager.default.fileExists(atPath: log))
        #expect(fast.status == 0 && parsed.status == 0)
        #expect(fast.stdout == parsed.stdout && fast.stdout == PipelineVersion.current + "\n")
        #expect(fast.stderr.isEmpty && parsed.stderr.isEmpty)
    }

    @Test func anOptionOrAnOddNameGoesToArgumentParser() throws {
        let scratch = try Sandbox("version: 1\nname: unused\nstages:\n  - { id: a, run: 'true' }\n")
        defer { scratch.remove() }
        let log = scratch.dir.appendingPathComponent("fast.log").path
        for arguments in [
            ["validate", "pipelines/demo.yml", "--strict"], ["validate", "--format", "json", "pipelines/demo.yml"], ["validate", "-"],
            ["validate", ""], ["validate"], ["validate", "--help"], ["plan", "pipelines/demo.yml"], ["--version", "--"], ["help", "--version"],
        ] {
            _ = try Binary.run(arguments, environment: ["PIPELINE_TEST_FAST_ARGUMENTS_LOG": log])
            #expect(!FileManager.default.fileExists(atPath: log), "\(arguments) took the fast path")
        }
        // argument-parser still reads them: a usage error is still its message, exit 2.
        let missing = try Binary.run(["validate"])
        #expect(missing.status == 2)
        #expect(missing.stderr.contains("Missing expected argument '<files> ...'"))
    }
}
