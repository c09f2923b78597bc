#!/usr/bin/env bash
# Regenerates Sources/OTLP/Generated (the messages) and Sources/OTLPGRPCStubs/Generated (the gRPC service stubs,
# which only tests use: the server and the exporter speak gRPC through otelsink's own handlers) from the official
# OTLP schema.
#
# The schema comes from the PyPI package opentelemetry-proto, whose compiled
# descriptors are the official .proto files of opentelemetry-proto (the pinned
# version below ships OTLP proto v1.10.0). protoc comes from Debian's
# protobuf-compiler; the Swift plugins build from the swift-protobuf and
# grpc-swift-protobuf versions this package depends on.
set -euo pipefail
OTLP_PY_VERSION=1.45.2   # opentelemetry-proto on PyPI; generated from OTLP proto v1.10.0
cd "$(dirname "$0")/.."

command -v protoc >/dev/null || { apt-get update -qq && apt-get install -y -qq protobuf-compiler; }
python3 -c "import opentelemetry.proto.version as v, sys; sys.exit(v.__version__ != '$OTLP_PY_VERSION')" 2>/dev/null \
  || pip install -q "opentelemetry-proto==$OTLP_PY_VERSION"
python3 -c "import grpc_health.v1.health_pb2, google.rpc.status_pb2" 2>/dev/null \
  || pip install -q --no-deps googleapis-common-protos grpcio-health-checking

swift build --product protoc-gen-swift
swift build --product protoc-gen-grpc-swift-2
bin=$(swift build --show-bin-path)

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
python3 scripts/dump-otlp-descriptors.py "$work/otlp.pb" > "$work/files.txt"
files=$(grep -E '^(opentelemetry|google/rpc|grpc_health)/' "$work/files.txt")

out=Sources/OTLP/Generated
stubs=Sources/OTLPGRPCStubs/Generated
rm -rf "$out" "$stubs"
mkdir -p "$out" "$stubs"
# FileNaming=PathToUnderscores keeps the many same-named files (trace.proto, trace_service.proto) apart.
protoc --descriptor_set_in="$work/otlp.pb" \
  --plugin=protoc-gen-swift="$bin/protoc-gen-swift" \
  --swift_out="$out" --swift_opt=Visibility=Public,FileNaming=PathToUnderscores \
  $files
protoc --descriptor_set_in="$work/otlp.pb" \
  --plugin=protoc-gen-grpc-swift="$bin/protoc-gen-grpc-swift-2" \
  --grpc-swift_out="$stubs" \
  --grpc-swift_opt=Visibility=Public,FileNaming=PathToUnderscores,Client=true,Server=true,ExtraModuleImports=OTLP \
  $(grep -E '^(opentelemetry/proto/collector|grpc_health)/' "$work/files.txt")
python3 scripts/expose-otlp-fields.py "$out/opentelemetry_proto_common_v1_common.pb.swift"
echo "OTLP schema: opentelemetry-proto $OTLP_PY_VERSION (OTLP proto v1.10.0)" > "$out/VERSION"
ls "$out" "$stubs"
