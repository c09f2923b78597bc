/// A rendered label set (`a="x",b="y"`, sorted by name, without braces) with its hash computed once.
///
/// The series store keys series by label set, and ``LabelSetCache`` hands out the same value for every point of a
/// series: a lookup hashes one integer and, on a hit, compares two hashes and two string pointers, where a plain
/// string key hashed and compared its ~100 bytes for every point.
public struct LabelSet: Hashable, Sendable, CustomStringConvertible, ExpressibleByStringLiteral {
    /// The rendered labels.
    public let text: String
    /// `text`'s hash (this process's seed, like every Swift hash).
    let digest: Int

    public init(_ text: String) {
        self.text = text
        var hasher = Hasher()
        hasher.combine(text)
        digest = hasher.finalize()
    }

    public init(stringLiteral text: String) { self.init(text) }

    /// No labels.
    public static let empty = LabelSet("")

    public static func == (a: LabelSet, b: LabelSet) -> Bool { a.digest == b.digest && a.text == b.text }

    public func hash(into hasher: inout Hasher) { hasher.combine(digest) }

    public var description: String { text }
}
