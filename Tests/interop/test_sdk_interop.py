"""The official OpenTelemetry Python SDK exporters (OTLP/gRPC and OTLP/HTTP protobuf) against otelsink.

The spans are made by the SDK, captured in memory, and exported with the real exporters. What those exporters put
on the wire is exactly `encode_spans(spans)` (the exporters call that encoder), so every stored span, resource and
scope is compared as a protobuf message with it: nothing may be lost or altered.

The tests that use the SDK exporters (traces, metrics, logs) and the hand-made OTLP/JSON post run twice: in clear
text, and with TLS on both OTLP ports (the session's openssl-made certificates, see conftest.py; the exporters trust
the test CA and nothing else). The edge-value tests at the end post raw requests to a shared clear-text server.
"""

from __future__ import annotations

import json
import ssl
import time

import grpc
import httpx
import pytest
import requests
from google.protobuf import json_format
from opentelemetry.exporter.otlp.proto.common.trace_encoder import encode_spans
from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter as GRPCSpanExporter
from opentelemetry.exporter.otlp.proto.http import Compression as HTTPCompression
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter as HTTPSpanExporter
from opentelemetry.proto.common.v1 import common_pb2
from opentelemetry.proto.trace.v1 import trace_pb2
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import SpanLimits, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor, SpanExportResult
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import (Link, NonRecordingSpan, SpanContext, SpanKind, Status, StatusCode, TraceFlags,
                                 TraceState, set_span_in_context)

from conftest import tls_yaml
from otlp_util import (JSON, assert_same_trace, by_trace, cli_trace_json, cli_trace_request, encode_body,
                       from_otlp_json, make_request, make_span, new_trace_id, parse_trace_response, stored_rows,
                       stored_span_ids, to_otlp_json)

# Every test here takes well under a second; a hang fails it instead of the run.
pytestmark = pytest.mark.timeout(60)

SERVICE = "interop-sdk-service"

# One attribute of every type the SDK supports, with edge values.
EVERY_TYPE = {
    "attr.str": "héllo, wörld ✓ 日本語",
    "attr.str.empty": "",
    "attr.bool.true": True,
    "attr.bool.false": False,
    "attr.int": 42,
    "attr.int.min": -(2**63),
    "attr.int.max": 2**63 - 1,
    "attr.float": 3.141592653589793,
    "attr.float.tiny": 5e-324,
    "attr.float.big": -1.7976931348623157e308,
    "attr.float.inf": float("inf"),
    "attr.bytes": bytes(range(256)),
    "attr.str.seq": ("a", "", "ü"),
    "attr.bool.seq": (True, False, True),
    "attr.int.seq": (0, -1, 2**62),
    "attr.float.seq": (0.5, -2.25, 1e-9),
    "attr.map": {"k": "v", "n": 7, "nested": {"deep": [1, "two", 3.0]}},
    "attr.mixed.seq": [1, "a", True],
}


