#!/usr/bin/env python3
"""Writes the seed corpora of the fuzz targets (bench/fuzz/corpus/<target>/): small valid inputs of every kind each
target reads, for libFuzzer to start from. The files are committed; run this again to regenerate them:

    .venv/bin/python bench/fuzz/make-seeds.py      # needs Tests/interop/requirements.txt installed
"""
import gzip
import json
import sys
import zlib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "Tests" / "interop"))

import h2.config  # noqa: E402
import h2.connection  # noqa: E402
from opentelemetry.proto.collector.logs.v1 import logs_service_pb2  # noqa: E402
from opentelemetry.proto.collector.metrics.v1 import metrics_service_pb2  # noqa: E402
from opentelemetry.proto.common.v1 import common_pb2  # noqa: E402
from opentelemetry.proto.logs.v1 import logs_pb2  # noqa: E402
from opentelemetry.proto.metrics.v1 import metrics_pb2  # noqa: E402

from otlp_util import kv, make_span, make_request, to_otlp_json  # noqa: E402

CORPUS = ROOT / "bench" / "fuzz" / "corpus"
# The HTTP/2 connection preface: the http and grpc fuzz targets add it themselves, so seeds leave it out.
PREFACE = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"


def traces():
    tid = bytes(range(1, 17))
    root = make_span(tid, "GET /cart", span_id=bytes(range(1, 9)))
    root.attributes.extend([kv("http.status_code", 200), kv("ok", True), kv("ratio", 0.5), kv("tags", ["a", "b"])])
    child = make_span(tid, "SELECT", span_id=bytes(range(2, 10)), parent=root.span_id)
    child.events.add(name="retry", time_unix_nano=5)
    child.links.add(trace_id=tid, span_id=root.span_id)
    child.status.code = 2
    child.status.message = "boom"
    return make_request([root, child], service="checkout")


def metrics():
    req = metrics_service_pb2.ExportMetricsServiceRequest()
    rm = req.resource_metrics.add()
    rm.resource.attributes.append(kv("service.name", "checkout"))
    sm = rm.scope_metrics.add()
    sm.scope.name = "meter"
    g = sm.metrics.add(name="temp", unit="Cel")
    p = g.gauge.data_points.add(time_unix_nano=10, as_double=21.5)
    p.attributes.append(kv("room", "a"))
    s = sm.metrics.add(name="requests", unit="1")
    s.sum.is_monotonic = True
    s.sum.aggregation_temporality = 2
    s.sum.data_points.add(start_time_unix_nano=1, time_unix_nano=10, as_int=7)
    h = sm.metrics.add(name="latency", unit="ms")
    h.histogram.aggregation_temporality = 2
    h.histogram.data_points.add(time_unix_nano=10, count=3, sum=12.0, bucket_counts=[1, 2, 0], explicit_bounds=[5, 10])
    e = sm.metrics.add(name="size")
    e.exponential_histogram.data_points.add(time_unix_nano=10, count=2, scale=1, zero_count=0)
    q = sm.metrics.add(name="quantiles")
    q.summary.data_points.add(time_unix_nano=10, count=2, sum=3.0)
    return req


def logs():
    req = logs_service_pb2.ExportLogsServiceRequest()
    rl = req.resource_logs.add()
    rl.resource.attributes.append(kv("service.name", "checkout"))
    lr = rl.scope_logs.add().log_records.add(time_unix_nano=10, severity_number=9, severity_text="INFO")
    lr.body.string_value = "hello"
    lr.trace_id = bytes(range(1, 17))
    return req


def h2_request(path: str, body: bytes, content_type: str) -> bytes:
    conn = h2.connection.H2Connection(config=h2.config.H2Configuration(client_side=True))
    conn.initiate_connection()
    conn.send_headers(1, [(":method", "POST"), (":path", path), (":scheme", "http"), (":authority", "x"),
                          ("content-type", content_type)])
    conn.send_data(1, body, end_stream=True)
    data = conn.data_to_send()
    return data[len(PREFACE):]


