import ArgumentParser
import PipelineSpec

struct Schema: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "schema",
        abstract: "Print the JSON Schema (2020-12) of the pipeline format, for editors and CI validators.")

    func run() throws {
        Terminal.out(PipelineSchema.json)
    }
}
