"""The Prometheus side of otelsink: the `prometheus` exporter (:8889), the spanmetrics connector, self-telemetry
(:8888), checked with promtool and with a real Prometheus server scraping otelsink."""

from __future__ import annotations

import gzip
import json
import re
import time
from pathlib import Path

import pytest

from prometheus_util import (OPENMETRICS_ACCEPT, PrometheusServer, metric_names, promtool_check, scrape,
                             send_metrics_workload, send_traces_workload)

REPO_ROOT = Path(__file__).resolve().parents[2]


def run_workload(server) -> list[str]:
    """The standard workload: SDK metrics and traces; waits until span metrics have been flushed."""
    send_metrics_workload(server.grpc_address)
    trace_ids = send_traces_workload(server.grpc_address)
    deadline = time.monotonic() + 20
    while "traces_span_metrics_calls_total" not in scrape(server.prometheus_address).text:
        assert time.monotonic() < deadline, "span metrics never appeared"
        time.sleep(0.2)
    return trace_ids


@pytest.fixture
def prom_server(server_factory):
    server = server_factory(spanmetrics=True, open_metrics=True)
    server.trace_ids = run_workload(server)
    return server


def forwarding_yaml(gateway: str) -> str:
    """Every signal forwarded to `gateway` twice: through an `otlp` exporter and through a `loadbalancing` exporter
    (static resolver, the gateway its one backend), both with the circuit breaker enabled."""
    return f"""receivers:
  otlp:
    protocols:
      grpc:
        endpoint: 127.0.0.1:0
exporters:
  otlp:
    endpoint: {gateway}
    tls:
      insecure: true
    circuit_breaker:
      enabled: true
  loadbalancing:
    protocol:
      otlp:
        tls:
          insecure: true
        circuit_breaker:
          enabled: true
    resolver:
      static:
        hostnames: ["{gateway}"]
service:
  telemetry:
    metrics:
      address: 127.0.0.1:0
  pipelines:
    traces:
      receivers: [otlp]
      exporters: [otlp, loadbalancing]
    metrics:
      receivers: [otlp]
      exporters: [otlp, loadbalancing]
    logs:
      receivers: [otlp]
      exporters: [otlp, loadbalancing]
"""


@pytest.fixture
def forwarding_server(server_factory):
    """An otelsink that forwards (see `forwarding_yaml`) to a gateway otelsink, after the standard traces and metrics
    workloads went through it: its self-telemetry has the forwarding exporters' and the load balancer's metrics."""
    gateway = server_factory(http=False)
    server = server_factory(config_text=forwarding_yaml(gateway.grpc_address))
    send_metrics_workload(server.grpc_address)
    send_traces_workload(server.grpc_address)
    delivered = [rf'otelcol_exporter_sent_spans_total\{{exporter="{e}"\}} 12\n' for e in ("otlp", "loadbalancing")]
    deadline = time.monotonic() + 15
    while not all(re.search(d, scrape(server.telemetry_address).text) for d in delivered):
        assert time.monotonic() < deadline, f"spans not delivered upstream:\n{scrape(server.telemetry_address).text}"
        time.sleep(0.1)
    return server


def test_promtool_accepts_both_endpoints_after_the_workload(prom_server):
    exporter_text = scrape(prom_server.prometheus_address).text
    telemetry_text = scrape(prom_server.telemetry_address).text
    assert promtool_check(exporter_text) == [], exporter_text
    assert promtool_check(telemetry_text) == [], telemetry_text


def test_exporter_names_follow_otelcol_rules(prom_server):
    text = scrape(prom_server.prometheus_address).text
    names = metric_names(text)
    assert "shop_orders_total" in names
    assert {"shop_checkout_duration_milliseconds_bucket", "shop_checkout_duration_milliseconds_sum",
            "shop_checkout_duration_milliseconds_count"} <= names
    assert "shop_requests_inflight" in names
    assert "shop_cache_fill_ratio" in names
    assert "traces_span_metrics_calls_total" in names
    assert "traces_span_metrics_duration_milliseconds_bucket" in names
    assert re.search(r'shop_orders_total\{[^}]*instance="i-1"[^}]*job="shop"[^}]*otel_scope_name="shop.checkout"'
                     r'[^}]*otel_scope_version="1.2.3"[^}]*payment_method="card"[^}]*\} 5\n', text), text
    assert re.search(r'target_info\{deployment_environment="test",instance="i-1",job="shop"[^}]*\} 1', text), text
    # HELP and TYPE once per family.
    for kind in ("HELP", "TYPE"):
        lines = [l.split()[2] for l in text.splitlines() if l.startswith(f"# {kind} ")]
        assert len(lines) == len(set(lines))


