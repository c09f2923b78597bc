import Foundation
import SwiftProtobuf

@testable import OTLP

typealias TraceRequest = Opentelemetry_Proto_Collector_Trace_V1_ExportTraceServiceRequest
typealias TraceResponse = Opentelemetry_Proto_Collector_Trace_V1_ExportTraceServiceResponse
typealias MetricsRequest = Opentelemetry_Proto_Collector_Metrics_V1_ExportMetricsServiceRequest
typealias MetricsResponse = Opentelemetry_Proto_Collector_Metrics_V1_ExportMetricsServiceResponse
typealias LogsRequest = Opentelemetry_Proto_Collector_Logs_V1_ExportLogsServiceRequest
typealias LogsResponse = Opentelemetry_Proto_Collector_Logs_V1_ExportLogsServiceResponse
typealias Span = Opentelemetry_Proto_Trace_V1_Span
typealias AnyValue = Opentelemetry_Proto_Common_V1_AnyValue
typealias KeyValue = Opentelemetry_Proto_Common_V1_KeyValue
typealias Resource = Opentelemetry_Proto_Resource_V1_Resource
typealias Scope = Opentelemetry_Proto_Common_V1_InstrumentationScope
typealias Exemplar = Opentelemetry_Proto_Metrics_V1_Exemplar
typealias NumberDataPoint = Opentelemetry_Proto_Metrics_V1_NumberDataPoint

/// Messages with every field of every OTLP message set to a non-default value somewhere.
enum Fixtures {
    static let traceID = Data([0x5B, 0x8E, 0xFF, 0xF7, 0x98, 0x03, 0x81, 0x03, 0xD2, 0x69, 0xB6, 0x33, 0x81, 0x3F, 0xC6, 0x0C])
    static let traceIDHex = "5b8efff798038103d269b633813fc60c"
    static let spanID = Data([0xEE, 0xE1, 0x9B, 0x7E, 0xC3, 0xC1, 0xB1, 0x74])
    static let spanIDHex = "eee19b7ec3c1b174"
    static let parentSpanID = Data([0xEE, 0xE1, 0x9B, 0x7E, 0xC3, 0xC1, 0xB1, 0x73])
    static let parentSpanIDHex = "eee19b7ec3c1b173"
    static let linkTraceID = Data((0..<16).map { UInt8($0 * 16 + 15) })
    static let linkSpanID = Data([0x01, 0x23, 0x45, 0x67, 0x89, 0xAB, 0xCD, 0xEF])
    static let bytesValue = Data([0x00, 0x01, 0x02, 0xFF])  // base64 "AAEC/w=="

    static func keyValue(_ key: String, _ value: AnyValue.OneOf_Value) -> KeyValue {
        KeyValue.with {
            $0.key = key
            $0.value = AnyValue.with { $0.value = value }
        }
    }

    /// One attribute of every AnyValue kind, including nested arrays and kvlists.
    static let allValueKinds: [KeyValue] = [
        keyValue("string", .stringValue("hé\"llo\n\u{1F600}")),
        keyValue("bool", .boolValue(true)),
        keyValue("int", .intValue(Int64.min)),
        keyValue("double", .doubleValue(3.25)),
        keyValue("bytes", .bytesValue(bytesValue)),
        keyValue(
            "array",
            .arrayValue(
                .with {
                    $0.values = [
                        AnyValue.with { $0.value = .stringValue("a") },
                        AnyValue.with { $0.value = .intValue(9_007_199_254_740_993) },
                        AnyValue.with {
                            $0.value = .arrayValue(.with { $0.values = [AnyValue.with { $0.value = .boolValue(true) }] })
                        },
                    ]
                })),
        keyValue(
            "kvlist",
            .kvlistValue(
                .with {
                    $0.values = [
                        keyValue("inner", .doubleValue(-0.5)),
                        keyValue("nested", .kvlistValue(.with { $0.values = [keyValue("deep", .bytesValue(Data([7])))] })),
                    ]
                })),
        KeyValue.with {
            $0.keyStrindex = 3
            $0.value = AnyValue.with { $0.value = .stringValueStrindex(4) }
        },
    ]

