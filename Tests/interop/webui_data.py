"""Traces and logs for the web UI's tests (and for looking at the UI by hand: `python Tests/interop/webui_data.py
URL` sends them to an otelsink's OTLP/HTTP endpoint).

Two traces of one checkout request through frontend → checkout → payment / inventory, alike in shape: in A the
payment call fails and is slow, in B it succeeds. A's cart span links to B's root. One span of A has a hostile name
and hostile attribute values (markup and script), and log records are tied to A's spans."""

from __future__ import annotations

import json
import os
import sys
import time
import urllib.request
from dataclasses import dataclass

HOSTILE_NAME = "<img src=x onerror=alert(1)>"
HOSTILE_VALUE = "<script>alert(2)</script>"
# Text that is hard to show: a right-to-left override, emoji (one a joined sequence), a very long name.
RTL_NAME = "\u202etxt.exe\u202c invoice"
EMOJI_NAME = "🚀 launch 👩‍🚀 crew"
LONG_NAME = "handle/" + "segment-" * 250 + "end"


@dataclass
class SeededTraces:
    a: str  # trace IDs, hex
    b: str
    a_root: str  # span IDs, hex
    b_root: str
    a_payment: str
    a_cart: str
    a_hostile: str
    start_ns: int


def _id(n: int) -> str:
    return os.urandom(n).hex()


def _attr(key, value):
    if isinstance(value, bool):
        return {"key": key, "value": {"boolValue": value}}
    if isinstance(value, int):
        return {"key": key, "value": {"intValue": str(value)}}
    if isinstance(value, float):
        return {"key": key, "value": {"doubleValue": value}}
    return {"key": key, "value": {"stringValue": value}}


def _span(trace, span, parent, name, kind, start, dur_ms, attrs=(), status=None, events=(), links=()):
    s = {"traceId": trace, "spanId": span, "name": name, "kind": kind,
         "startTimeUnixNano": str(start), "endTimeUnixNano": str(start + int(dur_ms * 1e6)),
         "attributes": [_attr(k, v) for k, v in attrs]}
    if parent:
        s["parentSpanId"] = parent
    if status:
        s["status"] = status
    if events:
        s["events"] = list(events)
    if links:
        s["links"] = list(links)
    return s


def _resource_spans(service, spans):
    return {"resource": {"attributes": [_attr("service.name", service), _attr("host.name", "web-1")]},
            "scopeSpans": [{"scope": {"name": "webui-test", "version": "1.0"}, "spans": spans}]}


def _trace(trace, t0, slow_payment, failing, link_to=None):
    ids = {k: _id(8) for k in ("root", "cart", "checkout", "payment", "charge", "inventory", "db", "hostile")}
    pay_ms = 180 if slow_payment else 40
    by_service = {
        "frontend": [
            _span(trace, ids["root"], "", "GET /checkout", 2, t0, 260 if slow_payment else 120,
                  [("http.request.method", "GET"), ("http.response.status_code", 500 if failing else 200), ("url.path", "/checkout")]),
            _span(trace, ids["cart"], ids["root"], "load cart", 1, t0 + 2_000_000, 6, [("cart.items", 3)],
                  links=[{"traceId": link_to[0], "spanId": link_to[1], "attributes": [_attr("link.reason", "previous attempt")]}] if link_to else ()),
            _span(trace, ids["hostile"], ids["root"], HOSTILE_NAME, 1, t0 + 9_000_000, 1,
                  [("user.note", HOSTILE_VALUE), ("ratio", 0.5), ("retry", True)]),
        ],
        "checkout": [
            _span(trace, ids["checkout"], ids["root"], "POST /api/checkout", 2, t0 + 10_000_000, pay_ms + 50, [("order.total", 42.5)]),
            _span(trace, ids["inventory"], ids["checkout"], "reserve items", 3, t0 + 12_000_000, 20, [("peer.service", "inventory")]),
        ],
        "payment": [
            _span(trace, ids["payment"], ids["checkout"], "charge card", 2, t0 + 35_000_000, pay_ms,
                  [("payment.provider", "acme"), ("payment.attempt", 2 if failing else 1)],
                  status={"code": 2, "message": "card declined"} if failing else {"code": 1},
                  events=[{"timeUnixNano": str(t0 + 36_000_000), "name": "retry", "attributes": [_attr("attempt", 1)]}]),
            _span(trace, ids["db"], ids["payment"], "SELECT accounts", 3, t0 + 40_000_000, pay_ms / 3, [("db.system", "postgresql")]),
        ],
    }
    request = {"resourceSpans": [_resource_spans(svc, spans) for svc, spans in by_service.items()]}
    return request, ids


