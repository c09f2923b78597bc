import CollectorCore
import OTLP
import Processors
import Testing

/// The shared action set (otelcol's attraction), applied to one attribute list.
@Suite struct AttributesActionTests {
    typealias B = OTLPBuild

    func actions(_ yaml: String, sourceLocation: SourceLocation = #_sourceLocation) throws -> AttributeActions {
        try validProcessorConfig(
            "actions:\n" + yaml, factory: AttributesProcessorFactory(), id: "attributes/x", as: AttributesProcessorConfig.self,
            sourceLocation: sourceLocation
        ).actions
    }

    func applied(_ yaml: String, to attributes: [KeyValue], sourceLocation: SourceLocation = #_sourceLocation) throws -> [KeyValue] {
        var attrs = attributes
        try actions(yaml, sourceLocation: sourceLocation).apply(to: &attrs)
        return attrs
    }

    @Test func insertAddsAbsentKeyAndLeavesPresentKeyAlone() throws {
        let yaml = "  - {key: env, value: prod, action: insert}\n"
        #expect(try applied(yaml, to: [B.kv("a", B.str("1"))]) == [B.kv("a", B.str("1")), B.kv("env", B.str("prod"))])
        #expect(try applied(yaml, to: [B.kv("env", B.str("dev"))]) == [B.kv("env", B.str("dev"))])
    }

    @Test func updateReplacesOnlyPresentKey() throws {
        let yaml = "  - {key: env, value: prod, action: update}\n"
        #expect(try applied(yaml, to: [B.kv("env", B.str("dev"))]) == [B.kv("env", B.str("prod"))])
        #expect(try applied(yaml, to: [B.kv("a", B.str("1"))]) == [B.kv("a", B.str("1"))])
    }

    @Test func upsertInsertsOrUpdates() throws {
        let yaml = "  - {key: env, value: prod, action: upsert}\n"
        #expect(try applied(yaml, to: [B.kv("env", B.str("dev"))]) == [B.kv("env", B.str("prod"))])
        #expect(try applied(yaml, to: []) == [B.kv("env", B.str("prod"))])
    }

    @Test func actionNamesAreCaseInsensitiveAsInOtelcol() throws {
        #expect(try applied("  - {key: env, value: prod, action: UPSERT}\n", to: []) == [B.kv("env", B.str("prod"))])
    }

    @Test func fromAttributeCopiesAnotherAttributeAndDoesNothingWhenItIsAbsent() throws {
        let yaml = "  - {key: user, from_attribute: enduser.id, action: upsert}\n"
        #expect(try applied(yaml, to: [B.kv("enduser.id", B.int(42))]) == [B.kv("enduser.id", B.int(42)), B.kv("user", B.int(42))])
        #expect(try applied(yaml, to: [B.kv("other", B.int(1))]) == [B.kv("other", B.int(1))])
        // update from an absent source leaves the target as it was
        let update = "  - {key: user, from_attribute: missing, action: update}\n"
        #expect(try applied(update, to: [B.kv("user", B.str("x"))]) == [B.kv("user", B.str("x"))])
    }

    @Test func configValuesAreTypedAsOtelcolTypesYAMLScalars() throws {
        let yaml = """
              - {key: i, value: 42, action: insert}
              - {key: d, value: 2.5, action: insert}
              - {key: b, value: true, action: insert}
              - {key: s, value: hello, action: insert}
              - {key: h, value: 0x1F, action: insert}
              - {key: n, value: -7, action: insert}
              - {key: e, value: 1e3, action: insert}
              - {key: l, value: [a, 1], action: insert}
            """
        let out = try applied(yaml + "\n", to: [])
        #expect(out[attribute: "i"] == B.int(42))
        #expect(out[attribute: "d"] == B.double(2.5))
        #expect(out[attribute: "b"] == B.bool(true))
        #expect(out[attribute: "s"] == B.str("hello"))
        #expect(out[attribute: "h"] == B.int(31))
        #expect(out[attribute: "n"] == B.int(-7))
        #expect(out[attribute: "e"] == B.double(1000))
        var array = Opentelemetry_Proto_Common_V1_ArrayValue()
        array.values = [B.str("a"), B.int(1)]
        var expected = AnyValue()
        expected.arrayValue = array
        #expect(out[attribute: "l"] == expected)
    }

    @Test func deleteRemovesKeyAndKeysMatchingPattern() throws {
        let attrs = [B.kv("password", B.str("x")), B.kv("db.password", B.str("y")), B.kv("user", B.str("u"))]
        #expect(try applied("  - {key: password, action: delete}\n", to: attrs).keys == ["db.password", "user"])
        #expect(try applied("  - {pattern: ^.*password$, action: delete}\n", to: attrs).keys == ["user"])
        #expect(try applied("  - {key: user, pattern: passw, action: delete}\n", to: attrs).keys == [])
        #expect(try applied("  - {key: absent, action: delete}\n", to: attrs).keys == attrs.keys)
    }