    static let resource = Resource.with {
        $0.attributes = [keyValue("service.name", .stringValue("checkout"))] + allValueKinds
        $0.droppedAttributesCount = 1
        $0.entityRefs = [
            .with {
                $0.schemaURL = "https://opentelemetry.io/schemas/1.30.0"
                $0.type = "service"
                $0.idKeys = ["service.name", "service.namespace"]
                $0.descriptionKeys = ["service.version"]
            }
        ]
    }

    static let scope = Scope.with {
        $0.name = "my.library"
        $0.version = "1.0.0"
        $0.attributes = [keyValue("my.scope.attribute", .stringValue("some scope attribute"))]
        $0.droppedAttributesCount = 2
    }

    static let span = Span.with {
        $0.traceID = traceID
        $0.spanID = spanID
        $0.traceState = "vendor=value"
        $0.parentSpanID = parentSpanID
        $0.flags = 0x301
        $0.name = "GET /checkout"
        $0.kind = .server
        $0.startTimeUnixNano = 1_700_000_000_123_456_789
        $0.endTimeUnixNano = 1_700_000_000_987_654_321
        $0.attributes = allValueKinds
        $0.droppedAttributesCount = 3
        $0.events = [
            .with {
                $0.timeUnixNano = 1_700_000_000_200_000_001
                $0.name = "exception"
                $0.attributes = [keyValue("exception.message", .stringValue("boom"))]
                $0.droppedAttributesCount = 4
            }
        ]
        $0.droppedEventsCount = 5
        $0.links = [
            .with {
                $0.traceID = linkTraceID
                $0.spanID = linkSpanID
                $0.traceState = "other=1"
                $0.attributes = [keyValue("link.kind", .stringValue("follows"))]
                $0.droppedAttributesCount = 6
                $0.flags = 0x100
            }
        ]
        $0.droppedLinksCount = 7
        $0.status = .with {
            $0.message = "upstream failed"
            $0.code = .error
        }
    }

    static let traceRequest = TraceRequest.with {
        $0.resourceSpans = [
            .with {
                $0.resource = resource
                $0.scopeSpans = [
                    .with {
                        $0.scope = scope
                        $0.spans = [span]
                        $0.schemaURL = "https://opentelemetry.io/schemas/1.29.0"
                    }
                ]
                $0.schemaURL = "https://opentelemetry.io/schemas/1.28.0"
            }
        ]
    }

    static func exemplar(_ value: Exemplar.OneOf_Value) -> Exemplar {
        Exemplar.with {
            $0.filteredAttributes = [keyValue("user", .stringValue("alice"))]
            $0.timeUnixNano = 1_700_000_000_000_000_007
            $0.value = value
            $0.spanID = spanID
            $0.traceID = traceID
        }
    }

    static let attributes = [keyValue("host", .stringValue("a"))]

    static let numberPoints = [
        NumberDataPoint.with {
            $0.attributes = attributes
            $0.startTimeUnixNano = 1_700_000_000_000_000_001
            $0.timeUnixNano = 1_700_000_000_000_000_002
            $0.value = .asDouble(1.5)
            $0.exemplars = [exemplar(.asDouble(0.25))]
            $0.flags = 1
        },
        NumberDataPoint.with {
            $0.timeUnixNano = 1_700_000_000_000_000_003
            $0.value = .asInt(-42)
            $0.exemplars = [exemplar(.asInt(Int64.max))]
        },
    ]

