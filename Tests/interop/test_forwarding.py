"""The `otlp` exporter: an otelsink edge forwarding over OTLP/gRPC to an otelsink gateway, both real processes on
loopback.

SDK → edge (otlp receiver → `otlp` exporter) → gateway (otlp receiver → sqlite / prometheus). The edge answers
once the data is queued, so every check on the gateway polls. Covered: field-for-field delivery of the SDK's spans
(gRPC and HTTP into the edge) and of metrics, TLS to the upstream (right and wrong CA), bearer-token auth (right
and wrong token: UNAUTHENTICATED is permanent, the spans are dropped and counted), an upstream that comes up late
(queued and retried) and a full queue (503 + Retry-After / UNAVAILABLE, enqueue failures counted). The persistent
queue (`sending_queue.storage`) has its own module, test_persistent_queue.py, which uses these helpers.

TLS to an IP-address endpoint, a TLS failure named in the log (the certificate problem), shutdown within the 10 s
drain and a clean exit when another component fails to start are pinned too.
"""

from __future__ import annotations

import re
import signal
import socket
import subprocess
import time
from pathlib import Path

import grpc
import httpx
import pytest
from opentelemetry.exporter.otlp.proto.common.trace_encoder import encode_spans
from opentelemetry.proto.collector.trace.v1 import trace_service_pb2
from opentelemetry.sdk.trace.export import SpanExportResult

from conftest import tls_yaml
from otlp_util import PROTOBUF, by_trace, make_trace_request, stored_span_count, stored_span_ids
from prometheus_util import scrape, send_metrics_workload
from test_sdk_interop import _export_grpc, _export_http, check_stored, make_sdk_spans

pytestmark = pytest.mark.timeout(60)

TOKEN = "s3cret"
GRPC_EXPORT = "/opentelemetry.proto.collector.trace.v1.TraceService/Export"


# ---------------------------------------------------------------------------------------------- helpers


def indent(text: str, spaces: int) -> str:
    return "".join(f"\n{' ' * spaces}{line}" for line in text.strip("\n").splitlines())


def edge_yaml(endpoint: str, exporter_extra: str = "") -> str:
    """An edge: OTLP/gRPC and OTLP/HTTP in, every signal out through the `otlp` exporter to `endpoint`."""
    return f"""receivers:
  otlp:
    protocols:
      grpc:
        endpoint: 127.0.0.1:0
      http:
        endpoint: 127.0.0.1:0
exporters:
  otlp:
    endpoint: {endpoint}{indent(exporter_extra, 4)}
service:
  telemetry:
    metrics:
      address: 127.0.0.1:0
  pipelines:
    traces:
      receivers: [otlp]
      exporters: [otlp]
    metrics:
      receivers: [otlp]
      exporters: [otlp]
    logs:
      receivers: [otlp]
      exporters: [otlp]
"""


INSECURE = "tls:\n  insecure: true"
FAST_RETRY = "retry_on_failure:\n  initial_interval: 100ms\n  max_interval: 500ms"


def start_edge(server_factory, endpoint: str, exporter_extra: str = INSECURE):
    edge = server_factory(config_text=edge_yaml(endpoint, exporter_extra))
    edge.tls_ca = None  # the SDK talks to the edge in clear text (test_sdk_interop's helpers read this)
    return edge


