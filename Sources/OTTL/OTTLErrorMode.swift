import CollectorCore

/// What a component does when a statement or condition fails on an item (otelcol's `error_mode`).
public enum OTTLErrorMode: String, Sendable, CaseIterable {
    /// The whole request fails and the error goes back to the client (otelcol's default).
    case propagate
    /// The failure is logged and processing goes on with the next statement.
    case ignore
    /// As `ignore`, without the log.
    case silent

    /// Reads `error_mode` from `r`, reporting a value that is not one of the three.
    public static func read(_ r: ConfigReader, default value: OTTLErrorMode = .propagate) -> OTTLErrorMode {
        let text = r.string("error_mode", default: value.rawValue)
        guard let mode = OTTLErrorMode(rawValue: text) else {
            r.report("error_mode", "expected one of propagate, ignore, silent; got \"\(text)\"")
            return value
        }
        return mode
    }
}
