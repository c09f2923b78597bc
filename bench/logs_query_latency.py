#!/usr/bin/env python3
"""Log query latency: the questions issue 16 times, against a running otelsink whose store holds the logs workload
(`otelsink-loadgen --signal logs --services 5`), one request after another over a keep-alive connection, for a
fixed time; prints p50/p99/max per kind (JSON with --json).

Kinds: the logs of one trace (`/api/v3/logs?trace_id=`, IDs harvested from stored records), one service's last hour
at severity >= WARN (Loki `query_range`, limit 100), a substring over the last hour (Loki `|=`, limit 100), every
service's last hour, newest first, all records and at severity >= WARN (`/api/v3/logs`, limit 100), Loki `labels`
and `label/service_name/values`. Standard library only; talks to 127.0.0.1 and stops by itself.

    bench/logs_query_latency.py --port 16686 --duration 30
"""
import argparse
import http.client
import json
import random
import sys
import time
import urllib.parse

from query_latency import SERVICES, percentile


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--port", type=int, default=16686)
    ap.add_argument("--duration", type=float, default=30.0)
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    conn = http.client.HTTPConnection("127.0.0.1", args.port, timeout=30)

    def get(path):
        t0 = time.perf_counter()
        conn.request("GET", path)
        r = conn.getresponse()
        body = r.read()
        return time.perf_counter() - t0, r.status, body

    # Trace IDs of stored records, from several services and times.
    ids = set()
    for svc in SERVICES:
        _, status, body = get("/api/v3/logs?" + urllib.parse.urlencode({"service": svc, "limit": 200}))
        if status == 200:
            for rl in json.loads(body)["result"].get("resourceLogs", []):
                for sl in rl.get("scopeLogs", []):
                    ids.update(r["traceId"] for r in sl.get("logRecords", []) if r.get("traceId"))
    if not ids:
        sys.exit("logs_query_latency: no log records with trace IDs found")
    ids = sorted(ids)
    random.seed(1)
    now_ns = time.time_ns()
    hour = {"start": str(now_ns - 3600 * 10**9), "end": str(now_ns + 60 * 10**9), "limit": "100"}

    def make(kind):
        svc = random.choice(SERVICES)
        if kind == "trace":
            return "/api/v3/logs?" + urllib.parse.urlencode({"trace_id": random.choice(ids), "limit": 1000})
        if kind == "service_warn_hour":
            q = f'{{service_name="{svc}", level=~"WARN|ERROR"}}'
            return "/loki/api/v1/query_range?" + urllib.parse.urlencode({"query": q, **hour})
        if kind == "substring_hour":
            q = f'{{service_name="{svc}"}} |= "payment authorised t{random.randrange(10)} r{random.randrange(10)}"'
            return "/loki/api/v1/query_range?" + urllib.parse.urlencode({"query": q, **hour})
        if kind == "all_hour":
            return "/api/v3/logs?" + urllib.parse.urlencode({"start": hour["start"], "end": hour["end"], "limit": 100})
        if kind == "all_warn_hour":
            return "/api/v3/logs?" + urllib.parse.urlencode({"start": hour["start"], "end": hour["end"], "limit": 100, "severity_min": "warn"})
        if kind == "labels":
            return "/loki/api/v1/labels?" + urllib.parse.urlencode({"start": hour["start"], "end": hour["end"]})
        return "/loki/api/v1/label/service_name/values?" + urllib.parse.urlencode({"start": hour["start"], "end": hour["end"]})

    kinds = ["trace", "service_warn_hour", "substring_hour", "all_hour", "all_warn_hour", "labels", "label_values"]
    results = {k: [] for k in kinds}
    errors = {k: 0 for k in kinds}
    deadline = time.monotonic() + args.duration
    i = 0
    while time.monotonic() < deadline:
        kind = kinds[i % len(kinds)]
        i += 1
        took, status, _ = get(make(kind))
        if status == 200:
            results[kind].append(took * 1000)
        else:
            errors[kind] += 1
    report = {k: {"n": len(v), "errors": errors[k],
                  "p50_ms": round(percentile(v, 50), 2) if v else None,
                  "p99_ms": round(percentile(v, 99), 2) if v else None,
                  "max_ms": round(max(v), 2) if v else None} for k, v in results.items()}
    if args.json:
        print(json.dumps(report))
    else:
        for k, r in report.items():
            print(f"{k:18s} n={r['n']:5d} errors={r['errors']} p50={r['p50_ms']} ms p99={r['p99_ms']} ms max={r['max_ms']} ms")


if __name__ == "__main__":
    main()
