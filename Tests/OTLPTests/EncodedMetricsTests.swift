import CollectorTesting
import Foundation
import SwiftProtobuf
import Testing

@testable import OTLP

@Suite("EncodedMetrics: indexing metrics requests in their wire form")
struct EncodedMetricsTests {
    typealias NumberPoint = Opentelemetry_Proto_Metrics_V1_NumberDataPoint
    typealias HistogramPoint = Opentelemetry_Proto_Metrics_V1_HistogramDataPoint
    typealias Metric = Opentelemetry_Proto_Metrics_V1_Metric

    /// Every part of the index against the decoded request, over requests with every data kind.
    @Test func indexAgreesWithTheDecodedRequestFieldByField() throws {
        var g = SplitMix64(seed: 7)
        for _ in 0..<300 {
            let request = RandomMetricsRequests.request(&g)
            let encoded = try #require(EncodedMetrics(indexing: try request.serializedBytes()))
            try expectAgreement(encoded, request)
        }
    }

    func expectAgreement(_ encoded: EncodedMetrics, _ request: ExportMetricsRequest) throws {
        #expect(encoded.dataPointCount == request.dataPointCount)
        #expect(encoded.resources.count == request.resourceMetrics.count)
        for (r, rm) in request.resourceMetrics.enumerated() {
            let re = encoded.resources[r]
            #expect(try (re.resource.map { try encoded.message($0, as: Resource.self) } ?? Resource()) == rm.resource)
            #expect(encoded.string(re.schemaURL) == rm.schemaURL)
            #expect(re.scopes.count == rm.scopeMetrics.count)
            for (s, sm) in rm.scopeMetrics.enumerated() {
                let se = encoded.scopes[re.scopes.lowerBound + s]
                #expect(try (se.scope.map { try encoded.message($0, as: InstrumentationScope.self) } ?? InstrumentationScope()) == sm.scope)
                #expect(encoded.string(se.schemaURL) == sm.schemaURL)
                #expect(se.metrics.count == sm.metrics.count)
                for (i, metric) in sm.metrics.enumerated() {
                    try expectAgreement(encoded, encoded.metrics[se.metrics.lowerBound + i], metric)
                }
            }
        }
    }

    func expectAgreement(_ encoded: EncodedMetrics, _ m: EncodedMetrics.MetricEntry, _ metric: Metric) throws {
        #expect(try encoded.message(m.body, as: Metric.self) == metric)
        #expect(encoded.string(m.name) == metric.name)
        #expect(encoded.string(m.unit) == metric.unit)
        #expect(encoded.string(m.description) == metric.description_p)
        let points = Array(encoded.points[m.points])
        switch metric.data {
        case .gauge(let x)?:
            #expect(m.kind == .gauge)
            try expectNumberPoints(encoded, points, x.dataPoints)
        case .sum(let x)?:
            #expect(m.kind == .sum && m.isMonotonic == x.isMonotonic && Int(m.temporality) == x.aggregationTemporality.rawValue)
            try expectNumberPoints(encoded, points, x.dataPoints)
        case .histogram(let x)?:
            #expect(m.kind == .histogram && Int(m.temporality) == x.aggregationTemporality.rawValue)
            #expect(points.count == x.dataPoints.count)
            for (e, p) in zip(points, x.dataPoints) {
                #expect(try encoded.message(e.body, as: HistogramPoint.self) == p)
                #expect(try encoded.attributes(of: e) == p.attributes)
                #expect(e.start == p.startTimeUnixNano && e.time == p.timeUnixNano && e.flags == p.flags && e.count == p.count)
                #expect(e.sum == (p.hasSum ? p.sum : nil))
                #expect(encoded.doubles(e.explicitBounds) == p.explicitBounds)
                #expect(encoded.fixed64s(e.bucketCounts) == p.bucketCounts)
                #expect(e.hasExemplars == !p.exemplars.isEmpty)
            }
        case .exponentialHistogram(let x)?:
            #expect(m.kind == .exponentialHistogram && Int(m.temporality) == x.aggregationTemporality.rawValue)
            #expect(points.count == x.dataPoints.count)
            for (e, p) in zip(points, x.dataPoints) {
                #expect(try encoded.message(e.body, as: Opentelemetry_Proto_Metrics_V1_ExponentialHistogramDataPoint.self) == p)
                #expect(try encoded.attributes(of: e) == p.attributes)
            }
        case .summary(let x)?:
            #expect(m.kind == .summary)
            #expect(points.count == x.dataPoints.count)
            for (e, p) in zip(points, x.dataPoints) {
                #expect(try encoded.message(e.body, as: Opentelemetry_Proto_Metrics_V1_SummaryDataPoint.self) == p)
                #expect(try encoded.attributes(of: e) == p.attributes)
            }
        case nil:
            #expect(m.kind == .none && points.isEmpty)
        }
    }

