"""The `loadbalancing` exporter: an otelsink edge spreading traces over several otelsink gateways by trace ID, every
process real and on loopback.

SDK → edge (otlp receiver → `loadbalancing` exporter) → gateways (otlp receiver → sqlite). Pinned here: with the
static resolver and three gateways, spans of one trace that reach the edge in separate export calls (over gRPC and
HTTP, mixed with other traces in each call) all land on the same gateway, every span exactly once, and every gateway
gets a share; an IPv4 and an IPv6 literal backend (127.0.0.1:P and [::1]:P) both used; with the DNS resolver and a
real lookup of `localhost`, every address it resolves to is a backend (one gateway per address on the same port) and
nothing goes where it does not resolve; the `load_balancing` alias and the refusal of the `k8s` resolver at
validation. The edge answers once the data is queued, so every check on a gateway
polls its store.
"""

from __future__ import annotations

import re
import socket
import time

import pytest
from opentelemetry.exporter.otlp.proto.common.trace_encoder import encode_spans
from opentelemetry.proto.collector.trace.v1 import trace_service_pb2
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor, SpanExportResult
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind, set_span_in_context

from otlp_util import assert_same_trace, cli_trace_request, run_cli, stored_span_ids
from test_forwarding import gateway_yaml, indent, metric, poll, row_count, telemetry
from test_sdk_interop import _export_grpc, _export_http

pytestmark = pytest.mark.timeout(90)

LB = "loadbalancing"


# ---------------------------------------------------------------------------------------------- helpers


def lb_edge_yaml(resolver: str, exporter_type: str = LB) -> str:
    """An edge: OTLP/gRPC and OTLP/HTTP in, traces out through the load-balancing exporter (`resolver`: the YAML
    under `resolver:`), each backend in clear text with fast retries."""
    return f"""receivers:
  otlp:
    protocols:
      grpc:
        endpoint: 127.0.0.1:0
      http:
        endpoint: 127.0.0.1:0
exporters:
  {exporter_type}:
    protocol:
      otlp:
        tls:
          insecure: true
        retry_on_failure:
          initial_interval: 100ms
          max_interval: 500ms
    resolver:{indent(resolver, 6)}
service:
  telemetry:
    metrics:
      address: 127.0.0.1:0
  pipelines:
    traces:
      receivers: [otlp]
      exporters: [{exporter_type}]
"""


def start_lb_edge(server_factory, resolver: str):
    edge = server_factory(config_text=lb_edge_yaml(resolver))
    edge.tls_ca = None  # the SDK talks to the edge in clear text (test_sdk_interop's helpers read this)
    return edge


def make_traces(n_traces: int) -> list[list]:
    """`n_traces` traces of four SDK spans each, from two services (a checkout span with a child, and a payments span
    with a child under it, as if propagated): returns the finished spans of each trace, in the order they ended."""
    memory = InMemorySpanExporter()
    providers = {}
    for service in ("checkout", "payments"):
        providers[service] = TracerProvider(resource=Resource.create({"service.name": service}))
        providers[service].add_span_processor(SimpleSpanProcessor(memory))
    checkout = providers["checkout"].get_tracer("lb.checkout")
    payments = providers["payments"].get_tracer("lb.payments")
    for i in range(n_traces):
        with checkout.start_as_current_span(f"POST /checkout/{i}", kind=SpanKind.SERVER) as root:
            with checkout.start_as_current_span("reserve stock", kind=SpanKind.CLIENT):
                pass
            with payments.start_as_current_span("charge", kind=SpanKind.SERVER,
                                                context=set_span_in_context(root)):
                with payments.start_as_current_span("card network", kind=SpanKind.CLIENT):
                    pass
    spans = memory.get_finished_spans()
    traces: dict[int, list] = {}
    for span in spans:
        traces.setdefault(span.context.trace_id, []).append(span)
    assert len(traces) == n_traces and all(len(t) == 4 for t in traces.values())
    return list(traces.values())


