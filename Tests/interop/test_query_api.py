"""The query extension against the real binary: fixture traces sent over OTLP/HTTP, then every endpoint of the
Jaeger-compatible API (v1 and v3) and the `trace`, `search` and `services` commands, against the server
(`--endpoint`) and directly on the database (`--db`)."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import time
from pathlib import Path

import httpx
import pytest
from opentelemetry.proto.trace.v1 import trace_pb2

from otlp_util import PROTOBUF, kv, make_request, make_span, from_otlp_json, run_cli, terminal_cells

GOLDEN = Path(__file__).resolve().parent / "golden"
T0 = 1_714_564_800_000_000_000  # 2024-05-01T12:00:00Z: the golden trace's fixed start

ROOT_ID = bytes.fromhex("a1a1a1a1a1a1a1a1")
CHILD_ID = bytes.fromhex("b2b2b2b2b2b2b2b2")
GRANDCHILD_ID = bytes.fromhex("c3c3c3c3c3c3c3c3")


def fixture_trace(trace_id: bytes, start: int) -> list:
    """Two services: checkout (server root with typed attributes, trace state, a client child) and payment
    (an error span with an event and a link). Returns the requests to send."""
    root = make_span(trace_id, name="GET /cart", span_id=ROOT_ID, start_ns=start, duration_ns=12_000_000)
    root.kind = trace_pb2.Span.SPAN_KIND_SERVER
    root.trace_state = "vendor=x"
    root.flags = 0x101
    root.status.code = trace_pb2.Status.STATUS_CODE_OK
    for k, v in [("http.method", "GET"), ("http.status_code", 200), ("sampled", True), ("ratio", 0.25), ("raw", b"\x01\x02")]:
        root.attributes.append(kv(k, v))
    arr = root.attributes.add(key="list")
    arr.value.array_value.values.add().string_value = "a"
    arr.value.array_value.values.add().int_value = 2
    child = make_span(trace_id, name="load cart", span_id=CHILD_ID, parent=ROOT_ID, start_ns=start + 1_000_000,
                      duration_ns=3_000_000, db="cart")
    child.kind = trace_pb2.Span.SPAN_KIND_CLIENT
    grandchild = make_span(trace_id, name="charge", span_id=GRANDCHILD_ID, parent=ROOT_ID, start_ns=start + 5_000_000,
                           duration_ns=6_000_000)
    grandchild.kind = trace_pb2.Span.SPAN_KIND_SERVER
    grandchild.status.code = trace_pb2.Status.STATUS_CODE_ERROR
    grandchild.status.message = "card declined"
    ev = grandchild.events.add(name="retry", time_unix_nano=start + 6_000_000)
    ev.attributes.append(kv("attempt", 2))
    link = grandchild.links.add(trace_id=bytes(8) + bytes(range(1, 9)), span_id=bytes.fromhex("d4d4d4d4d4d4d4d4"))
    link.attributes.append(kv("why", "batch"))
    r1 = make_request([root, child], service="checkout", scope="shop")
    r1.resource_spans[0].resource.attributes.append(kv("host.name", "h1"))
    r1.resource_spans[0].scope_spans[0].scope.version = "1.2"
    r2 = make_request([grandchild], service="payment", scope="pay")
    return [r1, r2]


def send(server, requests):
    for r in requests:
        resp = httpx.post(server.url(), content=r.SerializeToString(), headers={"Content-Type": PROTOBUF}, timeout=10)
        assert resp.status_code == 200, resp.text


@pytest.fixture(scope="module")
def qserver(otelsink_bin, tmp_path_factory):
    from conftest import ServerFactory
    factory = ServerFactory(otelsink_bin, tmp_path_factory.mktemp("query-server"))
    server = factory(query=True, query_extra="max_limit: 3\ndefault_limit: 3")
    now = time.time_ns() - 60_000_000_000
    server.golden_id = bytes.fromhex("0af7651916cd43dd8448eb211c80319c")
    server.recent_id = bytes.fromhex("4bf92f3577b34da6a3ce929d0e0e4736")
    server.recent_requests = fixture_trace(server.recent_id, now)
    send(server, fixture_trace(server.golden_id, T0))
    send(server, server.recent_requests)
    # Five more recent traces of another service, a second apart, for order and limit.
    server.order_ids = []
    for i in range(5):
        tid = bytes([0x5E] * 15 + [i + 1])
        server.order_ids.append(tid.hex())
        span = make_span(tid, name="tick", start_ns=now - (5 - i) * 1_000_000_000, duration_ns=1_000_000 * (i + 1))
        send(server, [make_request([span], service="clock")])
    yield server
    factory.teardown()


def api(server, path, params=None, status=200):
    r = httpx.get(server.query_url + path, params=params, timeout=10)
    assert r.status_code == status, (path, params, r.status_code, r.text[:500])
    assert r.headers["content-type"] == "application/json"
    return r.json()


# ---------------------------------------------------------------------------------------------- v1


def test_health_and_services(qserver):
    assert api(qserver, "/health") == {"status": "ok"}
    body = api(qserver, "/api/services")
    assert body == {"data": ["checkout", "clock", "payment"], "total": 3, "limit": 0, "offset": 0, "errors": None}


def test_operations_both_forms(qserver):
    assert api(qserver, "/api/services/checkout/operations")["data"] == ["GET /cart", "load cart"]
    body = api(qserver, "/api/operations", {"service": "checkout"})
    assert body["data"] == [{"name": "GET /cart", "spanKind": "server"}, {"name": "load cart", "spanKind": "client"}]
    assert body["total"] == 2
    assert api(qserver, "/api/operations", {"service": "checkout", "spanKind": "client"})["data"] == [
        {"name": "load cart", "spanKind": "client"}]
    assert api(qserver, "/api/operations", {"service": "nobody"})["data"] == []


def test_trace_by_id_is_the_jaeger_model_field_by_field(qserver):
    body = api(qserver, f"/api/traces/{qserver.golden_id.hex()}")
    assert body["total"] == 0 and body["limit"] == 0 and body["offset"] == 0 and body["errors"] is None
    [trace] = body["data"]
    assert set(trace) == {"traceID", "spans", "processes", "warnings"}
    assert trace["traceID"] == qserver.golden_id.hex() and trace["warnings"] is None
    assert trace["processes"] == {
        "p1": {"serviceName": "checkout", "tags": [{"key": "host.name", "type": "string", "value": "h1"}]},
        "p2": {"serviceName": "payment", "tags": []},
    }
    root, child, charge = trace["spans"]
    assert set(root) == {"traceID", "spanID", "flags", "operationName", "references", "startTime", "duration", "tags",
                         "logs", "processID", "warnings"}
    assert root["spanID"] == ROOT_ID.hex() and root["operationName"] == "GET /cart" and root["flags"] == 1
    assert root["startTime"] == T0 // 1000 and root["duration"] == 12_000 and root["processID"] == "p1"
    assert root["references"] == [] and root["logs"] == []
    assert root["tags"] == [
        {"key": "http.method", "type": "string", "value": "GET"},
        {"key": "http.status_code", "type": "int64", "value": 200},
        {"key": "sampled", "type": "bool", "value": True},
        {"key": "ratio", "type": "float64", "value": 0.25},
        {"key": "raw", "type": "binary", "value": "AQI="},
        {"key": "list", "type": "string", "value": '["a",2]'},
        {"key": "otel.scope.name", "type": "string", "value": "shop"},
        {"key": "otel.scope.version", "type": "string", "value": "1.2"},
        {"key": "span.kind", "type": "string", "value": "server"},
        {"key": "otel.status_code", "type": "string", "value": "OK"},
        {"key": "w3c.tracestate", "type": "string", "value": "vendor=x"},
    ]
    assert child["references"] == [{"refType": "CHILD_OF", "traceID": qserver.golden_id.hex(), "spanID": ROOT_ID.hex()}]
    assert {"key": "span.kind", "type": "string", "value": "client"} in child["tags"]
    assert charge["processID"] == "p2"
    assert charge["references"] == [
        {"refType": "CHILD_OF", "traceID": qserver.golden_id.hex(), "spanID": ROOT_ID.hex()},
        {"refType": "FOLLOWS_FROM", "traceID": "0102030405060708", "spanID": "d4d4d4d4d4d4d4d4"},
    ]
    tags = {t["key"]: t for t in charge["tags"]}
    assert tags["error"] == {"key": "error", "type": "bool", "value": True}
    assert tags["otel.status_code"]["value"] == "ERROR"
    assert tags["otel.status_description"]["value"] == "card declined"
    assert "otel.scope.version" not in tags
    assert charge["logs"] == [{"timestamp": (T0 + 6_000_000) // 1000, "fields": [
        {"key": "event", "type": "string", "value": "retry"}, {"key": "attempt", "type": "int64", "value": 2}]}]


def test_trace_by_id_errors(qserver):
    missing = api(qserver, "/api/traces/" + "1" * 32, status=404)
    assert missing == {"data": None, "total": 0, "limit": 0, "offset": 0, "errors": [{"code": 404, "msg": "trace not found"}]}
    for bad in ["xyz", "0" * 32, "1" * 33]:
        body = api(qserver, "/api/traces/" + bad, status=400)
        assert body["data"] is None and body["errors"][0]["code"] == 400 and "'traceID'" in body["errors"][0]["msg"]
    # A 16-digit ID is the low half of a 32-digit one (Jaeger's short form).
    api(qserver, "/api/traces/" + qserver.golden_id.hex()[16:], status=404)


def ids(body):
    return [t["traceID"] for t in body["data"]]


def test_search_each_parameter(qserver):
    recent = qserver.recent_id.hex()
    assert ids(api(qserver, "/api/traces", {"service": "checkout"})) == [recent]  # the 2024 trace is outside 2 days
    assert ids(api(qserver, "/api/traces", {"service": "checkout", "operation": "load cart"})) == [recent]
    assert ids(api(qserver, "/api/traces", {"service": "checkout", "operation": "charge"})) == []
    assert ids(api(qserver, "/api/traces", {"service": "payment", "minDuration": "5ms", "maxDuration": "6ms"})) == [recent]
    assert ids(api(qserver, "/api/traces", {"service": "payment", "minDuration": "6.5ms"})) == []
    assert ids(api(qserver, "/api/traces", {"service": "payment", "maxDuration": "5999us"})) == []
    assert ids(api(qserver, "/api/traces", {"service": "checkout", "tags": json.dumps({"http.status_code": "200"})})) == [recent]
    assert ids(api(qserver, "/api/traces", {"service": "checkout", "tags": json.dumps({"http.method": "GET", "db": "cart"})})) == []
    assert ids(api(qserver, "/api/traces", [("service", "checkout"), ("tag", "db:cart")])) == [recent]
    assert ids(api(qserver, "/api/traces", [("service", "checkout"), ("tag", "host.name:h1")])) == [recent]
    assert ids(api(qserver, "/api/traces", [("service", "payment"), ("tag", "error:true")])) == [recent]
    assert ids(api(qserver, "/api/traces", [("service", "checkout"), ("tag", "error:true")])) == []
    # An explicit range (µs) finds the 2024 trace; lookback is accepted and ignored, as Jaeger does.
    window = {"service": "checkout", "start": T0 // 1000 - 1, "end": T0 // 1000 + 1, "lookback": "custom"}
    assert ids(api(qserver, "/api/traces", window)) == [qserver.golden_id.hex()]


def test_search_is_newest_first_and_the_limit_is_capped(qserver):
    newest_first = [i for i in reversed(qserver.order_ids)]
    assert ids(api(qserver, "/api/traces", {"service": "clock"})) == newest_first[:3]  # the default (3 here)
    assert ids(api(qserver, "/api/traces", {"service": "clock", "limit": 2})) == newest_first[:2]
    assert ids(api(qserver, "/api/traces", {"service": "clock", "limit": 1000000})) == newest_first[:3]


def test_search_by_trace_ids(qserver):
    body = api(qserver, "/api/traces", [("traceID", qserver.recent_id.hex()), ("traceID", "2" * 32)])
    assert ids(body) == [qserver.recent_id.hex()]
    assert body["errors"] == [{"code": 404, "msg": "trace not found", "traceID": "2" * 32}]


@pytest.mark.parametrize("params, named", [
    ({}, "parameter 'service' is required"),
    ({"service": "a", "minDuration": "fast"}, "'minDuration'"),
    ({"service": "a", "maxDuration": "10"}, "'maxDuration'"),
    ({"service": "a", "start": "yesterday"}, "'start'"),
    ({"service": "a", "end": "9" * 40}, "'end'"),
    ({"service": "a", "limit": "-3"}, "'limit'"),
    ({"service": "a", "tags": "{not json"}, "'tags'"),
    ({"service": "a", "tags": '{"k": {"nested": 1}}'}, "'tags'"),
    ({"service": "a", "tag": "nocolon"}, "'tag'"),
    ({"traceID": "nothex"}, "'traceID'"),
    ({"service": "a", "minDuration": "1" * 5000 + "h"}, "'minDuration'"),
])
def test_search_bad_input_is_400_naming_the_parameter(qserver, params, named):
    body = api(qserver, "/api/traces", params, status=400)
    assert body["data"] is None
    [err] = body["errors"]
    assert err["code"] == 400 and named in err["msg"], err


def test_oversized_and_odd_requests(qserver):
    r = httpx.get(qserver.query_url + "/api/traces", params={"service": "x" * 20000}, timeout=10)
    assert r.status_code in (414, 431, 400), r.status_code
    assert httpx.post(qserver.query_url + "/api/services", timeout=10).status_code == 405
    assert httpx.get(qserver.query_url + "/api/nothing", timeout=10).status_code == 404
    # SQL metacharacters are data, never SQL.
    assert api(qserver, "/api/traces", {"service": "x' OR 1=1 --", "operation": "\"; DROP TABLE partitions;"})["data"] == []
    assert api(qserver, "/api/services")["total"] == 3
    # The server is still fine.
    assert api(qserver, "/health") == {"status": "ok"}


def test_dependencies(qserver):
    end_ms = time.time_ns() // 1_000_000
    body = api(qserver, "/api/dependencies", {"endTs": end_ms, "lookback": 3_600_000})
    # The call failed: the payment span ("charge", "card declined") has status Error.
    assert body["data"] == [{"parent": "checkout", "child": "payment", "callCount": 1, "errorCount": 1}]
    old = api(qserver, "/api/dependencies", {"endTs": T0 // 1_000_000 + 1000, "lookback": 60_000})
    assert old["data"] == [{"parent": "checkout", "child": "payment", "callCount": 1, "errorCount": 1}]
    api(qserver, "/api/dependencies", {"endTs": "tomorrow"}, status=400)


# ---------------------------------------------------------------------------------------------- v3


def test_v3_services_and_operations(qserver):
    assert api(qserver, "/api/v3/services") == {"services": ["checkout", "clock", "payment"]}
    assert api(qserver, "/api/v3/operations", {"service": "payment"}) == {"operations": [{"name": "charge", "spanKind": "server"}]}
    assert api(qserver, "/api/v3/operations", {"service": "checkout", "span_kind": "client"}) == {
        "operations": [{"name": "load cart", "spanKind": "client"}]}


def spans_by_id(request):
    out = {}
    for rs in request.resource_spans:
        for ss in rs.scope_spans:
            for s in ss.spans:
                out[s.span_id] = (rs.resource.SerializeToString(deterministic=True), ss.scope.SerializeToString(deterministic=True),
                                  s.SerializeToString(deterministic=True))
    return out


def test_v3_trace_is_lossless_otlp_json(qserver):
    body = api(qserver, f"/api/v3/traces/{qserver.recent_id.hex()}")
    assert set(body) == {"result"}
    got = from_otlp_json(body["result"])
    sent = {}
    for r in qserver.recent_requests:
        sent.update(spans_by_id(r))
    assert spans_by_id(got) == sent
    err = api(qserver, "/api/v3/traces/" + "1" * 32, status=404)
    assert err == {"error": {"httpCode": 404, "message": "trace not found"}}


def test_v3_search(qserver):
    body = api(qserver, "/api/v3/traces", {"query.service_name": "payment", "query.attributes": json.dumps({"error": "true"}),
                                            "query.duration_min": "1ms", "query.search_depth": 5})
    got = from_otlp_json(body["result"])
    assert {s.trace_id for rs in got.resource_spans for ss in rs.scope_spans for s in ss.spans} == {qserver.recent_id}
    window = {"query.serviceName": "checkout", "query.startTimeMin": "2024-05-01T11:59:00Z",
              "query.startTimeMax": "2024-05-01T12:01:00.000000001Z"}
    got = from_otlp_json(api(qserver, "/api/v3/traces", window)["result"])
    assert {s.trace_id for rs in got.resource_spans for ss in rs.scope_spans for s in ss.spans} == {qserver.golden_id}
    assert api(qserver, "/api/v3/traces", {"query.service_name": "nobody"}, status=404) == {
        "error": {"httpCode": 404, "message": "No traces found"}}
    for params, named in [({}, "query.service_name"), ({"query.service_name": "a", "query.duration_min": "x"}, "query.duration_min"),
                          ({"query.service_name": "a", "query.start_time_min": "May 1st"}, "query.start_time_min")]:
        err = api(qserver, "/api/v3/traces", params, status=400)["error"]
        assert err["httpCode"] == 400 and named in err["message"]


# ---------------------------------------------------------------------------------------------- CLI


def cli(server, *args, endpoint=True):
    where = ["--endpoint", server.query_url] if endpoint else ["--db", str(server.db_path)]
    p = run_cli(server.binary, *args, *where)
    return p.returncode, p.stdout.decode(), p.stderr.decode()


@pytest.mark.parametrize("golden, extra", [("waterfall.txt", []), ("waterfall-attributes.txt", ["--attributes"]),
                                           ("waterfall-critical-path.txt", ["--critical-path"])])
def test_trace_waterfall_matches_the_golden_file_from_server_and_database(qserver, golden, extra):
    if os.environ.get("OTELSINK_UPDATE_GOLDEN") == "1":  # regenerate, then review the diff
        rc, out, err = cli(qserver, "trace", qserver.golden_id.hex(), *extra, endpoint=False)
        assert rc == 0, err
        (GOLDEN / golden).write_text(out)
    expected = (GOLDEN / golden).read_text()
    for endpoint in (True, False):
        rc, out, err = cli(qserver, "trace", qserver.golden_id.hex(), *extra, endpoint=endpoint)
        assert rc == 0, err
        assert out == expected, f"endpoint={endpoint}\n{out}"
        assert "\x1b[" not in out  # piped: no colours


def test_critical_path_from_the_api_and_the_cli_agree(qserver):
    """GET /api/v3/traces/{id}/critical_path and `otelsink trace ID --critical-path --json` give the same path: the
    root until the cart loads, the cart load, the root until the charge, the charge, the root to its end."""
    r = httpx.get(f"{qserver.query_url}/api/v3/traces/{qserver.golden_id.hex()}/critical_path", timeout=10)
    assert r.status_code == 200, r.text
    path = r.json()["result"]
    assert path["traceId"] == qserver.golden_id.hex() and path["durationNanos"] == 12_000_000
    assert sum(s["durationNanos"] for s in path["sections"]) == path["durationNanos"]
    assert [(s["service"], s["operation"]) for s in path["sections"]][1::2] == [("checkout", "load cart"), ("payment", "charge")]
    assert abs(sum(s["share"] for s in path["services"]) - 1) < 1e-3
    for endpoint in (True, False):
        rc, out, err = cli(qserver, "trace", qserver.golden_id.hex(), "--critical-path", "--json", endpoint=endpoint)
        assert rc == 0, err
        printed = json.loads(out)
        assert printed["criticalPath"] == path
        assert len(printed["trace"]["resourceSpans"]) == 2
    assert httpx.get(f"{qserver.query_url}/api/v3/traces/{'0' * 31}1/critical_path", timeout=10).status_code == 404
    rc, _, err = cli(qserver, "trace", qserver.golden_id.hex(), "--critical-path", "--jaeger")
    assert rc != 0 and "--critical-path" in err


def test_diff_of_two_requests_from_the_cli_and_the_api(qserver, server_factory):
    """Two requests to the same endpoint: identical ones give an empty diff; a slower one with an extra call, an
    error status and a changed attribute shows each, from `otelsink diff` (text and --json, server and file) and
    from GET /api/v3/traces/{a}/diff/{b}."""
    rc, out, err = cli(qserver, "diff", qserver.golden_id.hex(), qserver.recent_id.hex())
    assert rc == 0, err
    assert "No differences" in out
    server = server_factory(query=True)
    fast_id, slow_id = bytes.fromhex("0a" * 16), bytes.fromhex("0b" * 16)
    send(server, fixture_trace(fast_id, T0))
    slow = fixture_trace(slow_id, T0)
    charge = slow[1].resource_spans[0].scope_spans[0].spans[0]
    charge.end_time_unix_nano += 20_000_000
    charge.status.code = trace_pb2.Status.STATUS_CODE_OK
    root = slow[0].resource_spans[0].scope_spans[0].spans[0]
    root.end_time_unix_nano += 30_000_000
    for a in root.attributes:
        if a.key == "http.status_code":
            a.value.int_value = 503
    extra = make_span(slow_id, name="load cart", parent=ROOT_ID, start_ns=T0 + 27_000_000, duration_ns=2_000_000, db="cart")
    slow[0].resource_spans[0].scope_spans[0].spans.append(extra)
    send(server, slow)

    api_diff = api(server, f"/api/v3/traces/{fast_id.hex()}/diff/{slow_id.hex()}")["result"]
    assert [c["path"][-1]["operation"] for c in api_diff["changed"]] == ["GET /cart", "charge"]
    assert [c["deltaNanos"] for c in api_diff["changed"]] == [30_000_000, 20_000_000]
    assert api_diff["changed"][0]["attributes"] == [{"key": "http.status_code", "a": "200", "b": "503"}]
    assert api_diff["changed"][1]["a"]["statusCode"] == "STATUS_CODE_ERROR" and api_diff["changed"][1]["b"]["statusCode"] == "STATUS_CODE_OK"
    assert api_diff["changed"][1]["b"]["criticalPathNanos"] > api_diff["changed"][1]["a"]["criticalPathNanos"]
    assert api_diff["onlyInA"] == []
    assert [(o["path"][-1]["operation"], o["path"][-1]["index"]) for o in api_diff["onlyInB"]] == [("load cart", 1)]
    for endpoint in (True, False):
        rc, out, err = cli(server, "diff", fast_id.hex(), slow_id.hex(), "--json", endpoint=endpoint)
        assert rc == 0, err
        assert json.loads(out) == api_diff
        rc, out, err = cli(server, "diff", fast_id.hex(), slow_id.hex(), endpoint=endpoint)
        assert rc == 0, err
        assert "2 changed, 0 only in A, 1 only in B." in out and "status ERROR" in out and "load cart #2" in out
    rc, _, err = cli(server, "diff", fast_id.hex(), "0c" * 16)
    assert rc == 1 and "not found" in err
    assert httpx.get(f"{server.query_url}/api/v3/traces/{fast_id.hex()}/diff/xyz", timeout=10).status_code == 400


def _on_a_pty(args: list[str], columns: int) -> str:
    """Runs otelsink with stdout on a pseudo-terminal `columns` wide (COLUMNS unset); what it printed, without
    its SGR colour codes."""
    import fcntl
    import pty
    import re
    import struct
    import termios
    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 40, columns, 0, 0))
    env = {k: v for k, v in os.environ.items() if k != "COLUMNS"}
    proc = subprocess.Popen(args, stdin=subprocess.DEVNULL, stdout=slave, stderr=slave, env=env)
    os.close(slave)
    chunks = []
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            chunk = os.read(master, 65536)
        except OSError:  # EIO: the other side closed
            break
        if not chunk:
            break
        chunks.append(chunk)
    proc.wait(timeout=30)
    os.close(master)
    assert proc.returncode == 0, b"".join(chunks)
    return re.sub(r"\x1b\[[0-9;]*m", "", b"".join(chunks).decode().replace("\r\n", "\n"))


def test_trace_fits_the_terminal_with_wide_names_piped_and_on_a_pty(server_factory):
    """CJK and emoji names take two cells each: at 60, 80 and 200 cells (--width when piped, the terminal's own
    width on a pty) every line fits and the bars line up; names are shortened in the middle where needed."""
    server = server_factory(query=True)
    tid = bytes.fromhex("1c" * 16)
    root = make_span(tid, name="GET /カート/商品/一覧 🛒", span_id=ROOT_ID, start_ns=T0, duration_ns=40_000_000)
    child = make_span(tid, name="在庫を確認する 📦 " + "x" * 30, span_id=CHILD_ID, parent=ROOT_ID, start_ns=T0 + 5_000_000,
                      duration_ns=20_000_000)
    child.status.code = trace_pb2.Status.STATUS_CODE_ERROR
    child.status.message = "在庫がありません " * 5
    send(server, [make_request([root], service="ショップ"), make_request([child], service="在庫🏭")])
    outputs = {}
    for width in (60, 80, 200):
        rc, out, err = cli(server, "trace", tid.hex(), "--critical-path", "--width", str(width), endpoint=False)
        assert rc == 0, err
        outputs[("piped", width)] = out
        outputs[("pty", width)] = _on_a_pty([str(server.binary), "trace", tid.hex(), "--critical-path", "--db", str(server.db_path)], width)
    for (how, width), out in outputs.items():
        lines = out.splitlines()
        assert all(terminal_cells(line) <= width for line in lines), (how, width, out)
        rows = [line for line in lines if "│" in line]
        assert len(rows) == 2, (how, width, out)
        assert len({terminal_cells(r.split("│")[0]) for r in rows}) == 1, (how, width, out)
        assert ("…" in rows[1].split("│")[0]) == (width < 200), (how, width, out)
    # The terminal's own width gives the same layout as --width, and each width's layout is pinned by a golden file.
    for width in (60, 80, 200):
        assert outputs[("pty", width)] == outputs[("piped", width)], width
        golden = GOLDEN / f"waterfall-wide-names-{width}.txt"
        if os.environ.get("OTELSINK_UPDATE_GOLDEN") == "1":  # regenerate, then review the diff
            golden.write_text(outputs[("piped", width)])
        assert outputs[("piped", width)] == golden.read_text(), width


def test_trace_colours_on_request(qserver):
    rc, out, _ = cli(qserver, "trace", qserver.golden_id.hex(), "--color", "always")
    assert rc == 0 and "\x1b[31m" in out


def test_trace_json_and_jaeger(qserver):
    rc, out, err = cli(qserver, "trace", qserver.recent_id.hex(), "--json")
    assert rc == 0, err
    sent = {}
    for r in qserver.recent_requests:
        sent.update(spans_by_id(r))
    assert spans_by_id(from_otlp_json(json.loads(out))) == sent
    rc, out, err = cli(qserver, "trace", qserver.golden_id.hex(), "--jaeger")
    assert rc == 0, err
    api_trace = api(qserver, f"/api/traces/{qserver.golden_id.hex()}")["data"][0]
    assert json.loads(out) == api_trace
    rc2, out2, _ = cli(qserver, "trace", qserver.golden_id.hex(), "--jaeger", endpoint=False)
    assert rc2 == 0 and out2 == out


def test_search_table_and_json(qserver):
    for endpoint in (True, False):
        rc, out, err = cli(qserver, "search", "--service", "clock", "--limit", "2", endpoint=endpoint)
        assert rc == 0, err
        lines = out.splitlines()
        assert lines[0].split() == ["TRACE", "ID", "START", "(UTC)", "ROOT", "DURATION", "SPANS", "ERRORS"]
        assert [l.split()[0] for l in lines[1:]] == list(reversed(qserver.order_ids))[:2]
        assert "clock: tick" in lines[1] and lines[1].split()[-2:] == ["1", "0"]
    # Days work in --since, as the help says (Go's duration syntax has no days).
    rc, out, err = cli(qserver, "search", "--service", "clock", "--since", "7d", "--limit", "1")
    assert rc == 0 and out.splitlines()[1].split()[0] == qserver.order_ids[-1], err
    rc, out, err = cli(qserver, "search", "--service", "payment", "--tag", "error=true", "--min-duration", "1ms",
                       "--max-duration", "1s", "--since", "1h", "--json")
    assert rc == 0, err
    [row] = json.loads(out)
    assert row["traceID"] == qserver.recent_id.hex() and row["rootService"] == "checkout" and row["rootOperation"] == "GET /cart"
    assert row["spanCount"] == 3 and row["errorCount"] == 1 and row["durationNanos"] == 12_000_000
    rc, out, err = cli(qserver, "search", "--service", "checkout", "--start", "2024-05-01T11:00:00Z", "--end", "2024-05-01T13:00:00Z", "--json",
                       endpoint=False)
    assert rc == 0 and [r["traceID"] for r in json.loads(out)] == [qserver.golden_id.hex()]


def test_services_with_operations(qserver):
    for endpoint in (True, False):
        rc, out, err = cli(qserver, "services", "--operations", endpoint=endpoint)
        assert rc == 0, err
        assert out == "checkout\n  GET /cart  (server)\n  load cart  (client)\nclock\n  tick  (internal)\npayment\n  charge  (server)\n"
    rc, out, _ = cli(qserver, "services")
    assert out == "checkout\nclock\npayment\n"


def free_port() -> int:
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def test_cli_errors_have_messages_and_exit_codes(qserver, tmp_path):
    endpoint = f"http://127.0.0.1:{free_port()}"
    p = run_cli(qserver.binary, "trace", "1" * 32, "--endpoint", endpoint)
    assert p.returncode == 3 and endpoint in p.stderr.decode() and "cannot reach" in p.stderr.decode()
    p = run_cli(qserver.binary, "services", "--endpoint", endpoint)
    assert p.returncode == 3 and endpoint in p.stderr.decode()
    rc, out, err = cli(qserver, "trace", "1" * 32)
    assert rc == 1 and "not found" in err and out == ""
    rc, out, err = cli(qserver, "trace", "xyz")
    assert rc == 2 and "invalid trace ID" in err
    rc, out, err = cli(qserver, "search", "--service", "a", "--min-duration", "fast")
    assert rc == 2 and "invalid duration \"fast\" for --min-duration" in err
    rc, out, err = cli(qserver, "search", "--service", "a", "--since", "1h", "--start", "2024-05-01T00:00:00Z")
    assert rc == 2
    rc, out, err = cli(qserver, "search", "--service", "a", "--tag", "novalue")
    assert rc == 2 and "--tag" in err
    p = run_cli(qserver.binary, "search", "--service", "a", "--db", str(tmp_path / "missing.db"))
    assert p.returncode == 3 and "missing.db" in p.stderr.decode()


def test_every_printing_command_takes_color_and_nothing_found_is_exit_1(qserver):
    """One rule for all commands: `--color always` styles the output (and `never` does not); a lookup that finds
    nothing exits 1 with a message (its --json document still printed); a --limit out of range says what is
    allowed."""
    sgr = "\x1b["
    golden = qserver.golden_id.hex()
    for args in (["search", "--service", "checkout", "--since", "1000d"], ["diff", golden, qserver.recent_id.hex()],
                 ["services"], ["trace", golden], ["logs", "--service", "checkout", "--since", "1000d"]):
        for mode, styled in (("always", True), ("never", False)):
            rc, out, err = cli(qserver, *args, "--color", mode)
            assert rc in (0, 1), (args, err)
            if rc == 0:
                assert (sgr in out) == styled, (args, mode, out)
    p = run_cli(qserver.binary, "stats", "--db", str(qserver.db_path), "--color", "always")
    assert p.returncode == 0 and sgr in p.stdout.decode()
    p = run_cli(qserver.binary, "stats", "--db", str(qserver.db_path) + ".missing")
    assert p.returncode == 3 and "cannot open" in p.stderr.decode()

    for endpoint in (True, False):
        rc, out, err = cli(qserver, "search", "--service", "nobody", endpoint=endpoint)
        assert (rc, out, err.strip()) == (1, "", "otelsink: no traces found")
        rc, out, err = cli(qserver, "search", "--service", "nobody", "--json", endpoint=endpoint)
        assert rc == 1 and json.loads(out) == []
        rc, out, err = cli(qserver, "logs", "--service", "nobody", endpoint=endpoint)
        assert (rc, err.strip()) == (1, "otelsink: no log records found")
        rc, out, err = cli(qserver, "baselines", endpoint=endpoint)
        assert rc == 1 and "no operation has enough samples" in err
    for command in (["search", "--service", "a"], ["logs"], ["diff", golden, golden], ["baselines"]):
        rc, _, err = cli(qserver, *command, "--limit", "0")
        assert rc == 2 and "--limit must be" in err and "got 0" in err, (command, err)