def make_sdk_spans():
    """A small application's worth of spans, exercising every field the SDK sets."""
    memory = InMemorySpanExporter()
    resource = Resource.create(
        {
            "service.name": SERVICE,
            "service.version": "2.3.4",
            "deployment.environment.name": "interop",
            "host.cores": 2,
            "feature.flags": ("a", "b"),
        },
        schema_url="https://opentelemetry.io/schemas/1.26.0",
    )
    provider = TracerProvider(resource=resource, span_limits=SpanLimits(max_span_attributes=40))
    provider.add_span_processor(SimpleSpanProcessor(memory))
    tracer = provider.get_tracer("interop.tests", "1.2.3", schema_url="https://opentelemetry.io/schemas/1.24.0",
                                 attributes={"scope.attr": "scoped", "scope.n": 1})
    other = provider.get_tracer("interop.other")

    # A remote parent (as if propagated in from another service) with a trace state, a span in its trace, and a
    # remote context that is only linked to.
    remote_parent = SpanContext(trace_id=int.from_bytes(new_trace_id(), "big"), span_id=0xB7AD6B7169203331,
                                is_remote=True, trace_flags=TraceFlags(TraceFlags.SAMPLED),
                                trace_state=TraceState([("vendor", "v1"), ("other", "x-2")]))
    with other.start_as_current_span("upstream", kind=SpanKind.PRODUCER,
                                     context=set_span_in_context(NonRecordingSpan(remote_parent))) as upstream:
        pass
    remote = SpanContext(trace_id=0x0AF7651916CD43DD8448EB211C80319C, span_id=0x00F067AA0BA902B7, is_remote=True,
                         trace_flags=TraceFlags(TraceFlags.DEFAULT))

    t0 = time.time_ns()
    with tracer.start_as_current_span(
        "GET /items/{id}", kind=SpanKind.SERVER, attributes=EVERY_TYPE, start_time=t0,
        links=[Link(upstream.get_span_context(), {"link.kind": "follows", "link.n": 3, "link.seq": (1.5, 2.5)}),
               Link(remote, {"link.remote": True})],
        end_on_exit=False,
    ) as root:
        root.add_event("request.received", {"bytes": 123, "ok": True, "ratio": 0.25, "tags": ("x", "y")},
                       timestamp=t0 + 1000)
        root.add_event("no-attributes", timestamp=t0 + 2000)
        with tracer.start_as_current_span("db.query", kind=SpanKind.CLIENT, start_time=t0 + 3000,
                                            end_on_exit=False) as child:
            child.set_attribute("db.statement", "SELECT 1")
            child.set_status(Status(StatusCode.ERROR, "connection reset by peer"))
            child.add_event("exception", {"exception.type": "OSError", "exception.message": "reset"},
                            timestamp=t0 + 4000)
            child.end(end_time=t0 + 5000)
        with tracer.start_as_current_span("overflow", kind=SpanKind.CONSUMER, start_time=t0 + 6000,
                                            end_on_exit=False) as over:
            for i in range(45):  # 5 over the limit: dropped_attributes_count = 5
                over.set_attribute(f"k{i}", i)
            over.set_status(Status(StatusCode.OK))
            over.end(end_time=t0 + 7000)
        root.end(end_time=t0 + 10_000)

    spans = memory.get_finished_spans()
    assert len(spans) == 4
    return spans


# ---------------------------------------------------------------------------------------------- clear text or TLS


@pytest.fixture(params=["clear", "tls"])
def security(request):
    """None (clear text), or the session's certificates: the server gets `tls` on both OTLP ports."""
    return request.getfixturevalue("pki") if request.param == "tls" else None


def start_server(server_factory, pki, **options):
    """A server with TLS on its OTLP/gRPC and OTLP/HTTP ports when `pki` is given; `server.tls_ca` is the CA the
    clients trust (None in clear text)."""
    if pki is not None:
        options.update(grpc_extra=tls_yaml(pki.server), http_extra=tls_yaml(pki.server))
    server = server_factory(**options)
    server.tls_ca = pki.ca if pki is not None else None
    return server


@pytest.fixture
def server(server_factory, security):
    return start_server(server_factory, security)


def grpc_target(server) -> dict:
    """Keyword arguments for an SDK OTLP/gRPC exporter."""
    if server.tls_ca is None:
        return {"endpoint": server.grpc_address, "insecure": True}
    return {"endpoint": server.grpc_address, "insecure": False,
            "credentials": grpc.ssl_channel_credentials(root_certificates=server.tls_ca.cert.read_bytes())}


def otlp_http_url(server, path: str) -> str:
    return f"{'https' if server.tls_ca is not None else 'http'}://{server.http_address}{path}"


def http_target(server, path: str) -> dict:
    """Keyword arguments for an SDK OTLP/HTTP exporter."""
    if server.tls_ca is None:
        return {"endpoint": otlp_http_url(server, path)}
    # requests lets REQUESTS_CA_BUNDLE override `certificate_file` unless the session ignores the environment.
    session = requests.Session()
    session.trust_env = False
    return {"endpoint": otlp_http_url(server, path), "certificate_file": str(server.tls_ca.cert), "session": session}


def _export_grpc(server, spans, compression=None):
    exporter = GRPCSpanExporter(**grpc_target(server), timeout=10, compression=compression)
    try:
        return exporter.export(spans)
    finally:
        exporter.shutdown()


def _export_http(server, spans, compression=HTTPCompression.NoCompression):
    exporter = HTTPSpanExporter(**http_target(server, "/v1/traces"), timeout=10, compression=compression)
    try:
        return exporter.export(spans)
    finally:
        exporter.shutdown()


EXPORTERS = {
    "grpc": lambda s, spans: _export_grpc(s, spans),
    "grpc-gzip": lambda s, spans: _export_grpc(s, spans, grpc.Compression.Gzip),
    "http-protobuf": lambda s, spans: _export_http(s, spans),
    "http-protobuf-gzip": lambda s, spans: _export_http(s, spans, HTTPCompression.Gzip),
}


