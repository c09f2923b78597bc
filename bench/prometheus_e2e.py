"""End-to-end metrics ingest cost: a running otelsink (release) with OTLP/gRPC in and the `prometheus` exporter out,
fed Metric10kDPS-shaped requests (metrics of 7 data points, ~100 points per request) by raw gRPC clients; reports
the server's CPU per data point (from /proc/<pid>/stat), so client cost is excluded.

    python3 bench/prometheus_e2e.py --bin .build-release/release/otelsink --seconds 20 --rate 10000
    python3 bench/prometheus_e2e.py --exporter nop   # the transport alone: receiver, HTTP/2, gRPC, kernel
    python3 bench/prometheus_e2e.py --transport http # the same requests as OTLP/HTTP/1.1 protobuf (keep-alive)
"""

from __future__ import annotations

import argparse
import http.client
import os
import re
import subprocess
import tempfile
import threading
import time
from pathlib import Path

import grpc
from opentelemetry.proto.collector.metrics.v1 import metrics_service_pb2
from opentelemetry.proto.common.v1 import common_pb2
from opentelemetry.proto.metrics.v1 import metrics_pb2

METHOD = "/opentelemetry.proto.collector.metrics.v1.MetricsService/Export"


def request(seq: int, metrics: int = 15, distinct: int = 1000) -> bytes:
    req = metrics_service_pb2.ExportMetricsServiceRequest()
    rm = req.resource_metrics.add()
    rm.resource.attributes.add(key="service.name", value=common_pb2.AnyValue(string_value="load-generator"))
    sm = rm.scope_metrics.add()
    sm.scope.name = "bench"
    now = time.time_ns()
    for m in range(metrics):
        metric = sm.metrics.add(name=f"load_generator.metric_{m % 10}", unit="1" if m % 3 != 2 else "ms")
        kind = m % 3
        if kind == 0:
            points = metric.gauge.data_points
        elif kind == 1:
            metric.sum.is_monotonic = True
            metric.sum.aggregation_temporality = metrics_pb2.AGGREGATION_TEMPORALITY_CUMULATIVE
            points = metric.sum.data_points
        else:
            metric.histogram.aggregation_temporality = metrics_pb2.AGGREGATION_TEMPORALITY_CUMULATIVE
            points = metric.histogram.data_points
        for p in range(7):
            dp = points.add(start_time_unix_nano=now - 10**9, time_unix_nano=now)
            for k, v in (("item_index", str((seq * 7 + p) % distinct)), ("a", f"value-{p}"), ("b", "constant")):
                dp.attributes.add(key=k, value=common_pb2.AnyValue(string_value=v))
            if kind == 2:
                dp.explicit_bounds.extend([1, 5, 10, 50, 100])
                dp.bucket_counts.extend([1, 2, 3, 4, 5, 6])
                dp.count = 21
                dp.sum = 500
            else:
                dp.as_double = float(seq)
    return req.SerializeToString()


