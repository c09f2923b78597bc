import Foundation

/// The fuzz targets, by the name `OTELSINK_FUZZ_TARGET` and the corpus folders use.
public enum FuzzTarget: String, CaseIterable, Sendable {
    case otlpProtobuf = "otlp-protobuf"
    case otlpJSON = "otlp-json"
    case gzip
    case http
    case grpc
    case prometheus
    case query
    case config

    public var check: (@Sendable ([UInt8]) -> Void)? {
        switch self {
        case .otlpProtobuf: FuzzChecks.otlpProtobuf
        case .otlpJSON: FuzzChecks.otlpJSON
        case .gzip: FuzzChecks.gzip
        case .http: FuzzChecks.httpRequests
        case .grpc: FuzzChecks.grpcRequests
        case .prometheus: FuzzChecks.prometheus
        case .query: FuzzChecks.queryTarget
        case .config: FuzzChecks.config
        }
    }

    /// The target `OTELSINK_FUZZ_TARGET` names; stops the process with the list when it names none.
    public static let selected: FuzzTarget = {
        let name = ProcessInfo.processInfo.environment["OTELSINK_FUZZ_TARGET"] ?? ""
        guard let target = FuzzTarget(rawValue: name) else {
            FileHandle.standardError.write(Data("set OTELSINK_FUZZ_TARGET to one of: \(allCases.map(\.rawValue).joined(separator: ", "))\n".utf8))
            exit(2)
        }
        return target
    }()
}