def _post(url: str, doc: dict) -> None:
    req = urllib.request.Request(url, data=json.dumps(doc).encode(), method="POST",
                                 headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=10) as r:
        assert r.status == 200, r.status


def seed(http_url: str) -> SeededTraces:
    """Sends the two traces and A's logs to `http_url` (an OTLP/HTTP base URL); returns their IDs."""
    t0 = time.time_ns() - 60_000_000_000
    trace_b = _id(16)
    request_b, ids_b = _trace(trace_b, t0 - 5_000_000_000, slow_payment=False, failing=False)
    trace_a = _id(16)
    request_a, ids_a = _trace(trace_a, t0, slow_payment=True, failing=True, link_to=(trace_b, ids_b["root"]))
    _post(http_url + "/v1/traces", request_b)
    _post(http_url + "/v1/traces", request_a)
    records = [
        {"timeUnixNano": str(t0 + 36_000_000), "severityNumber": 17, "severityText": "ERROR",
         "body": {"stringValue": "card declined by acme " + HOSTILE_VALUE}, "traceId": trace_a, "spanId": ids_a["payment"]},
        {"timeUnixNano": str(t0 + 3_000_000), "severityNumber": 9, "severityText": "INFO",
         "body": {"stringValue": "cart loaded with 3 items"}, "traceId": trace_a, "spanId": ids_a["cart"]},
    ]
    _post(http_url + "/v1/logs", {"resourceLogs": [{"resource": {"attributes": [_attr("service.name", "payment")]},
                                                    "scopeLogs": [{"scope": {"name": "webui-test"}, "logRecords": records}]}]})
    return SeededTraces(a=trace_a, b=trace_b, a_root=ids_a["root"], b_root=ids_b["root"], a_payment=ids_a["payment"],
                        a_cart=ids_a["cart"], a_hostile=ids_a["hostile"], start_ns=t0)


def seed_text_cases(http_url: str) -> tuple[str, list[str]]:
    """One trace whose span names (and an attribute) are RTL, emoji and very long text; its ID and the names."""
    trace = _id(16)
    t0 = time.time_ns() - 30_000_000_000
    root = _id(8)
    names = ["text cases", RTL_NAME, EMOJI_NAME, LONG_NAME]
    spans = [_span(trace, root, "", names[0], 2, t0, 10)]
    for i, name in enumerate(names[1:]):
        spans.append(_span(trace, _id(8), root, name, 1, t0 + (i + 1) * 1_000_000, 2, [("note", RTL_NAME + " " + EMOJI_NAME)]))
    _post(http_url + "/v1/traces", {"resourceSpans": [_resource_spans("text-cases", spans)]})
    return trace, names


def seed_large(http_url: str, spans: int = 10_000, seed: int = 7) -> str:
    """One trace of `spans` spans over five services (a random tree: half the spans are the previous span's child),
    sent in requests of 2,000 spans; its ID."""
    import random

    rng = random.Random(seed)
    trace = _id(16)
    t0 = time.time_ns() - 20_000_000_000
    ids: list[str] = []
    all_spans = []
    for i in range(spans):
        sid = _id(8)
        parent = "" if not ids else (ids[-1] if rng.random() < 0.5 else ids[rng.randrange(len(ids))])
        start = t0 + i * 100_000
        all_spans.append(_span(trace, sid, parent, f"op-{i % 50}", 1, start, rng.randrange(100, 50_000) / 1000, [("i", i)]))
        ids.append(sid)
    for k in range(0, spans, 2000):
        _post(http_url + "/v1/traces", {"resourceSpans": [_resource_spans(f"svc-{k // 2000 % 5}", all_spans[k:k + 2000])]})
    return trace


if __name__ == "__main__":
    print(seed(sys.argv[1] if len(sys.argv) > 1 else "http://127.0.0.1:4318"))