def config(transport: str, exporter: str) -> str:
    """The server's configuration: the OTLP receiver on `transport` (grpc or http) into `exporter` (prometheus or
    nop), every address an ephemeral loopback port."""
    exporters = "prometheus:\n    endpoint: 127.0.0.1:0" if exporter == "prometheus" else "nop: {}"
    return f"""receivers:
  otlp:
    protocols:
      {transport}:
        endpoint: 127.0.0.1:0
exporters:
  {exporters}
service:
  telemetry:
    metrics:
      address: 127.0.0.1:0
  pipelines:
    metrics:
      receivers: [otlp]
      exporters: [{exporter}]
"""


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def start(binary: str, transport: str, exporter: str) -> tuple[subprocess.Popen, str]:
    """Starts a server and returns it with the address its receiver listens on."""
    work = Path(tempfile.mkdtemp(prefix="otelsink-prom-e2e-"))
    (work / "c.yaml").write_text(config(transport, exporter))
    log = open(work / "log", "wb")
    proc = subprocess.Popen([binary, "serve", "--config", str(work / "c.yaml")], stdout=log, stderr=subprocess.STDOUT)
    for _ in range(300):
        m = re.search(r"address=(\S+) \S+ protocol=%s\b" % transport, (work / "log").read_text())
        if m:
            return proc, m.group(1)
        time.sleep(0.05)
    proc.kill()
    raise SystemExit((work / "log").read_text())


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--bin", action="append",
                    help="the server (default .build-release/release/otelsink); given twice, both run at once, each fed "
                         "at --rate, and the second's CPU per point is also given as a ratio to the first's: both "
                         "see the same moment of a noisy machine, so the ratio varies less than separate runs do")
    ap.add_argument("--seconds", type=float, default=20)
    ap.add_argument("--rate", type=int, default=10000, help="data points per second offered (0 = flat out)")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--exporter", choices=["prometheus", "nop"], default="prometheus",
                    help="nop: the same requests dropped after the receiver, to measure the transport alone")
    ap.add_argument("--transport", choices=["grpc", "http"], default="grpc",
                    help="http: POST /v1/metrics over HTTP/1.1 keep-alive connections instead of OTLP/gRPC")
    args = ap.parse_args()
    binaries = args.bin or [".build-release/release/otelsink"]
    if len(binaries) > 2:
        raise SystemExit("--bin: at most two servers")
    servers = [start(b, args.transport, args.exporter) for b in binaries]
    bodies = [request(i) for i in range(200)]
    points = metrics_service_pb2.ExportMetricsServiceRequest.FromString(bodies[0])
    per_request = sum(len(getattr(m, m.WhichOneof("data")).data_points) for m in points.resource_metrics[0].scope_metrics[0].metrics)
    sent = [0] * len(servers)
    lock = threading.Lock()
    stop = time.monotonic() + args.seconds + 2

    def feed(server: int, offset: int) -> None:
        address = servers[server][1]
        if args.transport == "http":
            host, port = address.rsplit(":", 1)
            conn = http.client.HTTPConnection(host, int(port), timeout=10)

            def call(body: bytes, timeout: float) -> None:
                conn.request("POST", "/v1/metrics", body=body, headers={"Content-Type": "application/x-protobuf"})
                response = conn.getresponse()
                response.read()
                assert response.status == 200, response.status

            send(call, server, offset)
            conn.close()
        else:
            with grpc.insecure_channel(address) as ch:
                send(ch.unary_unary(METHOD, request_serializer=lambda b: b, response_deserializer=lambda b: b), server, offset)

    def send(call, server: int, offset: int) -> None:
        interval = per_request * args.threads / args.rate if args.rate else 0
        next_send = time.monotonic()
        i = offset
        while time.monotonic() < stop:
            if interval:
                next_send += interval
                delay = next_send - time.monotonic()
                if delay > 0:
                    time.sleep(delay)
            call(bodies[i % len(bodies)], timeout=10)
            i += args.threads
            with lock:
                sent[server] += 1

    threads = [threading.Thread(target=feed, args=(s, t)) for s in range(len(servers)) for t in range(args.threads)]
    for t in threads:
        t.start()
    time.sleep(2)  # warm-up
    before = [(cpu_seconds(proc.pid), sent[i]) for i, (proc, _) in enumerate(servers)]
    t0 = time.monotonic()
    for t in threads:
        t.join()
    after = [(cpu_seconds(proc.pid), sent[i]) for i, (proc, _) in enumerate(servers)]
    t1 = time.monotonic()
    for proc, _ in servers:
        proc.terminate()
    for proc, _ in servers:
        proc.wait(timeout=15)
    results = []
    for (cpu0, n0), (cpu1, n1) in zip(before, after):
        pts = (n1 - n0) * per_request
        results.append({"points_per_request": per_request, "points": pts, "points_per_second": round(pts / (t1 - t0)),
                        "server_cpu_percent_of_one_core": round(100 * (cpu1 - cpu0) / (t1 - t0), 1),
                        "server_cpu_us_per_point": round(1e6 * (cpu1 - cpu0) / max(pts, 1), 2)})
    if len(results) == 1:
        print(results[0])
    else:
        a, b = (r["server_cpu_us_per_point"] for r in results)
        print({"first": results[0], "second": results[1], "second_over_first": round(b / a, 3) if a else None})


if __name__ == "__main__":
    main()