def check_stored(server, expected_request):
    """Compares what otelsink stored with `expected_request`, through the CLI and through the SQLite rows."""
    per_trace = by_trace(expected_request)
    stored = stored_span_ids(server.db_path)
    for trace_id, expected in per_trace.items():
        expected_ids = {s.span_id for rs in expected.resource_spans for ss in rs.scope_spans for s in ss.spans}
        assert stored.get(trace_id) == expected_ids, f"trace {trace_id.hex()}: stored span ids differ"

        # 1. `otelsink trace --json` gives back exactly what was sent.
        assert_same_trace(expected, cli_trace_request(server.binary, server.db_path, trace_id))

        # 2. The rows: a chunk's body holds each span as sent (a row per span, as schema version 10 and before
        # stored them, holds the Span without the fields its columns hold: IDs, parent, name, kind, start); the
        # columns agree with the span, resource and scope are stored separately.
        rows = stored_rows(server.db_path, trace_id)
        assert len(rows) == len(expected_ids)
        sent = {s.span_id: (rs, ss, s) for rs in expected.resource_spans for ss in rs.scope_spans for s in ss.spans}
        for row in rows:
            rs, ss, span = sent[row["span_id"]]
            body = row["span"]
            if not row["in_chunk"]:
                assert (body.trace_id, body.span_id, body.parent_span_id, body.name, body.kind, body.start_time_unix_nano) \
                    == (b"", b"", b"", "", 0, 0)
                body.trace_id, body.span_id, body.parent_span_id = row["trace_id"], row["span_id"], row["parent_span_id"]
                body.name, body.kind, body.start_time_unix_nano = row["name"], row["kind"], row["start_ns"]
            assert body == span
            assert row["trace_id"] == span.trace_id
            assert row["parent_span_id"] == span.parent_span_id
            assert row["name"] == span.name
            assert row["kind"] == span.kind
            assert row["start_ns"] == span.start_time_unix_nano
            assert row["duration_ns"] == span.end_time_unix_nano - span.start_time_unix_nano
            assert row["status_code"] == span.status.code
            assert row["service"] == SERVICE == row["resource_service"]
            assert row["resource_spans"].resource == rs.resource
            assert row["resource_spans"].schema_url == rs.schema_url
            assert len(row["resource_spans"].scope_spans) == 0
            assert row["scope_spans"].scope == ss.scope
            assert row["scope_spans"].schema_url == ss.schema_url
            assert len(row["scope_spans"].spans) == 0
            assert row["scope_name"] == ss.scope.name


def test_sdk_spans_cover_the_schema():
    """Guards the other tests: the SDK really produced the fields they claim to check."""
    req = encode_spans(make_sdk_spans())
    spans = {s.name: s for rs in req.resource_spans for ss in rs.scope_spans for s in ss.spans}
    root, child, over = spans["GET /items/{id}"], spans["db.query"], spans["overflow"]
    assert root.kind == trace_pb2.Span.SPAN_KIND_SERVER
    assert {a.value.WhichOneof("value") for a in root.attributes} == {
        "string_value", "bool_value", "int_value", "double_value", "bytes_value", "array_value", "kvlist_value"}
    assert len(root.events) == 2 and len(root.events[0].attributes) == 4
    assert len(root.links) == 2 and len(root.links[0].attributes) == 3
    assert root.links[0].trace_id == spans["upstream"].trace_id != root.trace_id
    assert spans["upstream"].trace_state == "vendor=v1,other=x-2"
    assert spans["upstream"].parent_span_id == bytes.fromhex("b7ad6b7169203331")
    assert child.status.code == trace_pb2.Status.STATUS_CODE_ERROR
    assert child.status.message == "connection reset by peer"
    assert child.parent_span_id == root.span_id
    assert over.dropped_attributes_count == 5
    assert len(req.resource_spans) == 1 and len(req.resource_spans[0].scope_spans) == 2
    assert req.resource_spans[0].schema_url == "https://opentelemetry.io/schemas/1.26.0"
    scopes = {ss.scope.name: ss for ss in req.resource_spans[0].scope_spans}
    assert scopes["interop.tests"].schema_url == "https://opentelemetry.io/schemas/1.24.0"
    assert scopes["interop.tests"].scope.version == "1.2.3" and len(scopes["interop.tests"].scope.attributes) == 2