def test_openmetrics_with_exemplars_pointing_at_stored_traces(prom_server):
    r = scrape(prom_server.prometheus_address, accept=OPENMETRICS_ACCEPT)
    assert r.headers["content-type"].startswith("application/openmetrics-text; version=1.0.0")
    text = r.text
    assert text.endswith("# EOF\n")
    exemplar_traces = set(re.findall(r'# \{trace_id="([0-9a-f]{32})",span_id="[0-9a-f]{16}"\}', text))
    assert exemplar_traces, text
    assert exemplar_traces <= set(prom_server.trace_ids)
    # The exemplar's trace is in the SQLite store.
    import subprocess
    trace = next(iter(exemplar_traces))
    p = subprocess.run([str(prom_server.binary), "trace", trace, "--db", str(prom_server.db_path)], capture_output=True, timeout=30)
    assert p.returncode == 0, p.stderr


def test_gzip_when_the_scraper_accepts_it(prom_server):
    import httpx
    r = httpx.get(f"http://{prom_server.prometheus_address}/metrics", headers={"Accept-Encoding": "gzip"}, timeout=10)
    assert r.headers.get("content-encoding") == "gzip"
    assert "shop_orders_total" in r.text  # httpx inflates


def test_self_telemetry_uses_otelcol_names_and_labels(prom_server):
    text = scrape(prom_server.telemetry_address).text
    accepted = re.search(r'otelcol_receiver_accepted_spans_total\{receiver="otlp",transport="grpc"\} (\d+)', text)
    assert accepted and int(accepted.group(1)) == 12, text
    assert re.search(r'otelcol_receiver_accepted_metric_points_total\{receiver="otlp",transport="grpc"\} [1-9]', text)
    assert re.search(r'otelcol_exporter_sent_spans_total\{exporter="sqlite"\} 12\n', text)
    assert 'otelcol_exporter_send_failed_spans_total{exporter="sqlite"} 0' in text
    assert re.search(r'otelcol_exporter_queue_capacity\{exporter="sqlite"\} 50000', text)
    for name in ("otelcol_process_uptime_seconds_total", "otelcol_process_memory_rss_bytes", "otelcol_process_cpu_seconds_total",
                 "otelsink_sqlite_commit_duration_seconds_bucket", "otelsink_sqlite_transaction_spans_bucket",
                 "otelsink_sqlite_database_size_bytes", "otelsink_sqlite_retention_removed_spans_total"):
        assert name in metric_names(text), name


def test_real_prometheus_reads_back_sdk_counter_and_histogram_quantile(prom_server, tmp_path):
    prom = PrometheusServer(tmp_path, [prom_server.prometheus_address, prom_server.telemetry_address],
                            extra_args=("--enable-feature=exemplar-storage",))
    try:
        result = prom.wait_for('shop_orders_total{payment_method="card"}')
        assert len(result) == 1, result
        labels = result[0]["metric"]
        assert labels["__name__"] == "shop_orders_total"
        assert labels["job"] == "shop" and labels["instance"] == "i-1"
        assert labels["otel_scope_name"] == "shop.checkout"
        assert float(result[0]["value"][1]) == 5
        # Values 5, 15, 15, 30, 70, 120, 300, 900 in the SDK's default buckets: the median lies in (25, 50].
        q = prom.wait_for('histogram_quantile(0.5, sum by (le) (shop_checkout_duration_milliseconds_bucket))')
        assert q and 25 < float(q[0]["value"][1]) <= 50, q
        spans = prom.wait_for('otelcol_receiver_accepted_spans_total{transport="grpc"}')
        assert spans and float(spans[0]["value"][1]) == 12
        red = prom.wait_for('histogram_quantile(0.9, sum by (le, span_name) (traces_span_metrics_duration_milliseconds_bucket))')
        assert {r["metric"]["span_name"] for r in red} == {"GET /cart", "SELECT cart"}
        # Exemplars went through Prometheus' OpenMetrics parser into its exemplar storage, pointing at stored traces.
        deadline = time.monotonic() + 20
        stored = []
        while not stored and time.monotonic() < deadline:
            stored = [e for series in prom.exemplars("traces_span_metrics_duration_milliseconds_bucket") for e in series["exemplars"]]
            time.sleep(0.5)
        assert stored and {e["labels"]["trace_id"] for e in stored} <= set(prom_server.trace_ids), stored
        up = prom.query("up")
        assert len(up) == 2 and all(r["value"][1] == "1" for r in up), up
    finally:
        prom.stop()


