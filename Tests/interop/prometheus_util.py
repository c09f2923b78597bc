"""Helpers for the Prometheus tests: an SDK workload, scraping, promtool, and a real Prometheus server."""

from __future__ import annotations

import json
import shutil
import socket
import subprocess
import time
import urllib.parse
from pathlib import Path

import httpx
from opentelemetry.exporter.otlp.proto.grpc.metric_exporter import OTLPMetricExporter
from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter
from opentelemetry.metrics import Observation
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import PeriodicExportingMetricReader
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.trace import SpanKind, Status, StatusCode

OPENMETRICS_ACCEPT = "application/openmetrics-text;version=1.0.0,text/plain;version=0.0.4;q=0.5"


def send_metrics_workload(grpc_address: str, service: str = "shop") -> None:
    """The standard metrics workload through the official SDK (OTLP/gRPC, cumulative): a counter, a histogram,
    an up-down counter and an observable gauge."""
    exporter = OTLPMetricExporter(endpoint=grpc_address, insecure=True)
    reader = PeriodicExportingMetricReader(exporter, export_interval_millis=3_600_000)
    provider = MeterProvider(resource=Resource.create({"service.name": service, "service.instance.id": "i-1",
                                                       "deployment.environment": "test"}),
                             metric_readers=[reader])
    meter = provider.get_meter("shop.checkout", "1.2.3")
    orders = meter.create_counter("shop.orders", unit="{orders}", description="Orders placed.")
    orders.add(3, {"payment.method": "card"})
    orders.add(2, {"payment.method": "card"})
    orders.add(1, {"payment.method": "cash"})
    latency = meter.create_histogram("shop.checkout.duration", unit="ms", description="Checkout latency.")
    for v in (5, 15, 15, 30, 70, 120, 300, 900):
        latency.record(v, {"http.route": "/checkout"})
    inflight = meter.create_up_down_counter("shop.requests.inflight", unit="{requests}")
    inflight.add(4)
    inflight.add(-1)
    meter.create_observable_gauge("shop.cache.fill", unit="1",
                                  callbacks=[lambda options: [Observation(0.75)]])
    provider.force_flush()
    provider.shutdown()


def send_traces_workload(grpc_address: str, service: str = "shop") -> list[str]:
    """Spans of two operations, one of them failing; returns the trace IDs (hex)."""
    provider = TracerProvider(resource=Resource.create({"service.name": service}))
    provider.add_span_processor(SimpleSpanProcessor(OTLPSpanExporter(endpoint=grpc_address, insecure=True)))
    tracer = provider.get_tracer("shop.http")
    ids = []
    for i in range(6):
        with tracer.start_as_current_span("GET /cart", kind=SpanKind.SERVER) as span:
            ids.append(format(span.get_span_context().trace_id, "032x"))
            with tracer.start_as_current_span("SELECT cart", kind=SpanKind.CLIENT):
                time.sleep(0.002)
            if i == 5:
                span.set_status(Status(StatusCode.ERROR, "boom"))
    provider.shutdown()
    return ids


def scrape(address: str, accept: str | None = None, gzip: bool = False) -> httpx.Response:
    headers = {}
    if accept:
        headers["Accept"] = accept
    headers["Accept-Encoding"] = "gzip" if gzip else "identity"
    r = httpx.get(f"http://{address}/metrics", headers=headers, timeout=10)
    r.raise_for_status()
    return r


# promtool's lint flags names with non-base units (`_milliseconds`): otelcol's naming rules and the spanmetrics
# connector's default produce exactly such names, so that one lint is expected; every other finding fails.
ALLOWED_LINT = ('use base unit "seconds" instead of "milliseconds"',)


def promtool_check(text: str) -> list[str]:
    """Runs `promtool check metrics`; returns its findings other than the allowed lints (empty = pass)."""
    p = subprocess.run(["promtool", "check", "metrics"], input=text.encode(), capture_output=True, timeout=60)
    findings = [line for line in (p.stdout + p.stderr).decode().splitlines() if line.strip()]
    unexpected = [f for f in findings if not any(a in f for a in ALLOWED_LINT)]
    if p.returncode not in (0, 3):  # 3 = lint findings only
        unexpected.append(f"promtool exited {p.returncode}")
    return unexpected


def metric_names(text: str) -> set[str]:
    """Sample names in an exposition."""
    names = set()
    for line in text.splitlines():
        if line and not line.startswith("#"):
            names.add(line.split("{", 1)[0].split(" ", 1)[0])
    return names


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class PrometheusServer:
    """A real Prometheus (Debian package) on loopback scraping the given targets every second."""

    def __init__(self, workdir: Path, targets: list[str], extra_args: tuple[str, ...] = ()):
        self.port = free_port()
        config = workdir / "prometheus.yml"
        config.write_text(f"""global:
  scrape_interval: 1s
  evaluation_interval: 1s
scrape_configs:
  - job_name: otelsink
    honor_labels: true
    static_configs:
      - targets: {json.dumps(targets)}
""")
        self.log = open(workdir / "prometheus.log", "wb")
        self.proc = subprocess.Popen(
            [shutil.which("prometheus") or "prometheus", f"--config.file={config}", f"--storage.tsdb.path={workdir / 'tsdb'}",
             f"--web.listen-address=127.0.0.1:{self.port}", *extra_args],
            stdout=self.log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                if httpx.get(self.url("/-/ready"), timeout=2).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.2)
        self.stop()
        raise AssertionError("prometheus did not become ready")

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def query(self, promql: str) -> list[dict]:
        r = httpx.get(self.url("/api/v1/query?" + urllib.parse.urlencode({"query": promql})), timeout=10)
        r.raise_for_status()
        body = r.json()
        assert body["status"] == "success", body
        return body["data"]["result"]

    def exemplars(self, promql: str) -> list[dict]:
        now = time.time()
        r = httpx.get(self.url("/api/v1/query_exemplars?" + urllib.parse.urlencode(
            {"query": promql, "start": now - 600, "end": now + 60})), timeout=10)
        r.raise_for_status()
        return r.json()["data"]

    def wait_for(self, promql: str, timeout: float = 30) -> list[dict]:
        deadline = time.monotonic() + timeout
        while True:
            result = self.query(promql)
            if result or time.monotonic() > deadline:
                return result
            time.sleep(0.5)

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(timeout=5)
        self.log.close()
