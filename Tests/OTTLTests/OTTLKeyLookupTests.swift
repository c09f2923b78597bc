import OTLP
import OTTL
import Testing

/// Attribute keys are found by length and bytes (not `String ==`): every byte position must tell keys apart.
struct OTTLKeyLookupTests {
    typealias F = OTTLFixtures

    static let keys: [String] =
        [""]
        + [1, 7, 8, 9, 15, 16, 17, 24, 40].map { n in
            String((0..<n).map { Character(Unicode.Scalar(UInt8(97 + $0 % 26))) })
        } + ["é", "service.名前.ünïcode.key"]

    @Test(arguments: keys)
    func onlyTheExactKeyIsSetAndDeleted(_ key: String) throws {
        let bytes = Array(key.utf8)
        // Each key that differs from it in one byte, one byte shorter and one longer; then the key itself.
        var attributes = bytes.indices.map { i -> KeyValue in
            var b = bytes
            b[i] = b[i] == UInt8(ascii: "Z") ? UInt8(ascii: "Y") : UInt8(ascii: "Z")
            return F.kv(String(decoding: b, as: UTF8.self), .string("variant \(i)"))
        }
        if !bytes.isEmpty { attributes.append(F.kv(String(decoding: bytes.dropLast(), as: UTF8.self), .string("shorter"))) }
        attributes.append(F.kv(key + "x", .string("longer")))
        attributes.append(F.kv(key, .string("original")))
        var target = OTTLTarget()
        target.span.attributes = attributes
        let quoted = key.replacingOccurrences(of: "\"", with: "\\\"")

        try OTTLStatement(#"set(span.attributes["\#(quoted)"], "hit")"#, context: nil, signal: .traces).execute(&target)
        #expect(
            target.span.attributes.map(\.value.stringValue) == attributes.dropLast().map(\.value.stringValue) + ["hit"], "key \(key.debugDescription)"
        )

        try OTTLStatement(#"delete_key(span.attributes, "\#(quoted)")"#, context: nil, signal: .traces).execute(&target)
        #expect(target.span.attributes.map(\.key) == attributes.dropLast().map(\.key), "key \(key.debugDescription)")
    }
}