    static let metricsRequest = MetricsRequest.with {
        $0.resourceMetrics = [
            .with {
                $0.resource = resource
                $0.scopeMetrics = [
                    .with {
                        $0.scope = scope
                        $0.schemaURL = "https://opentelemetry.io/schemas/1.29.0"
                        $0.metrics = [
                            .with {
                                $0.name = "temperature"
                                $0.description_p = "Room temperature"
                                $0.unit = "Cel"
                                $0.metadata = [keyValue("origin", .stringValue("sensor"))]
                                $0.gauge = .with { $0.dataPoints = numberPoints }
                            },
                            .with {
                                $0.name = "requests"
                                $0.sum = .with {
                                    $0.dataPoints = numberPoints
                                    $0.aggregationTemporality = .cumulative
                                    $0.isMonotonic = true
                                }
                            },
                            .with {
                                $0.name = "latency"
                                $0.histogram = .with {
                                    $0.aggregationTemporality = .delta
                                    $0.dataPoints = [
                                        .with {
                                            $0.attributes = attributes
                                            $0.startTimeUnixNano = 1_700_000_000_000_000_001
                                            $0.timeUnixNano = 1_700_000_000_000_000_002
                                            $0.count = 10
                                            $0.sum = 12.5
                                            $0.bucketCounts = [1, 2, 7]
                                            $0.explicitBounds = [0.5, 5]
                                            $0.exemplars = [exemplar(.asDouble(4))]
                                            $0.flags = 1
                                            $0.min = 0.125
                                            $0.max = 9
                                        }
                                    ]
                                }
                            },
                            .with {
                                $0.name = "latency.exp"
                                $0.exponentialHistogram = .with {
                                    $0.aggregationTemporality = .cumulative
                                    $0.dataPoints = [
                                        .with {
                                            $0.attributes = attributes
                                            $0.startTimeUnixNano = 1_700_000_000_000_000_001
                                            $0.timeUnixNano = 1_700_000_000_000_000_002
                                            $0.count = 8
                                            $0.sum = 20.75
                                            $0.scale = -2
                                            $0.zeroCount = 1
                                            $0.positive = .with {
                                                $0.offset = 3
                                                $0.bucketCounts = [1, 2, 18_446_744_073_709_551_615]
                                            }
                                            $0.negative = .with {
                                                $0.offset = -1
                                                $0.bucketCounts = [4]
                                            }
                                            $0.flags = 1
                                            $0.exemplars = [exemplar(.asDouble(2))]
                                            $0.min = -3
                                            $0.max = 12
                                            $0.zeroThreshold = 1e-9
                                        }
                                    ]
                                }
                            },
                            .with {
                                $0.name = "rpc.duration"
                                $0.summary = .with {
                                    $0.dataPoints = [
                                        .with {
                                            $0.attributes = attributes
                                            $0.startTimeUnixNano = 1_700_000_000_000_000_001
                                            $0.timeUnixNano = 1_700_000_000_000_000_002
                                            $0.count = 3
                                            $0.sum = 6
                                            $0.quantileValues = [
                                                .with {
                                                    $0.quantile = 0.5
                                                    $0.value = 2
                                                }
                                            ]
                                            $0.flags = 1
                                        }
                                    ]
                                }
                            },
                        ]
                    }
                ]
                $0.schemaURL = "https://opentelemetry.io/schemas/1.28.0"
            }
        ]
    }

    static let logsRequest = LogsRequest.with {
        $0.resourceLogs = [
            .with {
                $0.resource = resource
                $0.scopeLogs = [
                    .with {
                        $0.scope = scope
                        $0.schemaURL = "https://opentelemetry.io/schemas/1.29.0"
                        $0.logRecords = [
                            .with {
                                $0.timeUnixNano = 1_700_000_000_000_000_001
                                $0.observedTimeUnixNano = 1_700_000_000_000_000_002
                                $0.severityNumber = .error
                                $0.severityText = "ERROR"
                                $0.body = AnyValue.with { $0.value = .stringValue("Example log record") }
                                $0.attributes = allValueKinds
                                $0.droppedAttributesCount = 1
                                $0.flags = 1
                                $0.traceID = traceID
                                $0.spanID = spanID
                                $0.eventName = "app.checkout"
                            }
                        ]
                    }
                ]
                $0.schemaURL = "https://opentelemetry.io/schemas/1.28.0"
            }
        ]
    }

    static let traceResponse = TraceResponse.with {
        $0.partialSuccess = .with {
            $0.rejectedSpans = 2
            $0.errorMessage = "2 spans had invalid IDs"
        }
    }
    static let metricsResponse = MetricsResponse.with {
        $0.partialSuccess = .with {
            $0.rejectedDataPoints = 3
            $0.errorMessage = "bad points"
        }
    }
    static let logsResponse = LogsResponse.with {
        $0.partialSuccess = .with {
            $0.rejectedLogRecords = 4
            $0.errorMessage = "bad records"
        }
    }
}
