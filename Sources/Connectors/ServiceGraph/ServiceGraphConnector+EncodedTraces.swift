import CollectorCore
import OTLP

extension ServiceGraphConnector {
    /// Takes traces in wire form, as the OTLP receiver hands them on: the index already holds each span's IDs,
    /// kind, status and times, and the few attributes the connector reads (peers, database names, dimensions) are
    /// read from the span's bytes, so the request is never decoded. Same pairing as the decoded `consume`.
    public func consume(_ traces: EncodedTraces) async throws {
        var sides: [ServiceGraphSpanSide] = []
        sides.reserveCapacity(traces.spanCount)
        let attributes = self.attributes
        let wantsDimensions = !attributes.dimensionNames.isEmpty
        traces.bytes.withUnsafeBytes { buffer in
            for resource in traces.resources {
                let fromResource = resource.key.withUnsafeBytes { attributes.values(resourceSpansKey: $0) }
                let service: String
                if let range = resource.serviceName {
                    service = String(decoding: UnsafeRawBufferPointer(rebasing: buffer[range]), as: UTF8.self)
                } else {
                    // Not a string (or absent): otelcol takes any value type.
                    var found: String?
                    resource.key.withUnsafeBytes { key in
                        EncodedAttributes.forEachResourceAttribute(inResourceSpansKey: key) { k, v in
                            guard found == nil, let v, Self.isServiceName(key, k) else { return }
                            found = EncodedAttributes.text(key, v)
                        }
                    }
                    guard let found else { continue }
                    service = found
                }
                guard !service.isEmpty else { continue }
                for scope in traces.scopes[resource.scopes] {
                    for span in traces.spans[scope.spans] {
                        guard let (side, messaging) = ServiceGraphSide.of(kind: Int(span.kind)) else { continue }
                        guard span.traceID.count == 16 else { continue }
                        let high = buffer.loadUnaligned(fromByteOffset: span.traceID.lowerBound, as: UInt64.self)
                        let low = buffer.loadUnaligned(fromByteOffset: span.traceID.lowerBound + 8, as: UInt64.self)
                        guard high | low != 0 else { continue }
                        let keySpan: UInt64
                        let id = side == .client ? span.spanID : span.parentSpanID
                        if id.count == 8 {
                            keySpan = buffer.loadUnaligned(fromByteOffset: id.lowerBound, as: UInt64.self)
                            if side == .client && keySpan == 0 { continue }
                        } else if id.isEmpty && side == .server {
                            keySpan = 0
                        } else {
                            continue
                        }
                        var s = ServiceGraphSpanSide(
                            key: ServiceGraphEdgeKey(traceHigh: high, traceLow: low, span: keySpan), side: side, messaging: messaging,
                            service: service, seconds: span.end > span.start ? Double(span.end - span.start) * 1e-9 : 0,
                            failed: span.statusCode == 2, peer: nil, database: nil, dimensions: [])
                        if side == .client || wantsDimensions {
                            let fromSpan = attributes.values(in: buffer, message: span.body, field: 9, onlyDimensions: side == .server)
                            attributes.resolve(into: &s, resource: fromResource, span: fromSpan)
                        }
                        sides.append(s)
                    }
                }
            }
        }
        let now = context.clock.now
        let config = self.config
        let tally = state.withLock { s in Self.pair(sides, now: now, state: &s, config: config) }
        count(tally)
        if config.metricsFlushInterval == .zero { await flush() }
    }

    static func isServiceName(_ buffer: UnsafeRawBufferPointer, _ key: Range<Int>) -> Bool {
        let name: StaticString = "service.name"
        return EncodedAttributes.equals(buffer, key, UnsafeRawBufferPointer(start: name.utf8Start, count: name.utf8CodeUnitCount))
    }
}

extension ServiceGraphSide {
    /// The side a span of OTLP kind `kind` records, and whether it is messaging; nil for kinds that are not part
    /// of a request between services (internal, unspecified).
    static func of(kind: Int) -> (ServiceGraphSide, messaging: Bool)? {
        switch kind {
        case 2: (.server, false)  // SERVER
        case 3: (.client, false)  // CLIENT
        case 4: (.client, true)  // PRODUCER
        case 5: (.server, true)  // CONSUMER
        default: nil
        }
    }
}
