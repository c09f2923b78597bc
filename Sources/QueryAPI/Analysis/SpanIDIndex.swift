import Foundation

/// Span IDs to positions, for building a trace's tree. A span ID of the valid length (8 bytes) is keyed as one
/// integer, which hashes in a few instructions where `Data` hashes byte by byte; any other ID by its bytes.
struct SpanIDIndex {
    private var words: [UInt64: Int] = [:]
    private var others: [Data: Int] = [:]

    init(capacity: Int) { words.reserveCapacity(capacity) }

    subscript(id: Data) -> Int? {
        if let w = Self.word(id) { return words[w] }
        return others[id]
    }

    /// Records `position` for `id` unless the ID is already there; whether it was recorded.
    mutating func insertFirst(_ id: Data, _ position: Int) -> Bool {
        if let w = Self.word(id) {
            guard words[w] == nil else { return false }
            words[w] = position
        } else {
            guard others[id] == nil else { return false }
            others[id] = position
        }
        return true
    }

    private static func word(_ id: Data) -> UInt64? {
        guard id.count == 8 else { return nil }
        return id.withUnsafeBytes { $0.loadUnaligned(as: UInt64.self) }
    }
}
