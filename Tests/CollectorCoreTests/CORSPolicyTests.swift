import CollectorCore
import NIOHTTP1
import Testing

@testable import OTLPReceivers

@Suite("OTLP/HTTP receiver cors")
struct CORSPolicyTests {
    func head(_ method: HTTPMethod, _ headers: [(String, String)]) -> HTTPRequestHead {
        HTTPRequestHead(version: .http1_1, method: method, uri: "/v1/traces", headers: HTTPHeaders(headers))
    }

    func value(_ name: String, _ headers: [(String, String)]) -> String? {
        headers.first { $0.0.lowercased() == name.lowercased() }?.1
    }

    @Test func originWildcardsStandForAnyRunOfCharacters() {
        let p = CORSPolicy(allowedOrigins: ["https://*.example.com", "http://localhost:*", "https://exact.org"])
        #expect(p.allows(origin: "https://app.example.com"))
        #expect(p.allows(origin: "https://a.b.example.com"))
        #expect(p.allows(origin: "HTTPS://APP.EXAMPLE.COM"))
        #expect(!p.allows(origin: "https://example.com"))
        #expect(!p.allows(origin: "https://app.example.com.evil.net"))
        #expect(p.allows(origin: "http://localhost:3000"))
        #expect(p.allows(origin: "https://exact.org"))
        #expect(!p.allows(origin: "https://exact.org.evil"))
        #expect(!p.allows(origin: ""))
        #expect(CORSPolicy(allowedOrigins: ["*"]).allows(origin: "null"))
        #expect(!CORSPolicy(allowedOrigins: ["*"]).allows(origin: "https://" + String(repeating: "a", count: 2000)))
        #expect(CORSPolicy.matches("abcXdefXghi", pattern: "abc*def*ghi"))
        #expect(!CORSPolicy.matches("abcghi", pattern: "abc*def*ghi"))
        #expect(CORSPolicy.matches("ab", pattern: "a*b"))
        #expect(!CORSPolicy.matches("a", pattern: "a*a"))
    }

    @Test func anAllowedPreflightGetsEveryHeaderABrowserNeeds() {
        let p = CORSPolicy(allowedOrigins: ["https://*.example.com"], maxAge: 7200)
        let r = p.preflightResponse(
            head(
                .OPTIONS,
                [
                    ("Origin", "https://shop.example.com"), ("Access-Control-Request-Method", "post"),
                    ("Access-Control-Request-Headers", "content-type, accept"),
                ]))
        #expect(r.status == .noContent)
        #expect(value("Access-Control-Allow-Origin", r.headers) == "https://shop.example.com")
        #expect(value("Access-Control-Allow-Methods", r.headers) == "POST")
        #expect(value("Access-Control-Allow-Headers", r.headers) == "content-type, accept")
        #expect(value("Access-Control-Allow-Credentials", r.headers) == "true")
        #expect(value("Access-Control-Max-Age", r.headers) == "7200")
        #expect(value("Vary", r.headers)?.contains("Origin") == true)
    }

    @Test func aPreflightThatIsNotAllowedGetsNoCORSHeaders() {
        let p = CORSPolicy(allowedOrigins: ["https://good.example"])
        let cases: [[(String, String)]] = [
            [("Origin", "https://evil.example"), ("Access-Control-Request-Method", "POST")],
            [("Origin", "https://good.example"), ("Access-Control-Request-Method", "DELETE")],
            [("Origin", "https://good.example"), ("Access-Control-Request-Method", "POST"), ("Access-Control-Request-Headers", "x-secret")],
        ]
        for headers in cases {
            let r = p.preflightResponse(head(.OPTIONS, headers))
            #expect(r.status == .noContent)
            #expect(value("Access-Control-Allow-Origin", r.headers) == nil, "\(headers)")
        }
    }

    @Test func listedHeadersAndTheStarWidenWhatIsAllowed() {
        let listed = CORSPolicy(allowedOrigins: ["*"], allowedHeaders: ["X-Tenant"])
        let ask = head(
            .OPTIONS,
            [("Origin", "https://a.b"), ("Access-Control-Request-Method", "POST"), ("Access-Control-Request-Headers", "x-tenant,content-type")])
        #expect(value("Access-Control-Allow-Origin", listed.preflightResponse(ask).headers) == "https://a.b")
        let xrw = head(
            .OPTIONS, [("Origin", "https://a.b"), ("Access-Control-Request-Method", "POST"), ("Access-Control-Request-Headers", "x-requested-with")])
        #expect(value("Access-Control-Allow-Origin", listed.preflightResponse(xrw).headers) == nil)
        #expect(value("Access-Control-Allow-Origin", CORSPolicy(allowedOrigins: ["*"]).preflightResponse(xrw).headers) == "https://a.b")
        let any = CORSPolicy(allowedOrigins: ["*"], allowedHeaders: ["*"])
        let odd = head(
            .OPTIONS, [("Origin", "https://a.b"), ("Access-Control-Request-Method", "POST"), ("Access-Control-Request-Headers", "x-anything")])
        #expect(value("Access-Control-Allow-Headers", any.preflightResponse(odd).headers) == "x-anything")
    }

    @Test func actualRequestsFromAnAllowedOriginAreMarkedReadable() {
        let p = CORSPolicy(allowedOrigins: ["https://app.example"], exposedHeaders: ["Retry-After"])
        let ok = p.responseHeaders(head(.POST, [("Origin", "https://app.example")]))
        #expect(value("Access-Control-Allow-Origin", ok) == "https://app.example")
        #expect(value("Access-Control-Expose-Headers", ok) == "Retry-After")
        #expect(value("Vary", ok) == "Origin")
        let other = p.responseHeaders(head(.POST, [("Origin", "https://other.example")]))
        #expect(value("Access-Control-Allow-Origin", other) == nil)
        #expect(value("Access-Control-Allow-Origin", p.responseHeaders(head(.POST, []))) == nil)
    }

    @Test func configKeysAreOtelcolsAndAnEmptyOriginListIsReported() throws {
        func yaml(_ cors: String) -> String {
            """
            receivers:
              otlp:
                protocols:
                  http:
                    endpoint: 127.0.0.1:0
                    cors:
            \(cors.split(separator: "\n").map { "          " + $0 }.joined(separator: "\n"))
            exporters:
              debug:
            service:
              pipelines:
                traces:
                  receivers: [otlp]
                  exporters: [debug]
            """
        }
        #expect(
            loadProblemTexts(
                yaml("allowed_origins: [\"https://*.example.com\"]\nallowed_headers: [X-Tenant]\nexposed_headers: [Retry-After]\nmax_age: 7200"))
                == [])
        #expect(
            loadProblemTexts(yaml("max_age: 10")).contains {
                $0.hasPrefix("receivers::otlp::protocols::http::cors::allowed_origins: list at least one origin")
            })
        #expect(
            loadProblemTexts(yaml("allowed_origins: [\"*\"]\nallow_credentials: true")) == [
                "receivers::otlp::protocols::http::cors::allow_credentials: unknown key"
            ])
    }
}
