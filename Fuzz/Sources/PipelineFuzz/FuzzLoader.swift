import PipelineKit

/// libFuzzer's entry point: the input is a pipeline file. It goes through everything a user's
/// file goes through before anything runs, in each environment it declares: the YAML reader,
/// the substitution of inputs and environments, the decoder, the graph and
/// reference checks and the lint, then every rendering of the result (the diagnostics in each
/// format, or the plan in each format and the dry run). Any crash, hang or sanitizer report
/// is a finding; errors in the file are expected and ignored.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzLoader(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    let bytes = data.map { Array(UnsafeBufferPointer(start: $0, count: size)) } ?? []
    let path = "fuzz.yml"
    do {
        // Once per environment the file declares, as `validate` does: every static substitution is read.
        for loaded in try PipelineLoader.loadEach(bytes: bytes, path: path) {
            for format in PlanRenderer.Format.allCases { _ = PlanRenderer(loaded).render(format) }
            _ = PlanRenderer(loaded).dryRun()
            _ = DiagnosticRenderer(sources: [path: bytes]).render(loaded.warnings, format: .text)
        }
    } catch {
        let renderer = DiagnosticRenderer(sources: [path: bytes])
        for format in DiagnosticRenderer.Format.allCases { _ = renderer.render(error.diagnostics, format: format) }
    }
    return 0
}

/// libFuzzer's driver, in the runtime that -sanitize=fuzzer links.
@_silgen_name("LLVMFuzzerRunDriver")
func LLVMFuzzerRunDriver(
    _ argc: UnsafeMutablePointer<CInt>,
    _ argv: UnsafeMutablePointer<UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?>,
    _ callback: @convention(c) (UnsafePointer<UInt8>?, Int) -> CInt
) -> CInt

/// The program's entry point. The module is built with -parse-as-library (there is no
/// top-level code), and SwiftPM links an executable's `main` to `<Module>_main`, so this is
/// `main`: it hands the command line to libFuzzer's driver.
@_cdecl("PipelineFuzz_main")
public func fuzzMain(_ argc: CInt, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> CInt {
    var count = argc
    var arguments = argv
    return LLVMFuzzerRunDriver(&count, &arguments, fuzzLoader)
}