    @Test func hashUsesSHA256OfTheValueBytesAsOtelcol() throws {
        // Vectors computed with Python's hashlib.sha256 over the bytes otelcol hashes.
        let attrs = [
            B.kv("email", B.str("alice@example.com")),
            B.kv("t", B.bool(true)), B.kv("f", B.bool(false)),
            B.kv("i", B.int(12345)), B.kv("neg", B.int(-1)),
            B.kv("d", B.double(3.5)),
            B.kv("empty", B.str("")), B.kv("raw", B.bytes([1, 2])),
        ]
        let yaml = attrs.map { "  - {key: \($0.key), action: hash}\n" }.joined()
        let out = try applied(yaml, to: attrs)
        #expect(out[attribute: "email"] == B.str("ff8d9819fc0e12bf0d24892e45987e249a28dce836a85cad60e28eaaa8c6d976"))
        #expect(out[attribute: "t"] == B.str("4bf5122f344554c53bde2ebb8cd2b7e3d1600ad631c385a5d7cce23c7785459a"))
        #expect(out[attribute: "f"] == B.str("6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d"))
        #expect(out[attribute: "i"] == B.str("e1543551249113046932741cc28f36b4bbcc542233eb5094874072d3167f160a"))
        #expect(out[attribute: "neg"] == B.str("12a3ae445661ce5dee78d0650d33362dec29c4f82af05e7e57fb595bbbacf0ca"))
        #expect(out[attribute: "d"] == B.str("42b215bc5c10e8a6453db424667de747070305824b7e67e63df3aca31215898f"))
        // otelcol: nothing to hash → the empty string
        #expect(out[attribute: "empty"] == B.str(""))
        #expect(out[attribute: "raw"] == B.str(""))
    }

    @Test func hashCoversMultiBlockInputs() throws {
        let out = try applied("  - {key: long, action: hash}\n", to: [B.kv("long", B.str(String(repeating: "a", count: 200)))])
        #expect(out[attribute: "long"] == B.str("c2a908d98f5df987ade41b5fce213067efbcc21ef2240212a41e54b5e7c28ae5"))
        let abc = try applied("  - {pattern: ^x, action: hash}\n", to: [B.kv("x1", B.str("abc")), B.kv("y", B.str("abc"))])
        #expect(abc[attribute: "x1"] == B.str("ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"))
        #expect(abc[attribute: "y"] == B.str("abc"))
    }

    @Test(arguments: [
        (55, "eb2c86e932179f4ba13fe8715a26124b77d6bad290b9b4c1cc140cf633300c19"),
        (56, "a5fc6e203a4c2b657d0d153885932414b2ffc6a93f0f8bf8b3183315e5a7212c"),
        (60, "bbeb514bf12fdef276e7fde1f3cadc8fd1ec8ec070d893bd98f5d1b383de66cf"),
        (64, "a0fab1377f49a759b57f63318262ebe89fabfc990e8e93ceac2984561482b9d4"),
        (119, "68297a9eb141ce16bbc0847da1c0c48e2858704feaa13993bde29f87a198a6e1"),
        (128, "70ae1c5307f5250d5cb9e40742ba9613fcdf9b8d9eb6dd393330443b2d5effbd"),
    ])
    func hashIsRightAtPaddingBoundaries(length: Int, digest: String) throws {
        // Vectors: hashlib.sha256(b"b" * length).hexdigest()
        let out = try applied("  - {key: v, action: hash}\n", to: [B.kv("v", B.str(String(repeating: "b", count: length)))])
        #expect(out[attribute: "v"] == B.str(digest))
    }

    @Test func extractCreatesOneAttributePerNamedGroupAndOverwrites() throws {
        let yaml = "  - {key: http.url, pattern: '^/api/(?P<version>v[0-9]+)/users/(?P<user_id>[^/]+)', action: extract}\n"
        let out = try applied(yaml, to: [B.kv("http.url", B.str("/api/v2/users/123/orders")), B.kv("version", B.str("old"))])
        #expect(out[attribute: "version"] == B.str("v2"))
        #expect(out[attribute: "user_id"] == B.str("123"))
        #expect(out[attribute: "http.url"] == B.str("/api/v2/users/123/orders"))
    }

    @Test func extractDoesNothingWithoutMatchOrOnNonStrings() throws {
        let yaml = "  - {key: u, pattern: '^/api/(?<v>v[0-9]+)', action: extract}\n"
        #expect(try applied(yaml, to: [B.kv("u", B.str("/other"))]).keys == ["u"])
        #expect(try applied(yaml, to: [B.kv("u", B.int(5))]).keys == ["u"])
        #expect(try applied(yaml, to: []).keys == [])
    }