def free_port() -> int:
    """A loopback port nothing listens on (bound once by the OS, then released)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def telemetry(server) -> str:
    return scrape(server.telemetry_address).text


def metric(text: str, name: str, exporter: str = "otlp") -> float | None:
    """The value of `name{exporter="..."}` (summed over its other labels) in an exposition; None if absent."""
    values = [float(m.group(2)) for m in re.finditer(rf"^{re.escape(name)}(\{{[^}}]*\}})? (\S+)$", text, re.M)
              if f'exporter="{exporter}"' in (m.group(1) or "")]
    return sum(values) if values else None


def wait_for(condition, timeout: float, interval: float = 0.05):
    """Polls `condition` until it returns something truthy (returned) or `timeout` passes (the last value)."""
    return poll(condition, bool, timeout, interval)


def poll(fetch, until, timeout: float, interval: float = 0.05):
    """Calls `fetch` until `until(value)` holds or `timeout` passes; returns the last value."""
    deadline = time.monotonic() + timeout
    while True:
        value = fetch()
        if until(value) or time.monotonic() > deadline:
            return value
        time.sleep(interval)


def expected_ids(request) -> dict[bytes, set[bytes]]:
    return {tid: {s.span_id for rs in r.resource_spans for ss in rs.scope_spans for s in ss.spans}
            for tid, r in by_trace(request).items()}


def wait_stored(gateway, requests, timeout: float = 15.0) -> dict[bytes, set[bytes]]:
    """Waits until every span of `requests` is in the gateway's store; returns what is stored of those traces."""
    want: dict[bytes, set[bytes]] = {}
    for r in requests:
        for tid, ids in expected_ids(r).items():
            want.setdefault(tid, set()).update(ids)
    got = poll(lambda: stored_span_ids(gateway.db_path, set(want)), lambda s: s == want, timeout)
    assert got == want, (f"the gateway stored {stored_span_ids(gateway.db_path, set(want))} of {want}\n"
                         f"gateway log:\n{gateway.log()[-2000:]}")
    return got


def row_count(db_path) -> int:
    """Every span row in the store (all partitions): a span stored twice counts twice."""
    return stored_span_count(db_path)


def export_sdk(edge, transport: str):
    """SDK spans exported into the edge with the SDK's gRPC or HTTP exporter; returns what the SDK put on the wire."""
    spans = make_sdk_spans()
    result = (_export_grpc if transport == "grpc" else _export_http)(edge, spans)
    assert result == SpanExportResult.SUCCESS, f"{transport} export into the edge: {result}\n{edge.log()[-2000:]}"
    return encode_spans(spans)


def grpc_export(address: str, request, timeout: float = 5.0):
    """One raw OTLP/gRPC trace Export; returns the grpc.RpcError, or None when it succeeded."""
    with grpc.insecure_channel(address) as channel:
        export = channel.unary_unary(GRPC_EXPORT, request_serializer=lambda m: m.SerializeToString(),
                                     response_deserializer=trace_service_pb2.ExportTraceServiceResponse.FromString)
        try:
            export(request, timeout=timeout)
            return None
        except grpc.RpcError as e:
            return e


def http_export(server, request) -> httpx.Response:
    with httpx.Client(timeout=10, trust_env=False) as client:
        return client.post(server.url(), content=request.SerializeToString(), headers={"Content-Type": PROTOBUF})


# ---------------------------------------------------------------------------------------------- 1. the chain


@pytest.mark.parametrize("transport,compression", [("grpc", "gzip"), ("http", "none")])
def test_sdk_spans_reach_the_gateway_field_for_field(server_factory, transport, compression):
    """SDK → edge → gateway: every span stored once, equal to what the SDK sent (gzip and uncompressed upstream)."""
    gateway = server_factory(http=False)
    edge = start_edge(server_factory, gateway.grpc_address, f"{INSECURE}\ncompression: {compression}")
    sent = [export_sdk(edge, transport) for _ in range(3)]
    wait_stored(gateway, sent)
    for request in sent:
        check_stored(gateway, request)
    assert row_count(gateway.db_path) == 4 * len(sent)
    # Delivered, so nothing is left queued, nothing was refused or dropped.
    text = poll(lambda: telemetry(edge), lambda t: metric(t, "otelcol_exporter_queue_size") == 0, 5)
    assert metric(text, "otelcol_exporter_queue_size") == 0, text
    assert metric(text, "otelcol_exporter_queue_capacity") == 1000, text
    assert metric(text, "otelsink_exporter_dropped_spans_total") in (0, None), text
    assert metric(text, "otelcol_exporter_enqueue_failed_spans_total") in (0, None), text
    time.sleep(0.3)  # no late duplicate (a retried request delivered twice)
    assert row_count(gateway.db_path) == 4 * len(sent)