def dashboard_targets(path: Path) -> list[tuple[str, dict]]:
    """(panel title, target) for every query of every panel, rows' nested panels included."""
    def panels(items):
        for p in items:
            yield p
            yield from panels(p.get("panels", []))
    board = json.loads(path.read_text())
    return [(p.get("title", ""), t) for p in panels(board.get("panels", [])) for t in p.get("targets", [])]


def dashboard_metric_names(path: Path) -> set[str]:
    """Every metric name in every panel query of a Grafana dashboard."""
    names = set()
    functions = {"sum", "rate", "irate", "increase", "histogram_quantile", "by", "without", "max", "min", "avg",
                 "le", "clamp_min", "topk", "count", "on", "ignoring", "group_left", "or", "and", "unless", "bool"}
    for _, target in dashboard_targets(path):
        expr = re.sub(r'\{[^}]*\}', '', target.get("expr", ""))
        expr = re.sub(r'\[[^\]]*\]', '', expr)
        expr = re.sub(r'\b(by|without)\s*\([^)]*\)', '', expr)
        expr = re.sub(r'"[^"]*"', '', expr)
        for token in re.findall(r'[a-zA-Z_:][a-zA-Z0-9_:]*', expr):
            if token not in functions and not token.startswith("$"):
                names.add(token)
    return names


BOARDS = ["otelsink-health.json", "service-red.json"]


@pytest.mark.parametrize("board", BOARDS)
def test_every_dashboard_metric_is_exposed_after_the_workload(prom_server, forwarding_server, board):
    """Every metric a dashboard queries is exposed by a real server after a workload: the storing server's exporter
    and self-telemetry, and the forwarding server's self-telemetry (the health board's Forwarding row)."""
    path = REPO_ROOT / "dashboards" / board
    exposed = (metric_names(scrape(prom_server.prometheus_address).text)
               | metric_names(scrape(prom_server.telemetry_address).text)
               | metric_names(scrape(forwarding_server.telemetry_address).text))
    wanted = dashboard_metric_names(path)
    assert wanted, f"no queries found in {board}"
    assert wanted <= exposed, sorted(wanted - exposed)
    board_json = json.loads(path.read_text())
    assert any(v.get("type") == "datasource" and v.get("query") == "prometheus"
               for v in board_json.get("templating", {}).get("list", []))


@pytest.mark.parametrize("board", BOARDS)
def test_every_dashboard_query_returns_series_in_a_real_prometheus(prom_server, forwarding_server, board, tmp_path):
    """A real Prometheus scrapes both servers; every panel query (with `$__rate_interval` 10s and the variables set to
    match everything) parses and returns series, and each label a legend shows is on some of them."""
    prom = PrometheusServer(tmp_path, [prom_server.prometheus_address, prom_server.telemetry_address,
                                       forwarding_server.telemetry_address])
    try:
        problems = []
        deadline = time.monotonic() + 40
        for title, target in dashboard_targets(REPO_ROOT / "dashboards" / board):
            expr = target["expr"].replace("$__rate_interval", "10s").replace("$service", ".*")
            assert "$" not in expr, f"{title}: a dashboard variable the test does not set: {expr}"
            result = prom.wait_for(expr, timeout=max(0.0, deadline - time.monotonic()))
            if not result:
                problems.append(f"{title}: no series for {expr}")
                continue
            for label in re.findall(r"\{\{\s*(\w+)\s*\}\}", target.get("legendFormat", "")):
                if not any(label in r["metric"] for r in result):
                    problems.append(f"{title}: legend label {label!r} is on none of {[r['metric'] for r in result]}")
        assert not problems, "\n".join(problems)
    finally:
        prom.stop()


@pytest.mark.parametrize("board", BOARDS)
def test_dashboard_layout(board):
    """Unique panel ids, panels within the 24-column grid and not overlapping (a row is one unit high)."""
    panels = json.loads((REPO_ROOT / "dashboards" / board).read_text())["panels"]
    ids = [p["id"] for p in panels]
    assert len(ids) == len(set(ids)), ids
    cells = {}
    for p in panels:
        g = p["gridPos"]
        assert 0 <= g["x"] and g["x"] + g["w"] <= 24 and g["h"] > 0, (p["title"], g)
        for x in range(g["x"], g["x"] + g["w"]):
            for y in range(g["y"], g["y"] + g["h"]):
                assert (x, y) not in cells, f"{p['title']!r} overlaps {cells[(x, y)]!r} at {(x, y)}"
                cells[(x, y)] = p["title"]


