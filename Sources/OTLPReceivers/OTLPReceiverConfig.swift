import CollectorCore

/// Settings of the `otlp` receiver, in otelcol's shape (`protocols.grpc`, `protocols.http`).
public struct OTLPReceiverConfig: ComponentConfig, Equatable {
    public struct GRPC: Sendable, Equatable {
        public var endpoint = ListenEndpoint(host: "127.0.0.1", port: 4317)
        /// Largest request accepted, after decompression (otelcol's default is 4 MiB).
        public var maxRecvMsgSizeMiB = 4
        /// Concurrent streams per connection.
        public var maxConcurrentStreams = 100
        /// Bytes of requests held in memory at once across all connections (messages as they arrive, then while
        /// their call runs); beyond it calls fail with `UNAVAILABLE` and a retry hint.
        public var maxInFlightBytes = 64 << 20
        /// Connections, deadlines and TLS. `idleTimeout` is `keepalive.server_parameters.max_connection_idle`.
        public var listener = ListenerSettings(maxConnections: 4096, idleTimeout: .seconds(300))
        /// `keepalive`: connection age, server pings, and how often clients may ping.
        public var keepalive = GRPCKeepalive()
        /// `auth.authenticator`: the extension that checks each export's credentials.
        public var auth: ComponentID?
        public init() {}
    }

    public struct HTTP: Sendable, Equatable {
        public var endpoint = ListenEndpoint(host: "127.0.0.1", port: 4318)
        /// Largest body accepted, compressed and after decompression (otelcol's default is 20 MiB).
        public var maxRequestBodySize = 20 << 20
        /// Bytes of request bodies held in memory at once across all connections; beyond it requests get 503.
        public var maxInFlightBytes = 64 << 20
        /// Connections, deadlines (`read_header_timeout`, `idle_timeout`, `write_timeout`) and TLS.
        public var listener = ListenerSettings(maxConnections: 4096)
        /// `auth.authenticator`: the extension that checks each request's credentials.
        public var auth: ComponentID?
        /// `cors`: which web pages may export from the browser; nil: no CORS headers, preflights get 405.
        public var cors: CORSPolicy?
        public init() {}
    }

    public var grpc: GRPC?
    public var http: HTTP?

    public init(grpc: GRPC? = GRPC(), http: HTTP? = HTTP()) {
        self.grpc = grpc
        self.http = http
    }

    public init(reading r: ConfigReader) {
        let protocols = r.child("protocols")
        if protocols.contains("grpc") {
            let g = protocols.child("grpc")
            var grpc = GRPC()
            grpc.endpoint = Self.endpoint(g, default: grpc.endpoint)
            grpc.maxRecvMsgSizeMiB = g.int("max_recv_msg_size_mib", default: grpc.maxRecvMsgSizeMiB, range: 1...1024)
            grpc.maxConcurrentStreams = g.int("max_concurrent_streams", default: grpc.maxConcurrentStreams, range: 1...10_000)
            grpc.maxInFlightBytes = g.int("max_in_flight_bytes", default: grpc.maxInFlightBytes, range: 1 << 20...(1 << 34))
            if grpc.maxInFlightBytes < grpc.maxRecvMsgSizeMiB << 20 {
                g.report(
                    "max_in_flight_bytes",
                    "must be at least max_recv_msg_size_mib (\(grpc.maxRecvMsgSizeMiB << 20) bytes), got \(grpc.maxInFlightBytes)")
            }
            grpc.listener = ListenerSettings.readGRPC(g, defaults: grpc.listener)
            grpc.keepalive = GRPCKeepalive(reading: g.child("keepalive"), listener: &grpc.listener)
            grpc.auth = g.authenticatorReference()
            self.grpc = grpc
        }
        if protocols.contains("http") {
            let h = protocols.child("http")
            var http = HTTP()
            http.endpoint = Self.endpoint(h, default: http.endpoint)
            http.maxRequestBodySize = h.int("max_request_body_size", default: http.maxRequestBodySize, range: 1024...(1 << 30))
            http.maxInFlightBytes = h.int("max_in_flight_bytes", default: http.maxInFlightBytes, range: 1 << 20...(1 << 34))
            if http.maxInFlightBytes < http.maxRequestBodySize {
                h.report("max_in_flight_bytes", "must be at least max_request_body_size (\(http.maxRequestBodySize)), got \(http.maxInFlightBytes)")
            }
            http.listener = ListenerSettings.readHTTP(h, defaults: http.listener)
            http.auth = h.authenticatorReference()
            http.cors = CORSPolicy.read(h)
            self.http = http
        }
        if grpc == nil && http == nil {
            protocols.report(nil, "enable at least one protocol: grpc or http")
        }
        if let g = grpc, let h = http, g.endpoint.port != 0, g.endpoint == h.endpoint {
            protocols.report("http::endpoint", "grpc and http cannot listen on the same endpoint \(g.endpoint)")
        }
    }

    private static func endpoint(_ r: ConfigReader, default value: ListenEndpoint) -> ListenEndpoint {
        let text = r.string("endpoint", default: value.description)
        guard let e = ListenEndpoint(parsing: text) else {
            r.report("endpoint", "expected host:port with an IP address or localhost (e.g. \"localhost:4317\", \"0.0.0.0:4317\"), got \"\(text)\"")
            return value
        }
        return e
    }
}
