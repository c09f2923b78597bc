import CollectorCore
import Testing

struct TerminalCellsTests {
    @Test(arguments: [
        ("abc", 3), ("", 0), ("é", 1), ("e\u{301}", 1), ("漢字", 4), ("한국어", 6), ("ｶﾀｶﾅ", 4), ("ＡＢ", 4),
        ("🦄", 2), ("👩‍💻", 2), ("🇫🇷", 2), ("❤️", 2), ("a\u{200B}b", 2), ("カタカナ", 8),
    ])
    func cellsAreCountedPerGraphemeAsTerminalsDrawThem(_ text: String, _ cells: Int) {
        #expect(TerminalCells.width(text) == cells, "\(text.debugDescription)")
    }

    @Test func textIsShortenedInTheMiddleToAtMostTheCells() {
        #expect(TerminalCells.fit("checkout: GET /api/v1/items/{id}", 20) == "checkout: …tems/{id}")
        #expect(TerminalCells.fit("short", 20) == "short")
        for cells in 1...12 {
            for text in [
                "漢字漢字漢字漢字", "🦄a🦄b🦄c🦄d🦄", "abcdefghijklmnop",
                "e\u{301}e\u{301}e\u{301}e\u{301}e\u{301}e\u{301}e\u{301}e\u{301}e\u{301}e\u{301}e\u{301}e\u{301}e\u{301}",
            ] {
                let fitted = TerminalCells.fit(text, cells)
                #expect(TerminalCells.width(fitted) <= cells, "\(text) in \(cells): \(fitted)")
                #expect(TerminalCells.width(TerminalCells.prefix(text, cells)) <= cells)
            }
        }
        #expect(TerminalCells.padded("漢", 4) == "漢  " && TerminalCells.leftPadded("🦄", 3) == " 🦄")
    }
}
