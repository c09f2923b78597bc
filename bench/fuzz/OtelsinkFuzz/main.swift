// libFuzzer entry point for every otelsink fuzz target; `OTELSINK_FUZZ_TARGET` picks one (see bench/fuzz/README.md
// and scripts/fuzz.sh). Built with `-sanitize=fuzzer,address -parse-as-library`, libFuzzer supplies `main`; in an
// ordinary build this file has no top-level code and the executable does nothing.
import FuzzChecks
import Foundation

@_cdecl("LLVMFuzzerTestOneInput")
public func otelsinkFuzzOneInput(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let input = Array(UnsafeBufferPointer(start: data, count: size))
    guard let check = FuzzTarget.selected.check else { return 0 }
    check(input)
    return 0
}
