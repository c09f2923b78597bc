extension EncodedTraces {
    /// A request holding only the spans for which `keep(index)` is true (indexes into ``spans``), each under its
    /// resource and scope as in this request, as protobuf bytes; resources and scopes left without spans are
    /// omitted. Nothing is decoded: the span, resource and scope encodings are copied as received.
    public func subset(keeping keep: (Int) -> Bool) -> (bytes: [UInt8], spanCount: Int) {
        var out: [UInt8] = []
        var kept = 0
        bytes.withUnsafeBytes { buffer in
            for resource in resources {
                var resourceBody = resource.key
                var resourceHasSpans = false
                for scopeIndex in resource.scopes {
                    let scope = scopes[scopeIndex]
                    var scopeBody = scope.key
                    var scopeHasSpans = false
                    for spanIndex in scope.spans where keep(spanIndex) {
                        let body = spans[spanIndex].body
                        ProtobufWire.appendLengthDelimited(field: 2, length: body.count, to: &scopeBody)
                        scopeBody.append(contentsOf: UnsafeRawBufferPointer(rebasing: buffer[body]))
                        scopeHasSpans = true
                        kept += 1
                    }
                    guard scopeHasSpans else { continue }
                    ProtobufWire.appendLengthDelimited(field: 2, length: scopeBody.count, to: &resourceBody)
                    resourceBody.append(contentsOf: scopeBody)
                    resourceHasSpans = true
                }
                guard resourceHasSpans else { continue }
                ProtobufWire.appendLengthDelimited(field: 1, length: resourceBody.count, to: &out)
                out.append(contentsOf: resourceBody)
            }
        }
        return (out, kept)
    }
}

/// Writing protobuf wire framing by hand (for requests assembled from encoded parts).
public enum ProtobufWire {
    public static func appendVarint(_ value: UInt64, to out: inout [UInt8]) {
        var v = value
        while v >= 0x80 {
            out.append(UInt8(truncatingIfNeeded: v) | 0x80)
            v >>= 7
        }
        out.append(UInt8(v))
    }

    /// The tag of a length-delimited field and the length; the caller appends the bytes.
    public static func appendLengthDelimited(field: Int, length: Int, to out: inout [UInt8]) {
        appendVarint(UInt64(field) << 3 | 2, to: &out)
        appendVarint(UInt64(length), to: &out)
    }
}
