import CollectorCore
import Foundation
import QueryAPI

extension CriticalPath {
    /// The summary under the waterfall: the path's length, then its time by service and by operation (at most
    /// `limit` rows each), every name through ``TerminalSafeText``, fitted to `width` cells (80 when nil).
    func summaryText(limit: Int = 10, width: Int? = nil) -> String {
        var out = "Critical path: \(ReadableText.duration(nanos)) in \(sections.count) section\(sections.count == 1 ? "" : "s")\n"
        func table(_ title: String, _ rows: [Share], _ label: (Share) -> String) {
            out += "  by \(title):\n"
            let shown = rows.prefix(limit)
            // Label, 9-cell time, 6-cell share: the label gets what a `width` leaves, at most 60 cells.
            let labels = shown.map { TerminalCells.fit(label($0), min(60, max(12, (width ?? 80) - 25))) }
            let labelCells = labels.map(TerminalCells.width).max() ?? 0
            for (row, text) in zip(shown, labels) {
                let percent = String(format: "%5.1f%%", share(row.nanos) * 100)
                out +=
                    "    " + TerminalCells.padded(text, labelCells) + "  " + TerminalCells.leftPadded(ReadableText.duration(row.nanos), 9)
                    + "  " + percent + "\n"
            }
            if rows.count > limit { out += "    … \(rows.count - limit) more\n" }
        }
        table("service", byService) { TerminalSafeText.escape($0.service) }
        table("operation", byOperation) { TerminalSafeText.escape($0.service) + ": " + TerminalSafeText.escape($0.operation ?? "") }
        return out
    }
}