def send_in_rounds(edge, traces: list[list]) -> list:
    """Round k exports the k-th span of every trace in one call, alternately over gRPC and HTTP: each trace reaches
    the edge in four separate export calls, each call mixing every trace. Returns the requests put on the wire."""
    sent = []
    for k in range(4):
        batch = [t[k] for t in traces]
        export = _export_grpc if k % 2 == 0 else _export_http
        result = export(edge, batch)
        assert result == SpanExportResult.SUCCESS, f"round {k} into the edge: {result}\n{edge.log()[-2000:]}"
        sent.append(encode_spans(batch))
    return sent


def expected_spans(requests) -> dict[bytes, set[bytes]]:
    want: dict[bytes, set[bytes]] = {}
    for r in requests:
        for rs in r.resource_spans:
            for ss in rs.scope_spans:
                for s in ss.spans:
                    want.setdefault(s.trace_id, set()).add(s.span_id)
    return want


def merged(stores: list[dict[bytes, set[bytes]]]) -> dict[bytes, set[bytes]]:
    out: dict[bytes, set[bytes]] = {}
    for store in stores:
        for tid, ids in store.items():
            out.setdefault(tid, set()).update(ids)
    return out


def wait_spread(gateways, want: dict[bytes, set[bytes]], timeout: float = 20.0) -> list[dict[bytes, set[bytes]]]:
    """Waits until the gateways together hold every span of `want`; returns each gateway's share."""
    stores = poll(lambda: [stored_span_ids(g.db_path, set(want)) for g in gateways],
                  lambda s: merged(s) == want, timeout)
    got = merged(stores)
    missing = {tid.hex(): len(ids - got.get(tid, set())) for tid, ids in want.items() if ids - got.get(tid, set())}
    assert not missing, (f"spans missing after {timeout}s (trace: count): {missing}\n"
                         + "\n".join(f"gateway {i} log:\n{g.log()[-1500:]}" for i, g in enumerate(gateways)))
    return stores


def assert_each_trace_on_one_gateway(stores, want):
    for tid, ids in want.items():
        holders = [i for i, store in enumerate(stores) if tid in store]
        assert len(holders) == 1, f"trace {tid.hex()} is on gateways {holders}: {[len(s.get(tid, ())) for s in stores]}"
        assert stores[holders[0]][tid] == ids


def backend_labels(text: str, name: str = "otelcol_exporter_queue_size") -> set[str]:
    """The `backend` label values of `name{exporter="loadbalancing",backend=...}` in an exposition."""
    return {m.group(1) for m in re.finditer(rf'^{name}\{{[^}}]*backend="([^"]+)"[^}}]*\}} ', text, re.M)
            if f'exporter="{LB}"' in m.group(0)}


# ---------------------------------------------------------------------------------------------- 1. static resolver


def test_static_resolver_keeps_each_trace_on_one_of_three_gateways(server_factory):
    gateways = [server_factory(http=False) for _ in range(3)]
    endpoints = [g.grpc_address for g in gateways]
    edge = start_lb_edge(server_factory, "static:\n  hostnames: [" + ", ".join(endpoints) + "]")
    text = poll(lambda: telemetry(edge), lambda t: metric(t, "otelcol_loadbalancer_num_backends", LB) == 3, 5)
    assert metric(text, "otelcol_loadbalancer_num_backends", LB) == 3, text

    traces = make_traces(60)
    sent = send_in_rounds(edge, traces)
    want = expected_spans(sent)
    assert len(want) == 60 and sum(map(len, want.values())) == 240
    stores = wait_spread(gateways, want)

    # Exactly once overall (no duplicate rows, also not a moment later), each trace whole on one gateway, all used.
    time.sleep(0.5)
    assert [row_count(g.db_path) for g in gateways] == [sum(map(len, s.values())) for s in stores]
    assert sum(row_count(g.db_path) for g in gateways) == 240
    assert_each_trace_on_one_gateway(stores, want)
    shares = [len(s) for s in stores]
    assert all(n > 0 for n in shares), f"traces per gateway: {shares}"

    # What a gateway stored is what the SDK sent (resource, scope, every field), for two traces of each gateway.
    everything = {}
    for request in sent:
        for rs in request.resource_spans:
            for ss in rs.scope_spans:
                for span in ss.spans:
                    everything.setdefault(span.trace_id, []).append((rs, ss, span))
    for gateway, store in zip(gateways, stores):
        for tid in sorted(store)[:2]:
            expected = trace_service_pb2.ExportTraceServiceRequest()
            for rs, ss, span in everything[tid]:
                r = expected.resource_spans.add(resource=rs.resource, schema_url=rs.schema_url)
                r.scope_spans.add(scope=ss.scope, schema_url=ss.schema_url).spans.append(span)
            assert_same_trace(expected, cli_trace_request(gateway.binary, gateway.db_path, tid))

    text = poll(lambda: telemetry(edge), lambda t: metric(t, "otelcol_exporter_sent_spans_total", LB) == 240, 5)
    assert metric(text, "otelcol_exporter_sent_spans_total", LB) == 240, text
    assert metric(text, "otelcol_exporter_send_failed_spans_total", LB) in (0, None), text
    assert metric(text, "otelcol_exporter_enqueue_failed_spans_total", LB) in (0, None), text
    assert metric(text, "otelcol_exporter_queue_size", LB) == 0, text
    assert backend_labels(text) == set(endpoints), text
    assert 'otelcol_loadbalancer_num_resolutions_total{exporter="loadbalancing",resolver="static",success="true"} 1' \
        in text, text
    for gateway, share in zip(gateways, stores):
        accepted = metric(telemetry(gateway), "otelcol_exporter_sent_spans_total", "sqlite")
        assert accepted == sum(map(len, share.values())), (accepted, share)


