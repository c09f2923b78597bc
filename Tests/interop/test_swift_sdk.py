"""The Swift OpenTelemetry backend (swift-otel, with swift-log, swift-metrics and swift-distributed-tracing) against
otelsink, over OTLP/gRPC, OTLP/HTTP protobuf and OTLP/HTTP JSON.

The client is the package in Tests/SwiftSDKClient: a small program written as a Swift user would write it
(`OTel.bootstrap`, configured by the standard `OTEL_*` environment variables). It emits a trace (a server span and
its client child, attributes of each type, events, a link to a span of a second trace, error statuses), metrics
(counter, floating-point counter, gauge, histogram, timer) and log records (inside the spans, so they carry the
trace and span IDs, and one outside), prints the IDs it made as one JSON line and exits 0 after flushing.

Each protocol gets a fresh otelsink (traces and logs into sqlite, metrics to the prometheus exporter, the query
extension); what it stored is read back through its public surfaces, field for field: the trace through
`/api/v3/traces/{id}` (lossless OTLP JSON) and the Jaeger API, the logs through Loki's API and `/api/v3/logs`, the
metrics through the prometheus exporter's scrape.

What the Swift packages themselves do not send (and so is not expected here), as of swift-otel 1.6.0 and
swift-distributed-tracing 1.7.3 (limitations on their side, not otelsink's):
- its instrumentation scope is always `swift-otel` with version "1.0.0" (a constant it has not updated); spans,
  metrics and logs all come under it, whatever tracer or logger label the application uses;
- swift-distributed-tracing makes an `[Int]` attribute an array of strings (only [Int32] and [Int64] are typed);
- swift-log metadata values are strings (or arrays and dictionaries of them): `"\\(51)"` arrives as the string "51";
- dropped-attribute counts, span flags and log record flags are always 0; trace state only when propagated in;
- the record's observed time equals its time;
- no compression, whatever OTEL_EXPORTER_OTLP_COMPRESSION says (read in its source, not observed here): its HTTP
  exporter does not implement it, and its gRPC exporter asks for gzip per call while leaving the transport's
  enabled algorithms at grpc-swift-nio-transport's default (none), which then sends the call uncompressed. So
  there is no gzip variant here; otelsink's gzip handling is tested with the Python SDK (test_sdk_interop.py).
Over OTLP/HTTP JSON, swift-otel writes trace and span IDs in base64 (protobuf's default JSON mapping) where the
OTLP specification says hex; otelsink accepts both and counts the base64 ones in
`otelsink_receiver_json_base64_ids_total`, asserted here.

The client binary is `$SWIFT_SDK_CLIENT_BIN` (scripts/test.sh builds it and sets it), else the package's own
debug build. Missing, the tests fail under CI (`CI` set) or when the variable names a missing file, and are skipped
otherwise (a developer who has not built the client).
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import time
from pathlib import Path

import httpx
import pytest
from opentelemetry.proto.collector.logs.v1 import logs_service_pb2
from opentelemetry.proto.trace.v1 import trace_pb2

from otlp_util import from_otlp_json
from prometheus_util import scrape

REPO_ROOT = Path(__file__).resolve().parents[2]
CLIENT_PACKAGE = REPO_ROOT / "Tests" / "SwiftSDKClient"
DEFAULT_CLIENT_BIN = CLIENT_PACKAGE / ".build" / "debug" / "SwiftSDKClient"
CLIENT_ENV = "SWIFT_SDK_CLIENT_BIN"

# A run takes a few seconds (swift-otel's batch delays are set to 200 ms by the client); bounded in any case.
CLIENT_TIMEOUT = 90
pytestmark = pytest.mark.timeout(150)

PROTOCOLS = ["grpc", "http/protobuf", "http/json"]

Span = trace_pb2.Span
Status = trace_pb2.Status


# ---------------------------------------------------------------------------------------------- the client


@pytest.fixture(scope="session")
def swift_client_bin() -> Path:
    named = os.environ.get(CLIENT_ENV)
    binary = Path(named) if named else DEFAULT_CLIENT_BIN
    if binary.is_file() and os.access(binary, os.X_OK):
        return binary
    message = (f"Swift SDK client not found at {binary}: build it with `swift build --package-path "
               f"Tests/SwiftSDKClient` (scripts/test.sh does, and sets ${CLIENT_ENV})")
    if named or os.environ.get("CI"):
        pytest.fail(message)
    pytest.skip(message)


def slug(protocol: str) -> str:
    return protocol.replace("/", "-")


def run_client(binary: Path, server, protocol: str) -> dict:
    """Runs the client against `server` with only the standard OTEL_* variables to steer it; returns its JSON line."""
    address = server.grpc_address if protocol == "grpc" else server.http_address
    env = {k: v for k, v in os.environ.items() if not k.startswith("OTEL_")}
    env.update({
        "OTEL_EXPORTER_OTLP_ENDPOINT": f"http://{address}",
        "OTEL_EXPORTER_OTLP_PROTOCOL": protocol,
        "OTEL_SERVICE_NAME": f"swift-sdk-{slug(protocol)}",
        "OTEL_RESOURCE_ATTRIBUTES": f"deployment.environment.name=interop,test.protocol={protocol}",
    })
    p = subprocess.run([str(binary)], env=env, capture_output=True, timeout=CLIENT_TIMEOUT, stdin=subprocess.DEVNULL)
    stderr = p.stderr.decode(errors="replace")
    assert p.returncode == 0, f"client exited {p.returncode}:\n{stderr[-4000:]}"
    lines = p.stdout.decode().splitlines()
    assert len(lines) == 1, f"expected one JSON line on stdout, got {lines!r}"
    produced = json.loads(lines[0])
    # swift-otel reports every failed export ("Failed to export batch.") and every other problem on its diagnostic
    # logger (stderr, level warning here): nothing may have been refused or gone wrong.
    assert stderr == "", f"the client reported problems:\n{stderr[-4000:]}"
    return produced


@pytest.fixture(params=PROTOCOLS, ids=slug)
def run(request, server_factory, swift_client_bin):
    """One client run against a fresh otelsink; returns (server, produced, protocol)."""
    server = server_factory(query=True, logs_exporters="[sqlite]", prometheus=True)
    protocol = request.param
    produced = run_client(swift_client_bin, server, protocol)
    assert produced["export_protocol"] == protocol
    assert produced["service_name"] == f"swift-sdk-{slug(protocol)}"
    return server, produced, protocol


# ---------------------------------------------------------------------------------------------- reading back


def api(server, path: str, params=None, headers=None) -> dict:
    r = httpx.get(server.query_url + path, params=params, headers=headers, timeout=10)
    assert r.status_code == 200, f"GET {path} {params}: {r.status_code} {r.text[:500]}"
    return r.json()


def eventually(fetch, ready, timeout: float = 10.0):
    """`fetch()` until `ready(value)`; the exporters are done when the client exits, but the store commits a few
    milliseconds after answering the last request of a batch it merged with others."""
    deadline = time.monotonic() + timeout
    while True:
        value = fetch()
        if ready(value) or time.monotonic() > deadline:
            return value
        time.sleep(0.1)


def stored_trace(server, trace_id: str, n_spans: int) -> trace_pb2.TracesData:
    def fetch():
        r = httpx.get(f"{server.query_url}/api/v3/traces/{trace_id}", timeout=10)
        return from_otlp_json(r.json()["result"]) if r.status_code == 200 else None
    got = eventually(fetch, lambda t: t is not None and len(spans_of(t)) >= n_spans)
    assert got is not None, f"trace {trace_id} not found"
    return got


def spans_of(request) -> list[tuple]:
    """(resource, scope, span) for each span of a trace request."""
    return [(rs.resource, ss.scope, s) for rs in request.resource_spans for ss in rs.scope_spans for s in ss.spans]


def value_of(any_value):
    """An OTLP AnyValue as (type, Python value), arrays and maps recursively: types are compared, not only text."""
    which = any_value.WhichOneof("value")
    if which == "array_value":
        return ("array", [value_of(v) for v in any_value.array_value.values])
    if which == "kvlist_value":
        return ("kvlist", attrs(any_value.kvlist_value.values))
    return (which, getattr(any_value, which)) if which else (None, None)


def attrs(key_values) -> dict:
    out = {}
    for kv in key_values:
        assert kv.key not in out, f"attribute {kv.key} twice"
        out[kv.key] = value_of(kv.value)
    return out


def s(v): return ("string_value", v)
def i(v): return ("int_value", v)
def d(v): return ("double_value", v)
def b(v): return ("bool_value", v)
def arr(*vs): return ("array", list(vs))


def expected_resource(protocol: str) -> dict:
    """The resource swift-otel sends: OTEL_SERVICE_NAME and OTEL_RESOURCE_ATTRIBUTES as given (strings)."""
    return {"service.name": s(f"swift-sdk-{slug(protocol)}"), "deployment.environment.name": s("interop"),
            "test.protocol": s(protocol)}


def assert_resource(resource, protocol: str):
    got = attrs(resource.attributes)
    # swift-otel adds nothing else today; should it add telemetry.sdk.* one day, those are fine too.
    extra = {k: v for k, v in got.items() if k not in expected_resource(protocol) and not k.startswith("telemetry.sdk.")}
    assert {k: got.get(k) for k in expected_resource(protocol)} == expected_resource(protocol)
    assert extra == {}, f"unexpected resource attributes {extra}"


def assert_swift_otel_scope(scope):
    # swift-otel 1.6.0 names itself `swift-otel` "1.0.0" on every signal (OTelLibrary.version is a stale constant).
    assert scope.name == "swift-otel"
    assert scope.version == "1.0.0"


# ---------------------------------------------------------------------------------------------- traces


def test_trace_round_trips_field_for_field(run):
    server, produced, protocol = run
    srv, cli, prod = produced["server"], produced["client"], produced["producer"]
    assert srv["trace_id"] == cli["trace_id"] != prod["trace_id"]

    trace = stored_trace(server, srv["trace_id"], 2)
    spans = {s.span_id.hex(): (r, sc, s) for r, sc, s in spans_of(trace)}
    assert set(spans) == {srv["span_id"], cli["span_id"]}
    for resource, scope, span in spans.values():
        assert span.trace_id.hex() == srv["trace_id"]
        assert_resource(resource, protocol)
        assert_swift_otel_scope(scope)
        assert span.end_time_unix_nano >= span.start_time_unix_nano > 1_600_000_000 * 10**9
        assert span.trace_state == "" and span.flags == 0
        assert span.dropped_attributes_count == span.dropped_events_count == span.dropped_links_count == 0

    _, _, server_span = spans[srv["span_id"]]
    assert server_span.name == "GET /orders/{id}"
    assert server_span.kind == Span.SPAN_KIND_SERVER
    assert server_span.parent_span_id == b""
    assert attrs(server_span.attributes) == {
        "http.request.method": s("GET"),
        "http.response.status_code": i(500),
        "order.total": d(12.75),
        "order.express": b(True),
        "order.tags": arr(s("gift"), s("fragile")),
        "order.quantities": arr(i(1), i(2), i(3)),
        # swift-distributed-tracing sends an `[Int]` (neither [Int32] nor [Int64]) as an array of strings.
        "order.sizes": arr(s("36"), s("42")),
        "order.weights": arr(d(0.5), d(1.25)),
        "order.flags": arr(b(True), b(False)),
    }
    assert [e.name for e in server_span.events] == ["order.validated"]
    event = server_span.events[0]
    assert attrs(event.attributes) == {"order.items": i(3), "order.valid": b(True), "order.discount": d(0.1),
                                       "order.currency": s("EUR")}
    assert server_span.start_time_unix_nano <= event.time_unix_nano <= server_span.end_time_unix_nano
    assert len(server_span.links) == 1
    link = server_span.links[0]
    assert (link.trace_id.hex(), link.span_id.hex()) == (prod["trace_id"], prod["span_id"])
    assert attrs(link.attributes) == {"link.reason": s("dequeued"), "link.attempt": i(2)}
    assert link.trace_state == ""
    assert server_span.status.code == Status.STATUS_CODE_ERROR
    assert server_span.status.message == "upstream payment service failed"

    _, _, client_span = spans[cli["span_id"]]
    assert client_span.name == "POST /payments"
    assert client_span.kind == Span.SPAN_KIND_CLIENT
    assert client_span.parent_span_id.hex() == srv["span_id"]
    assert attrs(client_span.attributes) == {"server.address": s("payments.internal"), "server.port": i(8443),
                                             "payment.amount": d(12.75), "payment.retried": b(False)}
    # Span.recordError(_:) is an `exception` event with the error's type and description.
    assert [e.name for e in client_span.events] == ["exception"]
    assert attrs(client_span.events[0].attributes) == {"exception.type": s("ClientError"),
                                                       "exception.message": s("payment declined with code 51")}
    assert client_span.status.code == Status.STATUS_CODE_ERROR
    assert client_span.status.message == "payment declined with code 51"
    assert server_span.start_time_unix_nano <= client_span.start_time_unix_nano
    assert client_span.end_time_unix_nano <= server_span.end_time_unix_nano

    # The linked span, alone in its own trace.
    producer = stored_trace(server, prod["trace_id"], 1)
    [(resource, scope, producer_span)] = spans_of(producer)
    assert_resource(resource, protocol)
    assert producer_span.span_id.hex() == prod["span_id"]
    assert producer_span.name == "enqueue order"
    assert producer_span.kind == Span.SPAN_KIND_PRODUCER
    assert producer_span.parent_span_id == b""
    assert attrs(producer_span.attributes) == {"messaging.system": s("memory")}
    assert producer_span.status.code == Status.STATUS_CODE_UNSET

    # The Jaeger view of the same trace (what Grafana's Jaeger data source reads): tree, kinds, error tags.
    jaeger = api(server, f"/api/traces/{srv['trace_id']}")["data"]
    assert len(jaeger) == 1 and jaeger[0]["traceID"] == srv["trace_id"]
    by_id = {sp["spanID"]: sp for sp in jaeger[0]["spans"]}
    assert set(by_id) == {srv["span_id"], cli["span_id"]}
    process = jaeger[0]["processes"][by_id[srv["span_id"]]["processID"]]
    assert process["serviceName"] == f"swift-sdk-{slug(protocol)}"
    assert by_id[cli["span_id"]]["references"] == [
        {"refType": "CHILD_OF", "traceID": srv["trace_id"], "spanID": srv["span_id"]}]
    # Jaeger's model has no links: a link is a FOLLOWS_FROM reference.
    assert by_id[srv["span_id"]]["references"] == [
        {"refType": "FOLLOWS_FROM", "traceID": prod["trace_id"], "spanID": prod["span_id"]}]
    for sid, kind in ((srv["span_id"], "server"), (cli["span_id"], "client")):
        tags = {t["key"]: t["value"] for t in by_id[sid]["tags"]}
        assert tags["span.kind"] == kind
        assert tags["error"] is True
    assert {t["key"]: t for t in by_id[srv["span_id"]]["tags"]}["http.response.status_code"] == {
        "key": "http.response.status_code", "type": "int64", "value": 500}


# ---------------------------------------------------------------------------------------------- logs


def stored_logs(server, service: str, n: int) -> logs_service_pb2.ExportLogsServiceRequest:
    def fetch():
        body = api(server, "/api/v3/logs", {"service": service, "direction": "forward", "limit": 100})
        return from_otlp_json(body["result"], logs_service_pb2.ExportLogsServiceRequest)
    return eventually(fetch, lambda req: len(records_of(req)) >= n)


def records_of(request) -> list[tuple]:
    return [(rl.resource, sl.scope, r) for rl in request.resource_logs for sl in rl.scope_logs for r in sl.log_records]


def loki_streams(server, service: str, start_ns: int) -> list[dict]:
    """Loki's query_range for the service's records, with structured metadata apart (as Grafana asks for it)."""
    body = api(server, "/loki/api/v1/query_range",
               {"query": f'{{service_name="{service}"}}', "start": str(start_ns), "end": str(time.time_ns() + 10**9),
                "limit": 100, "direction": "forward"},
               headers={"X-Loki-Response-Encoding-Flags": "categorize-labels"})
    assert body["status"] == "success" and body["data"]["resultType"] == "streams"
    return body["data"]["result"]


def test_log_records_round_trip_with_their_span_ids(run):
    server, produced, protocol = run
    service = produced["service_name"]
    srv, cli = produced["server"], produced["client"]
    request = stored_logs(server, service, 3)
    records = records_of(request)
    assert [r.body.string_value for _, _, r in records] == produced["log_bodies"] == [
        "payment declined", "order failed", "client finished"]
    for resource, scope, record in records:
        assert_resource(resource, protocol)
        assert_swift_otel_scope(scope)
        assert record.time_unix_nano > 1_600_000_000 * 10**9
        assert record.observed_time_unix_nano == record.time_unix_nano  # swift-otel sets both to the same instant
        assert record.flags == 0 and record.dropped_attributes_count == 0

    declined, failed, finished = (r for _, _, r in records)
    # Severity: swift-log's level as OTLP severity number and as text.
    assert (declined.severity_number, declined.severity_text) == (17, "error")
    assert (failed.severity_number, failed.severity_text) == (13, "warning")
    assert (finished.severity_number, finished.severity_text) == (9, "info")
    # Inside a span, the record carries that span's IDs; outside, none.
    assert (declined.trace_id.hex(), declined.span_id.hex()) == (cli["trace_id"], cli["span_id"])
    assert (failed.trace_id.hex(), failed.span_id.hex()) == (srv["trace_id"], srv["span_id"])
    assert (finished.trace_id, finished.span_id) == (b"", b"")

    # Metadata become attributes (strings, arrays, maps), with swift-otel's code.* attributes of the call site.
    declined_attrs = attrs(declined.attributes)
    code = {k: declined_attrs.pop(k) for k in list(declined_attrs) if k.startswith("code.")}
    assert declined_attrs == {
        "order.id": s("A-1001"),
        "payment.code": s("51"),  # swift-log metadata are strings: "\(51)"
        "payment.tags": arr(s("card"), s("3ds")),
        "payment.card": ("kvlist", {"brand": s("visa"), "last4": s("4242")}),
    }
    assert set(code) == {"code.file.path", "code.function.name", "code.line.number"}
    assert code["code.file.path"][1].endswith("SwiftSDKClient.swift")
    assert code["code.function.name"] == s("run()")
    assert re.fullmatch(r"[0-9]+", code["code.line.number"][1])
    assert {k: v for k, v in attrs(failed.attributes).items() if not k.startswith("code.")} == {"order.id": s("A-1001")}
    assert {k for k in attrs(finished.attributes)} == set(code)

    # The same records through Loki's API: stream labels from the resource and level, IDs and attributes as
    # structured metadata.
    streams = loki_streams(server, service, min(r.time_unix_nano for _, _, r in records) - 10**9)
    entries = []
    for stream in streams:
        labels = stream["stream"]
        assert labels["service_name"] == service
        assert labels["scope_name"] == "swift-otel"
        assert labels["deployment_environment_name"] == "interop"
        assert labels["test_protocol"] == protocol
        for ts, line, meta in stream["values"]:
            entries.append((int(ts), line, labels["level"], meta.get("structuredMetadata", {})))
    entries.sort()
    assert [(line, level) for _, line, level, _ in entries] == [
        ("payment declined", "error"), ("order failed", "warning"), ("client finished", "info")]
    assert [ts for ts, *_ in entries] == [r.time_unix_nano for _, _, r in records]
    meta = [m for *_, m in entries]
    assert (meta[0]["trace_id"], meta[0]["span_id"]) == (cli["trace_id"], cli["span_id"])
    assert meta[0]["order_id"] == "A-1001" and meta[0]["payment_code"] == "51"
    assert (meta[1]["trace_id"], meta[1]["span_id"]) == (srv["trace_id"], srv["span_id"])
    assert "trace_id" not in meta[2] and "span_id" not in meta[2]

    # Grafana's trace-to-logs query finds the records of the trace.
    body = api(server, "/loki/api/v1/query_range",
               {"query": f'{{service_name="{service}"}} | trace_id="{srv["trace_id"]}"',
                "start": str(entries[0][0] - 10**9), "end": str(time.time_ns() + 10**9), "limit": 100})
    assert sorted(v[1] for st in body["data"]["result"] for v in st["values"]) == ["order failed", "payment declined"]


# ---------------------------------------------------------------------------------------------- metrics


_SAMPLE = re.compile(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)(?: \S+)?$')
_LABEL = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"')


def samples(text: str) -> list[tuple[str, dict, float]]:
    out = []
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        m = _SAMPLE.match(line)
        assert m, f"unparsable sample line {line!r}"
        out.append((m.group(1), dict(_LABEL.findall(m.group(2) or "")), float(m.group(3))))
    return out


def value(all_samples, name: str, **labels) -> float:
    found = [v for n, ls, v in all_samples if n == name and all(ls.get(k) == w for k, w in labels.items())]
    assert len(found) == 1, f"{name}{labels}: {len(found)} samples in\n" + "\n".join(
        f"{n} {ls} {v}" for n, ls, v in all_samples if n.startswith(name.split("_bucket")[0][:12]))
    return found[0]


def metadata(text: str) -> dict[str, tuple[str, str]]:
    """family -> (TYPE, HELP) from a scrape."""
    types = dict(re.findall(r"^# TYPE (\S+) (\S+)$", text, re.M))
    helps = dict(re.findall(r"^# HELP (\S+) (.*)$", text, re.M))
    return {name: (kind, helps.get(name)) for name, kind in types.items()}


def test_metrics_reach_the_prometheus_exporter(run):
    """Each swift-metrics instrument, as swift-otel exports it (cumulative, at the client's graceful shutdown) and
    as otelcol's prometheus exporter names it: the resource gives `job` (service.name); other resource attributes
    are not labels (resource_to_telemetry_conversion is off); the scope is `otel_scope_*`."""
    server, produced, protocol = run
    job = produced["service_name"]
    text = eventually(lambda: scrape(server.prometheus_address).text,
                      lambda t: "swift_client_checkout_duration_count" in t)
    got = samples(text)
    mine = [(n, ls, v) for n, ls, v in got if n.startswith("swift_client_")]
    scope_labels = {"job": job, "otel_scope_name": "swift-otel", "otel_scope_version": "1.0.0"}
    for n, ls, v in mine:
        assert {k: ls.get(k) for k in scope_labels} == scope_labels, (n, ls)
        assert set(ls) - set(scope_labels) <= {"payment_method", "queue", "le"}, (n, ls)

    families = {k: v for k, v in metadata(text).items() if k.startswith("swift_client_")}
    assert families == {
        # Counter: a monotonic cumulative int sum, with the description swift-otel takes from the "description"
        # dimension; the `{orders}` unit is an annotation, not a suffix.
        "swift_client_orders_total": ("counter", "Orders placed."),
        # FloatingPointCounter: a monotonic double sum; the unit (from the "unit" dimension) is a suffix.
        "swift_client_revenue_EUR_total": ("counter", "swift_client_revenue_EUR_total"),
        # Gauge: a Recorder that does not aggregate.
        "swift_client_queue_depth": ("gauge", "swift_client_queue_depth"),
        # Recorder(aggregate: true): an explicit-bucket histogram with swift-otel's default buckets.
        "swift_client_order_amount_EUR": ("histogram", "swift_client_order_amount_EUR"),
        # Timer: a histogram in seconds (swift-otel's default duration buckets, 0 ms … 10 s).
        "swift_client_checkout_duration": ("histogram", "swift_client_checkout_duration"),
    }

    assert value(mine, "swift_client_orders_total", payment_method="card") == 3
    assert value(mine, "swift_client_orders_total", payment_method="cash") == 1
    assert value(mine, "swift_client_revenue_EUR_total") == 12.75
    assert value(mine, "swift_client_queue_depth", queue="orders") == 7.5
    assert value(mine, "swift_client_order_amount_EUR_count") == 4
    assert value(mine, "swift_client_order_amount_EUR_sum") == 183
    buckets = {ls["le"]: v for n, ls, v in mine if n == "swift_client_order_amount_EUR_bucket"}
    assert buckets == {"0": 0, "5": 1, "10": 1, "25": 1, "50": 3, "75": 3, "100": 3, "250": 4, "500": 4, "750": 4,
                       "1000": 4, "2500": 4, "5000": 4, "7500": 4, "10000": 4, "+Inf": 4}
    assert value(mine, "swift_client_checkout_duration_count") == 1
    assert value(mine, "swift_client_checkout_duration_sum") == pytest.approx(0.042, abs=1e-12)
    timer = {ls["le"]: v for n, ls, v in mine if n == "swift_client_checkout_duration_bucket"}
    assert timer == {"0": 0, "0.005": 0, "0.01": 0, "0.025": 0, "0.05": 1, "0.075": 1, "0.1": 1, "0.25": 1,
                     "0.5": 1, "0.75": 1, "1": 1, "2.5": 1, "5": 1, "7.5": 1, "10": 1, "+Inf": 1}


# ---------------------------------------------------------------------------------------------- base64 IDs


def test_http_json_base64_ids_are_accepted_and_counted(run):
    """swift-otel writes IDs in base64 over OTLP/HTTP JSON; otelsink stores them as the same bytes (the tests above
    compare them with the IDs the client propagated in hex) and counts each one. Over gRPC and HTTP protobuf there
    is no JSON and nothing is counted."""
    server, produced, protocol = run
    srv = produced["server"]
    trace = stored_trace(server, srv["trace_id"], 2)
    producer = stored_trace(server, produced["producer"]["trace_id"], 1)
    logs = stored_logs(server, produced["service_name"], 3)

    # Every non-empty ID the client sent: span trace/span/parent IDs, link IDs, log record IDs.
    ids = 0
    for request in (trace, producer):
        for _, _, span in spans_of(request):
            ids += 2 + (1 if span.parent_span_id else 0) + 2 * len(span.links)
    ids += sum(bool(r.trace_id) + bool(r.span_id) for _, _, r in records_of(logs))
    assert ids == 13

    counted = value(samples(scrape(server.telemetry_address).text), "otelsink_receiver_json_base64_ids_total")
    assert counted == (ids if protocol == "http/json" else 0)
