import Foundation
import Testing

/// What a reviewer reads about a change: `pipeline diff OLD NEW` and `plan --diff-base REF` list
/// stages added, removed and changed with script line diffs; `--detailed-exitcode` says 0 for no
/// change, 1 for an error and 2 for a change; the Markdown renders on GitHub (cmark-gfm) with every
/// script in full in collapsed blocks.
@Suite(.serialized, .timeLimit(.minutes(3))) struct PlanDiffTests {
    static let old = """
        version: 1
        name: shop
        stages:
          - { id: legacy, kind: command, run: "echo legacy" }
          - id: api
            kind: backend
            timeout: 10m
            run: |
              echo build
              echo deploy v1
            rollback: "echo undo"
          - { id: verify, kind: verify, smoke: ["true"] }
        """
    static let new = """
        version: 1
        name: shop
        stages:
          - id: api
            kind: backend
            timeout: 15m
            run: |
              echo build
              echo deploy v2
            rollback: "echo undo"
          - { id: web, kind: frontend, needs: [api], run: "echo web", rollback: "echo unweb" }
          - { id: verify, kind: verify, needs: [web], smoke: ["true"] }
        """

    @Test func diffListsWhatChangedWithExitCodes() throws {
        let box = try Sandbox(Self.old, name: "old.yml")
        defer { box.remove() }
        try box.write("new.yml", Self.new)
        let changed = try box.pipeline(["diff", "old.yml", "new.yml", "--detailed-exitcode"])
        #expect(changed.status == 2, "\(changed.output)")
        let text = changed.stdout
        #expect(text.hasPrefix("plan changes of 'shop': 2 stages changed, 1 stage added, 1 stage removed\n"), "\(text)")
        #expect(
            text.contains(
                "~ api (backend): needs, timeout, run changed\n    needs: legacy -> (none)\n    timeout: 10m -> 15m\n    run:\n       echo build\n      -echo deploy v1\n      +echo deploy v2\n+ web"
            ),
            "\(text)")
        #expect(text.contains("+ web (frontend): added\n") && text.contains("- legacy (command): removed\n"), "\(text)")
        #expect(text.contains("~ verify (verify): needs changed\n    needs: api -> web\n"), "\(text)")
        #expect(!text.contains("\u{1B}["), "colour on a pipe")

        let same = try box.pipeline(["diff", "new.yml", "new.yml", "--detailed-exitcode"])
        #expect(same.status == 0 && same.stdout == "plan changes of 'shop': no changes\n", "\(same.output)")
        #expect(try box.pipeline(["diff", "old.yml", "new.yml"]).status == 0, "without --detailed-exitcode a change is exit 0")
        try box.write("bad.yml", "version: 1\nname: shop\nstages:\n  - { id: api, kind: backnd, run: 'true' }\n")
        let invalid = try box.pipeline(["diff", "old.yml", "bad.yml", "--detailed-exitcode"])
        #expect(invalid.status == 1 && invalid.stderr.contains("bad.yml:4:"), "\(invalid.output)")
    }

    @Test func planAgainstAGitRefRendersOnGitHub() throws {
        let box = try Sandbox(Self.old)
        defer { box.remove() }
        let git = try box.shell(
            "git init -q && git add p.yml && git -c user.email=t@example.com -c user.name=t commit -qm base && echo ok")
        try #require(git.stdout.contains("ok"), "git: \(git.stderr)")
        try box.write("p.yml", Self.new)
        let plan = try box.pipeline(["plan", "p.yml", "--diff-base", "HEAD", "--format", "markdown", "--detailed-exitcode"])
        #expect(plan.status == 2, "\(plan.output)")
        let markdown = plan.stdout
        #expect(markdown.contains("### Plan changes: `shop`\n\n2 stages changed, 1 stage added, 1 stage removed.\n"), "\(markdown)")
        #expect(
            markdown.contains("<details><summary><code>api</code>: run</summary>\n\n```diff\n echo build\n-echo deploy v1\n+echo deploy v2\n"), "\(markdown)")
        let rendered = try Binary.run(executable: "/usr/bin/env", ["python3", "-c", Self.render], stdin: markdown)
        try #require(rendered.status == 0, "cmarkgfm (scripts/install-deps --test installs it): \(rendered.stderr)")
        // Every script in full, in a code block GitHub highlights; the diff as a diff block.
        #expect(rendered.stdout.contains("<pre lang=\"sh\"><code>echo build\necho deploy v2\n</code></pre>"), "\(rendered.stdout)")
        #expect(rendered.stdout.contains("<pre lang=\"diff\"><code> echo build\n-echo deploy v1\n+echo deploy v2\n</code></pre>"), "\(rendered.stdout)")
        #expect(rendered.stdout.contains("<details><summary><code>api</code> (backend): 2 scripts</summary>"), "\(rendered.stdout)")

        let unchanged = try box.pipeline(["plan", "p.yml", "--diff-base", "HEAD~0", "--detailed-exitcode"])
        #expect(unchanged.status == 2, "the working copy differs from HEAD: \(unchanged.output)")
        let noBase = try box.pipeline(["plan", "p.yml", "--diff-base"])
        #expect(noBase.status == 2 && noBase.stderr.contains("no base to compare with"), "\(noBase.output)")
        let badRef = try box.pipeline(["plan", "p.yml", "--diff-base", "no-such-branch", "--detailed-exitcode"])
        #expect(badRef.status == 1 && badRef.stderr.contains("cannot read p.yml at 'no-such-branch'"), "\(badRef.output)")
    }

    static let render = #"""
        import sys, cmarkgfm
        from cmarkgfm.cmark import Options
        print(cmarkgfm.github_flavored_markdown_to_html(sys.stdin.read(), options=Options.CMARK_OPT_UNSAFE | Options.CMARK_OPT_GITHUB_PRE_LANG))
        """#
}
