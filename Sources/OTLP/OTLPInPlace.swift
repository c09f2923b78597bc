// In-place traversal of requests. swift-protobuf's message properties have a getter and a setter but no modify
// accessor, so `request.resourceSpans[r].scopeSpans[s].spans[i].name = x` reads the scope's span list (a second
// reference), writes one element (which copies the whole list) and stores it back: every span edited copies its
// scope's list, O(n²) retains per scope. These helpers take each list out, edit it while it is the only reference,
// and put it back, so each list and each edited message is copied at most once.

extension ExportTraceRequest {
    /// Calls `body` on every span in place, with the span's resource and scope.
    public mutating func modifySpans(_ body: (inout Span, Resource, InstrumentationScope) throws -> Void) rethrows {
        try modifyInPlace(&resourceSpans, resource: \.resource, scopes: \.scopeSpans, scope: \.scope, items: \.spans, body)
    }
}

extension ExportLogsRequest {
    /// Calls `body` on every log record in place, with the record's resource and scope.
    public mutating func modifyLogRecords(
        _ body: (inout Opentelemetry_Proto_Logs_V1_LogRecord, Resource, InstrumentationScope) throws -> Void
    ) rethrows {
        try modifyInPlace(&resourceLogs, resource: \.resource, scopes: \.scopeLogs, scope: \.scope, items: \.logRecords, body)
    }
}

extension ExportMetricsRequest {
    /// Calls `body` on every metric in place, with the metric's resource and scope.
    public mutating func modifyMetrics(
        _ body: (inout Opentelemetry_Proto_Metrics_V1_Metric, Resource, InstrumentationScope) throws -> Void
    ) rethrows {
        try modifyInPlace(&resourceMetrics, resource: \.resource, scopes: \.scopeMetrics, scope: \.scope, items: \.metrics, body)
    }
}

/// The walk behind the three: each list is taken out of its parent while it is edited and put back after. Key
/// paths are applied once per resource and scope, never per item.
private func modifyInPlace<R, S, Item>(
    _ list: inout [R], resource: KeyPath<R, Resource>, scopes: WritableKeyPath<R, [S]>,
    scope: KeyPath<S, InstrumentationScope>, items: WritableKeyPath<S, [Item]>,
    _ body: (inout Item, Resource, InstrumentationScope) throws -> Void
) rethrows {
    var resources = list
    list = []
    defer { list = resources }
    for r in resources.indices {
        let res = resources[r][keyPath: resource]
        var scopeList = resources[r][keyPath: scopes]
        resources[r][keyPath: scopes] = []
        defer { resources[r][keyPath: scopes] = scopeList }
        for s in scopeList.indices {
            let sc = scopeList[s][keyPath: scope]
            var itemList = scopeList[s][keyPath: items]
            scopeList[s][keyPath: items] = []
            defer { scopeList[s][keyPath: items] = itemList }
            for i in itemList.indices { try body(&itemList[i], res, sc) }
        }
    }
}

extension Array {
    /// Keeps, in order, the elements for which `keep` returns true; `keep` may edit each element in place.
    /// Elements are moved, not copied, so an array (and elements) held by no one else is edited where it is.
    public mutating func filterInPlace(_ keep: (inout Element) throws -> Bool) rethrows {
        var kept = 0
        for i in indices where try keep(&self[i]) {
            if kept != i { swapAt(kept, i) }
            kept += 1
        }
        removeLast(count - kept)
    }
}
