import Synchronization

/// otelsink's own metrics (what `GET /metrics` on `service.telemetry.metrics.address` serves).
///
/// Components get the registry from ``ComponentContext/telemetry`` and ask it for instruments once, when they are
/// built; the instruments are then updated lock-free (counters) or under a short per-instrument lock (histograms).
/// Asking twice for the same name and labels returns the same instrument. Names are final Prometheus names
/// (counters end in `_total`), as otelcol exposes them.
public final class TelemetryRegistry: Sendable {
    private let families = Mutex<[String: TelemetryFamily]>([:])

    public init() {}

    /// The counter `name{labels}`, created on first use.
    public func counter(_ name: String, help: String, labels: TelemetryLabels = [:]) -> TelemetryCounter {
        instrument(name, help: help, type: .counter, labels: labels) { .counter(TelemetryCounter()) }.counter ?? TelemetryCounter()
    }

    /// The histogram `name{labels}` with upper bounds `bounds` (ascending; `+Inf` is implicit), created on first use.
    public func histogram(_ name: String, help: String, bounds: [Double], labels: TelemetryLabels = [:]) -> TelemetryHistogram {
        instrument(name, help: help, type: .histogram, labels: labels) { .histogram(TelemetryHistogram(bounds: bounds)) }.histogram
            ?? TelemetryHistogram(bounds: bounds)
    }

    /// A gauge read when the registry is rendered (queue size, database size, RSS). Replaces an earlier one.
    public func gauge(_ name: String, help: String, labels: TelemetryLabels = [:], read: @escaping @Sendable () -> Double) {
        register(name, help: help, type: .gauge, labels: labels, .observed(read), replace: true)
    }

    /// A counter whose value is read when the registry is rendered (CPU seconds, uptime). Replaces an earlier one.
    public func observedCounter(_ name: String, help: String, labels: TelemetryLabels = [:], read: @escaping @Sendable () -> Double) {
        register(name, help: help, type: .counter, labels: labels, .observed(read), replace: true)
    }

    private func instrument(_ name: String, help: String, type: TelemetryType, labels: TelemetryLabels, make: () -> TelemetryInstrument)
        -> TelemetryInstrument
    {
        families.withLock { f in
            let key = labels.canonical
            if let existing = f[name]?.series[key] { return existing }
            let created = make()
            var family = f[name] ?? TelemetryFamily(name: name, help: help, type: type)
            guard family.type == type else { return created }  // a programming error; the instrument works but is not exposed
            family.series[key] = created
            family.labels[key] = labels
            f[name] = family
            return created
        }
    }

    private func register(
        _ name: String, help: String, type: TelemetryType, labels: TelemetryLabels, _ instrument: TelemetryInstrument, replace: Bool
    ) {
        families.withLock { f in
            var family = f[name] ?? TelemetryFamily(name: name, help: help, type: type)
            guard family.type == type else { return }
            family.series[labels.canonical] = instrument
            family.labels[labels.canonical] = labels
            f[name] = family
        }
    }

    /// Every family with the current value of each series, sorted by name (series by labels).
    public func snapshot() -> [TelemetrySnapshot] {
        let families = self.families.withLock { $0 }
        return families.values.sorted { $0.name < $1.name }.map { family in
            TelemetrySnapshot(
                name: family.name, help: family.help, type: family.type,
                series: family.series.keys.sorted().compactMap { key in
                    guard let instrument = family.series[key], let labels = family.labels[key] else { return nil }
                    return TelemetrySnapshot.Series(labels: labels.sorted, value: instrument.value)
                })
        }
    }
}

/// Label names and values of one series.
public struct TelemetryLabels: Sendable, Hashable, ExpressibleByDictionaryLiteral {
    public var pairs: [String: String]
    public init(dictionaryLiteral elements: (String, String)...) {
        pairs = Dictionary(elements, uniquingKeysWith: { _, last in last })
    }
    public init(_ pairs: [String: String]) { self.pairs = pairs }

    var sorted: [(name: String, value: String)] { pairs.sorted { $0.key < $1.key }.map { ($0.key, $0.value) } }
    var canonical: String { sorted.map { "\($0.name)=\($0.value)" }.joined(separator: "\u{1}") }
}

public enum TelemetryType: String, Sendable {
    case counter, gauge, histogram
}

/// A family and the values of its series at one moment.
public struct TelemetrySnapshot: Sendable {
    public struct Series: Sendable {
        public var labels: [(name: String, value: String)]
        public var value: TelemetryValue
    }
    public var name: String
    public var help: String
    public var type: TelemetryType
    public var series: [Series]
}

/// One series' value: a number, or a histogram's per-bucket (not cumulative) counts, sum and count.
public enum TelemetryValue: Sendable {
    case number(Double)
    case histogram(bounds: [Double], counts: [UInt64], sum: Double, count: UInt64)
}

struct TelemetryFamily: Sendable {
    var name: String
    var help: String
    var type: TelemetryType
    var series: [String: TelemetryInstrument] = [:]
    var labels: [String: TelemetryLabels] = [:]
}

enum TelemetryInstrument: Sendable {
    case counter(TelemetryCounter)
    case histogram(TelemetryHistogram)
    case observed(@Sendable () -> Double)

    var counter: TelemetryCounter? { if case .counter(let c) = self { c } else { nil } }
    var histogram: TelemetryHistogram? { if case .histogram(let h) = self { h } else { nil } }

    var value: TelemetryValue {
        switch self {
        case .counter(let c): .number(Double(c.value))
        case .histogram(let h): h.value
        case .observed(let read): .number(read())
        }
    }
}