@pytest.mark.parametrize("transport", list(EXPORTERS))
def test_sdk_exporter_round_trip(server, transport):
    spans = make_sdk_spans()
    result = EXPORTERS[transport](server, spans)
    assert result == SpanExportResult.SUCCESS, f"{transport} exporter reported {result}:\n{server.log()[-3000:]}"
    expected = encode_spans(spans)
    assert len(by_trace(expected)) == 2
    check_stored(server, expected)


def test_sdk_exports_over_both_transports_into_one_store(server):
    """Both exporters, one after the other, several batches; every trace lands once, nothing is mixed up."""
    sent = []
    for i in range(3):
        for transport in ("grpc", "http-protobuf"):
            spans = make_sdk_spans()
            assert EXPORTERS[transport](server, spans) == SpanExportResult.SUCCESS
            sent.append(encode_spans(spans))
    stored = stored_span_ids(server.db_path)
    assert len(stored) == 2 * len(sent)
    assert sum(len(v) for v in stored.values()) == 4 * len(sent)
    for request in sent:
        check_stored(server, request)


def test_hand_made_otlp_json_is_lossless(server):
    """The SDK's request as OTLP/JSON (hex IDs, integer enums) posted by hand: stored exactly as the protobuf."""
    spans = make_sdk_spans()
    expected = encode_spans(spans)
    doc = to_otlp_json(expected)
    first_span = doc["resourceSpans"][0]["scopeSpans"][0]["spans"][0]
    assert len(first_span["traceId"]) == 32 and len(first_span["spanId"]) == 16  # hex, not base64
    assert isinstance(first_span["kind"], int)
    verify = ssl.create_default_context(cafile=str(server.tls_ca.cert)) if server.tls_ca is not None else True
    with httpx.Client(timeout=10, verify=verify, trust_env=False) as client:
        r = client.post(otlp_http_url(server, "/v1/traces"), content=json.dumps(doc), headers={"Content-Type": JSON})
    assert r.status_code == 200, r.text
    assert r.headers["content-type"].startswith(JSON)
    response = parse_trace_response(r.content, r.headers["content-type"])
    assert not response.HasField("partial_success") or response.partial_success.rejected_spans == 0
    check_stored(server, expected)


def test_cli_json_output_is_otlp_json(server):
    """`otelsink trace --json` writes OTLP/JSON: lowercase hex IDs, integer enums, camelCase keys."""
    spans = make_sdk_spans()
    assert _export_http(server, spans) == SpanExportResult.SUCCESS
    root = next(s for s in spans if s.name == "GET /items/{id}")
    trace_id = root.context.trace_id.to_bytes(16, "big")
    doc = cli_trace_json(server.binary, server.db_path, trace_id)
    assert set(doc) == {"resourceSpans"}
    out_spans = [s for rs in doc["resourceSpans"] for ss in rs["scopeSpans"] for s in ss["spans"]]
    assert len(out_spans) == 3
    for s in out_spans:
        assert s["traceId"] == trace_id.hex()
        assert len(s["spanId"]) == 16 and s["spanId"] == s["spanId"].lower()
        int(s["spanId"], 16)
        assert isinstance(s["kind"], int)
    by_name = {s["name"]: s for s in out_spans}
    assert by_name["GET /items/{id}"]["kind"] == 2  # SPAN_KIND_SERVER
    assert by_name["db.query"]["status"] == {"message": "connection reset by peer", "code": 2}
    assert by_name["db.query"]["parentSpanId"] == format(root.context.span_id, "016x")
    link = by_name["GET /items/{id}"]["links"][1]
    assert link["traceId"] == "0af7651916cd43dd8448eb211c80319c" and link["spanId"] == "00f067aa0ba902b7"
    upstream = next(s for s in spans if s.name == "upstream")
    up_doc = cli_trace_json(server.binary, server.db_path, upstream.context.trace_id.to_bytes(16, "big"))
    up_span = up_doc["resourceSpans"][0]["scopeSpans"][0]["spans"][0]
    assert up_span["traceState"] == "vendor=v1,other=x-2" and up_span["parentSpanId"] == "b7ad6b7169203331"
    assert up_span["kind"] == 4  # SPAN_KIND_PRODUCER


# ---------------------------------------------------------------------------------------------- metrics and logs


