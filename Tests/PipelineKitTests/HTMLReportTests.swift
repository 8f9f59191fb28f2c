import Foundation
import Testing

/// `pipeline report RUN --format html`: one self-contained page, rendered by a real browser
/// (headless Chromium, `scripts/install-deps --test` installs it): the failure reason up front,
/// a bar per try in the timeline, and each analysed metric charted with its readings.
@Suite(.serialized, .timeLimit(.minutes(5))) struct HTMLReportTests {
    static func chromium() throws -> String {
        for name in ["chromium", "chromium-browser", "google-chrome"] {
            let found = try Binary.run(executable: "/usr/bin/env", ["sh", "-c", "command -v \(name)"])
            if found.status == 0 { return found.stdout.trimmingCharacters(in: .whitespacesAndNewlines) }
        }
        try #require(Bool(false), "no Chromium (scripts/install-deps --test installs Debian's chromium)")
        return ""
    }

    static func browse(_ args: [String], home: URL) throws -> Binary.Result {
        try Binary.run(
            executable: try chromium(),
            ["--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--no-first-run", "--user-data-dir=\(home.path)/profile"] + args,
            environment: ["HOME": home.path])
    }

    @Test func aFailedCanaryRunReadsInABrowser() throws {
        let server = try ScriptedServer(["/errors": KindTests.values("rate", [0.01, 0.01, 0.01, 0.2, 0.2]), "/latency": KindTests.values("p95", [0.2])])
        defer { server.stop() }
        let box = try Sandbox(KindTests.canary(server.base))
        defer { box.remove() }
        #expect(try box.pipeline(["run", "p.yml"], env: ["PIPELINE_TEST_CLOCK": "virtual"]).status == 1)
        let report = try box.pipeline(["report", "--format", "html", "-o", "report.html"])
        #expect(report.status == 0, "\(report.output)")
        let html = box.read("report.html")
        #expect(html.hasPrefix("<!doctype html>"))
        #expect(!html.contains("http://") || !html.contains("src=\"http"), "the page fetches nothing")
        #expect(!html.contains("<script"), "no script")
        #expect(html.contains("<div class=\"failure\"><strong>Failed:</strong> stage <code>shift</code>"), "\(html.prefix(3000))")

        // The DOM as Chromium built it: the charts' elements are there.
        let page = box.dir.appendingPathComponent("report.html").absoluteString
        let dom = try Self.browse(["--dump-dom", page], home: box.dir)
        #expect(dom.status == 0, "\(dom.stderr.suffix(2000))")
        let bars = dom.stdout.components(separatedBy: "<rect class=\"bar ").count - 1
        #expect(bars >= 3, "a bar per try (api, the canary, api's rollback): \(bars)")
        #expect(dom.stdout.contains("class=\"bar outcome-succeeded phase-rollback\""), "api's rollback")
        #expect(dom.stdout.contains("class=\"bar outcome-failed phase-run\""), "the failed canary try")
        #expect(dom.stdout.components(separatedBy: "<circle class=\"point verdict-fail\"").count - 1 >= 2, "the failed readings")
        #expect(dom.stdout.contains("<circle class=\"point verdict-baseline\""), "the baseline readings")
        #expect(dom.stdout.contains("<line class=\"bound\""), "the error-rate bound")

        // And a picture of it (looked at while writing this test: Fixtures are not compared).
        let shot = box.dir.appendingPathComponent("report.png").path
        let screenshot = try Self.browse(["--window-size=1200,1400", "--screenshot=\(shot)", page], home: box.dir)
        #expect(screenshot.status == 0, "\(screenshot.stderr.suffix(2000))")
        let size = (try? FileManager.default.attributesOfItem(atPath: shot)[.size] as? Int) ?? 0
        #expect(size > 20_000, "the screenshot is \(size) bytes")
        if let keep = ProcessInfo.processInfo.environment["PIPELINE_TEST_KEEP_SCREENSHOT"] { try? FileManager.default.copyItem(atPath: shot, toPath: keep) }
    }
}
