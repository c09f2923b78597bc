import CollectorCore
import Testing

@Suite("DurationText")
struct DurationTextTests {
    @Test func parsesGoStyleDurations() {
        #expect(DurationText.parse("72h") == .seconds(72 * 3600))
        #expect(DurationText.parse("1h30m") == .seconds(5400))
        #expect(DurationText.parse("200ms") == .milliseconds(200))
        #expect(DurationText.parse("1.5s") == .milliseconds(1500))
        #expect(DurationText.parse("0") == .zero)
        #expect(DurationText.parse("0s") == .zero)
        #expect(DurationText.parse("10us") == .microseconds(10))
        #expect(DurationText.parse("10µs") == .microseconds(10))
        #expect(DurationText.parse("7ns") == .nanoseconds(7))
        #expect(DurationText.parse("1m1s") == .seconds(61))
        #expect(DurationText.parse(" 5m ") == .seconds(300))
    }

    @Test(arguments: ["soon", "5", "", "h", "1x", "1.2.3s", "-5s", "5 s", "1h-30m", "ms"])
    func rejectsMalformed(_ text: String) {
        #expect(DurationText.parse(text) == nil, "\"\(text)\" should not parse")
    }

    @Test func rejectsOverflow() {
        #expect(DurationText.parse("9999999999h") == nil)
    }

    @Test func formats() {
        #expect(DurationText.format(.seconds(72 * 3600)) == "72h")
        #expect(DurationText.format(.seconds(5400)) == "1h30m")
        #expect(DurationText.format(.seconds(3661)) == "1h1m1s")
        #expect(DurationText.format(.milliseconds(200)) == "200ms")
        #expect(DurationText.format(.milliseconds(1500)) == "1500ms")
        #expect(DurationText.format(.microseconds(3)) == "3us")
        #expect(DurationText.format(.nanoseconds(42)) == "42ns")
        #expect(DurationText.format(.zero) == "0s")
        #expect(DurationText.format(.seconds(60)) == "1m")
    }

    @Test(arguments: ["72h", "1h30m", "200ms", "1500ms", "1h1m1s", "45s", "3us", "42ns", "0s", "1m"])
    func formatParseRoundTrip(_ text: String) throws {
        let d = try #require(DurationText.parse(text))
        #expect(DurationText.format(d) == text)
        #expect(DurationText.parse(DurationText.format(d)) == d)
    }

    @Test(arguments: [Duration.seconds(1), .milliseconds(1), .nanoseconds(123_456_789), .seconds(86_400 * 30), .milliseconds(90_500)])
    func durationRoundTrip(_ d: Duration) throws {
        #expect(DurationText.parse(DurationText.format(d)) == d)
    }

    /// Decimal fractions must not lose a nanosecond to binary floating point: "4.1s" is 4.1 seconds exactly.
    @Test(arguments: [
        ("4.1s", Duration.milliseconds(4100)), ("8.2s", .milliseconds(8200)), ("2.01s", .milliseconds(2010)),
        ("16.9s", .milliseconds(16900)), ("0.1s", .milliseconds(100)), ("2.5h", .seconds(9000)),
    ])
    func decimalFractionsAreExact(_ text: String, _ expected: Duration) {
        #expect(DurationText.parse(text) == expected)
    }
}
