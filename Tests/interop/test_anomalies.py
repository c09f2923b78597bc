"""Latency anomalies end to end: spans sent by the OpenTelemetry SDK build a baseline per operation; a span far
above its operation's p99 is flagged at ingest and shows up in the Jaeger API (tag and warning), in searches (the
Jaeger UI's tag search and `otelsink search --anomalous`), in the waterfall (▲), in `otelsink baselines` and
GET /api/v3/baselines, and in self-telemetry; the baseline survives a restart."""
from __future__ import annotations

import json
import re
import time

import httpx
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor
from opentelemetry.trace import SpanKind

from otlp_util import run_cli

MS = 1_000_000


def _send(server, durations_ms: list[float], child: bool = False) -> list[str]:
    """One trace per duration: a SERVER span `GET /cart` of service `shop` (with a fast `SELECT cart` child when
    `child`), ending a minute ago and earlier; returns the trace IDs (hex)."""
    provider = TracerProvider(resource=Resource.create({"service.name": "shop"}))
    provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter(endpoint=server.url(), timeout=30), max_export_batch_size=512))
    tracer = provider.get_tracer("anomaly-test")
    ids = []
    start = time.time_ns() - 60_000 * MS
    for i, d in enumerate(durations_ms):
        t = start + i * 20 * MS
        root = tracer.start_span("GET /cart", kind=SpanKind.SERVER, start_time=t)
        if child:
            from opentelemetry import trace
            with trace.use_span(root):
                db = tracer.start_span("SELECT cart", kind=SpanKind.CLIENT, start_time=t + MS)
                db.end(end_time=t + 2 * MS)
        root.end(end_time=t + int(d * MS))
        ids.append(format(root.get_span_context().trace_id, "032x"))
    assert provider.force_flush(30_000)
    provider.shutdown()
    return ids


def _api(server, path, params=None):
    r = httpx.get(server.query_url + path, params=params, timeout=10)
    assert r.status_code == 200, (path, r.status_code, r.text[:500])
    return r.json()


def _cli(server, *args, endpoint=True):
    where = ["--endpoint", server.query_url] if endpoint else ["--db", str(server.db_path)]
    p = run_cli(server.binary, *args, *where, "--width", "120")
    return p.returncode, p.stdout.decode(), p.stderr.decode()


def test_a_slow_span_is_flagged_against_its_operations_baseline_everywhere(server_factory):
    config = dict(query=True, sqlite_extra="anomalies:\n  min_samples: 100")
    server = server_factory(**config)
    # A stable operation: 300 requests of 10–12 ms.
    _send(server, [10 + (i % 21) / 10 for i in range(300)])
    slow, normal = _send(server, [80, 11], child=True)

    # Jaeger JSON: the slow root carries the tag and a warning saying by how much; nothing else does.
    trace = _api(server, f"/api/traces/{slow}")["data"][0]
    flagged = [s for s in trace["spans"] if {"key": "otelsink.anomaly", "type": "bool", "value": True} in s["tags"]]
    assert [s["operationName"] for s in flagged] == ["GET /cart"], trace["spans"]
    assert re.match(r"took 80(\.0+)?ms, [67]\.\d× the p99 of its operation \(1[12](\.\d+)?ms\)", flagged[0]["warnings"][0]), flagged[0]["warnings"]
    child = next(s for s in trace["spans"] if s["operationName"] == "SELECT cart")
    assert child["warnings"] is None
    for s in _api(server, f"/api/traces/{normal}")["data"][0]["spans"]:
        assert s["warnings"] is None and not any(t["key"] == "otelsink.anomaly" for t in s["tags"])

    listed = _api(server, f"/api/v3/traces/{slow}/anomalies")["result"]
    assert listed["traceId"] == slow and len(listed["anomalies"]) == 1
    assert listed["anomalies"][0]["spanId"] == flagged[0]["spanID"]
    assert listed["anomalies"][0]["durationNanos"] == str(80 * MS) and 6 < listed["anomalies"][0]["ratio"] < 8
    assert _api(server, f"/api/v3/traces/{normal}/anomalies")["result"]["anomalies"] == []

    # The Jaeger UI's tag search and the CLI's --anomalous find the slow trace only.
    found = _api(server, "/api/traces", {"service": "shop", "tags": json.dumps({"otelsink.anomaly": "true"}), "lookback": "2h"})
    assert [t["traceID"] for t in found["data"]] == [slow]
    for endpoint in (True, False):
        rc, out, err = _cli(server, "search", "--service", "shop", "--anomalous", "--json", endpoint=endpoint)
        assert rc == 0, err
        assert [t["traceID"] for t in json.loads(out)] == [slow]

        rc, out, err = _cli(server, "trace", slow, endpoint=endpoint)
        assert rc == 0, err
        marked = [line for line in out.splitlines() if "▲" in line]
        assert len(marked) == 2 and "GET /cart" in marked[0] and re.search(r"▲ [67]\.\d×", marked[0]), out
        assert marked[1].startswith("▲ unusually slow: N× the p99"), out
        rc, out, err = _cli(server, "trace", normal, endpoint=endpoint)
        assert rc == 0 and "▲" not in out, out

    # Self-telemetry counts the flagged span under its service.
    text = httpx.get(f"http://{server.telemetry_address}/metrics", timeout=10).text
    assert re.search(r'otelsink_sqlite_anomalous_spans_total\{(exporter="sqlite",service="shop"|service="shop",exporter="sqlite")\} 1\n', text), text

    # The baseline survives a restart (it is written at shutdown): the next slow request is flagged at once.
    assert server.stop() == 0
    restarted = server_factory(db_path=server.db_path, **config)
    (again,) = _send(restarted, [90])
    assert len(_api(restarted, f"/api/v3/traces/{again}/anomalies")["result"]["anomalies"]) == 1

    # `otelsink baselines` and GET /api/v3/baselines list the operation with its p99s (recent and baseline windows
    # hold the same requests here, so no change).
    api_list = _api(restarted, "/api/v3/baselines")["result"]["operations"]
    assert [(o["service"], o["operation"], o["spanKind"]) for o in api_list] == [("shop", "GET /cart", "server")]
    assert 10 * MS < int(api_list[0]["baselineP99Nanos"]) < 13 * MS and api_list[0]["baselineSamples"] >= 300
    for endpoint in (True, False):
        rc, out, err = _cli(restarted, "baselines", "--json", endpoint=endpoint)
        assert rc == 0, err
        cli_list = json.loads(out)["operations"]
        assert [(o["operation"], o["spanKind"]) for o in cli_list] == [("GET /cart", "server")]
        rc, out, err = _cli(restarted, "baselines", endpoint=endpoint)
        assert rc == 0, err
        assert out.splitlines()[0].startswith("OPERATION") and "shop: GET /cart (server)" in out and "→" in out, out
    rc, _, err = _cli(restarted, "baselines", "--limit", "0")
    assert rc == 2 and "--limit" in err
