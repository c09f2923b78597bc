import CollectorCore

/// An exporter the query API can read from: it offers the store it writes. The `query` extension finds its
/// `storage` through this capability, never by the exporter's type.
public protocol QueryableExporter: Exporter {
    var queryableStore: SQLiteTraceStore { get }
}

/// A factory whose exporters are ``QueryableExporter``s, so that validation can check a `query` extension's
/// `storage` before anything is built.
public protocol QueryableExporterFactory: ExporterFactory {}
