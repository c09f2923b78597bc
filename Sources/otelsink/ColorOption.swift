import ArgumentParser
import Foundation
import QueryAPI

/// How to colour terminal output.
enum ColorMode: String, ExpressibleByArgument, CaseIterable {
    case auto, always, never

    /// `auto`: colours when stdout is a terminal and `NO_COLOR` is not set.
    var enabled: Bool {
        switch self {
        case .always: true
        case .never: false
        case .auto: isatty(STDOUT_FILENO) == 1 && ProcessInfo.processInfo.environment["NO_COLOR"] == nil
        }
    }
}

/// `--color auto|always|never`, for the commands that print tables and lists.
struct ColorOption: ParsableArguments {
    @Option(help: "Colours: auto (when writing to a terminal and NO_COLOR is unset), always, never.")
    var color: ColorMode = .auto

    var style: TerminalStyle { TerminalStyle(enabled: color.enabled) }
}
