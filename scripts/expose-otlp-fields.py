#!/usr/bin/env python3
"""Post-processes the generated OTLP messages (run by scripts/generate-otlp.sh after protoc).

swift-protobuf generates `KeyValue.value` as a computed property over a fileprivate optional, so every read
returns a copy of the value (retaining a string value). This makes that stored optional visible to inlinable
code in the OTLP module (`@usableFromInline`), where `KeyValue.storedValue` (Sources/OTLP/KeyValueStoredValue.swift)
reads it in place. If a swift-protobuf release generates the field differently, this script fails, and so does
regeneration: nothing falls back silently.
"""
import pathlib
import sys

path = pathlib.Path(sys.argv[1] if len(sys.argv) > 1 else "Sources/OTLP/Generated/opentelemetry_proto_common_v1_common.pb.swift")
text = path.read_text()
generated = (
    "  fileprivate var _value: Opentelemetry_Proto_Common_V1_AnyValue? = nil\n"
    "}\n\npublic nonisolated struct Opentelemetry_Proto_Common_V1_InstrumentationScope"
)
exposed = generated.replace("  fileprivate var _value", "  @usableFromInline var _value", 1)
if text.count(exposed) == 1 and generated not in text:
    sys.exit(0)  # already done
if text.count(generated) != 1:
    sys.exit(f"{path}: KeyValue's stored value is not generated as expected; update scripts/expose-otlp-fields.py")
path.write_text(text.replace(generated, exposed, 1))