def grpc_calls(calls, split: int = 0) -> bytes:
    """A gRPC client's bytes after the preface: one call per (path, message, compressed) on streams 1, 3, ...; with
    `split`, each message goes in DATA frames of that many bytes."""
    conn = h2.connection.H2Connection(config=h2.config.H2Configuration(client_side=True))
    conn.initiate_connection()
    for i, (path, message, compressed) in enumerate(calls):
        stream = 1 + 2 * i
        headers = [(":method", "POST"), (":scheme", "http"), (":path", path), (":authority", "x"),
                   ("content-type", "application/grpc"), ("te", "trailers"), ("grpc-timeout", "5S")]
        if compressed:
            headers.append(("grpc-encoding", "gzip"))
            message = gzip.compress(message, mtime=0)  # the same seed every time it is made
        conn.send_headers(stream, headers)
        framed = bytes([1 if compressed else 0]) + len(message).to_bytes(4, "big") + message
        step = split or len(framed) or 1
        for at in range(0, len(framed), step):
            conn.send_data(stream, framed[at:at + step])
        conn.end_stream(stream)
    data = conn.data_to_send()
    return data[len(PREFACE):]


def scrape_shaped_metrics():
    """Metrics whose points share attribute sets across metrics (as exporters send them), with text the exposition
    must escape: newlines and quotes in label values and descriptions, names to sanitize, an `le` attribute."""
    req = metrics_service_pb2.ExportMetricsServiceRequest()
    rm = req.resource_metrics.add()
    rm.resource.attributes.extend([kv("service.name", "checkout"), kv("service.instance.id", "i-1"), kv("host.name", "h\n1")])
    sm = rm.scope_metrics.add()
    sm.scope.name = "meter"
    sm.scope.version = "1.0"
    for m in range(6):
        metric = sm.metrics.add(name=f"http.server.duration.{m % 2}", unit="ms" if m % 3 == 2 else "1",
                                description='line one\nline "two" \\ end')
        kind = m % 3
        for p in range(3):
            attrs = [kv("route", f"/cart/{p}"), kv("label with spaces", 'say "hi"\n'), kv("n", p)]
            if kind == 2:
                if p == 2:
                    attrs.append(kv("le", "oops"))
                dp = metric.histogram.data_points.add(time_unix_nano=10 + m, start_time_unix_nano=1, count=3, sum=4.5,
                                                      bucket_counts=[1, 1, 1], explicit_bounds=[1, 2])
                metric.histogram.aggregation_temporality = 2
            elif kind == 1:
                metric.sum.is_monotonic = True
                metric.sum.aggregation_temporality = 2
                dp = metric.sum.data_points.add(time_unix_nano=10 + m, start_time_unix_nano=1, as_double=float(p))
            else:
                dp = metric.gauge.data_points.add(time_unix_nano=10 + m, as_int=p)
            dp.attributes.extend(attrs)
    return req


def write(target: str, name: str, data: bytes) -> None:
    folder = CORPUS / target
    folder.mkdir(parents=True, exist_ok=True)
    (folder / name).write_bytes(data)


