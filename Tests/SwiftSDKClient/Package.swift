// swift-tools-version:6.2
// A client of otelsink written as a user of the Swift OpenTelemetry backend (swift-otel) would write it: swift-log,
// swift-metrics and swift-distributed-tracing, bootstrapped by `OTel.bootstrap` and configured by the standard
// OTEL_* environment variables. Built and run by Tests/interop/test_swift_sdk.py (see scripts/test.sh); not part of
// the otelsink package.
import PackageDescription

let package = Package(
    name: "SwiftSDKClient",
    platforms: [.macOS("15.0")],
    dependencies: [
        // Both OTLP exporters (gRPC and HTTP, protobuf and JSON); these are swift-otel's default traits, named here
        // so the client keeps both if the defaults change.
        .package(url: "https://github.com/swift-otel/swift-otel", from: "1.6.0", traits: ["OTLPGRPC", "OTLPHTTP"]),
        .package(url: "https://github.com/apple/swift-log.git", from: "1.12.0"),
        .package(url: "https://github.com/apple/swift-metrics.git", from: "2.4.1"),
        .package(url: "https://github.com/apple/swift-distributed-tracing.git", from: "1.7.2"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle.git", from: "2.4.1"),
    ],
    targets: [
        .executableTarget(
            name: "SwiftSDKClient",
            dependencies: [
                .product(name: "OTel", package: "swift-otel"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "Tracing", package: "swift-distributed-tracing"),
                .product(name: "Instrumentation", package: "swift-distributed-tracing"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ]
        )
    ],
    swiftLanguageModes: [.v6]
)
