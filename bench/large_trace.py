#!/usr/bin/env python3
"""One 10,000-span trace through the query API (issue 19): how long `/api/traces/{id}` (Jaeger JSON) and
`/api/v3/traces/{id}` (OTLP JSON) take to answer it, plain and gzipped, and the server's RSS 10 s after serving it.

Starts the given otelsink binary on 127.0.0.1 with ephemeral ports and a fresh database, stores one trace of
--spans spans shaped as the standard workload's (bench/README.md: 10 string attributes of 20-character keys and
values, one event, a status, kinds mixed; span j a child of span (j-1)/2; sent over OTLP/HTTP protobuf in requests
of 1,000 spans), then asks for it --runs times per kind one after another on a keep-alive connection (the time
includes reading the whole answer). Prints p50/p99/max per kind, the answer's size, and the server's RSS before
the queries, right after them and 10 s later, with the last split into anonymous memory and mapped files (JSON
with --json). Needs the opentelemetry-proto package
(scripts/test.sh installs it). Stops by itself.

    bash bench/build.sh otelsink
    .venv/bin/python bench/large_trace.py --bin .build-release/release/otelsink --runs 20
"""
import argparse
import http.client
import json
import os
import statistics
import sys
import tempfile
import time

import bench_server

def fixed20(s: str) -> str:
    return (s + "_" * 20)[:20]


def requests(spans: int, per_request: int = 1000):
    """The trace as OTLP/HTTP protobuf bodies, and its ID."""
    from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
    from opentelemetry.proto.common.v1.common_pb2 import AnyValue, KeyValue
    from opentelemetry.proto.trace.v1.trace_pb2 import Span, Status

    trace_id = os.urandom(16)
    ids = [os.urandom(8) for _ in range(spans)]
    t0 = time.time_ns() - 60_000_000_000
    bodies = []
    for first in range(0, spans, per_request):
        request = ExportTraceServiceRequest()
        rs = request.resource_spans.add()
        for k, v in [("service.name", f"bench-svc-{first // per_request % 5 + 1}"), ("service.version", "1.0.0"),
                     ("host.name", "bench-host"), ("deployment.environment", "bench"), ("telemetry.sdk.language", "swift")]:
            rs.resource.attributes.append(KeyValue(key=k, value=AnyValue(string_value=v)))
        ss = rs.scope_spans.add()
        ss.scope.name = "bench"
        for j in range(first, min(spans, first + per_request)):
            start = t0 + j * 100_000
            span = Span(trace_id=trace_id, span_id=ids[j], parent_span_id=ids[(j - 1) // 2] if j else b"",
                        name=f"operation-{j % 20}", kind=[2, 3, 1][j % 3], start_time_unix_nano=start,
                        end_time_unix_nano=start + 1_000_000 + (j * 7919) % 50_000_000,
                        status=Status(code=2 if j % 50 == 0 else 1, message="failed" if j % 50 == 0 else ""))
            for a in range(10):
                span.attributes.append(KeyValue(key=fixed20(f"bench.attribute.k{a}"),
                                                value=AnyValue(string_value=fixed20(f"t0-s{j}-v{a}-lorem"))))
            event = span.events.add()
            event.time_unix_nano = start + 500_000
            event.name = "bench.event"
            event.attributes.append(KeyValue(key="bench.event.k", value=AnyValue(string_value="v")))
            ss.spans.append(span)
        bodies.append(request.SerializeToString())
    return trace_id.hex(), bodies


def rss_mib(pid: int, field: str = "VmRSS") -> float:
    for line in open(f"/proc/{pid}/status"):
        if line.startswith(field + ":"):
            return round(int(line.split()[1]) / 1024, 1)
    return float("nan")


def percentile(values, p):
    s = sorted(values)
    return s[min(len(s) - 1, int(round(p / 100 * (len(s) - 1))))]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bin", required=True)
    ap.add_argument("--runs", type=int, default=20)
    ap.add_argument("--spans", type=int, default=10_000)
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()

    work = tempfile.mkdtemp(prefix="otelsink-large-trace-")
    proc, http_addr, query_addr = bench_server.start(args.bin, work, bench_server.config(os.path.join(work, "traces.db")))
    results = {}
    try:
        trace, bodies = requests(args.spans)
        host, port = http_addr.rsplit(":", 1)
        conn = http.client.HTTPConnection(host, int(port), timeout=60)
        for body in bodies:
            conn.request("POST", "/v1/traces", body=body, headers={"Content-Type": "application/x-protobuf"})
            answer = conn.getresponse()
            answer.read()
            if answer.status != 200:
                sys.exit(f"export answered {answer.status}")
        time.sleep(1)
        results["server RSS before the queries (MiB)"] = rss_mib(proc.pid)
        host, port = query_addr.rsplit(":", 1)
        conn = http.client.HTTPConnection(host, int(port), timeout=60)
        for path in (f"/api/traces/{trace}", f"/api/v3/traces/{trace}"):
            for gzip in (False, True):
                headers = {"Accept-Encoding": "gzip"} if gzip else {}
                times, size = [], 0
                for _ in range(args.runs):
                    began = time.perf_counter()
                    conn.request("GET", path, headers=headers)
                    answer = conn.getresponse()
                    data = answer.read()
                    times.append((time.perf_counter() - began) * 1000)
                    if answer.status != 200:
                        sys.exit(f"{path} answered {answer.status}: {data[:300]!r}")
                    size = len(data)
                name = path.replace(trace, "{id}") + (" gzip" if gzip else "")
                results[name] = {"p50 ms": round(statistics.median(times), 1), "p99 ms": round(percentile(times, 99), 1),
                                 "max ms": round(max(times), 1), "bytes": size, "runs": len(times)}
        results["server RSS right after (MiB)"] = rss_mib(proc.pid)
        time.sleep(10)
        results["server RSS 10 s later (MiB)"] = rss_mib(proc.pid)
        results["  of which anonymous (heap, stacks) (MiB)"] = rss_mib(proc.pid, "RssAnon")
        results["  of which mapped files (code, data) (MiB)"] = rss_mib(proc.pid, "RssFile")
    finally:
        proc.terminate()
        proc.wait(timeout=30)
    if args.json:
        print(json.dumps(results, indent=2))
    else:
        for k, v in results.items():
            print(f"{k}: {v}")


if __name__ == "__main__":
    main()
