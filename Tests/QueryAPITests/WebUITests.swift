import CollectorCore
import CollectorTesting
import Foundation
import NIOHTTP1
import Testing

@testable import QueryAPI

/// The web UI as the query port serves it: the embedded files, caching, compression, the security headers, the
/// routes, and authentication.
@Suite struct WebUITests {
    static let webuiDirectory = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().appendingPathComponent("webui")

    @Test func theEmbeddedFilesAreWebuisFilesAsTheyAreNow() throws {
        let names = try FileManager.default.contentsOfDirectory(atPath: Self.webuiDirectory.path).sorted()
        #expect(names == WebUI.files.keys.sorted(), "run scripts/embed-webui.sh")
        for name in names {
            let text = try String(contentsOf: Self.webuiDirectory.appendingPathComponent(name), encoding: .utf8)
            #expect(WebUI.files[name] == text, "webui/\(name) changed: run scripts/embed-webui.sh")
        }
    }

    @Test func everyPageRouteAnswersTheIndexWithTheSecurityPolicy() async throws {
        try await withRouter([], now: fixtureNow) { router in
            for path in ["/", "/search?service=a", "/trace/0af7651916cd43dd8448eb211c80319c", "/compare?a=1&b=2", "/map"] {
                let r = await router.handle(method: .GET, uri: path)
                #expect(r.status == .ok, "\(path)")
                #expect(r.contentType == "text/html; charset=utf-8", "\(path)")
                #expect(r.body == Array((WebUI.files["index.html"] ?? "").utf8), "\(path)")
                let csp = r.headers.first { $0.0 == "Content-Security-Policy" }?.1 ?? ""
                #expect(csp.contains("script-src 'self'") && !csp.contains("unsafe-inline"), "\(path)")
                #expect(r.headers.contains { $0 == ("X-Content-Type-Options", "nosniff") })
            }
        }
    }

    @Test func scriptsAndStylesHaveTheirTypesAndAMissingFileIs404() async throws {
        try await withRouter([], now: fixtureNow) { router in
            let js = await router.handle(method: .GET, uri: "/static/app.js")
            #expect(js.status == .ok)
            #expect(js.contentType == "text/javascript; charset=utf-8")
            #expect(js.body == Array((WebUI.files["app.js"] ?? "").utf8))
            let css = await router.handle(method: .GET, uri: "/static/style.css")
            #expect(css.contentType == "text/css; charset=utf-8")
            let icon = await router.handle(method: .GET, uri: "/favicon.ico")
            #expect(icon.contentType == "image/svg+xml")
            let missing = await router.handle(method: .GET, uri: "/static/nothing.js")
            #expect(missing.status == .notFound)
            #expect(String(decoding: missing.body, as: UTF8.self).contains("nothing.js"))
            let traversal = await router.handle(method: .GET, uri: "/static/..%2F..%2Fetc%2Fpasswd")
            #expect(traversal.status == .notFound)
        }
    }

    @Test func aKnownVersionIsAnswered304AndAnotherGetsTheFile() async throws {
        try await withRouter([], now: fixtureNow) { router in
            let first = await router.handle(method: .GET, uri: "/static/trace.js")
            let etag = try #require(first.headers.first { $0.0 == "ETag" }?.1)
            #expect(etag.hasPrefix("\"") && etag.hasSuffix("\""))
            let again = await router.handle(method: .GET, uri: "/static/trace.js", headers: [("If-None-Match", etag)])
            #expect(again.status == .notModified)
            #expect(again.body.isEmpty)
            let listed = await router.handle(method: .GET, uri: "/static/trace.js", headers: [("if-none-match", "\"x\", \(etag)")])
            #expect(listed.status == .notModified)
            let stale = await router.handle(method: .GET, uri: "/static/trace.js", headers: [("If-None-Match", "\"0000000000000000\"")])
            #expect(stale.status == .ok)
            #expect(stale.body == first.body)
        }
    }

    @Test func filesAreGzippedOnlyForAClientThatAcceptsGzip() async throws {
        try await withRouter([], now: fixtureNow) { router in
            let plain = await router.handle(method: .GET, uri: "/static/trace.js")
            #expect(!plain.headers.contains { $0.0 == "Content-Encoding" })
            let gz = await router.handle(method: .GET, uri: "/static/trace.js", headers: [("Accept-Encoding", "deflate, gzip;q=0.8")])
            #expect(gz.headers.contains { $0 == ("Content-Encoding", "gzip") })
            #expect(gz.body.prefix(2) == [0x1f, 0x8b])
            #expect(gz.body.count < plain.body.count / 2)
            let refused = await router.handle(method: .GET, uri: "/static/trace.js", headers: [("Accept-Encoding", "gzip;q=0")])
            #expect(refused.body == plain.body)
        }
    }

