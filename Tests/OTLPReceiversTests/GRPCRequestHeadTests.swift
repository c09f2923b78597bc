import NIOHPACK
import Testing

@testable import OTLPReceivers

/// The request header check that replaces swift-nio-http2's header-block validation on the gRPC listener: what it
/// reads from a well-formed block, and each rule of RFC 9113 §8.2–8.3 it holds a block to.
@Suite struct GRPCRequestHeadTests {
    static let good: [(String, String)] = [
        (":method", "POST"), (":scheme", "http"), (":path", "/opentelemetry.proto.collector.trace.v1.TraceService/Export"),
        (":authority", "localhost:4317"), ("content-type", "application/grpc"), ("te", "trailers"),
        ("grpc-encoding", "gzip"), ("user-agent", "grpc-python/1.70 grpc-c/45.0.0 (linux; chttp2)"), ("authorization", "Bearer x"),
    ]

    @Test func aWellFormedRequestIsReadInOnePass() throws {
        let head = try GRPCRequestHead(HPACKHeaders(Self.good), credentialsHeader: "authorization")
        #expect(head.method == "POST")
        #expect(head.path == "/opentelemetry.proto.collector.trace.v1.TraceService/Export")
        #expect(head.contentType == "application/grpc")
        #expect(head.encoding == "gzip")
        #expect(head.credentials == "Bearer x")
        // Without a credentials header asked for, none is read; the first of repeated fields is the one kept.
        let repeated = try GRPCRequestHead(HPACKHeaders(Self.good + [("content-type", "text/plain")]))
        #expect(repeated.credentials == nil && repeated.contentType == "application/grpc")
        // CONNECT carries :method and :authority only.
        #expect(throws: Never.self) { try GRPCRequestHead(HPACKHeaders([(":method", "CONNECT"), (":authority", "h:1")])) }
    }

    static let malformed: [(String, [(String, String)])] = [
        ("uppercase field name", good + [("X-Custom", "1")]),
        ("empty field name", good + [("", "1")]),
        ("space in a field name", good + [("x custom", "1")]),
        (
            "pseudo-header field after a regular one",
            [(":method", "POST"), ("content-type", "application/grpc"), (":scheme", "http"), (":path", "/")]
        ),
        ("pseudo-header field twice", [(":method", "POST")] + good),
        ("response pseudo-header field", [(":status", "200")] + good),
        ("unknown pseudo-header field", [(":protocol", "websocket")] + good),
        ("no :path", good.filter { $0.0 != ":path" }),
        ("no :scheme", good.filter { $0.0 != ":scheme" }),
        ("no :method", good.filter { $0.0 != ":method" }),
        ("empty :path", good.map { $0.0 == ":path" ? (":path", "") : $0 }),
        ("space in :path", good.map { $0.0 == ":path" ? (":path", "/a b") : $0 }),
        ("control character in :authority", good.map { $0.0 == ":authority" ? (":authority", "h\u{1}") : $0 }),
        ("CONNECT with :path", [(":method", "CONNECT"), (":authority", "h:1"), (":path", "/")]),
        ("connection", good + [("connection", "keep-alive")]),
        ("keep-alive", good + [("keep-alive", "5")]),
        ("transfer-encoding", good + [("transfer-encoding", "chunked")]),
        ("proxy-connection", good + [("proxy-connection", "x")]),
        ("upgrade", good + [("upgrade", "h2c")]),
        ("te other than trailers", good.map { $0.0 == "te" ? ("te", "gzip") : $0 }),
        ("CR in a value", good + [("x-a", "1\r2")]),
        ("LF in a value", good + [("x-a", "1\n2")]),
        ("NUL in a value", good + [("x-a", "1\u{0}2")]),
    ]

    @Test(arguments: malformed.indices)
    func aMalformedRequestBlockIsRefused(_ index: Int) {
        let (what, fields) = Self.malformed[index]
        #expect(throws: GRPCRequestHead.Malformed.self, "\(what)") { try GRPCRequestHead(HPACKHeaders(fields)) }
    }

    @Test func trailersCarryRegularFieldsOnly() {
        #expect(throws: Never.self) { try GRPCRequestHead.checkTrailers(HPACKHeaders([("x-checksum", "abc"), ("grpc-status", "0")])) }
        for bad in [[(":path", "/")], [("X-A", "1")], [("connection", "close")], [("x-a", "1\r\n2")]] {
            #expect(throws: GRPCRequestHead.Malformed.self, "\(bad)") { try GRPCRequestHead.checkTrailers(HPACKHeaders(bad)) }
        }
    }

    /// Values may hold spaces, tabs and bytes beyond ASCII (RFC 9110 §5.5); only NUL, CR and LF are refused.
    @Test func regularValuesMayHoldSpacesTabsAndUTF8() throws {
        let head = try GRPCRequestHead(HPACKHeaders(Self.good + [("x-note", " a\tb é ")]))
        #expect(head.method == "POST")
    }
}