def test_metrics_reach_the_gateways_prometheus_exporter(server_factory):
    gateway = server_factory(http=False, prometheus=True)
    edge = start_edge(server_factory, gateway.grpc_address)
    send_metrics_workload(edge.grpc_address, service="forwarded")
    text = poll(lambda: scrape(gateway.prometheus_address).text, lambda t: "shop_orders_total" in t, 15)
    assert "shop_orders_total" in text, f"no forwarded metrics on the gateway:\n{text}\n{gateway.log()[-2000:]}"
    assert re.search(r'shop_orders_total\{[^}]*job="forwarded"[^}]*payment_method="card"[^}]*\} 5\n', text), text
    assert re.search(r'shop_orders_total\{[^}]*job="forwarded"[^}]*payment_method="cash"[^}]*\} 1\n', text), text
    assert re.search(r'shop_checkout_duration_milliseconds_count\{[^}]*job="forwarded"[^}]*\} 8\n', text), text
    assert re.search(r'shop_requests_inflight\{[^}]*job="forwarded"[^}]*\} 3\n', text), text


# ---------------------------------------------------------------------------------------------- 2. TLS upstream
# The gateway's certificate (conftest.py's pki) is for IP:127.0.0.1 and DNS:localhost. A short max_elapsed_time
# makes an edge give up (and log) quickly where nothing can be delivered, and lets it stop promptly at teardown.

GIVE_UP = f"{FAST_RETRY}\n  max_elapsed_time: 1s"
WRONG_CA = "tls:\n  ca_file: {ca}\n" + GIVE_UP


@pytest.fixture
def tls_gateway(server_factory, pki):
    gateway = server_factory(http=False, grpc_extra=tls_yaml(pki.server))
    gateway.port = int(gateway.grpc_address.rsplit(":", 1)[1])
    return gateway


def test_tls_upstream_with_the_right_ca(server_factory, pki, tls_gateway):
    edge = start_edge(server_factory, f"localhost:{tls_gateway.port}", f"tls:\n  ca_file: {pki.ca.cert}")
    sent = [export_sdk(edge, "grpc"), export_sdk(edge, "http")]
    wait_stored(tls_gateway, sent)
    for request in sent:
        check_stored(tls_gateway, request)
    assert row_count(tls_gateway.db_path) == 8


def test_tls_upstream_by_ip_address(server_factory, pki, tls_gateway):
    edge = start_edge(server_factory, f"127.0.0.1:{tls_gateway.port}", f"tls:\n  ca_file: {pki.ca.cert}\n{GIVE_UP}")
    sent = export_sdk(edge, "grpc")
    wait_stored(tls_gateway, [sent], timeout=3)


def dropped_lines(edge, timeout: float = 10) -> list[str]:
    log = poll(edge.log, lambda t: "export dropped" in t, timeout)
    assert "export dropped" in log, f"the edge never gave up on the export:\n{log[-3000:]}"
    return [line for line in log.splitlines() if "export dropped" in line]


def test_tls_upstream_with_a_wrong_ca(server_factory, pki, tls_gateway):
    """A CA that did not sign the gateway's certificate: nothing arrives; the edge gives up, logging the upstream,
    counts the drop, and keeps serving."""
    edge = start_edge(server_factory, f"localhost:{tls_gateway.port}", WRONG_CA.format(ca=pki.other_ca.cert))
    refused = [export_sdk(edge, "grpc")]
    dropped = dropped_lines(edge)
    assert any(f"localhost:{tls_gateway.port}" in line for line in dropped), dropped
    assert wait_for(lambda: metric(telemetry(edge), "otelsink_exporter_dropped_spans_total") == 4, 3), telemetry(edge)
    assert edge.running
    refused.append(export_sdk(edge, "http"))
    assert wait_for(lambda: metric(telemetry(edge), "otelsink_exporter_dropped_spans_total") == 8, 5), telemetry(edge)
    for request in refused:
        assert stored_span_ids(tls_gateway.db_path, set(by_trace(request))) == {}
    assert row_count(tls_gateway.db_path) == 0


