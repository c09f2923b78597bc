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


if __name__ == "__main__":
    print(seed(sys.argv[1] if len(sys.argv) > 1 else "http://127.0.0.1:4318"))
