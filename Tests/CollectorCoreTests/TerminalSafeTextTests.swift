import CollectorCore
import CollectorTesting
import Foundation
import Testing

@Suite struct TerminalSafeTextTests {
    @Test(arguments: [
        "", "GET /cart", "café", "naïve résumé", "日本語のスパン", "服务-checkout", "🚀 launch 👩‍👩‍👧", "ÿ and Ā", "tab-free · middle dot", "\u{2030}‰ \u{2060}",
    ])
    func plainTextIsUnchanged(_ text: String) {
        #expect(!TerminalSafeText.needsEscaping(text))
        #expect(TerminalSafeText.escape(text) == text)
        #expect(TerminalSafeText.escapeJSON(text) == text)
    }

    @Test(arguments: [
        ("a\nb", #"a\nb"#), ("a\rb", #"a\rb"#), ("a\tb", #"a\tb"#), ("\u{0}", #"\x00"#), ("\u{7}", #"\x07"#),
        ("\u{1B}[2J", #"\x1b[2J"#), ("\u{1B}]0;pwned\u{7}", #"\x1b]0;pwned\x07"#), ("\u{1F}", #"\x1f"#), ("\u{8}", #"\x08"#),
    ])
    func c0ControlsBecomeVisibleEscapes(_ text: String, _ escaped: String) {
        #expect(TerminalSafeText.escape(text) == escaped)
    }

    @Test func delIsEscaped() {
        #expect(TerminalSafeText.escape("a\u{7F}b") == #"a\x7fb"#)
    }

    @Test(arguments: [(UInt32(0x80), #"\u0080"#), (0x85, #"\u0085"#), (0x9B, #"\u009b"#), (0x9F, #"\u009f"#)])
    func c1ControlsAreEscaped(_ value: UInt32, _ escaped: String) throws {
        let text = "x" + String(try #require(Unicode.Scalar(value))) + "y"
        #expect(TerminalSafeText.escape(text) == "x" + escaped + "y")
    }

    @Test(arguments: [0x061C, 0x200E, 0x200F, 0x2028, 0x2029, 0x202A, 0x202B, 0x202C, 0x202D, 0x202E, 0x2066, 0x2067, 0x2068, 0x2069] as [UInt32])
    func bidiAndLineFormatControlsAreEscaped(_ value: UInt32) throws {
        let text = "abc" + String(try #require(Unicode.Scalar(value))) + "def"
        #expect(TerminalSafeText.escape(text) == "abc\\u" + String(format: "%04x", value) + "def")
    }

    @Test func neighboursOfTheEscapedRangesAreKept() throws {
        // The scalars just outside each escaped range, including ones sharing the UTF-8 lead bytes (C2, D8, E2).
        for value: UInt32 in [0x20, 0x7E, 0xA0, 0xA9, 0x061B, 0x061D, 0x200D, 0x2010, 0x2027, 0x202F, 0x2065, 0x206A, 0x2070] {
            let text = String(try #require(Unicode.Scalar(value)))
            #expect(TerminalSafeText.escape(text) == text, "U+\(String(value, radix: 16))")
        }
    }

    @Test func backslashIsEscapedSoEscapesAreUnambiguous() {
        #expect(TerminalSafeText.escape(#"C:\new"#) == #"C:\\new"#)
        // A literal backslash-n and a real newline print differently.
        #expect(TerminalSafeText.escape(#"\n"#) != TerminalSafeText.escape("\n"))
    }

    @Test func mixedTextKeepsItsPrintableParts() {
        #expect(TerminalSafeText.escape("café\u{1B}[31m 日本\u{202E}🚀\r\n") == #"café\x1b[31m 日本\u202e🚀\r\n"#)
    }

    @Test func escapeJSONKeepsTheJSONValidAndExact() throws {
        let original = "a\u{7F}\u{85}\u{202E}\u{2066}é\\\"\n"
        let json = String(decoding: try JSONSerialization.data(withJSONObject: ["k": original]), as: UTF8.self)
        let safe = TerminalSafeText.escapeJSON(json)
        #expect(!safe.unicodeScalars.contains { $0.value == 0x7F || $0.value == 0x85 || $0.value == 0x202E || $0.value == 0x2066 })
        let decoded = try JSONSerialization.jsonObject(with: Data(safe.utf8)) as? [String: String]
        #expect(decoded?["k"] == original)
    }

    /// Random strings over a mix of safe and unsafe scalars: the output never holds an unsafe scalar, and the
    /// byte scan agrees with a scalar-by-scalar check.
    @Test func randomTextNeverKeepsAnUnsafeScalar() throws {
        let seed = TestSeed.next()
        var random = SplitMix64(seed: seed)
        let pool: [UInt32] = [
            0x0, 0x7, 0x9, 0xA, 0xD, 0x1B, 0x41, 0x5C, 0x7E, 0x7F, 0x80, 0x9F, 0xA0, 0xE9, 0x061C, 0x200E, 0x2028,
            0x202E, 0x2066, 0x2069, 0x3042, 0xFEFF, 0x1F680,
        ]
        for _ in 0..<2_000 {
            var scalars = String.UnicodeScalarView()
            for _ in 0..<random.below(12) {
                guard let s = Unicode.Scalar(random.pick(pool)) else { continue }
                scalars.append(s)
            }
            let text = String(scalars)
            let expectedUnsafe = text.unicodeScalars.contains { TerminalSafeText.isUnsafeForTests($0) || $0 == "\\" }
            #expect(TerminalSafeText.needsEscaping(text) == expectedUnsafe, "seed \(seed): \(text.unicodeScalars.map(\.value))")
            let escaped = TerminalSafeText.escape(text)
            #expect(!escaped.unicodeScalars.contains { TerminalSafeText.isUnsafeForTests($0) }, "seed \(seed)")
        }
    }
}

extension TerminalSafeText {
    /// The classes the type documents, spelled out independently of its implementation.
    static func isUnsafeForTests(_ s: Unicode.Scalar) -> Bool {
        let v = s.value
        return v < 0x20 || (0x7F...0x9F).contains(v) || [0x061C, 0x200E, 0x200F, 0x2028, 0x2029].contains(v)
            || (0x202A...0x202E).contains(v) || (0x2066...0x2069).contains(v)
    }
}
