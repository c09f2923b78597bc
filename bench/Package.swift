// swift-tools-version:6.1
// otelsink's benchmark executables, a package of their own so that building and testing otelsink does not build
// them. They use otelsink's modules through the parent package's `OtelsinkModules` product.
//
//   swift build -c release --package-path bench --scratch-path bench/.build-release --product otelsink-loadgen
//
// The bench/*.sh and bench/*.py scripts build what they run this way.
import PackageDescription

let strict: [SwiftSetting] = [
    .swiftLanguageMode(.v6),
    .enableUpcomingFeature("ExistentialAny"),
    .unsafeFlags(["-enforce-exclusivity=unchecked"], .when(configuration: .release)),
]

let package = Package(
    name: "otelsink-bench",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "otelsink-loadgen", targets: ["LoadGenerator"]),
        .executable(name: "otelsink-pipeline-bench", targets: ["PipelineBench"]),
        .executable(name: "otelsink-prometheus-bench", targets: ["PrometheusBench"]),
    ],
    dependencies: [
        .package(name: "otelsink", path: ".."),
        .package(url: "https://github.com/grpc/grpc-swift-2", from: "2.4.3"),
        .package(url: "https://github.com/grpc/grpc-swift-nio-transport", from: "2.9.2"),
        .package(url: "https://github.com/grpc/grpc-swift-protobuf", from: "2.4.1"),
        .package(url: "https://github.com/apple/swift-nio", from: "2.101.3"),
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-log", from: "1.16.2"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle", from: "2.13.0"),
    ],
    targets: [
        // Load generator (a separate process from the server it measures).
        .executableTarget(
            name: "LoadGenerator",
            dependencies: [
                .product(name: "OtelsinkModules", package: "otelsink"),
                .product(name: "GRPCCore", package: "grpc-swift-2"),
                .product(name: "GRPCProtobuf", package: "grpc-swift-protobuf"),
                .product(name: "GRPCNIOTransportHTTP2", package: "grpc-swift-nio-transport"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ],
            path: "LoadGenerator",
            swiftSettings: strict
        ),

        // In-process pipeline benchmark (processor costs without a network hop).
        .executableTarget(
            name: "PipelineBench",
            dependencies: [
                .product(name: "OtelsinkModules", package: "otelsink"),
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            path: "PipelineBench",
            swiftSettings: strict
        ),

        // In-process Prometheus exporter / spanmetrics benchmark (see docs/performance.md).
        .executableTarget(
            name: "PrometheusBench",
            dependencies: [
                .product(name: "OtelsinkModules", package: "otelsink"),
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
            ],
            path: "PrometheusBench",
            swiftSettings: strict
        ),
    ]
)
