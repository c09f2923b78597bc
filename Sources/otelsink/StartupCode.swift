import CollectorCore
import CollectorService
import Logging

/// The code that only ran to start the collector (config, component construction, opening the database): unmapped
/// once the collector has served for a moment (``MappedCode``), so that the resident memory of an idle otelsink is
/// what it keeps using, not what it used once.
enum StartupCode {
    /// How long after every receiver listens: the first timers and the components' own startup work have run.
    static let settle: Duration = .seconds(2)

    /// Waits until the collector is ready, then `settle`, then releases the code pages; returns early when the
    /// collector stops first or the task is cancelled.
    static func releaseWhenServing(_ status: CollectorStatus, logger: Logger) async {
        while case .starting = status.current {
            do { try await Task.sleep(for: .milliseconds(50)) } catch { return }
        }
        guard case .ready = status.current else { return }
        do { try await Task.sleep(for: settle) } catch { return }
        guard case .ready = status.current else { return }
        let bytes = MappedCode.releaseResidentPages()
        logger.debug("released the pages of startup code", metadata: ["mapped_code_bytes": "\(bytes)"])
    }
}
