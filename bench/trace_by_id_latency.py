"""Trace-by-ID latency and server CPU per request against a running otelsink's query API.

Harvests trace IDs with searches over the last two hours (each service, limit 40), then sends
`/api/traces/{id}` for random IDs one after another on one keep-alive connection for `--seconds`, optionally
sleeping `--gap-ms` between requests (a client that asks now and then finds the server's threads asleep).
Prints p50/p90/p99/max and, with `--server-pid`, the server's CPU and minor page faults per request (from
/proc/PID/stat).
Standard library only; talks to 127.0.0.1 only and stops by itself.

    # against bench/run-query.sh's store, with or without ingest running beside it:
    OTELSINK_BENCH_DB=bench/results/query.db .build-release/release/otelsink serve --config bench/query.yaml &
    python3 bench/trace_by_id_latency.py --seconds 10 --server-pid $!
"""
import argparse
import http.client
import json
import os
import random
import sys
import time
import urllib.parse


def stat_fields(pid):
    return open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()


def cpu_seconds(pid):
    fields = stat_fields(pid)
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def minor_faults(pid):
    return int(stat_fields(pid)[7])


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--port", type=int, default=16686)
    ap.add_argument("--seconds", type=float, default=10.0)
    ap.add_argument("--gap-ms", type=float, default=0.0, help="sleep between requests")
    ap.add_argument("--server-pid", type=int, help="report the server's CPU per request")
    ap.add_argument("--seed", type=int, default=1)
    args = ap.parse_args()
    conn = http.client.HTTPConnection("127.0.0.1", args.port, timeout=30)

    def get(path):
        conn.request("GET", path)
        r = conn.getresponse()
        return r.status, r.read()

    status, body = get("/api/services")
    if status != 200:
        sys.exit(f"trace_by_id_latency: /api/services answered {status}")
    ids = set()
    for service in json.loads(body)["data"] or []:
        for lookback in ("1h", "2h"):
            q = urllib.parse.urlencode({"service": service, "limit": 40, "lookback": lookback})
            status, body = get("/api/traces?" + q)
            if status == 200:
                ids.update(t["traceID"] for t in json.loads(body)["data"])
    if not ids:
        sys.exit("trace_by_id_latency: no traces found to look up")
    ids = sorted(ids)
    rng = random.Random(args.seed)
    latencies = []
    cpu0 = cpu_seconds(args.server_pid) if args.server_pid else 0.0
    faults0 = minor_faults(args.server_pid) if args.server_pid else 0
    deadline = time.monotonic() + args.seconds
    while time.monotonic() < deadline:
        path = "/api/traces/" + rng.choice(ids)
        t0 = time.perf_counter()
        status, _ = get(path)
        latencies.append(time.perf_counter() - t0)
        if status != 200:
            sys.exit(f"trace_by_id_latency: {path} answered {status} (seed {args.seed})")
        if args.gap_ms:
            time.sleep(args.gap_ms / 1000)
    cpu = cpu_seconds(args.server_pid) - cpu0 if args.server_pid else None
    faults = minor_faults(args.server_pid) - faults0 if args.server_pid else None
    latencies.sort()
    n = len(latencies)

    def ms(p):
        return latencies[min(n - 1, int(p * n))] * 1000

    line = f"requests {n}  p50 {ms(0.5):.2f} ms  p90 {ms(0.9):.2f} ms  p99 {ms(0.99):.2f} ms  max {latencies[-1] * 1000:.2f} ms"
    if cpu is not None:
        line += f"  server CPU {cpu * 1e6 / n:.0f} µs/request, {faults / n:.1f} minor faults/request"
    print(line)


if __name__ == "__main__":
    main()