def test_hostile_metrics_never_break_the_exposition(server_factory):
    """Names and labels Prometheus would reject, colliding identities, special values: the exposition still passes
    promtool, HELP/TYPE appear once per family, and conflicting points are dropped and counted."""
    import httpx
    from opentelemetry.proto.collector.metrics.v1 import metrics_service_pb2
    from opentelemetry.proto.common.v1 import common_pb2
    from opentelemetry.proto.metrics.v1 import metrics_pb2

    server = server_factory(prometheus=True)
    req = metrics_service_pb2.ExportMetricsServiceRequest()
    rm = req.resource_metrics.add()
    rm.resource.attributes.add(key="service.name", value=common_pb2.AnyValue(string_value='we"ird\nsvc\\'))
    rm.resource.attributes.add(key="host.name", value=common_pb2.AnyValue(string_value="h"))
    sm = rm.scope_metrics.add()
    sm.scope.name = "hostile"

    def gauge(name, value, attrs=(), unit=""):
        m = sm.metrics.add(name=name, unit=unit, description="line one\nline two \\ backslash")
        p = m.gauge.data_points.add(as_double=value)
        for k, v in attrs:
            p.attributes.add(key=k, value=common_pb2.AnyValue(string_value=v))
        return m

    gauge("ünïcode.näme", 1, [("ключ", "значение"), ("", "empty key"), ("__name__", "x"), ("9lives", "cat")])
    gauge("nan.value", float("nan"))
    gauge("inf.value", float("inf"))
    gauge("neg.inf", float("-inf"))
    gauge("...", 3)                                   # no valid characters: dropped
    gauge("dup", 1, [("a.b", "1"), ("a_b", "2"), ("a-b", "3")])  # colliding label keys: values joined
    gauge("hist", 1)                                  # a gauge named like the histogram below: the histogram loses
    h = sm.metrics.add(name="hist")
    h.histogram.aggregation_temporality = metrics_pb2.AGGREGATION_TEMPORALITY_CUMULATIVE
    hp = h.histogram.data_points.add(count=2, sum=3, explicit_bounds=[1], bucket_counts=[1, 1])
    g2 = sm.metrics.add(name="hist2")
    g2.histogram.aggregation_temporality = metrics_pb2.AGGREGATION_TEMPORALITY_CUMULATIVE
    hp2 = g2.histogram.data_points.add(count=1, sum=1, explicit_bounds=[1], bucket_counts=[1, 0])
    hp2.attributes.add(key="le", value=common_pb2.AnyValue(string_value="oops"))  # would clash with the bucket label
    h3 = sm.metrics.add(name="hist3")
    h3.histogram.aggregation_temporality = metrics_pb2.AGGREGATION_TEMPORALITY_CUMULATIVE
    h3.histogram.data_points.add(count=1, sum=1, explicit_bounds=[1], bucket_counts=[1, 0])
    gauge("hist3_count", 5)                           # collides with hist3's _count sample: dropped
    c = sm.metrics.add(name="requests")
    c.sum.is_monotonic = True
    c.sum.aggregation_temporality = metrics_pb2.AGGREGATION_TEMPORALITY_CUMULATIVE
    c.sum.data_points.add(as_int=4)
    gauge("requests_total", 9)                        # a gauge with the counter's name: dropped
    r = httpx.post(f"http://{server.http_address}/v1/metrics", content=req.SerializeToString(),
                   headers={"Content-Type": "application/x-protobuf"}, timeout=10)
    assert r.status_code == 200, r.text

    for accept in (None, OPENMETRICS_ACCEPT):
        text = scrape(server.prometheus_address, accept=accept).text
        if accept is None:
            assert promtool_check(text) == [], text
        for kind in ("HELP", "TYPE"):
            families = [l.split()[2] for l in text.splitlines() if l.startswith(f"# {kind} ")]
            assert len(families) == len(set(families)), text
        samples = [l for l in text.splitlines() if l and not l.startswith("#")]
        assert len(samples) == len(set(s.rsplit(" ", 1)[0] for s in samples)), "duplicate series"
    text = scrape(server.prometheus_address).text
    assert 'dup{a_b="3;1;2"' in text or 'a_b="3;1;2"' in text
    assert "nan_value" in text and " NaN" in text and " +Inf" in text and " -Inf" in text
    assert "requests_total 9" not in text and "requests_total{" in text
    assert "hist3_count{" in text and "# TYPE hist3_count" not in text
    assert "hist2" not in text and "# TYPE hist histogram" not in text
    telemetry = scrape(server.telemetry_address).text
    dropped = re.search(r'otelsink_prometheus_dropped_points_total\{exporter="prometheus",reason="conflict"\} (\d+)', telemetry)
    assert dropped and int(dropped.group(1)) == 4, telemetry  # hist, hist2 (le), hist3_count, requests_total gauge
