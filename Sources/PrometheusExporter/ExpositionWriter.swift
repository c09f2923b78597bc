/// The exposition formats otelsink writes.
public enum ExpositionFormat: Sendable {
    /// Prometheus text format 0.0.4 (the default).
    case text
    /// OpenMetrics 1.0 text (when the scraper asks for it; carries exemplars).
    case openMetrics

    public var contentType: String {
        switch self {
        case .text: "text/plain; version=0.0.4; charset=utf-8"
        case .openMetrics: "application/openmetrics-text; version=1.0.0; charset=utf-8"
        }
    }

    /// The format to answer a request with `Accept` header `accept`: OpenMetrics when the client lists it (and it is
    /// allowed), text otherwise.
    public static func negotiate(accept: String?, allowOpenMetrics: Bool) -> ExpositionFormat {
        guard allowOpenMetrics, let accept, accept.contains("application/openmetrics-text") else { return .text }
        return .openMetrics
    }
}

/// Writes families in one exposition format into a byte buffer. HELP and TYPE are written once per family, label
/// values are escaped; families are expected to be unique by name (the series store guarantees it).
public struct ExpositionWriter {
    public let format: ExpositionFormat
    public private(set) var bytes: [UInt8] = []

    public init(format: ExpositionFormat, capacity: Int = 1 << 16) {
        self.format = format
        bytes.reserveCapacity(capacity)
    }

    public mutating func write(_ family: ExposedFamily) {
        guard !family.series.isEmpty else { return }
        let familyName = format == .openMetrics ? family.openMetricsName : family.name
        append("# HELP ")
        append(familyName)
        append(" ")
        append(PrometheusLabels.escapeHelp(family.help.isEmpty ? family.name : family.help))
        append("\n# TYPE ")
        append(familyName)
        append(" ")
        append(family.type.rawValue)
        append("\n")
        for s in family.series {
            switch s.value {
            case .number(let v):
                let sampleName = format == .openMetrics && family.type == .counter ? familyName + "_total" : family.name
                sample(sampleName, s.labels, extra: nil, v, s.timestampMillis, exemplar: s.exemplars.first ?? nil)
            case .histogram(let h):
                var cumulative: UInt64 = 0
                let bucket = family.name + "_bucket"
                for (i, bound) in h.bounds.enumerated() {
                    cumulative &+= i < h.counts.count ? h.counts[i] : 0
                    sample(
                        bucket, s.labels, extra: ("le", formatBound(bound)), Double(cumulative), s.timestampMillis,
                        exemplar: i < s.exemplars.count ? s.exemplars[i] : nil)
                }
                sample(
                    bucket, s.labels, extra: ("le", "+Inf"), Double(h.count), s.timestampMillis,
                    exemplar: h.bounds.count < s.exemplars.count ? s.exemplars[h.bounds.count] : nil)
                sample(family.name + "_sum", s.labels, extra: nil, h.sum, s.timestampMillis, exemplar: nil)
                sample(family.name + "_count", s.labels, extra: nil, Double(h.count), s.timestampMillis, exemplar: nil)
            case .summary(let q):
                for (quantile, value) in q.quantiles {
                    sample(family.name, s.labels, extra: ("quantile", formatBound(quantile)), value, s.timestampMillis, exemplar: nil)
                }
                sample(family.name + "_sum", s.labels, extra: nil, q.sum, s.timestampMillis, exemplar: nil)
                sample(family.name + "_count", s.labels, extra: nil, Double(q.count), s.timestampMillis, exemplar: nil)
            }
        }
    }

    /// Ends the exposition (`# EOF` for OpenMetrics).
    public mutating func finish() {
        if format == .openMetrics { append("# EOF\n") }
    }

    private mutating func sample(
        _ name: String, _ labels: String, extra: (String, String)?, _ value: Double, _ timestampMillis: Int64?, exemplar: Exemplar?
    ) {
        append(name)
        if !labels.isEmpty || extra != nil {
            append("{")
            append(labels)
            if let (k, v) = extra {
                if !labels.isEmpty { append(",") }
                append(k)
                append("=\"")
                append(v)
                append("\"")
            }
            append("}")
        }
        append(" ")
        append(formatValue(value))
        if let ts = timestampMillis {
            append(" ")
            if format == .openMetrics {
                append(formatValue(Double(ts) / 1000))
            } else {
                append(String(ts))
            }
        }
        if format == .openMetrics, let e = exemplar {
            append(" # {")
            append(e.labels)
            append("} ")
            append(formatValue(e.value))
            if let t = e.timestamp {
                append(" ")
                append(formatValue(t))
            }
        }
        append("\n")
    }

    private mutating func append(_ s: String) {
        bytes.append(contentsOf: s.utf8)
    }
}

/// A sample value as Prometheus writes it: integers without a fraction, `+Inf`, `-Inf`, `NaN`, otherwise the
/// shortest representation that reads back exactly.
public func formatValue(_ v: Double) -> String {
    if v.isNaN { return "NaN" }
    if v.isInfinite { return v > 0 ? "+Inf" : "-Inf" }
    if v == v.rounded(), abs(v) < 1e15 { return String(Int64(v)) }
    return v.description
}

/// A bucket bound or quantile label value (`0.5`, `1`, `+Inf`).
func formatBound(_ v: Double) -> String { formatValue(v) }