def test_tls_wrong_ca_log_names_the_certificate_problem(server_factory, pki, tls_gateway):
    edge = start_edge(server_factory, f"localhost:{tls_gateway.port}", WRONG_CA.format(ca=pki.other_ca.cert))
    export_sdk(edge, "grpc")
    dropped = dropped_lines(edge)
    cause = re.compile(r"(?i)certificate|handshake|\btls\b|ssl|x509|unknown authority")
    assert any(cause.search(line) for line in dropped), dropped


# ---------------------------------------------------------------------------------------------- 3. auth


def test_bearer_token_to_the_upstream(server_factory):
    gateway = server_factory(http=False, grpc_extra="auth:\n  authenticator: bearertokenauth",
                             extensions_extra=f"bearertokenauth:\n  token: {TOKEN}",
                             service_extensions=("bearertokenauth",))
    good = start_edge(server_factory, gateway.grpc_address,
                      f'{INSECURE}\nheaders:\n  authorization: "Bearer {TOKEN}"')
    bad = start_edge(server_factory, gateway.grpc_address, f'{INSECURE}\nheaders:\n  authorization: "Bearer wrong"')
    sent = export_sdk(good, "grpc")
    refused = export_sdk(bad, "grpc")  # queued: the edge answers OK
    wait_stored(gateway, [sent])
    check_stored(gateway, sent)
    # UNAUTHENTICATED is permanent: dropped at once (retry_on_failure has its 5 s default), counted and logged.
    text = poll(lambda: telemetry(bad), lambda t: (metric(t, "otelsink_exporter_dropped_spans_total") or 0) > 0, 4)
    assert metric(text, "otelsink_exporter_dropped_spans_total") == 4, f"{text}\n{bad.log()[-2000:]}"
    assert metric(text, "otelcol_exporter_queue_size") == 0, text
    assert "refused it for good" in bad.log() and "grpc status 16" in bad.log(), bad.log()[-2000:]
    assert stored_span_ids(gateway.db_path, set(by_trace(refused))) == {}
    assert row_count(gateway.db_path) == 4
    assert metric(telemetry(good), "otelsink_exporter_dropped_spans_total") in (0, None)


# ---------------------------------------------------------------------------------------------- 4. late upstream


def gateway_yaml(db, grpc_endpoint: str) -> str:
    return f"""receivers:
  otlp:
    protocols:
      grpc:
        endpoint: {grpc_endpoint}
exporters:
  sqlite:
    path: {db}
service:
  telemetry:
    metrics:
      address: 127.0.0.1:0
  pipelines:
    traces:
      receivers: [otlp]
      exporters: [sqlite]
"""


def test_spans_queued_while_the_upstream_is_down_arrive_when_it_comes_up(server_factory, tmp_path):
    port = free_port()
    edge = start_edge(server_factory, f"127.0.0.1:{port}", f"{INSECURE}\n{FAST_RETRY}")
    sent = [export_sdk(edge, transport) for transport in ("grpc", "http", "grpc")]
    text = telemetry(edge)
    assert (metric(text, "otelcol_exporter_queue_size") or 0) > 0, text
    time.sleep(2)
    text = telemetry(edge)
    assert metric(text, "otelcol_exporter_queue_size") == len(sent), text  # still there, nothing dropped
    assert metric(text, "otelsink_exporter_dropped_spans_total") in (0, None), text
    db = tmp_path / "late-gateway.db"
    gateway = server_factory(config_text=gateway_yaml(db, f"127.0.0.1:{port}"), db_path=db)
    assert gateway.grpc_address == f"127.0.0.1:{port}"
    wait_stored(gateway, sent, timeout=20)
    for request in sent:
        check_stored(gateway, request)
    assert row_count(gateway.db_path) == 4 * len(sent)
    assert wait_for(lambda: metric(telemetry(edge), "otelcol_exporter_queue_size") == 0, 5)