    @Test func largeAPIAnswersAreGzippedWhenAskedAndSmallOnesNot() async throws {
        try await withRouter([SampleTrace.checkout()], now: fixtureNow) { router in
            let uri = "/api/traces/0102030405060708090a0b0c0d0e0f10"
            let plain = await router.handle(method: .GET, uri: uri)
            #expect(plain.body.count >= QueryRouter.gzipMinimum)
            let gz = await router.handle(method: .GET, uri: uri, headers: [("Accept-Encoding", "gzip")])
            #expect(gz.headers.contains { $0 == ("Content-Encoding", "gzip") })
            #expect(gz.headers.contains { $0 == ("Vary", "Accept-Encoding") })
            #expect(gz.body.prefix(2) == [0x1f, 0x8b])
            let small = await router.handle(method: .GET, uri: "/health", headers: [("Accept-Encoding", "gzip")])
            #expect(!small.headers.contains { $0.0 == "Content-Encoding" })
        }
    }

    @Test func acceptEncodingIsReadWithItsWeights() {
        #expect(WebUI.acceptsGzip([("Accept-Encoding", "gzip, deflate, br")]))
        #expect(WebUI.acceptsGzip([("accept-encoding", "br;q=1.0, GZIP;q=0.5")]))
        #expect(WebUI.acceptsGzip([("Accept-Encoding", "*")]))
        #expect(!WebUI.acceptsGzip([("Accept-Encoding", "gzip;q=0")]))
        #expect(!WebUI.acceptsGzip([("Accept-Encoding", "identity")]))
        #expect(!WebUI.acceptsGzip([]))
    }

    @Test func theUIsRoutesAreBoundedLabels() {
        #expect(QueryRouter.routeTemplate("/") == "/")
        #expect(QueryRouter.routeTemplate("/trace/abc?span=1") == "/trace/{traceID}")
        #expect(QueryRouter.routeTemplate("/static/app.js") == "/static/{file}")
        #expect(QueryRouter.routeTemplate("/compare?a=1") == "/compare")
        #expect(QueryRouter.routeTemplate("/nothing/here") == "other")
    }

    @Test func theUIsFilesAreOpenAndItsDataNeedsTheAPIsCredentials() async throws {
        try await withRouter([], now: fixtureNow) { open in
            let router = QueryRouter(service: open.service, now: open.now, authenticator: FixedPassword())
            for path in ["/", "/trace/0af7651916cd43dd8448eb211c80319c", "/static/app.js", "/static/tr%61ce.js"] {
                #expect(await router.handle(method: .GET, uri: path).status == .ok, "\(path)")
            }
            // An encoded path is told apart before decoding: no way around the check.
            for path in ["/api/services", "/api/traces/0af7651916cd43dd8448eb211c80319c", "/%61pi/services", "/tr%61ce/x"] {
                let refused = await router.handle(method: .GET, uri: path)
                #expect(refused.status == .unauthorized, "\(path)")
                #expect(refused.headers.contains { $0 == ("WWW-Authenticate", FixedPassword().challenge) })
            }
            // The page's own requests get the challenge where the browser does not act on it.
            let scripted = await router.handle(method: .GET, uri: "/api/services", headers: [("X-Requested-With", "XMLHttpRequest")])
            #expect(scripted.status == .unauthorized)
            #expect(scripted.headers.contains { $0 == ("Otelsink-Authenticate", FixedPassword().challenge) })
            #expect(!scripted.headers.contains { $0.0 == "WWW-Authenticate" })
            let allowed = await router.handle(method: .GET, uri: "/api/services", credentials: "Basic dXNlcjpwYXNz")
            #expect(allowed.status == .ok)
        }
    }
}

/// Accepts `Basic user:pass` only.
private struct FixedPassword: ServerAuthenticator {
    var headerName: String { "authorization" }
    var challenge: String { "Basic realm=\"otelsink\"" }
    func check(_ credentials: String?) -> Bool? { credentials == "Basic dXNlcjpwYXNz" }
}