def _sdk_metrics():
    from opentelemetry.metrics import Observation
    from opentelemetry.sdk.metrics import MeterProvider
    from opentelemetry.sdk.metrics.export import InMemoryMetricReader
    from opentelemetry.sdk.metrics.view import ExponentialBucketHistogramAggregation, View

    reader = InMemoryMetricReader()
    provider = MeterProvider(
        resource=Resource.create({"service.name": "metrics-sdk", "host.cores": 2}), metric_readers=[reader],
        views=[View(instrument_name="exp.*", aggregation=ExponentialBucketHistogramAggregation())])
    meter = provider.get_meter("interop.meter", "0.1.0")
    counter = meter.create_counter("http.requests", unit="{request}", description="requests served")
    counter.add(5, {"route": "/a", "ok": True})
    counter.add(2, {"route": "/b", "ok": False})
    meter.create_up_down_counter("queue.depth").add(-3, {"queue": "q1"})
    latency = meter.create_histogram("http.latency", unit="ms")
    for v in (1.5, 20.0, 300.25):
        latency.record(v, {"route": "/a"})
    exp = meter.create_histogram("exp.size", unit="By")
    for v in (0.1, 1, 10, 100, 1000):
        exp.record(v)
    meter.create_gauge("room.temperature", unit="Cel").set(21.5, {"room": "lab"})
    meter.create_observable_gauge("process.threads", callbacks=[lambda _options: [Observation(7, {"pid": 1})]])
    data = reader.get_metrics_data()
    provider.shutdown()
    return data


def _sdk_logs():
    import logging

    from opentelemetry.sdk._logs import LoggerProvider, LoggingHandler
    from opentelemetry.sdk._logs.export import InMemoryLogRecordExporter, SimpleLogRecordProcessor

    memory = InMemoryLogRecordExporter()
    provider = LoggerProvider(resource=Resource.create({"service.name": "logs-sdk"}))
    provider.add_log_record_processor(SimpleLogRecordProcessor(memory))
    handler = LoggingHandler(logger_provider=provider)
    logger = logging.getLogger("interop.logs")
    logger.propagate = False
    logger.addHandler(handler)
    logger.setLevel(logging.DEBUG)
    tracer_provider = TracerProvider()
    try:
        with tracer_provider.get_tracer("t").start_as_current_span("inside-a-span"):
            logger.warning("disk %s is %d%% full", "/dev/sda1", 93, extra={"disk.free": 1.5, "alert": True})
        logger.error("plain error, no span ✓", extra={"tags": ("a", "b")})
    finally:
        logger.removeHandler(handler)
    records = memory.get_finished_logs()
    assert len(records) == 2
    return records


def _debug_dumps(server, prefix: str, count: int, timeout: float = 10.0) -> list[dict]:
    """The OTLP/JSON documents the `debug` exporter (verbosity: detailed) logged, one per line, starting `prefix`."""
    deadline = time.monotonic() + timeout
    while True:
        docs = []
        for line in server.log().splitlines():
            _, sep, rest = line.partition("[Exporters] ")
            if sep and rest.startswith("{" + json.dumps(prefix)):
                docs.append(json.loads(rest))
        if len(docs) >= count or time.monotonic() > deadline:
            return docs
        time.sleep(0.05)


def test_sdk_metrics_exporters_deliver_every_data_point(server_factory, security):
    """The SDK's metric exporters (gRPC and HTTP) deliver sums, gauges, histograms and exponential histograms; the
    debug exporter's dump of what otelsink decoded equals what the SDK encoded."""
    from opentelemetry.exporter.otlp.proto.common.metrics_encoder import encode_metrics
    from opentelemetry.exporter.otlp.proto.grpc.metric_exporter import OTLPMetricExporter as GRPCMetricExporter
    from opentelemetry.exporter.otlp.proto.http.metric_exporter import OTLPMetricExporter as HTTPMetricExporter
    from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import ExportMetricsServiceRequest
    from opentelemetry.sdk.metrics.export import MetricExportResult

    server = start_server(server_factory, security, debug_verbosity="detailed")
    data = _sdk_metrics()
    expected = encode_metrics(data)
    kinds = {m.WhichOneof("data") for m in expected.resource_metrics[0].scope_metrics[0].metrics}
    assert kinds == {"sum", "gauge", "histogram", "exponential_histogram"}
    for exporter in (GRPCMetricExporter(**grpc_target(server), timeout=10),
                     HTTPMetricExporter(**http_target(server, "/v1/metrics"), timeout=10)):
        try:
            assert exporter.export(data) == MetricExportResult.SUCCESS
        finally:
            exporter.shutdown()
    docs = _debug_dumps(server, "resourceMetrics", 2)
    assert len(docs) == 2, server.log()[-3000:]
    for doc in docs:
        assert from_otlp_json(doc, ExportMetricsServiceRequest) == expected