# ---------------------------------------------------------------------------------------------- 5. full queue


def test_a_full_queue_refuses_retryably(server_factory, tmp_path):
    """One consumer, room for two requests (the one being retried counts), an upstream that is not there: the third
    export is refused with 503 + Retry-After (gRPC: UNAVAILABLE) and counted; once the upstream comes up, exactly
    the queued requests arrive."""
    port = free_port()
    edge = start_edge(server_factory, f"127.0.0.1:{port}",
                      f"{INSECURE}\n{FAST_RETRY}\nsending_queue:\n  queue_size: 2\n  num_consumers: 1")
    assert metric(telemetry(edge), "otelcol_exporter_queue_capacity") == 2
    statuses, accepted, refused = [], [], []
    for i in range(4):
        _, request = make_trace_request(3)
        r = http_export(edge, request)
        statuses.append(r.status_code)
        (accepted if r.status_code == 200 else refused).append(request)
        if r.status_code == 503:
            assert r.headers.get("retry-after", "").strip().isdigit(), r.headers
    assert statuses == [200, 200, 503, 503], statuses
    text = telemetry(edge)
    assert metric(text, "otelcol_exporter_queue_size") == 2, text
    assert metric(text, "otelcol_exporter_enqueue_failed_spans_total") == 6, text

    _, request = make_trace_request(5)
    error = grpc_export(edge.grpc_address, request)
    assert error is not None and error.code() == grpc.StatusCode.UNAVAILABLE, error
    refused.append(request)
    text = telemetry(edge)
    assert metric(text, "otelcol_exporter_enqueue_failed_spans_total") == 11, text
    assert metric(text, "otelsink_exporter_dropped_spans_total") in (0, None), text

    db = tmp_path / "late-gateway.db"
    gateway = server_factory(config_text=gateway_yaml(db, f"127.0.0.1:{port}"), db_path=db)
    wait_stored(gateway, accepted, timeout=20)
    assert wait_for(lambda: metric(telemetry(edge), "otelcol_exporter_queue_size") == 0, 5)
    assert row_count(db) == 6
    for request in refused:
        assert stored_span_ids(db, set(by_trace(request))) == {}
    # With room again, the edge takes exports again.
    _, request = make_trace_request(2)
    assert http_export(edge, request).status_code == 200
    wait_stored(gateway, [request])


# ---------------------------------------------------------------------------------------------- shutdown


def test_sigterm_with_an_undeliverable_queue_exits_after_the_drain_period(server_factory):
    """docs/configuration.md: data still queued 10 s after SIGTERM is lost, i.e. the process does not wait longer."""
    edge = start_edge(server_factory, f"127.0.0.1:{free_port()}", f"{INSECURE}\n{FAST_RETRY}")
    _, request = make_trace_request(3)
    assert http_export(edge, request).status_code == 200
    assert metric(telemetry(edge), "otelcol_exporter_queue_size") == 1
    edge.proc.send_signal(signal.SIGTERM)
    try:
        rc = edge.proc.wait(timeout=12.5)
    except subprocess.TimeoutExpired:
        edge.kill()
        pytest.fail(f"still running 12.5 s after SIGTERM (10 s drain period):\n{edge.log()[-2000:]}")
    assert rc == 0, edge.log()[-2000:]


def test_a_start_up_failure_exits_with_an_otlp_exporter_configured(server_factory):
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        taken = busy.getsockname()[1]
        config = edge_yaml("127.0.0.1:4317", INSECURE).replace(
            "      http:\n        endpoint: 127.0.0.1:0", f"      http:\n        endpoint: 127.0.0.1:{taken}")
        assert f"127.0.0.1:{taken}" in config
        edge = server_factory(start=False, config_text=config)
        with pytest.raises(AssertionError, match="exited with 1 before listening"):
            edge.start(timeout=4)
    assert "Address already in use" in edge.log()
