import ArgumentParser
import Foundation

#if canImport(Glibc)
    import Glibc
#endif

/// `--width`: how many terminal cells a command's table or waterfall may take.
struct OutputWidth: ParsableArguments {
    @Option(help: "Output width in terminal cells (40–1000). Default: COLUMNS, else the terminal's width, else 80 (piped).")
    var width: Int?

    /// The width to lay out for: `--width`, then `COLUMNS`, then the terminal's size when stdout is one, then 80.
    func resolve() throws -> Int {
        if let width {
            guard (40...1000).contains(width) else { throw CLIError.input("--width must be between 40 and 1000 cells, got \(width)") }
            return width
        }
        if let text = ProcessInfo.processInfo.environment["COLUMNS"], let n = Int(text), n > 0 { return min(max(n, 40), 1000) }
        if isatty(STDOUT_FILENO) == 1 {
            var size = winsize()
            if ioctl(STDOUT_FILENO, UInt(TIOCGWINSZ), &size) == 0, size.ws_col > 0 { return min(max(Int(size.ws_col), 40), 1000) }
        }
        return 80
    }
}
