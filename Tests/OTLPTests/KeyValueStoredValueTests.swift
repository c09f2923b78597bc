import Foundation
import OTLP
import Testing

@Suite struct KeyValueStoredValueTests {
    @Test func theStoredValueIsNilWhenUnsetAndOtherwiseWhatTheGetterGives() {
        var kv = KeyValue()
        kv.key = "k"
        #expect(kv.storedValue == nil && !kv.hasValue)
        var values: [AnyValue] = [AnyValue(), .string(""), .string(String(repeating: "long string ", count: 4))]
        values.append(.with { $0.intValue = -42 })
        values.append(.with { $0.boolValue = true })
        values.append(.with { $0.doubleValue = 1.5 })
        values.append(.with { $0.bytesValue = Data(repeating: 7, count: 40) })
        values.append(.with { $0.arrayValue.values = [.string("a")] })
        values.append(.with { $0.kvlistValue.values = [kv] })
        for value in values {
            kv.value = value
            #expect(kv.storedValue == value)
            #expect(kv.storedValue == kv.value)
        }
        kv.clearValue()
        #expect(kv.storedValue == nil)
    }
}
