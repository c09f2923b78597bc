// In-place traversal of requests. swift-protobuf's message properties have a getter and a setter but no modify
// accessor, so `request.resourceSpans[r].scopeSpans[s].spans[i].name = x` reads the scope's span list (a second
// reference), writes one element (which copies the whole list) and stores it back: every span edited copies its
// scope's list, O(n²) retains per scope. These helpers take each list out, edit it while it is the only reference,
// and put it back, so each list and each edited message is copied at most once.

extension ExportTraceRequest {
    /// Calls `body` on every span in place, with the span's resource and scope.
    public mutating func modifySpans(_ body: (inout Span, Resource, InstrumentationScope) throws -> Void) rethrows {
        var resources = resourceSpans
        resourceSpans = []
        defer { resourceSpans = resources }
        for r in resources.indices {
            let resource = resources[r].resource
            var scopes = resources[r].scopeSpans
            resources[r].scopeSpans = []
            defer { resources[r].scopeSpans = scopes }
            for s in scopes.indices {
                let scope = scopes[s].scope
                var spans = scopes[s].spans
                scopes[s].spans = []
                defer { scopes[s].spans = spans }
                for i in spans.indices { try body(&spans[i], resource, scope) }
            }
        }
    }
}

extension ExportLogsRequest {
    /// Calls `body` on every log record in place, with the record's resource and scope.
    public mutating func modifyLogRecords(
        _ body: (inout Opentelemetry_Proto_Logs_V1_LogRecord, Resource, InstrumentationScope) throws -> Void
    ) rethrows {
        var resources = resourceLogs
        resourceLogs = []
        defer { resourceLogs = resources }
        for r in resources.indices {
            let resource = resources[r].resource
            var scopes = resources[r].scopeLogs
            resources[r].scopeLogs = []
            defer { resources[r].scopeLogs = scopes }
            for s in scopes.indices {
                let scope = scopes[s].scope
                var records = scopes[s].logRecords
                scopes[s].logRecords = []
                defer { scopes[s].logRecords = records }
                for i in records.indices { try body(&records[i], resource, scope) }
            }
        }
    }
}

extension ExportMetricsRequest {
    /// Calls `body` on every metric in place, with the metric's resource and scope.
    public mutating func modifyMetrics(
        _ body: (inout Opentelemetry_Proto_Metrics_V1_Metric, Resource, InstrumentationScope) throws -> Void
    ) rethrows {
        var resources = resourceMetrics
        resourceMetrics = []
        defer { resourceMetrics = resources }
        for r in resources.indices {
            let resource = resources[r].resource
            var scopes = resources[r].scopeMetrics
            resources[r].scopeMetrics = []
            defer { resources[r].scopeMetrics = scopes }
            for s in scopes.indices {
                let scope = scopes[s].scope
                var metrics = scopes[s].metrics
                scopes[s].metrics = []
                defer { scopes[s].metrics = metrics }
                for i in metrics.indices { try body(&metrics[i], resource, scope) }
            }
        }
    }
}
