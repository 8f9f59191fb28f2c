import PipelineSpec
/// The engine's own constants (the pipeline format's defaults live with the model).
enum EngineDefaults {
    /// How long the engine keeps reading a script's output after the script exited, when a process
    /// it started (a daemon in its own session) still holds the pipe; then it stops reading.
    static let outputGraceMs = 2000
    /// Descriptors kept free for the engine itself (journal, lock, signalfd, terminal, native tasks).
    static let reservedDescriptors = 16
    /// Descriptors one running stage needs: its output pipe and its log.
    static let descriptorsPerStage = 3
    /// How often the engine looks for operator requests (`pipeline promote`/`abort`) while a canary or watch runs.
    static let controlPollMs = 500
}
