#!/usr/bin/env python3
"""Query latency client for bench/run-query.sh: sends the query API's typical requests one after another over
a keep-alive connection for a fixed time and prints p50/p99/max per kind (and JSON with --json).

Kinds: trace by ID (/api/traces/{id}, IDs harvested from searches over the whole stored range), search by
service and minimum duration (limit 20), search by one tag key=value (limit 20), the services list and one
service's operations. Standard library only. Talks to 127.0.0.1 only and stops by itself.
"""
import argparse
import http.client
import json
import random
import statistics
import sys
import time
import urllib.parse

SERVICES = [f"bench-svc-{i}" for i in range(1, 6)]
# The load generator's attribute k3 of span 4 of trace 3 in every request: 1 span in 100 has it.
TAG = {"bench.attribute.k3__": "t3-s4-v3-lorem______"}


def percentile(values, p):
    s = sorted(values)
    return s[min(len(s) - 1, int(round(p / 100 * (len(s) - 1))))]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--port", type=int, default=16686)
    ap.add_argument("--duration", type=float, default=60.0)
    ap.add_argument("--json", action="store_true")
    ap.add_argument("--operation", action="store_true",
                    help="add a search by service + operation (one of the service's operations) to the mix")
    args = ap.parse_args()
    conn = http.client.HTTPConnection("127.0.0.1", args.port, timeout=30)

    def get(path):
        t0 = time.perf_counter()
        conn.request("GET", path)
        r = conn.getresponse()
        body = r.read()
        return time.perf_counter() - t0, r.status, r.getheader("Otelsink-Search-Incomplete"), body

    # Harvest trace IDs across the stored time range (newest first within each window).
    now_us = int(time.time() * 1e6)
    ids = []
    for hours_back in range(0, 6):
        for svc in SERVICES:
            end = now_us - hours_back * 1800 * 1_000_000
            q = urllib.parse.urlencode({"service": svc, "limit": 20, "start": end - 1800 * 1_000_000, "end": end})
            _, status, _, body = get("/api/traces?" + q)
            if status == 200:
                ids += [t["traceID"] for t in json.loads(body)["data"]]
    if not ids:
        sys.exit("query_latency: no traces found to look up")
    random.seed(1)

    def make(kind):
        svc = random.choice(SERVICES)
        if kind == "trace_by_id":
            return "/api/traces/" + random.choice(ids)
        if kind == "search_service_min_duration":
            return "/api/traces?" + urllib.parse.urlencode({"service": svc, "minDuration": "4ms", "limit": 20})
        if kind == "search_tag":
            return "/api/traces?" + urllib.parse.urlencode({"service": svc, "tags": json.dumps(TAG), "limit": 20})
        if kind == "search_service_operation":
            op = random.choice(operations[svc])
            return "/api/traces?" + urllib.parse.urlencode({"service": svc, "operation": op, "limit": 20})
        if kind == "services":
            return "/api/services"
        return "/api/services/" + urllib.parse.quote(svc) + "/operations"

    kinds = ["trace_by_id", "search_service_min_duration", "search_tag", "services", "operations"]
    operations = {}
    if args.operation:
        kinds.append("search_service_operation")
        for svc in SERVICES:
            _, _, _, body = get("/api/services/" + urllib.parse.quote(svc) + "/operations")
            operations[svc] = json.loads(body)["data"]
    samples = {k: [] for k in kinds}
    bad = {k: 0 for k in kinds}
    incomplete = {k: 0 for k in kinds}
    results = {k: 0 for k in kinds}
    deadline = time.monotonic() + args.duration
    i = 0
    while time.monotonic() < deadline:
        kind = kinds[i % len(kinds)]
        i += 1
        elapsed, status, partial, body = get(make(kind))
        samples[kind].append(elapsed * 1000)
        if status != 200:
            bad[kind] += 1
        if partial:
            incomplete[kind] += 1
        if kind.startswith("search") and status == 200:
            results[kind] += len(json.loads(body)["data"])
    report = {}
    for k in kinds:
        v = samples[k]
        report[k] = {
            "requests": len(v), "non_200": bad[k], "incomplete": incomplete[k],
            "p50_ms": round(statistics.median(v), 2), "p99_ms": round(percentile(v, 99), 2), "max_ms": round(max(v), 2),
        }
        if k.startswith("search"):
            report[k]["mean_traces_returned"] = round(results[k] / max(1, len(v)), 1)
    report["_trace_ids_harvested"] = len(ids)
    if args.json:
        print(json.dumps(report, indent=2))
    else:
        for k in kinds:
            r = report[k]
            extra = f"  traces/answer {r['mean_traces_returned']}" if "mean_traces_returned" in r else ""
            print(f"{k:30s} n={r['requests']:5d}  p50 {r['p50_ms']:8.2f} ms  p99 {r['p99_ms']:8.2f} ms  "
                  f"max {r['max_ms']:8.2f} ms  non-200 {r['non_200']}  incomplete {r['incomplete']}{extra}")


if __name__ == "__main__":
    main()
