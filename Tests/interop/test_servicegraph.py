"""The `servicegraph` connector end to end: two services instrumented with the official OpenTelemetry Python SDK
send client/server (and producer/consumer, and database) spans to a real otelsink over OTLP/gRPC; the connector's
metrics go to the `prometheus` exporter, and a real Prometheus scrapes them (and otelsink's self-telemetry), read
back through its query API as Grafana's service graph panel would read them."""

from __future__ import annotations

import time

from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.trace import SpanKind, Status, StatusCode
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

from prometheus_util import PrometheusServer, scrape

PROPAGATOR = TraceContextTextMapPropagator()


def servicegraph_yaml(db_path) -> str:
    """traces → sqlite + servicegraph; servicegraph → prometheus. Short waits so the test runs in seconds."""
    return f"""receivers:
  otlp:
    protocols:
      grpc:
        endpoint: 127.0.0.1:0
exporters:
  sqlite:
    path: {db_path}
  prometheus:
    endpoint: 127.0.0.1:0
connectors:
  servicegraph:
    dimensions: [deployment.environment]
    store:
      ttl: 1s
      max_items: 1000
    store_expiration_loop: 200ms
    metrics_flush_interval: 500ms
service:
  telemetry:
    metrics:
      address: 127.0.0.1:0
  pipelines:
    traces:
      receivers: [otlp]
      exporters: [sqlite, servicegraph]
    metrics/servicegraph:
      receivers: [servicegraph]
      exporters: [prometheus]
"""


def provider(grpc_address: str, service: str) -> TracerProvider:
    p = TracerProvider(resource=Resource.create({"service.name": service, "deployment.environment": "test"}))
    p.add_span_processor(SimpleSpanProcessor(OTLPSpanExporter(endpoint=grpc_address, insecure=True)))
    return p


def send_two_services(grpc_address: str) -> None:
    """`frontend` serves 3 user requests; each calls `backend` over "HTTP" (the trace context travels in a header
    carrier, as between processes); the third call fails on the server side. `backend` queries the `inventory`
    database and consumes a message `frontend` produced. One call from `frontend` to `payments` (not instrumented)
    never gets a server span, so it expires."""
    front = provider(grpc_address, "frontend")
    back = provider(grpc_address, "backend")
    ft = front.get_tracer("frontend.http")
    bt = back.get_tracer("backend.http")
    for i in range(3):
        with ft.start_as_current_span("GET /shop", kind=SpanKind.SERVER):
            with ft.start_as_current_span("GET backend/items", kind=SpanKind.CLIENT):
                carrier: dict[str, str] = {}
                PROPAGATOR.inject(carrier)
                incoming = PROPAGATOR.extract(carrier)
                with bt.start_as_current_span("GET /items", kind=SpanKind.SERVER, context=incoming) as server_span:
                    with bt.start_as_current_span("SELECT items", kind=SpanKind.CLIENT,
                                                  attributes={"db.system": "postgresql", "db.name": "inventory"}):
                        time.sleep(0.003)
                    time.sleep(0.01)
                    if i == 2:
                        server_span.set_status(Status(StatusCode.ERROR, "out of stock"))
            if i == 0:
                with ft.start_as_current_span("publish orders", kind=SpanKind.PRODUCER):
                    carrier = {}
                    PROPAGATOR.inject(carrier)
                    with bt.start_as_current_span("process orders", kind=SpanKind.CONSUMER,
                                                  context=PROPAGATOR.extract(carrier)):
                        time.sleep(0.002)
                with ft.start_as_current_span("POST payments/charge", kind=SpanKind.CLIENT,
                                              attributes={"peer.service": "payments"}):
                    time.sleep(0.002)
    front.shutdown()
    back.shutdown()


def value(result: list[dict]) -> float:
    assert len(result) == 1, result
    return float(result[0]["value"][1])


