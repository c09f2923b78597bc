import ArgumentParser
import CollectorCore
import Foundation
import OTLP
import SQLiteStore

struct TraceCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "trace",
        abstract: "Show one stored trace.")

    @Argument(help: "The trace ID: 32 hex characters (16 are accepted and zero-padded, as Jaeger does).")
    var traceID: String

    @Option(help: "The SQLite database (opened read-only; safe while a server writes to it).")
    var db: String = "./otelsink-data/traces.db"

    @Flag(help: "Print the trace as OTLP JSON.")
    var json = false

    func run() async throws {
        guard let id = Self.parseTraceID(traceID) else {
            let shown = traceID.prefix(64)
            if traceID.count == 32 || traceID.count == 16, traceID.allSatisfy({ $0 == "0" }) {
                throw ValidationError("invalid trace ID \"\(shown)\": an all-zero trace ID is never valid")
            }
            throw ValidationError("invalid trace ID \"\(shown)\": expected 32 hex characters")
        }
        let reader: TraceReader
        do {
            reader = try TraceReader(path: db)
        } catch {
            fail("cannot open \(db): \(error)")
        }
        guard let trace = try reader.trace(id: id) else {
            fail("trace \(traceID.lowercased()) not found in \(db)")
        }
        if json {
            let bytes = try OTLPJSON.encode(trace)
            FileHandle.standardOutput.write(Data(bytes))
            print()
        } else {
            print(Self.outline(trace), terminator: "")
        }
    }

    private func fail(_ message: String) -> Never {
        FileHandle.standardError.write(Data("otelsink: \(message)\n".utf8))
        Foundation.exit(1)
    }

    static func parseTraceID(_ text: String) -> Data? {
        var hex = text.lowercased()
        guard hex.count == 32 || hex.count == 16, hex.allSatisfy(\.isHexDigit) else { return nil }
        if hex.count == 16 { hex = String(repeating: "0", count: 16) + hex }
        var bytes = Data(capacity: 16)
        var i = hex.startIndex
        while i < hex.endIndex {
            let j = hex.index(i, offsetBy: 2)
            guard let b = UInt8(hex[i..<j], radix: 16) else { return nil }
            bytes.append(b)
            i = j
        }
        guard bytes.contains(where: { $0 != 0 }) else { return nil }
        return bytes
    }

    /// A plain outline: spans indented under their parents, with service, name and duration.
    static func outline(_ trace: ExportTraceRequest) -> String {
        struct Item { var index = 0; var span: Span; var service: String }
        var items: [Item] = []
        for rs in trace.resourceSpans {
            let service = rs.resource.attributes.stringValue("service.name") ?? "unknown_service"
            for ss in rs.scopeSpans { for s in ss.spans { items.append(Item(span: s, service: service)) } }
        }
        items.sort { $0.span.startTimeUnixNano < $1.span.startTimeUnixNano }
        for i in items.indices { items[i].index = i }
        let ids = Set(items.map(\.span.spanID))
        var children: [Data: [Item]] = [:]
        var roots: [Item] = []
        for item in items {
            if item.span.parentSpanID.isEmpty || !ids.contains(item.span.parentSpanID) { roots.append(item) } else {
                children[item.span.parentSpanID, default: []].append(item)
            }
        }
        var out = ""
        var shown = Set<Int>()  // each span once, even when duplicate IDs make the parent links cyclic
        func walk(_ item: Item, depth: Int) {
            guard depth < 200, shown.insert(item.index).inserted else { return }
            let ms = Double(item.span.endTimeUnixNano &- item.span.startTimeUnixNano) / 1e6
            let mark = item.span.status.code == .error ? " [error]" : ""
            out += String(repeating: "  ", count: depth) + "\(item.service): \(item.span.name) \(String(format: "%.3f", ms))ms\(mark)\n"
            for c in children[item.span.spanID] ?? [] { walk(c, depth: depth + 1) }
        }
        roots.forEach { walk($0, depth: 0) }
        return out
    }
}

struct Stats: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Show what a database holds: spans, partitions, size.")

    @Option(help: "The SQLite database (opened read-only).")
    var db: String = "./otelsink-data/traces.db"

    @Flag(help: "Print only the number of stored spans.")
    var spans = false

    func run() async throws {
        let reader: TraceReader
        do { reader = try TraceReader(path: db) } catch {
            FileHandle.standardError.write(Data("otelsink: cannot open \(db): \(error)\n".utf8))
            throw ExitCode(1)
        }
        let count = try reader.spanCount()
        if spans {
            print(count)
            return
        }
        let size = (try? FileManager.default.attributesOfItem(atPath: db)[.size] as? Int) ?? 0
        print("spans: \(count)")
        print("partitions: \(try reader.partitions().count)")
        print("services: \(try reader.services().joined(separator: ", "))")
        print("file bytes: \(size)")
    }
}
