import Dispatch
import Foundation
import NIOHTTP1
import QueryAPI
import SQLiteStore

extension FuzzChecks {
    /// The query API router over an empty store: any request target gets an answer (never a crash), and the answer
    /// is JSON whenever the router says so.
    public static func queryTarget(_ input: [UInt8]) {
        let uri = String(decoding: input, as: UTF8.self)
        let router = QueryRouterForFuzzing.shared
        let done = DispatchSemaphore(value: 0)
        nonisolated(unsafe) var response: QueryResponse?
        Task {
            response = await router.handle(method: .GET, uri: uri)
            done.signal()
        }
        done.wait()
        guard let response else { fail("no response", input) }
        if response.contentType == "application/json", !response.body.isEmpty,
            (try? JSONSerialization.jsonObject(with: Data(response.body))) == nil
        {
            fail("a JSON answer that does not parse (status \(response.status.code))", input)
        }
    }
}

/// One router over an empty temporary database, made once per process.
enum QueryRouterForFuzzing {
    static let shared: QueryRouter = {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("otelsink-fuzz-\(getpid())")
        try? FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        let path = dir.appendingPathComponent("traces.db").path
        do {
            let store = try SQLiteTraceStore(config: SQLiteStoreConfig(path: path))
            return QueryRouter(service: TraceQueryService(reader: TraceReader(store: store)))
        } catch {
            FileHandle.standardError.write(Data("cannot open \(path): \(error)\n".utf8))
            abort()
        }
    }()
}
