/// The three kinds of telemetry a pipeline carries.
public enum Signal: String, Sendable, CaseIterable, Comparable, CustomStringConvertible {
    case traces
    case metrics
    case logs

    public var description: String { rawValue }

    public static func < (a: Signal, b: Signal) -> Bool {
        a.order < b.order
    }

    private var order: Int {
        switch self {
        case .traces: 0
        case .metrics: 1
        case .logs: 2
        }
    }
}
