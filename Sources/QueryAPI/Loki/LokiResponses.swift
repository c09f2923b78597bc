/// Loki's JSON answers (docs/sources/reference/loki-http-api.md; field order as Loki's encoder writes them in
/// pkg/util/marshal/query.go). Labels are written sorted by name. Errors are not JSON in Loki: the HTTP layer
/// answers 400 with `text/plain; charset=utf-8` and ``LogQLError/description`` as the body.
public enum LokiResponse {
    /// `/query_range` with a log query: `{"status":"success","data":{"resultType":"streams","result":[…],"stats":…}}`.
    /// Each value is `["<ns>","<line>"]`; with `categorizeLabels` (the request's `X-Loki-Response-Encoding-Flags:
    /// categorize-labels`) `["<ns>","<line>",{"structuredMetadata":{…}}]` and `encodingFlags` in `data`.
    public static func streams(_ streams: [LokiStream], statistics: LokiQueryStatistics, categorizeLabels: Bool = false) -> JSON {
        let result: [JSON] = streams.map { stream in
            .object([
                ("stream", labelObject(stream.labels)),
                (
                    "values",
                    .array(
                        stream.entries.map { e in
                            var value: [JSON] = [.string(String(e.timestampNanos)), .string(e.line)]
                            if categorizeLabels {
                                value.append(.object(e.structuredMetadata.isEmpty ? [] : [("structuredMetadata", labelObject(e.structuredMetadata))]))
                            }
                            return .array(value)
                        })
                ),
            ])
        }
        return success(
            resultType: "streams", result: result, statistics: statistics,
            encodingFlags: categorizeLabels ? ["categorize-labels"] : [])
    }

    /// `/query_range` with a metric query: `{"metric":{…},"values":[[<seconds>,"<value>"],…]}` per series.
    public static func matrix(_ series: [LogQLSeries], statistics: LokiQueryStatistics) -> JSON {
        let result: [JSON] = series.map { s in
            .object([
                ("metric", labelObject(s.labels)),
                (
                    "values",
                    .array(
                        s.points.map {
                            .array([PrometheusNumberText.seconds(fromNanos: $0.timestampNanos), .string(PrometheusNumberText.value($0.value))])
                        })
                ),
            ])
        }
        return success(resultType: "matrix", result: result, statistics: statistics)
    }

    /// `/query` with a metric query: `{"metric":{…},"value":[<seconds>,"<value>"]}` per series.
    public static func vector(_ samples: [LogQLSample], statistics: LokiQueryStatistics) -> JSON {
        let result: [JSON] = samples.map { s in
            .object([
                ("metric", labelObject(s.labels)),
                ("value", .array([PrometheusNumberText.seconds(fromNanos: s.timestampNanos), .string(PrometheusNumberText.value(s.value))])),
            ])
        }
        return success(resultType: "vector", result: result, statistics: statistics)
    }

    /// `/labels` and `/label/{name}/values`: `{"status":"success","data":["a","b"]}`, sorted and without duplicates
    /// (Loki sorts both).
    public static func strings(_ values: [String]) -> JSON {
        let sorted = Set(values).sorted { $0.utf8.lexicographicallyPrecedes($1.utf8) }
        return .object([("status", .string("success")), ("data", .array(sorted.map(JSON.string)))])
    }

    /// `/series`: `{"status":"success","data":[{"label":"value",…},…]}`, one object per label set, in the order given.
    public static func series(_ labelSets: [[String: String]]) -> JSON {
        .object([("status", .string("success")), ("data", .array(labelSets.map(labelObject)))])
    }

    /// The `stats` object: Loki's `summary` (pkg/logqlmodel/stats/stats.proto, in its field order).
    public static func statistics(_ s: LokiQueryStatistics) -> JSON {
        func perSecond(_ total: Int64) -> JSON {
            guard s.execTimeSeconds > 0 else { return .int(0) }
            let rate = (Double(total) / s.execTimeSeconds).rounded(.towardZero)
            return .int(Int64(exactly: rate) ?? 0)
        }
        return .object([
            (
                "summary",
                .object([
                    ("bytesProcessedPerSecond", perSecond(s.bytesProcessed)),
                    ("linesProcessedPerSecond", perSecond(s.linesProcessed)),
                    ("totalBytesProcessed", .int(s.bytesProcessed)),
                    ("totalLinesProcessed", .int(s.linesProcessed)),
                    ("execTime", .double(s.execTimeSeconds)),
                    ("queueTime", .int(0)),
                    ("subqueries", .int(0)),
                    ("totalEntriesReturned", .int(s.entriesReturned)),
                    ("splits", .int(0)),
                    ("shards", .int(0)),
                    ("totalPostFilterLines", .int(s.postFilterLines)),
                    ("totalStructuredMetadataBytesProcessed", .int(s.structuredMetadataBytesProcessed)),
                ])
            )
        ])
    }

    static func labelObject(_ labels: [String: String]) -> JSON {
        .object(LokiLabels.sorted(labels).map { ($0.0, JSON.string($0.1)) })
    }

    private static func success(resultType: String, result: [JSON], statistics: LokiQueryStatistics, encodingFlags: [String] = []) -> JSON {
        var data: [(String, JSON)] = [("resultType", .string(resultType))]
        if !encodingFlags.isEmpty { data.append(("encodingFlags", .array(encodingFlags.map(JSON.string)))) }
        data.append(("result", .array(result)))
        data.append(("stats", Self.statistics(statistics)))
        return .object([("status", .string("success")), ("data", .object(data))])
    }
}
