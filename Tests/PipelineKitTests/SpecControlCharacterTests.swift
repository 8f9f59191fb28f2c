import Foundation
import Testing

/// F23: no diagnostic rendering for a terminal or a CI log passes a control character from the
/// file through raw; each is shown as `\u{1B}` (docs/format.md, "Diagnostics").
@Suite struct SpecControlCharacterTests {
    /// C0 controls other than tab and newline, DEL, C1 controls, and the bidirectional overrides.
    static func unsafeScalars(_ text: String) -> [String] {
        text.unicodeScalars.filter { s in
            (s.value < 0x20 && s != "\n" && s != "\t") || (0x7F...0x9F).contains(s.value)
                || (0x202A...0x202E).contains(s.value) || (0x2066...0x2069).contains(s.value)
        }.map { "U+" + String($0.value, radix: 16, uppercase: true) }
    }

    @Test("text and github output escape control characters from the file", arguments: ["control-characters", "control-bytes"], ["text", "github"])
    func controlsAreEscaped(_ name: String, _ format: String) throws {
        let result = try Binary.run(["validate", "--format", format, "invalid/\(name).yml"], in: Fixtures.directory)
        #expect(result.status == 2)
        #expect(Self.unsafeScalars(result.stderr).isEmpty, "\(Self.unsafeScalars(result.stderr)) in \(result.stderr)")
        if format == "text" || name == "control-characters" {
            #expect(result.stderr.contains("\\u{1B}"), "\(result.stderr)")
        }
    }

    @Test func theMessageShowsEachControlEscaped() throws {
        let result = try Binary.run(["validate", "invalid/control-characters.yml"], in: Fixtures.directory)
        #expect(result.stderr.contains("unknown key 'k\\u{0}\\u{1B}]0;owned\\u{7}\\u{1B}[2J' in the pipeline"), "\(result.stderr)")
        #expect(result.stderr.contains("unknown stage kind 'back\\u{9B}2J\\u{7F}end\\u{202E}'"), "\(result.stderr)")
    }

    @Test("lint warnings printed by plan escape them too")
    func planWarningsAreEscaped() throws {
        let sandbox = try Sandbox(
            """
            version: 1
            name: controls
            stages:
              - id: "web"
                kind: frontend
                name: "front\\u001b[2Jend"
                run: ./deploy.sh
            """)
        defer { sandbox.remove() }
        let result = try sandbox.pipeline(["plan", "p.yml"])
        #expect(result.status == 0, "\(result.stderr)")
        #expect(Self.unsafeScalars(result.stdout + result.stderr).isEmpty, "\(result.stdout)")
    }
}
