import CollectorCore

/// The headers an exporter's `auth: {authenticator: ID}` adds to each request, looked up when a request is sent
/// (authenticator extensions are built after exporters).
struct UpstreamCredentials: Sendable {
    let authenticator: ComponentID
    let extensions: ExtensionDirectory

    /// nil without `auth`.
    init?(_ id: ComponentID?, context: ComponentContext) {
        guard let id else { return nil }
        authenticator = id
        extensions = context.extensions
    }

    /// The headers to add, or the verdict for a request that cannot be authenticated now.
    func headers() -> Result<[(name: String, value: String)], UpstreamVerdictError> {
        do {
            return .success(try extensions.clientAuthenticator(authenticator).requestHeaders())
        } catch let error as PipelineError {
            if case .permanent = error.kind { return .failure(UpstreamVerdictError(verdict: .permanent(reason: "auth \(authenticator): \(error)"))) }
            return .failure(UpstreamVerdictError(verdict: .retryable(after: nil, reason: "auth \(authenticator): \(error)")))
        } catch {
            return .failure(UpstreamVerdictError(verdict: .retryable(after: nil, reason: "auth \(authenticator): \(error)")))
        }
    }
}

/// A verdict reached before sending (credentials unavailable).
struct UpstreamVerdictError: Error {
    var verdict: UpstreamVerdict
}