# ---------------------------------------------------------------------------------------------- 2. DNS resolver


def ipv6_loopback() -> bool:
    if not socket.has_ipv6:
        return False
    try:
        with socket.socket(socket.AF_INET6, socket.SOCK_STREAM) as s:
            s.bind(("::1", 0))
        return True
    except OSError:
        return False


def port_free_on_both() -> int:
    """A port that nothing listens on at 127.0.0.1 nor at [::1] (bound on both by the OS, then released)."""
    for _ in range(50):
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as v4:
            v4.bind(("127.0.0.1", 0))
            port = v4.getsockname()[1]
            try:
                with socket.socket(socket.AF_INET6, socket.SOCK_STREAM) as v6:
                    v6.bind(("::1", port))
            except OSError:
                continue
            return port
    pytest.fail("no port free on both 127.0.0.1 and ::1 in 50 tries")


def localhost_addresses() -> set[str]:
    """What a getaddrinfo lookup of `localhost` (any family, TCP) gives on this machine, as otelsink does it."""
    return {info[4][0] for info in socket.getaddrinfo("localhost", None, socket.AF_UNSPEC, socket.SOCK_STREAM)}


def loopback_gateways(server_factory, tmp_path) -> tuple[int, dict[str, object]]:
    """Two gateways on one port P: 127.0.0.1:P and [::1]:P (skips where ::1 cannot be bound). Returns P and the
    gateways by address."""
    if not ipv6_loopback():
        pytest.skip("IPv6 loopback ::1 cannot be bound on this machine: the [::1] gateway cannot listen")
    port = port_free_on_both()
    gateways = {}
    for address, endpoint in (("127.0.0.1", f"127.0.0.1:{port}"), ("::1", f"[::1]:{port}")):
        db = tmp_path / f"gateway-{len(gateways)}.db"
        gateways[address] = server_factory(config_text=gateway_yaml(db, f'"{endpoint}"'), db_path=db)
        assert gateways[address].grpc_address == endpoint, gateways[address].log()
    return port, gateways


def endpoint_of(address: str, port: int) -> str:
    return f"[{address}]:{port}" if ":" in address else f"{address}:{port}"


def spread_over_loopback(edge, gateways: dict, backends: set[str], used: set[str]) -> dict[str, int]:
    """Waits for the edge's backends to be `backends`, sends 40 traces (160 spans) in four rounds, and checks each
    trace is whole on one gateway, every span once, traces on every gateway in `used` and none on the others.
    Returns the traces per gateway address."""
    text = poll(lambda: telemetry(edge), lambda t: backend_labels(t) == backends, 5)
    assert backend_labels(text) == backends, f"the edge's backends are not {backends}:\n{text}\n{edge.log()[-2000:]}"
    assert metric(text, "otelcol_loadbalancer_num_backends", LB) == len(backends), text
    want = expected_spans(send_in_rounds(edge, make_traces(40)))
    order = list(gateways)
    stores = wait_spread([gateways[a] for a in order], want)
    time.sleep(0.5)
    assert sum(row_count(g.db_path) for g in gateways.values()) == 160
    assert_each_trace_on_one_gateway(stores, want)
    shares = dict(zip(order, (len(s) for s in stores)))
    print(f"traces per gateway: {shares}")
    for address, n in shares.items():
        if address in used:
            assert n > 0, f"the gateway on {address} is a backend but got no trace: {shares}"
        else:
            assert n == 0, f"the gateway on {address} is not a backend, yet it got traces: {shares}"
    return shares