def main() -> None:
    t, m, lg = traces().SerializeToString(), metrics().SerializeToString(), logs().SerializeToString()
    tj, mj, lj = (json.dumps(to_otlp_json(x)).encode() for x in (traces(), metrics(), logs()))
    for name, data in [("traces.pb", t), ("metrics.pb", m), ("logs.pb", lg), ("empty.pb", b"")]:
        write("otlp-protobuf", name, data)
    for name, data in [("traces.json", tj), ("metrics.json", mj), ("logs.json", lj), ("empty.json", b"{}")]:
        write("otlp-json", name, data)
    for name, data in [("traces.gz", gzip.compress(t)), ("metrics.zlib", zlib.compress(m)),
                       ("truncated.gz", gzip.compress(t)[:20])]:
        write("gzip", name, data)
    for name, path, body, ctype in [("traces-pb", "/v1/traces", t, "application/x-protobuf"),
                                    ("metrics-json", "/v1/metrics", mj, "application/json"),
                                    ("logs-pb", "/v1/logs", lg, "application/x-protobuf")]:
        head = f"POST {path} HTTP/1.1\r\nHost: x\r\nContent-Type: {ctype}\r\nContent-Length: {len(body)}\r\n\r\n".encode()
        write("http", f"{name}.h1", b"\x00" + head + body)  # even first byte: HTTP/1.1
        write("http", f"{name}.h2", b"\x01" + h2_request(path, body, ctype))  # odd: HTTP/2 preface added
    for name, data in [("metrics.pb", m), ("scrape-shaped.pb", scrape_shaped_metrics().SerializeToString())]:
        write("prometheus", name, data)
    export = "/opentelemetry.proto.collector.{0}.v1.{1}Service/Export"
    for name, first, calls, split in [
        ("traces", 0x10, [(export.format("trace", "Trace"), t, False)], 0),
        ("metrics-gzip", 0x21, [(export.format("metrics", "Metrics"), m, True)], 0),
        ("logs-split", 0x02, [(export.format("logs", "Logs"), lg, False)], 7),
        ("two-calls", 0x3f, [(export.format("trace", "Trace"), t, False), (export.format("metrics", "Metrics"), m, False)], 0),
        ("health", 0x05, [("/grpc.health.v1.Health/Check", b"", False), ("/grpc.health.v1.Health/Watch", b"", False)], 0),
    ]:
        write("grpc", name, bytes([first]) + grpc_calls(calls, split))
    gz = gzip.compress(tj)
    write("http", "traces-json-gzip.h1", b"\x02" + (
        f"POST /v1/traces HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Encoding: gzip\r\n"
        f"Content-Length: {len(gz)}\r\n\r\n").encode() + gz)
    write("http", "chunked-continue.h1", b"\x04POST /v1/traces HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\n"
          b"Content-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n2\r\n{}\r\n0\r\n\r\n")
    for i, uri in enumerate([
        "/api/services", "/api/services/checkout/operations", "/api/operations?service=checkout&spanKind=server",
        "/api/traces?service=checkout&operation=GET%20%2Fcart&tags=%7B%22http.status_code%22%3A%22200%22%7D"
        "&minDuration=1ms&maxDuration=2s&limit=20&start=1&end=2000000000000000&lookback=1h",
        "/api/traces?traceID=0102030405060708090a0b0c0d0e0f10&traceID=abc", "/api/traces/0102030405060708090a0b0c0d0e0f10",
        "/api/dependencies?endTs=1700000000000&lookback=3600000", "/api/v3/services", "/api/v3/operations?service=x&span_kind=client",
        "/api/v3/traces?query.service_name=checkout&query.start_time_min=2024-05-01T12:00:00.5Z"
        "&query.start_time_max=2024-05-02T00:00:00Z&query.duration_min=1ms&query.attributes=%7B%22a%22%3A1%7D&query.search_depth=5",
        "/api/v3/traces/0102030405060708090a0b0c0d0e0f10", "/health", "/nope?x=%zz",
    ]):
        write("query", f"uri-{i:02d}", uri.encode())
    for path in sorted((ROOT / "pipelines").glob("*.yaml")):
        write("config", path.name, path.read_bytes())
    write("config", "env-and-errors.yaml", b"receivers:\n  otlp:\n    protocols:\n      grpc:\n        endpoint: ${env:X:-:0}\n"
          b"exporters:\n  debug:\n    verbosity: loud\nservice:\n  pipelines:\n    traces/2:\n      receivers: [otlp, nope]\n"
          b"      exporters: [debug]\n")


if __name__ == "__main__":
    main()
