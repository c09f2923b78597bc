import CollectorCore
import OTLP

/// The OTTL contexts otelsink supports: what a statement's paths refer to and which items it runs once for.
public enum OTTLContext: String, Sendable, CaseIterable {
    case resource, scope, span, spanevent, metric, datapoint, log

    /// The contexts a statement of `signal` may use, from the outermost to the innermost.
    public static func contexts(for signal: Signal) -> [OTTLContext] {
        switch signal {
        case .traces: return [.resource, .scope, .span, .spanevent]
        case .metrics: return [.resource, .scope, .metric, .datapoint]
        case .logs: return [.resource, .scope, .log]
        }
    }

    /// The context a path's first name names (`instrumentation_scope` is the older name of `scope`).
    static func named(_ name: String) -> OTTLContext? {
        name == "instrumentation_scope" ? .scope : OTTLContext(rawValue: name)
    }

    /// The contexts whose fields a statement in this context can reach: itself and the items it sits in.
    var reachable: [OTTLContext] {
        switch self {
        case .resource: return [.resource]
        case .scope: return [.resource, .scope]
        case .span: return [.resource, .scope, .span]
        case .spanevent: return [.resource, .scope, .span, .spanevent]
        case .metric: return [.resource, .scope, .metric]
        case .datapoint: return [.resource, .scope, .metric, .datapoint]
        case .log: return [.resource, .scope, .log]
        }
    }
}

/// The item a statement runs on, with the items it sits in. The walk moves each item in here while its statements
/// run and back after, so edits happen on values nothing else holds. Fields of contexts the walk is not in are
/// left empty.
public struct OTTLTarget {
    public var resource = Resource()
    public var scope = InstrumentationScope()
    public var span = Span()
    public var event = Span.Event()
    public var metric = Metric()
    public var point = OTTLDataPoint.none
    public var log = LogRecord()
    /// The metric's type while its data points are out of it (datapoint context).
    var metricShape = MetricShape()
    /// The span's attributes while ``OTTLWalk`` holds them out of the span (`spanAttributesOut`): statements read
    /// and edit the list here in place. Taking it out once per span is cheaper than taking it out of the span's
    /// storage and putting it back for every statement that touches it (three calls into the generated message).
    var spanAttributes: [KeyValue] = []
    var spanAttributesOut = false

    /// Moves the span's attributes into ``spanAttributes``.
    mutating func takeSpanAttributes() {
        spanAttributes = span.attributes
        span.attributes = []
        spanAttributesOut = true
    }

    /// Moves ``spanAttributes`` back into the span.
    mutating func returnSpanAttributes() {
        var list: [KeyValue] = []
        swap(&list, &spanAttributes)
        span.attributes = list
        spanAttributesOut = false
    }

    public init() {}

    struct MetricShape {
        var type: Int64 = 0
        var temporality: Int64 = 0
        var isMonotonic = false
    }
}

/// A data point of any metric type.
public enum OTTLDataPoint {
    case none
    case number(Opentelemetry_Proto_Metrics_V1_NumberDataPoint)
    case histogram(Opentelemetry_Proto_Metrics_V1_HistogramDataPoint)
    case exponentialHistogram(Opentelemetry_Proto_Metrics_V1_ExponentialHistogramDataPoint)
    case summary(Opentelemetry_Proto_Metrics_V1_SummaryDataPoint)

    var attributes: [KeyValue] {
        switch self {
        case .none: return []
        case .number(let p): return p.attributes
        case .histogram(let p): return p.attributes
        case .exponentialHistogram(let p): return p.attributes
        case .summary(let p): return p.attributes
        }
    }

    /// Edits the point's attributes in place (the point gives up its list first, so the list is not copied).
    mutating func editAttributes(_ body: (inout [KeyValue]) throws -> Void) rethrows {
        switch self {
        case .none:
            var empty: [KeyValue] = []
            try body(&empty)
        case .number(var p):
            self = .none
            var list = p.attributes
            p.attributes = []
            defer {
                p.attributes = list
                self = .number(p)
            }
            try body(&list)
        case .histogram(var p):
            self = .none
            var list = p.attributes
            p.attributes = []
            defer {
                p.attributes = list
                self = .histogram(p)
            }
            try body(&list)
        case .exponentialHistogram(var p):
            self = .none
            var list = p.attributes
            p.attributes = []
            defer {
                p.attributes = list
                self = .exponentialHistogram(p)
            }
            try body(&list)
        case .summary(var p):
            self = .none
            var list = p.attributes
            p.attributes = []
            defer {
                p.attributes = list
                self = .summary(p)
            }
            try body(&list)
        }
    }

    var startTime: UInt64 {
        switch self {
        case .none: return 0
        case .number(let p): return p.startTimeUnixNano
        case .histogram(let p): return p.startTimeUnixNano
        case .exponentialHistogram(let p): return p.startTimeUnixNano
        case .summary(let p): return p.startTimeUnixNano
        }
    }

    var time: UInt64 {
        switch self {
        case .none: return 0
        case .number(let p): return p.timeUnixNano
        case .histogram(let p): return p.timeUnixNano
        case .exponentialHistogram(let p): return p.timeUnixNano
        case .summary(let p): return p.timeUnixNano
        }
    }

    var flags: UInt32 {
        switch self {
        case .none: return 0
        case .number(let p): return p.flags
        case .histogram(let p): return p.flags
        case .exponentialHistogram(let p): return p.flags
        case .summary(let p): return p.flags
        }
    }

    mutating func setStartTime(_ v: UInt64) {
        switch self {
        case .none: break
        case .number(var p):
            self = .none
            p.startTimeUnixNano = v
            self = .number(p)
        case .histogram(var p):
            self = .none
            p.startTimeUnixNano = v
            self = .histogram(p)
        case .exponentialHistogram(var p):
            self = .none
            p.startTimeUnixNano = v
            self = .exponentialHistogram(p)
        case .summary(var p):
            self = .none
            p.startTimeUnixNano = v
            self = .summary(p)
        }
    }

    mutating func setTime(_ v: UInt64) {
        switch self {
        case .none: break
        case .number(var p):
            self = .none
            p.timeUnixNano = v
            self = .number(p)
        case .histogram(var p):
            self = .none
            p.timeUnixNano = v
            self = .histogram(p)
        case .exponentialHistogram(var p):
            self = .none
            p.timeUnixNano = v
            self = .exponentialHistogram(p)
        case .summary(var p):
            self = .none
            p.timeUnixNano = v
            self = .summary(p)
        }
    }

    mutating func setFlags(_ v: UInt32) {
        switch self {
        case .none: break
        case .number(var p):
            self = .none
            p.flags = v
            self = .number(p)
        case .histogram(var p):
            self = .none
            p.flags = v
            self = .histogram(p)
        case .exponentialHistogram(var p):
            self = .none
            p.flags = v
            self = .exponentialHistogram(p)
        case .summary(var p):
            self = .none
            p.flags = v
            self = .summary(p)
        }
    }
}