    func expectNumberPoints(_ encoded: EncodedMetrics, _ entries: [EncodedMetrics.PointEntry], _ points: [NumberPoint]) throws {
        #expect(entries.count == points.count)
        for (e, p) in zip(entries, points) {
            #expect(try encoded.message(e.body, as: NumberPoint.self) == p)
            #expect(try encoded.attributes(of: e) == p.attributes)
            #expect(e.start == p.startTimeUnixNano && e.time == p.timeUnixNano && e.flags == p.flags)
            let value: Double =
                switch p.value {
                case .asDouble(let d)?: d
                case .asInt(let i)?: Double(i)
                case nil: 0
                }
            #expect(e.value == value)
            #expect(e.hasExemplars == !p.exemplars.isEmpty)
        }
    }

    /// Equal attribute bytes are what the exporter's label cache keys on: the same attributes give the same bytes
    /// whatever the point kind, and different attributes different bytes.
    @Test func attributeBytesIdentifyTheAttributes() throws {
        let attrs = [
            KeyValue.with {
                $0.key = "a"
                $0.value = .string("1")
            },
            KeyValue.with {
                $0.key = "b"
                $0.value = .string("2")
            },
        ]
        var gauge = Metric()
        gauge.gauge.dataPoints = [
            NumberPoint.with { $0.attributes = attrs }, NumberPoint.with { $0.attributes = Array(attrs.prefix(1)) }, NumberPoint(),
        ]
        var request = ExportMetricsRequest()
        request.resourceMetrics = [.with { $0.scopeMetrics = [.with { $0.metrics = [gauge] }] }]
        let encoded = try #require(EncodedMetrics(indexing: try request.serializedBytes()))
        let p = encoded.points
        #expect(p.count == 3)
        #expect(!encoded.bytesEqual(p[0].attributes, p[1].attributes))
        #expect(p[2].attributes.isEmpty)
        #expect(try encoded.attributes(of: p[2]).isEmpty)
        #expect(try encoded.attributes(of: p[0]) == attrs)
    }

    @Test func anEmptyRequestIndexesToNothing() throws {
        let encoded = try #require(EncodedMetrics(indexing: []))
        #expect(encoded.resources.isEmpty && encoded.dataPointCount == 0)
    }

    /// Encodings swift-protobuf reads with merge or last-one-wins rules, or that the index does not take apart
    /// (unpacked repeated scalars, attributes split by other fields), are left to swift-protobuf; it still reads
    /// them, so the receiver's fallback path takes them.
    @Test func unusualEncodingsAreLeftToSwiftProtobuf() throws {
        func wrapPoint(_ point: [UInt8], histogram: Bool) -> [UInt8] {
            let data = field(1, point)  // data_points
            let metric = field(1, Array("m".utf8)) + field(histogram ? 9 : 5, data)
            return field(1, field(2, field(2, metric)))  // request → ResourceMetrics.scope_metrics → ScopeMetrics.metrics
        }
        let attribute = field(1, Array("k".utf8)) + field(2, field(1, Array("v".utf8)))
        var cases: [(String, [UInt8])] = []
        // explicit_bounds (7) as one unpacked double, wire type 1.
        cases.append(("unpacked bounds", wrapPoint([7 << 3 | 1] + [UInt8](repeating: 0, count: 8), histogram: true)))
        // time_unix_nano twice.
        let time: [UInt8] = [3 << 3 | 1] + [UInt8](repeating: 1, count: 8)
        cases.append(("a singular field twice", wrapPoint(time + time, histogram: false)))
        // as_double and as_int both set.
        cases.append(
            (
                "a oneof set twice",
                wrapPoint([4 << 3 | 1] + [UInt8](repeating: 0, count: 8) + [6 << 3 | 1] + [UInt8](repeating: 0, count: 8), histogram: false)
            ))
        // attributes (7), then time, then attributes again.
        cases.append(("attributes split by another field", wrapPoint(field(7, attribute) + time + field(7, attribute), histogram: false)))
        // The metric's data set twice (a gauge, then a sum).
        let twice = field(1, field(2, field(2, field(1, Array("m".utf8)) + field(5, []) + field(7, []))))
        cases.append(("the data oneof twice", twice))
        for (name, bytes) in cases {
            #expect(EncodedMetrics(indexing: bytes) == nil, "\(name)")
            #expect((try? ExportMetricsRequest(serializedBytes: bytes)) != nil, "\(name)")
        }
        // Packed bounds whose length is not a multiple of 8: left to swift-protobuf, which refuses them.
        let ragged = wrapPoint(field(7, [UInt8](repeating: 0, count: 12)), histogram: true)
        #expect(EncodedMetrics(indexing: ragged) == nil)
        #expect((try? ExportMetricsRequest(serializedBytes: ragged)) == nil)
    }