def test_static_resolver_with_an_ipv4_and_an_ipv6_backend(server_factory, tmp_path):
    """The same two gateways named by address: both get traces (an IPv6 literal backend works)."""
    port, gateways = loopback_gateways(server_factory, tmp_path)
    backends = {endpoint_of(a, port) for a in gateways}
    edge = start_lb_edge(server_factory, "static:\n  hostnames: [" + ", ".join(f'"{b}"' for b in sorted(backends)) + "]")
    spread_over_loopback(edge, gateways, backends, used=set(gateways))


def test_dns_resolver_looks_up_localhost_for_real(server_factory, tmp_path):
    """A gateway on 127.0.0.1:P and one on [::1]:P; the edge resolves `localhost` with port P (the system's
    getaddrinfo). Every address the lookup gives is a backend and gets traces, each trace whole on one gateway; a
    gateway on an address `localhost` does not resolve to gets nothing. Where `localhost` is both 127.0.0.1 and ::1,
    both gateways share the traces; where /etc/hosts maps it to 127.0.0.1 only, only that gateway gets them."""
    resolved = localhost_addresses()
    print(f"localhost resolves to {sorted(resolved)}")
    assert resolved and resolved <= {"127.0.0.1", "::1"}, f"localhost resolves to {resolved}, not loopback"
    port, gateways = loopback_gateways(server_factory, tmp_path)
    edge = start_lb_edge(server_factory, f"dns:\n  hostname: localhost\n  port: {port}\n  interval: 1s")
    backends = {endpoint_of(a, port) for a in resolved}
    spread_over_loopback(edge, gateways, backends, used=resolved)
    # Looked up again every second: the same backends, each lookup counted.
    text = poll(lambda: telemetry(edge), lambda t: (metric_with(t, 'resolver="dns",success="true"') or 0) >= 2, 4)
    assert (metric_with(text, 'resolver="dns",success="true"') or 0) >= 2, text
    assert metric_with(text, 'resolver="dns",success="false"') in (0, None), text
    assert backend_labels(text) == backends, text


def metric_with(text: str, labels: str, name: str = "otelcol_loadbalancer_num_resolutions_total") -> float | None:
    values = [float(m.group(2)) for m in re.finditer(rf"^{name}\{{([^}}]*)\}} (\S+)$", text, re.M) if labels in m.group(1)]
    return sum(values) if values else None


# ---------------------------------------------------------------------------------------------- 3. validation


def validate(binary, tmp_path, config_text: str):
    config = tmp_path / "edge.yaml"
    config.write_text(config_text)
    p = run_cli(binary, "validate", "--config", config)
    return p.returncode, p.stdout.decode(errors="replace"), p.stderr.decode(errors="replace")


@pytest.mark.parametrize("exporter_type", ["loadbalancing", "load_balancing"])
def test_both_names_of_the_exporter_are_valid(otelsink_bin, tmp_path, exporter_type):
    rc, out, err = validate(otelsink_bin, tmp_path, lb_edge_yaml("static:\n  hostnames: [127.0.0.1:4317]", exporter_type))
    assert rc == 0, (out, err)


def test_the_k8s_resolver_is_refused_at_validation(otelsink_bin, tmp_path):
    rc, out, err = validate(otelsink_bin, tmp_path,
                            lb_edge_yaml("k8s:\n  service: gateway.observability\n  ports: [4317]"))
    assert rc == 1, (rc, out, err)
    assert "resolver::k8s" in err, err
    assert "exporters::loadbalancing::resolver::k8s" in err, err
