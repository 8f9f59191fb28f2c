import ArgumentParser
import PipelineSpec

/// `--env NAME` and `--input NAME=VALUE`: which environment of the file, and the values of its inputs.
struct ChoiceArguments: ParsableArguments {
    @Option(
        name: .customLong("env"),
        help: ArgumentHelp(
            "The environment of the file to use: required by run and plan when the file declares 'environments' (validate without it checks each).",
            valueName: "NAME"))
    var environment: String?

    @Option(name: .customLong("input"), help: ArgumentHelp("The value of a declared input (repeatable).", valueName: "NAME=VALUE"))
    var inputs: [String] = []

    /// The `--input` pairs, split at the first `=`.
    func pairs() throws -> [(name: String, value: String)] {
        try inputs.map { text in
            guard let equals = text.firstIndex(of: "="), equals != text.startIndex else {
                throw ValidationError("--input '\(text)': expected NAME=VALUE")
            }
            return (String(text[..<equals]), String(text[text.index(after: equals)...]))
        }
    }

    /// Loader options with these choices.
    func options(strict: Bool = false) throws -> PipelineLoader.Options {
        PipelineLoader.Options(strict: strict, environment: environment, inputs: try pairs())
    }
}