    @Test func invalidUTF8IsLeftToSwiftProtobuf() throws {
        var request = ExportMetricsRequest()
        var metric = Metric()
        metric.name = "NAME"
        metric.gauge.dataPoints = [
            NumberPoint.with {
                $0.attributes = [
                    .with {
                        $0.key = "KEY"
                        $0.value = .string("x")
                    }
                ]
            }
        ]
        request.resourceMetrics = [.with { $0.scopeMetrics = [.with { $0.metrics = [metric] }] }]
        let good: [UInt8] = try request.serializedBytes()
        #expect(EncodedMetrics(indexing: good) != nil)
        for marker in ["NAME", "KEY"] {
            var bad = good
            let at = try #require(bad.firstRange(of: Array(marker.utf8)))
            bad[at.lowerBound] = 0xFF
            #expect(EncodedMetrics(indexing: bad) == nil, "\(marker)")
            #expect((try? ExportMetricsRequest(serializedBytes: bad)) == nil, "\(marker)")
        }
    }

    @Test func nestingBeyondTheDecoderLimitIsLeftToSwiftProtobuf() throws {
        var value = AnyValue.string("leaf")
        for _ in 0..<120 {
            var outer = AnyValue()
            outer.arrayValue.values = [value]
            value = outer
        }
        var metric = Metric()
        metric.gauge.dataPoints = [
            NumberPoint.with {
                $0.attributes = [
                    KeyValue.with {
                        $0.key = "deep"
                        $0.value = value
                    }
                ]
            }
        ]
        var request = ExportMetricsRequest()
        request.resourceMetrics = [.with { $0.scopeMetrics = [.with { $0.metrics = [metric] }] }]
        #expect(EncodedMetrics(indexing: try request.serializedBytes()) == nil)
    }

    /// Whatever indexing accepts, swift-protobuf accepts too, and the index agrees with what it decodes:
    /// truncations and random byte flips never make the fast path take something the decoder would refuse.
    @Test func whateverIsIndexedDecodesToTheSameRequest() throws {
        var g = SplitMix64(seed: 11)
        var indexed = 0
        var mutatedAndIndexed = 0
        for round in 0..<60 {
            let bytes: [UInt8] = try RandomMetricsRequests.request(&g).serializedBytes()
            guard !bytes.isEmpty else { continue }
            var cases: [[UInt8]] = round % 10 == 0 ? stride(from: 0, to: bytes.count, by: 7).map { Array(bytes.prefix($0)) } : []
            for _ in 0..<60 {
                var mutated = bytes
                for _ in 0..<(1 + g.below(3)) { mutated[g.below(mutated.count)] = UInt8(truncatingIfNeeded: g.next()) }
                cases.append(mutated)
            }
            for input in cases {
                guard let encoded = EncodedMetrics(indexing: input) else { continue }
                indexed += 1
                if input != bytes { mutatedAndIndexed += 1 }
                let decoded = try ExportMetricsRequest(serializedBytes: input)
                try expectAgreement(encoded, decoded)
            }
        }
        #expect(indexed > 100)
        #expect(mutatedAndIndexed > 50)
    }
}

/// `EncodedMetrics` (with `OTLPCommonWire`) tied to the generated schema, as `EncodedTracesSchemaTests` ties the
/// trace index: the fields ``SchemaFields/metrics`` lists are what the generated code accepts, and the index reads
/// each, refuses it with another wire type, and leaves the encodings it does not read to swift-protobuf.
@Suite struct EncodedMetricsSchemaTests {
    @Test func theListedFieldsAreTheGeneratedSchemas() {
        for m in SchemaFields.metrics {
            let accepted = SchemaFields.accepted(by: m.type)
            #expect(
                accepted == m.fields.union(m.decodedBySwiftProtobuf),
                "\(m.name): the schema's fields \(accepted.sorted { $0.lexicographicallyPrecedes($1) })")
        }
    }

    @Test func everyFieldOfEveryMetricsMessageIsReadAndAWrongWireTypeIsNotSkipped() throws {
        for m in SchemaFields.metrics {
            for number in Set(m.fields.map { $0[0] }) {
                for wireType in SchemaFields.wireTypes {
                    let bytes = m.inRequest(SchemaFields.single(number, wireType))
                    let indexed = EncodedMetrics(indexing: bytes) != nil
                    if m.fields.contains([number, wireType]) {
                        #expect(indexed, "\(m.name) field \(number) (wire type \(wireType)): not read")
                    } else {
                        #expect(!indexed, "\(m.name) field \(number) with wire type \(wireType): skipped as if unknown")
                    }
                    if m.decodedBySwiftProtobuf.contains([number, wireType]) {
                        // Left to swift-protobuf, which reads it.
                        #expect((try? ExportMetricsRequest(serializedBytes: bytes)) != nil, "\(m.name) field \(number)")
                    }
                }
            }
        }
    }
}
