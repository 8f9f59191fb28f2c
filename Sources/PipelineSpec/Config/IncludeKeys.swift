/// Keys of a `- include:` entry of a stage list.
public enum IncludeKey: String, CaseIterable, Sendable {
    case include, prefix, with, needs
}

/// Top-level keys of a stage file (`kind: stages`), the file an `include` entry names.
public enum StageFileKey: String, CaseIterable, Sendable {
    case version, kind, description, parameters, stages
}

/// Keys of one declared parameter of a stage file.
public enum ParameterKey: String, CaseIterable, Sendable {
    case description, `default`
}

// The tables that match each enum's keys by their bytes (see ``ConfigKey``).
extension IncludeKey: ConfigKey { package static let table = KeyTable<IncludeKey>() }
extension StageFileKey: ConfigKey { package static let table = KeyTable<StageFileKey>() }
extension ParameterKey: ConfigKey { package static let table = KeyTable<ParameterKey>() }
