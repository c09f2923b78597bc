extension Opentelemetry_Proto_Common_V1_KeyValue {
    /// The value as stored, read in place: nil when unset.
    ///
    /// The generated `value` getter returns a copy (`_value ?? AnyValue()`), retaining a string value on every
    /// read, and from another module it is a call the optimizer cannot see through. Code that reads every
    /// attribute of every span (tail sampling) reads this instead. The stored property is visible here because
    /// scripts/expose-otlp-fields.py marks it `@usableFromInline` when the messages are generated; a
    /// swift-protobuf that stores the field differently fails that script, and then the build.
    @inlinable
    public var storedValue: Opentelemetry_Proto_Common_V1_AnyValue? {
        _read { yield _value }
    }
}
