import Foundation
// libFuzzer entry point for every otelsink fuzz target; `OTELSINK_FUZZ_TARGET` picks one (see bench/fuzz/README.md
// and scripts/fuzz.sh, which builds with `-sanitize=fuzzer,address -parse-as-library -D FUZZING`). In an ordinary
// build this file has no top-level code and the executable does nothing.
import FuzzChecks

@_cdecl("LLVMFuzzerTestOneInput")
public func otelsinkFuzzOneInput(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let input = Array(UnsafeBufferPointer(start: data, count: size))
    guard let check = FuzzTarget.selected.check else { return 0 }
    check(input)
    return 0
}

#if FUZZING
    /// libFuzzer's driver, from the fuzzer runtime that `-sanitize=fuzzer` links.
    @_silgen_name("LLVMFuzzerRunDriver")
    func LLVMFuzzerRunDriver(
        _ argc: UnsafeMutablePointer<CInt>,
        _ argv: UnsafeMutablePointer<UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?>,
        _ callback: @convention(c) (UnsafePointer<UInt8>, Int) -> CInt
    ) -> CInt

    /// SwiftPM links an executable's entry point as `<module>_main` (and aliases `main` to it), which
    /// `-parse-as-library` does not emit: this is it, handing the command line to libFuzzer.
    @_cdecl("OtelsinkFuzz_main")
    public func otelsinkFuzzMain(_ argc: CInt, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> CInt {
        var argc = argc
        var argv = argv
        return LLVMFuzzerRunDriver(&argc, &argv) { data, size in otelsinkFuzzOneInput(data, size) }
    }
#endif
