// The library as one import, for the CLI's callers (tests, the fuzz target): the spec (read,
// check and render a pipeline file) and the engine (run it, with its journal and state store).
@_exported import PipelineEngine
@_exported import PipelineSpec
