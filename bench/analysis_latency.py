#!/usr/bin/env python3
"""Trace analysis latency (issue 17): the critical path of a 10,000-span trace and the diff of two 10,000-span
traces through the query API, each answered from the database, timed over --runs requests one after another on a
keep-alive connection; the plain trace by ID beside them for scale. Prints p50/p99/max per kind (JSON with --json).

Starts the given otelsink binary itself on 127.0.0.1 with ephemeral ports, a fresh database in a temporary
directory and OTLP/HTTP JSON in; sends the two traces (a root, 100 children, 99 grandchildren each; B is A with
every tenth grandchild slower, a few calls more and other attribute values), measures, stops the server.
Standard library only; stops by itself.

    swift build -c release --scratch-path .build-release --product otelsink
    bench/analysis_latency.py --bin .build-release/release/otelsink --runs 100
"""
import argparse
import http.client
import json
import os
import re
import signal
import subprocess
import sys
import tempfile
import time

from query_latency import percentile

CONFIG = """receivers:
  otlp:
    protocols:
      http:
        endpoint: 127.0.0.1:0
        max_request_body_size: 67108864
exporters:
  sqlite:
    path: {db}
extensions:
  query:
    endpoint: 127.0.0.1:0
    storage: sqlite
    max_spans_per_response: 100000
service:
  extensions: [query]
  telemetry:
    metrics:
      level: none
  pipelines:
    traces:
      receivers: [otlp]
      exporters: [sqlite]
"""

T0 = (int(time.time()) - 600) * 1_000_000_000


def trace(trace_hex: str, slower: bool) -> dict:
    """10,000 spans: a root, 100 children of two services, 99 grandchildren each (sequential calls)."""
    spans = []
    n = 0

    def span(name, parent, start, duration, attrs):
        nonlocal n
        n += 1
        sid = f"{n:016x}"
        spans.append({
            "traceId": trace_hex, "spanId": sid, "parentSpanId": parent or "", "name": name, "kind": 2,
            "startTimeUnixNano": str(start), "endTimeUnixNano": str(start + duration),
            "attributes": [{"key": k, "value": {"stringValue": v}} for k, v in attrs.items()],
        })
        return sid

    root = span("GET /checkout", None, T0, 2_000_000_000, {"http.route": "/checkout"})
    for c in range(100):
        start = T0 + c * 19_000_000
        child = span(f"step {c % 10}", root, start, 18_000_000, {"step": str(c)})
        calls = 99 + (3 if slower and c % 25 == 0 else 0)
        for g in range(calls):
            d = 150_000 + (400_000 if slower and g % 10 == 0 else 0)
            span("query", child, start + g * 170_000, d, {"db.rows": str(g if not slower else g + 1)})
    spans = spans[:10_000]
    half = len(spans) // 2
    return {"resourceSpans": [
        {"resource": {"attributes": [{"key": "service.name", "value": {"stringValue": svc}}]},
         "scopeSpans": [{"scope": {"name": "bench"}, "spans": part}]}
        for svc, part in (("frontend", spans[:half]), ("backend", spans[half:]))
    ]}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bin", required=True)
    ap.add_argument("--runs", type=int, default=100)
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    work = tempfile.mkdtemp(prefix="otelsink-analysis-")
    config = os.path.join(work, "config.yaml")
    with open(config, "w") as f:
        f.write(CONFIG.format(db=os.path.join(work, "traces.db")))
    log_path = os.path.join(work, "server.log")
    log = open(log_path, "wb")
    proc = subprocess.Popen([args.bin, "serve", "--config", config], stdout=log, stderr=subprocess.STDOUT,
                            stdin=subprocess.DEVNULL)
    try:
        http_addr = query_addr = None
        deadline = time.monotonic() + 60
        while not (http_addr and query_addr):
            if proc.poll() is not None or time.monotonic() > deadline:
                sys.exit("otelsink did not start:\n" + open(log_path).read()[-3000:])
            for line in open(log_path, errors="replace"):
                if "listening" in line:
                    fields = dict(re.findall(r"(\w+)=(\S+)", line))
                    if fields.get("component") == "extension/query":
                        query_addr = fields["address"]
                    elif fields.get("protocol") == "http":
                        http_addr = fields["address"]
            time.sleep(0.05)
        a_id, b_id = "a1" * 16, "b2" * 16
        for tid, slower in ((a_id, False), (b_id, True)):
            host, port = http_addr.rsplit(":", 1)
            c = http.client.HTTPConnection(host, int(port), timeout=60)
            c.request("POST", "/v1/traces", body=json.dumps(trace(tid, slower)), headers={"Content-Type": "application/json"})
            r = c.getresponse()
            assert r.status == 200, (r.status, r.read()[:300])
            r.read()
        host, port = query_addr.rsplit(":", 1)
        conn = http.client.HTTPConnection(host, int(port), timeout=60)

        def get(path):
            t0 = time.perf_counter()
            conn.request("GET", path)
            r = conn.getresponse()
            body = r.read()
            took = time.perf_counter() - t0
            assert r.status == 200, (path, r.status, body[:300])
            return took, body

        kinds = {
            "trace by ID (OTLP JSON)": f"/api/v3/traces/{a_id}",
            "critical path": f"/api/v3/traces/{a_id}/critical_path",
            "diff": f"/api/v3/traces/{a_id}/diff/{b_id}",
        }
        _, body = get(kinds["critical path"])
        sections = len(json.loads(body)["result"]["sections"])
        _, body = get(kinds["diff"])
        diff = json.loads(body)["result"]
        results = {}
        for kind, path in kinds.items():
            get(path)  # warm
            times = [get(path)[0] * 1000 for _ in range(args.runs)]
            results[kind] = {"runs": args.runs, "p50_ms": round(percentile(times, 50), 2),
                             "p99_ms": round(percentile(times, 99), 2), "max_ms": round(max(times), 2)}
        summary = {"results": results, "critical_path_sections": sections, "diff_changed": len(diff["changed"]),
                   "diff_only_in_b": len(diff["onlyInB"])}
        if args.json:
            print(json.dumps(summary))
        else:
            print(f"critical path: {sections} sections; diff: {len(diff['changed'])} changed, {len(diff['onlyInB'])} only in B")
            print("| request (10,000-span traces) | p50 ms | p99 ms | max ms |")
            print("|---|---|---|---|")
            for kind, r in results.items():
                print(f"| {kind} | {r['p50_ms']} | {r['p99_ms']} | {r['max_ms']} |")
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()


if __name__ == "__main__":
    main()