def test_real_prometheus_reads_the_service_graph_of_two_sdk_services(server_factory, tmp_path):
    server = server_factory(config_text=servicegraph_yaml(tmp_path / "traces.db"))
    send_two_services(server.grpc_address)
    prom = PrometheusServer(tmp_path, [server.prometheus_address, server.telemetry_address])
    try:
        # The request edge, as Grafana's service graph panel queries it.
        total = prom.wait_for('sum by (client, server) (traces_service_graph_request_total{client="frontend",server="backend",connection_type=""})')
        assert value(total) == 3, total
        series = prom.query('traces_service_graph_request_total{client="frontend",server="backend",connection_type=""}')
        assert sorted((r["metric"]["failed"], float(r["value"][1])) for r in series) == [("false", 2), ("true", 1)], series
        labels = series[0]["metric"]
        assert labels.get("connection_type", "") == ""
        assert labels["client_deployment_environment"] == "test" and labels["server_deployment_environment"] == "test"
        failed = prom.wait_for('sum by (client, server) (traces_service_graph_request_failed_total{client="frontend",server="backend",connection_type=""})')
        assert value(failed) == 1, failed
        # Latency from both sides, in seconds; the server side took at least 13 ms each time.
        count = prom.wait_for('sum(traces_service_graph_request_server_seconds_count{client="frontend",server="backend",connection_type=""})')
        assert value(count) == 3
        total_seconds = value(prom.query('sum(traces_service_graph_request_server_seconds_sum{client="frontend",server="backend",connection_type=""})'))
        assert 0.03 < total_seconds < 5, total_seconds
        client_sum = value(prom.query('sum(traces_service_graph_request_client_seconds_sum{client="frontend",server="backend",connection_type=""})'))
        assert client_sum >= total_seconds
        inf = prom.query('sum(traces_service_graph_request_server_seconds_bucket{client="frontend",server="backend",connection_type="",le="+Inf"})')
        assert value(inf) == 3
        median = prom.query('histogram_quantile(0.5, sum by (le) (traces_service_graph_request_server_seconds_bucket{client="frontend",server="backend",connection_type=""}))')
        assert 0.01 <= value(median) <= 5, median
        # Messaging and database edges.
        messaging = prom.wait_for('traces_service_graph_request_total{connection_type="messaging_system"}')
        assert messaging[0]["metric"]["client"] == "frontend" and messaging[0]["metric"]["server"] == "backend"
        assert value(messaging) == 1
        database = prom.wait_for('traces_service_graph_request_total{connection_type="database"}')
        assert database[0]["metric"]["client"] == "backend" and database[0]["metric"]["server"] == "inventory"
        assert value(database) == 3
        # Unpaired spans expire, are counted, and become virtual nodes: the user calling frontend (its root server
        # spans have no parent), and payments, named by the client span's peer.service.
        user = prom.wait_for('traces_service_graph_request_total{client="user",server="frontend",connection_type="virtual_node"}')
        assert value(user) == 3, user
        payments = prom.wait_for('traces_service_graph_request_total{client="frontend",server="payments",connection_type="virtual_node"}')
        assert value(payments) == 1, payments
        expired = prom.wait_for('otelcol_connector_servicegraph_expired_edges_total{connector="servicegraph"}')
        assert value(expired) == 4, expired  # 3 root server spans + 1 payments call
        dropped = prom.wait_for('otelcol_connector_servicegraph_dropped_spans_total')
        assert value(dropped) == 0
        edges = prom.wait_for('otelcol_connector_servicegraph_total_edges_total')
        assert value(edges) >= 3 + 1 + 3 + 3 + 1  # backend calls, messaging, database calls, root spans, payments
        # Nothing is left waiting for long: the whole graph is complete.
        up = prom.query("up")
        assert len(up) == 2 and all(r["value"][1] == "1" for r in up), up
    finally:
        prom.stop()


def test_unpaired_client_span_expires_and_is_counted_in_self_telemetry(server_factory, tmp_path):
    server = server_factory(config_text=servicegraph_yaml(tmp_path / "traces.db"))
    p = provider(server.grpc_address, "frontend")
    tracer = p.get_tracer("frontend.http")
    carrier: dict[str, str] = {}
    with tracer.start_as_current_span("GET /checkout", kind=SpanKind.SERVER):
        PROPAGATOR.inject(carrier)
    # A server span whose caller's client span never arrives: it expires, is counted, and is not graphed.
    back = provider(server.grpc_address, "backend")
    with back.get_tracer("b").start_as_current_span("GET /x", kind=SpanKind.SERVER, context=PROPAGATOR.extract(carrier)):
        pass
    p.shutdown()
    back.shutdown()
    deadline = time.monotonic() + 20
    while True:
        text = scrape(server.telemetry_address).text
        if 'otelcol_connector_servicegraph_expired_edges_total{connector="servicegraph"} 2' in text:
            break
        assert time.monotonic() < deadline, text
        time.sleep(0.2)
    deadline = time.monotonic() + 10
    while 'client="user"' not in (exposed := scrape(server.prometheus_address).text):
        assert time.monotonic() < deadline, exposed
        time.sleep(0.2)
    assert 'server="backend"' not in exposed, exposed