    @Test func extractSetsEmptyStringForAnOptionalGroupThatDidNotTakePart() throws {
        let yaml = "  - {key: u, pattern: '^(?P<a>x)?(?P<b>y)$', action: extract}\n"
        let out = try applied(yaml, to: [B.kv("u", B.str("y"))])
        #expect(out[attribute: "a"] == B.str(""))
        #expect(out[attribute: "b"] == B.str("y"))
    }

    @Test func convertToIntDoubleAndStringAsOtelcol() throws {
        let yaml = """
              - {key: s2i, action: convert, converted_type: int}
              - {key: d2i, action: convert, converted_type: int}
              - {key: b2i, action: convert, converted_type: int}
              - {key: bad2i, action: convert, converted_type: int}
              - {key: s2d, action: convert, converted_type: double}
              - {key: i2d, action: convert, converted_type: double}
              - {key: i2s, action: convert, converted_type: string}
              - {key: d2s, action: convert, converted_type: string}
              - {key: b2s, action: convert, converted_type: string}
              - {key: tiny2s, action: convert, converted_type: string}

            """
        let out = try applied(
            yaml,
            to: [
                B.kv("s2i", B.str("123")), B.kv("d2i", B.double(-2.9)), B.kv("b2i", B.bool(true)), B.kv("bad2i", B.str("12a")),
                B.kv("s2d", B.str("1.5e2")), B.kv("i2d", B.int(7)), B.kv("i2s", B.int(-3)), B.kv("d2s", B.double(2.0)),
                B.kv("b2s", B.bool(false)), B.kv("tiny2s", B.double(1e-7)),
            ])
        #expect(out[attribute: "s2i"] == B.int(123))
        #expect(out[attribute: "d2i"] == B.int(-2))
        #expect(out[attribute: "b2i"] == B.int(1))
        #expect(out[attribute: "bad2i"] == B.str("12a"))
        #expect(out[attribute: "s2d"] == B.double(150))
        #expect(out[attribute: "i2d"] == B.double(7))
        #expect(out[attribute: "i2s"] == B.str("-3"))
        #expect(out[attribute: "d2s"] == B.str("2"))
        #expect(out[attribute: "b2s"] == B.str("false"))
        #expect(out[attribute: "tiny2s"] == B.str("1e-7"))
    }

    @Test func convertToStringPrintsValuesAsOtelcolsAsString() throws {
        let keys = ["big", "frac", "neg", "small", "exp", "raw", "list", "map"]
        let yaml = keys.map { "  - {key: \($0), action: convert, converted_type: string}\n" }.joined()
        var list = Opentelemetry_Proto_Common_V1_ArrayValue()
        list.values = [B.str("a<b"), B.int(1), B.double(0.5), B.bool(true)]
        var listValue = AnyValue()
        listValue.arrayValue = list
        var map = Opentelemetry_Proto_Common_V1_KeyValueList()
        map.values = [B.kv("z", B.int(1)), B.kv("a", B.str("x"))]
        var mapValue = AnyValue()
        mapValue.kvlistValue = map
        let out = try applied(
            yaml,
            to: [
                B.kv("big", B.double(1e21)), B.kv("frac", B.double(123.456)), B.kv("neg", B.double(-0.5)),
                B.kv("small", B.double(0.000001)), B.kv("exp", B.double(2.5e-8)), B.kv("raw", B.bytes([0, 255, 16])),
                B.kv("list", listValue), B.kv("map", mapValue),
            ])
        #expect(out[attribute: "big"] == B.str("1e+21"))
        #expect(out[attribute: "frac"] == B.str("123.456"))
        #expect(out[attribute: "neg"] == B.str("-0.5"))
        #expect(out[attribute: "small"] == B.str("0.000001"))
        #expect(out[attribute: "exp"] == B.str("2.5e-8"))
        #expect(out[attribute: "raw"] == B.str("AP8Q"))
        #expect(out[attribute: "list"] == B.str("[\"a\\u003cb\",1,0.5,true]"))
        #expect(out[attribute: "map"] == B.str("{\"a\":\"x\",\"z\":1}"))
    }

    @Test func convertLeavesUnconvertibleValuesAlone() throws {
        let yaml = "  - {key: s, action: convert, converted_type: double}\n  - {key: b, action: convert, converted_type: int}\n"
        let out = try applied(yaml, to: [B.kv("s", B.str("twelve")), B.kv("b", B.bytes([1]))])
        #expect(out[attribute: "s"] == B.str("twelve"))
        #expect(out[attribute: "b"] == B.bytes([1]))
    }

    @Test func actionsRunInOrder() throws {
        let yaml = """
              - {key: a, value: x, action: insert}
              - {key: b, from_attribute: a, action: insert}
              - {key: a, action: delete}

            """
        #expect(try applied(yaml, to: []) == [B.kv("b", B.str("x"))])
    }
}
