// swift-tools-version:6.1
import PackageDescription

let strict: [SwiftSetting] = [
    .swiftLanguageMode(.v6),
    .enableUpcomingFeature("ExistentialAny"),
    // Dynamic exclusivity checks cost 10-15 % of the CPU on the span path (swift-protobuf's message storage is a
    // class, so every field access is checked). Debug builds, and so every test run, keep the checks.
    .unsafeFlags(["-enforce-exclusivity=unchecked"], .when(configuration: .release)),
]

let package = Package(
    name: "otelsink",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "otelsink", targets: ["otelsink"]),
        // otelsink's modules, for the benchmark executables (bench/Package.swift, a package of their own so that
        // building and testing otelsink does not build them).
        .library(
            name: "OtelsinkModules",
            targets: [
                "OTLP", "OTLPGRPCStubs", "CollectorCore", "CollectorService", "SQLiteStore", "PrometheusExporter", "Connectors",
            ]
        ),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-protobuf", from: "1.39.0"),
        .package(url: "https://github.com/grpc/grpc-swift-2", from: "2.4.3"),
        .package(url: "https://github.com/grpc/grpc-swift-nio-transport", from: "2.9.2"),
        .package(url: "https://github.com/grpc/grpc-swift-protobuf", from: "2.4.1"),
        .package(url: "https://github.com/apple/swift-nio", from: "2.101.3"),
        .package(url: "https://github.com/apple/swift-nio-http2", from: "1.46.0"),
        .package(url: "https://github.com/apple/swift-nio-ssl", from: "2.37.6"),
        .package(url: "https://github.com/hummingbird-project/hummingbird-auth", from: "2.5.0"),
        .package(url: "https://github.com/swift-server/async-http-client", from: "1.37.0"),
        .package(url: "https://github.com/groue/GRDB.swift", from: "7.10.0"),
        .package(url: "https://github.com/jpsim/Yams", from: "6.2.2"),
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-log", from: "1.16.2"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle", from: "2.13.0"),
    ],
    targets: [
        // Layer 0: system zlib, for gzip request bodies.
        .systemLibrary(name: "CZlib", path: "Sources/CZlib"),
        // Layer 0: system zstd, for the SQLite store's span bodies (compressed with a dictionary per partition).
        .systemLibrary(name: "CZstd", path: "Sources/CZstd"),

        // Layer 1: generated OTLP messages, their wire readers and the OTLP/JSON codec.
        .target(
            name: "OTLP",
            dependencies: [.product(name: "SwiftProtobuf", package: "swift-protobuf")],
            exclude: ["Generated/VERSION"],
            swiftSettings: strict
        ),

        // Generated gRPC service stubs (grpc-swift 2), for the tests and the load generator that act as OTLP/gRPC
        // clients; otelsink itself serves and sends gRPC through its own handlers and does not link grpc-swift.
        .target(
            name: "OTLPGRPCStubs",
            dependencies: [
                "OTLP",
                .product(name: "GRPCCore", package: "grpc-swift-2"),
                .product(name: "GRPCProtobuf", package: "grpc-swift-protobuf"),
            ],
            swiftSettings: strict
        ),

        // Layer 1: gzip compression (zlib), for response and request bodies.
        .target(name: "GzipCompression", dependencies: ["CZlib"], swiftSettings: strict),

        // Layer 2: batches, component protocols, config model and validation, error classification.
        .target(
            name: "CollectorCore",
            dependencies: [
                "OTLP",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "Yams", package: "Yams"),
            ],
            swiftSettings: strict
        ),

        // Layer 2.5: what otelsink's SwiftNIO servers share: bounds, deadlines, TLS (swift-nio-ssl).
        .target(
            name: "NIOServing",
            dependencies: [
                "CollectorCore",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: strict
        ),

        // Layer 3: components, each wrapping one heavy dependency.
        .target(
            name: "SQLiteStore",
            dependencies: [
                "CollectorCore", "OTLP", "CZstd",
                .product(name: "GRDB", package: "GRDB.swift"),
                .product(name: "GRDBSQLite", package: "GRDB.swift"),
            ],
            swiftSettings: strict
        ),
        .target(
            name: "FileStorage",
            dependencies: [
                "CollectorCore",
                .product(name: "GRDB", package: "GRDB.swift"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            swiftSettings: strict
        ),
        .target(
            name: "OTLPReceivers",
            dependencies: [
                "CollectorCore", "OTLP", "CZlib", "NIOServing",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "NIOHTTP2", package: "swift-nio-http2"),
                .product(name: "NIOHPACK", package: "swift-nio-http2"),
            ],
            swiftSettings: strict
        ),
        .target(
            name: "Extensions",
            dependencies: [
                "CollectorCore", "NIOServing",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "HummingbirdBcrypt", package: "hummingbird-auth"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            swiftSettings: strict
        ),
        .target(
            name: "OTLPExporters",
            dependencies: [
                "CollectorCore", "OTLP", "GzipCompression",
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP2", package: "swift-nio-http2"),
                .product(name: "NIOHPACK", package: "swift-nio-http2"),
            ],
            swiftSettings: strict
        ),
        .target(
            name: "Exporters",
            dependencies: ["CollectorCore", "OTLP"],
            swiftSettings: strict
        ),
        // The OpenTelemetry Transformation Language subset used by the transform processor and the routing connector.
        .target(
            name: "OTTL",
            dependencies: ["CollectorCore", "OTLP", .product(name: "Logging", package: "swift-log")],
            swiftSettings: strict
        ),
        .target(
            name: "Processors",
            dependencies: [
                "CollectorCore", "OTLP", "OTTL",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            swiftSettings: strict
        ),

        .target(
            name: "QueryAPI",
            dependencies: [
                "CollectorCore", "OTLP", "SQLiteStore", "NIOServing", "GzipCompression",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            swiftSettings: strict
        ),

        .target(
            name: "PrometheusExporter",
            dependencies: [
                "CollectorCore", "OTLP", "CZlib", "NIOServing", "GzipCompression",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            swiftSettings: strict
        ),

        .target(
            name: "Connectors",
            dependencies: [
                "CollectorCore", "OTLP", "OTTL",
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            swiftSettings: strict
        ),

        // Layer 3.5: the component registry and the pipeline graph built from config.
        .target(
            name: "CollectorService",
            dependencies: [
                "CollectorCore", "OTLP", "SQLiteStore", "OTLPReceivers", "OTLPExporters", "Exporters", "Extensions", "FileStorage", "Processors", "QueryAPI", "PrometheusExporter", "Connectors",
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "UnixSignals", package: "swift-service-lifecycle"),
            ],
            swiftSettings: strict
        ),

        // Layer 4: the CLI.
        .executableTarget(
            name: "otelsink",
            dependencies: [
                "CollectorService", "CollectorCore", "SQLiteStore", "OTLP", "QueryAPI",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "SwiftProtobuf", package: "swift-protobuf"),
                .product(name: "Logging", package: "swift-log"),
                // QueryClient: the CLI's HTTP client for --endpoint.
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
            ],
            swiftSettings: strict
        ),

        // Fuzzing (bench/fuzz, scripts/fuzz.sh): what each target checks, shared with the regression test, and the
        // libFuzzer entry point (built with -sanitize=fuzzer,address -parse-as-library; a no-op otherwise).
        .target(
            name: "FuzzChecks",
            dependencies: [
                "OTLP", "CollectorCore", "CollectorService", "OTLPReceivers", "NIOServing", "QueryAPI", "SQLiteStore", "CZlib",
                "PrometheusExporter",
                .product(name: "SwiftProtobuf", package: "swift-protobuf"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOEmbedded", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
            ],
            path: "bench/fuzz/FuzzChecks",
            swiftSettings: strict
        ),
        .executableTarget(
            name: "OtelsinkFuzz",
            dependencies: ["FuzzChecks"],
            path: "bench/fuzz/OtelsinkFuzz",
            swiftSettings: strict
        ),

        // Test kit: sinks, fakes, a test server harness.
        .target(
            name: "CollectorTesting",
            dependencies: [
                "CollectorCore", "OTLP", "CollectorService",
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            swiftSettings: strict
        ),
        .testTarget(
            name: "OTTLTests",
            dependencies: ["OTTL", "CollectorCore", "OTLP"],
            swiftSettings: strict
        ),
        .testTarget(
            name: "FuzzRegressionTests",
            dependencies: ["FuzzChecks"],
            swiftSettings: strict
        ),
        .testTarget(
            name: "OTLPExportersTests",
            dependencies: [
                "OTLPExporters", "FileStorage", "CollectorCore", "CollectorTesting", "OTLP",
                .product(name: "SwiftProtobuf", package: "swift-protobuf"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOEmbedded", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP2", package: "swift-nio-http2"),
                .product(name: "NIOHPACK", package: "swift-nio-http2"),
            ],
            swiftSettings: strict
        ),
        .testTarget(
            name: "OTLPReceiversTests",
            dependencies: [
                "OTLPReceivers", "CollectorCore", "NIOServing", "OTLP",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOEmbedded", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "NIOHTTP2", package: "swift-nio-http2"),
                .product(name: "NIOHPACK", package: "swift-nio-http2"),
            ],
            swiftSettings: strict
        ),
        .testTarget(
            name: "NIOServingTests",
            dependencies: [
                "NIOServing",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOEmbedded", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: strict
        ),
        .testTarget(
            name: "OTLPTests",
            dependencies: ["OTLP", "CollectorTesting"],
            swiftSettings: strict
        ),
        .testTarget(
            name: "CollectorCoreTests",
            dependencies: [
                "CollectorCore", "CollectorService", "CollectorTesting", "Connectors", "Extensions", "OTLP", "OTLPReceivers",
                .product(name: "HummingbirdBcrypt", package: "hummingbird-auth"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
            ],
            resources: [],
            swiftSettings: strict
        ),
        .testTarget(
            name: "ProcessorsTests",
            dependencies: ["Processors", "OTTL", "CollectorCore", "CollectorService", "CollectorTesting", "OTLP"],
            swiftSettings: strict
        ),
        .testTarget(
            name: "PrometheusExporterTests",
            dependencies: ["PrometheusExporter", "GzipCompression", "Connectors", "QueryAPI", "CollectorCore", "CollectorService", "CollectorTesting", "OTLP"],
            swiftSettings: strict
        ),
        .testTarget(
            name: "SQLiteStoreTests",
            dependencies: ["SQLiteStore", "CollectorCore", "CollectorTesting", "OTLP"],
            swiftSettings: strict
        ),
        .testTarget(
            name: "ExportersTests",
            dependencies: ["Exporters", "CollectorCore", "CollectorTesting", "OTLP"],
            swiftSettings: strict
        ),
        .testTarget(
            name: "QueryAPITests",
            dependencies: [
                "QueryAPI", "SQLiteStore", "CollectorCore", "CollectorService", "CollectorTesting", "OTLP",
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "GRDB", package: "GRDB.swift"),
            ],
            swiftSettings: strict
        ),
        // The CLI's own code (the waterfall and the search table), tested in the executable target.
        .testTarget(
            name: "CLITests",
            dependencies: ["otelsink", "QueryAPI", "SQLiteStore", "CollectorCore", "CollectorTesting", "OTLP"],
            swiftSettings: strict
        ),
        .testTarget(
            name: "EndToEndTests",
            dependencies: [
                "CollectorService", "CollectorCore", "CollectorTesting", "SQLiteStore", "OTLP", "OTLPGRPCStubs", "OTLPExporters",
                .product(name: "GRPCCore", package: "grpc-swift-2"),
                .product(name: "GRPCProtobuf", package: "grpc-swift-protobuf"),
                .product(name: "GRPCNIOTransportHTTP2", package: "grpc-swift-nio-transport"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "NIOHTTP2", package: "swift-nio-http2"),
            ],
            swiftSettings: strict
        ),
    ]
)
