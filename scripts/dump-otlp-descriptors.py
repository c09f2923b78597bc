"""Writes the official OTLP schema, as compiled into the PyPI package
`opentelemetry-proto` (plus google.rpc.Status / error details from
`googleapis-common-protos` and grpc.health.v1 from `grpcio-health-checking`), to a protobuf FileDescriptorSet that
`protoc --descriptor_set_in` accepts."""
import sys

from google.protobuf import descriptor_pb2

from opentelemetry.proto.collector.logs.v1 import logs_service_pb2
from opentelemetry.proto.collector.metrics.v1 import metrics_service_pb2
from opentelemetry.proto.collector.trace.v1 import trace_service_pb2
from google.rpc import error_details_pb2, status_pb2  # googleapis-common-protos
from grpc_health.v1 import health_pb2  # grpcio-health-checking

roots = [trace_service_pb2, metrics_service_pb2, logs_service_pb2, status_pb2, error_details_pb2, health_pb2]
seen = {}


def add(file_descriptor):
    if file_descriptor.name in seen:
        return
    for dep in file_descriptor.dependencies:
        add(dep)
    proto = descriptor_pb2.FileDescriptorProto()
    file_descriptor.CopyToProto(proto)
    seen[file_descriptor.name] = proto


for module in roots:
    add(module.DESCRIPTOR)

out = descriptor_pb2.FileDescriptorSet()
out.file.extend(seen.values())
with open(sys.argv[1], "wb") as f:
    f.write(out.SerializeToString())
for name in seen:
    print(name)