def test_sdk_log_exporters_deliver_every_record(server_factory, security):
    from opentelemetry.exporter.otlp.proto.common._log_encoder import encode_logs
    from opentelemetry.exporter.otlp.proto.grpc._log_exporter import OTLPLogExporter as GRPCLogExporter
    from opentelemetry.exporter.otlp.proto.http._log_exporter import OTLPLogExporter as HTTPLogExporter
    from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceRequest
    from opentelemetry.sdk._logs.export import LogRecordExportResult

    server = start_server(server_factory, security, debug_verbosity="detailed")
    records = _sdk_logs()
    expected = encode_logs(records)
    with_span = [r for rl in expected.resource_logs for sl in rl.scope_logs for r in sl.log_records if r.trace_id]
    assert len(with_span) == 1 and len(with_span[0].span_id) == 8
    for exporter in (GRPCLogExporter(**grpc_target(server), timeout=10),
                     HTTPLogExporter(**http_target(server, "/v1/logs"), timeout=10)):
        try:
            assert exporter.export(records) == LogRecordExportResult.SUCCESS
        finally:
            exporter.shutdown()
    docs = _debug_dumps(server, "resourceLogs", 2)
    assert len(docs) == 2, server.log()[-3000:]
    for doc in docs:
        assert from_otlp_json(doc, ExportLogsServiceRequest) == expected


# ---------------------------------------------------------------------------------------------- edge values


def _post_and_read_back(server, request, trace_id, content_type):
    with httpx.Client(timeout=10) as client:
        r = client.post(server.url(), content=encode_body(request, content_type), headers={"Content-Type": content_type})
    assert r.status_code == 200, r.content
    assert parse_trace_response(r.content, r.headers["content-type"]).partial_success.rejected_spans == 0
    assert_same_trace(request, cli_trace_request(server.binary, server.db_path, trace_id))


@pytest.mark.parametrize("content_type", ["application/x-protobuf", JSON])
def test_extreme_timestamps_round_trip(module_server, content_type):
    """Start/end at 0, at the signed and unsigned 64-bit limits, and end before start: valid OTLP, stored as sent
    (these land in partitions far apart; the trace is still read back whole)."""
    trace_id = new_trace_id()
    spans = [
        make_span(trace_id, "zero", start_ns=0, duration_ns=0),
        make_span(trace_id, "int64-max", start_ns=2**63 - 1, duration_ns=0),
        make_span(trace_id, "past-int64", start_ns=2**63 + 10, duration_ns=5),
        make_span(trace_id, "uint64-max", start_ns=2**64 - 1, duration_ns=0),
        make_span(trace_id, "ends-before-start"),
    ]
    spans[-1].end_time_unix_nano = spans[-1].start_time_unix_nano - 10**9
    _post_and_read_back(module_server, make_request(spans), trace_id, content_type)


@pytest.mark.parametrize("content_type", ["application/x-protobuf", JSON])
def test_deeply_nested_attribute_values_round_trip(module_server, content_type):
    """Maps in arrays in maps, 20 levels deep, plus empty values of every kind."""
    value = {"stringValue": "leaf"}
    for level in range(20):
        value = ({"kvlistValue": {"values": [{"key": f"l{level}", "value": value}, {"key": "n", "value": {"intValue": level}}]}}
                 if level % 2 else {"arrayValue": {"values": [value, {"doubleValue": level / 3}]}})
    trace_id = new_trace_id()
    span = make_span(trace_id, "nested")
    span.attributes.add(key="deep").value.CopyFrom(json_format.ParseDict(value, common_pb2.AnyValue()))
    span.attributes.add(key="empty.array").value.array_value.SetInParent()
    span.attributes.add(key="empty.map").value.kvlist_value.SetInParent()
    span.attributes.add(key="empty.bytes").value.bytes_value = b""
    span.attributes.add(key="no.value")
    _post_and_read_back(module_server, make_request([span]), trace_id, content_type)
