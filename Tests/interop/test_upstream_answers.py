"""How the forwarding exporters classify an upstream's answers, over real sockets: an otelsink edge whose exporter
points at a fake upstream written here, which answers each attempt from a script and records when it arrived.

The whole table (every gRPC code, every HTTP status, Retry-After parsing, the backoff) is unit-tested on a manual
clock in Tests/OTLPExportersTests/UpstreamAnswerTests.swift; this module pins a few rows end to end:

* `otlphttp` (OTLP/HTTP, gzip) — 503 + `Retry-After: 2` and 429 + `Retry-After: <HTTP-date>` are retried after the
  server's delay (not the 100 ms backoff); 502 and 504 are retried; 400, 404, 413 and 500 are permanent: one
  attempt, the spans dropped and counted, one log line naming the status.
* `otlp` (OTLP/gRPC) — UNAVAILABLE is retried; RESOURCE_EXHAUSTED is retried after `RetryInfo.retry_delay` when the
  server attached one (in `grpc-status-details-bin`) and is permanent without it; INVALID_ARGUMENT and
  PERMISSION_DENIED are permanent. An upstream that is plain HTTP/1.1 is one warning in the log (naming the
  upstream and the cause: it does not speak HTTP/2), retried without spinning and given up on at
  `max_elapsed_time`.

Timing: only lower bounds, on delays the fake upstream imposes (Retry-After, RetryInfo); no tight upper bounds (the
machine is shared). Span and trace IDs and span counts come from a seed printed by each test;
`OTELSINK_TEST_SEED=N` repeats a run.
"""

from __future__ import annotations

import gzip
import os
import random
import re
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from email.utils import formatdate
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import grpc
import pytest
from google.rpc import error_details_pb2, status_pb2
from opentelemetry.proto.collector.trace.v1 import trace_service_pb2

from otlp_util import PROTOBUF, make_request, make_span
from test_forwarding import INSECURE, edge_yaml, http_export, metric, poll, telemetry, wait_for

pytestmark = pytest.mark.timeout(60)

# Fast backoff: a server's delay of 2 s stands out against it. max_elapsed_time leaves room for every retry here.
RETRY = "retry_on_failure:\n  initial_interval: 100ms\n  max_interval: 200ms\n  max_elapsed_time: 30s"
RETRYING = "export failed; retrying (logged once until the upstream accepts again)"
RECOVERED = "the upstream accepts exports again"
REFUSED = "export dropped: the upstream refused it for good"
GAVE_UP = "export dropped after retrying"
# After the outcome is counted, how long nothing more may arrive upstream: several backoff intervals (≤ 200 ms).
QUIET = 1.0

SENT = "otelcol_exporter_sent_spans_total"
FAILED = "otelcol_exporter_send_failed_spans_total"
DROPPED = "otelsink_exporter_dropped_spans_total"

TRACE_SERVICE = "opentelemetry.proto.collector.trace.v1.TraceService"


# ---------------------------------------------------------------------------------------------- helpers


@pytest.fixture
def rng(request) -> random.Random:
    seed = int(os.environ.get("OTELSINK_TEST_SEED") or random.SystemRandom().randrange(2**32))
    print(f"{request.node.name}: seed {seed} (OTELSINK_TEST_SEED={seed} repeats it)")
    return random.Random(seed)


def seeded_request(rng: random.Random) -> tuple[bytes, trace_service_pb2.ExportTraceServiceRequest]:
    """One trace of 2-6 spans whose IDs come from `rng`; returns (trace_id, request)."""
    trace_id = rng.randbytes(15) + b"\x01"
    n = rng.randint(2, 6)
    spans = [make_span(trace_id, name=f"op-{i}", span_id=rng.randbytes(7) + b"\x01") for i in range(n)]
    return trace_id, make_request(spans, service="upstream-answers")


def span_count(request) -> int:
    return sum(len(ss.spans) for rs in request.resource_spans for ss in rs.scope_spans)


@dataclass
class Attempt:
    """One export as the fake upstream received it."""
    at: float                      # time.monotonic() on arrival
    spans: int = 0
    trace_ids: frozenset = frozenset()
    error: str = ""                # what was wrong with the request, if anything


def parse_attempt(at: float, body: bytes) -> Attempt:
    try:
        request = trace_service_pb2.ExportTraceServiceRequest.FromString(body)
    except Exception as e:  # noqa: BLE001 - recorded, asserted on by the test
        return Attempt(at, error=f"not an ExportTraceServiceRequest: {e!r}")
    ids = frozenset(s.trace_id for rs in request.resource_spans for ss in rs.scope_spans for s in ss.spans)
    return Attempt(at, span_count(request), ids)


@dataclass
class Answer:
    """One scripted HTTP answer; `headers` may be a callable, evaluated when the answer is sent (an HTTP date)."""
    status: int
    headers: dict | object = field(default_factory=dict)
    message: str = ""


class FakeHTTPUpstream:
    """An OTLP/HTTP/1.1 upstream on 127.0.0.1:0: POST /v1/traces answered from `script` (then 200 with an empty
    ExportTraceServiceResponse), every attempt and every TCP connection recorded."""

    def __init__(self, script: list[Answer]):
        self.script = list(script)
        self.attempts: list[Attempt] = []
        self.connections: list[float] = []
        self.lock = threading.Lock()
        upstream = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format, *args):  # quiet
                pass

            def setup(self):
                with upstream.lock:
                    upstream.connections.append(time.monotonic())
                super().setup()

            def do_POST(self):
                at = time.monotonic()
                length = self.headers.get("Content-Length")
                body = self.rfile.read(int(length)) if length is not None else b""
                if self.headers.get("Content-Encoding", "").lower() == "gzip":
                    body = gzip.decompress(body)
                attempt = parse_attempt(at, body)
                if self.path != "/v1/traces":
                    attempt.error = f"POST {self.path}"
                if length is None:
                    attempt.error = "no Content-Length"
                with upstream.lock:
                    upstream.attempts.append(attempt)
                    answer = upstream.script.pop(0) if upstream.script else Answer(200)
                if answer.status == 200:
                    payload = trace_service_pb2.ExportTraceServiceResponse().SerializeToString()
                else:
                    message = answer.message or f"fake upstream says {answer.status}"
                    payload = status_pb2.Status(code=2, message=message).SerializeToString()
                headers = answer.headers() if callable(answer.headers) else answer.headers
                self.send_response(answer.status)
                self.send_header("Content-Type", PROTOBUF)
                for name, value in headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        self.thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def snapshot(self) -> list[Attempt]:
        with self.lock:
            return list(self.attempts)

    def stop(self):
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(timeout=5)


@dataclass
class GRPCAnswer:
    """One scripted gRPC answer: `code` (None: OK), and RetryInfo's `retry_delay` in seconds when not None."""
    code: grpc.StatusCode | None
    message: str = ""
    retry_delay: float | None = None


class FakeGRPCUpstream:
    """An OTLP/gRPC upstream (grpcio, cleartext HTTP/2) on 127.0.0.1:0 whose TraceService/Export answers from
    `script` (then OK with an empty ExportTraceServiceResponse); every call recorded."""

    def __init__(self, script: list[GRPCAnswer]):
        self.script = list(script)
        self.attempts: list[Attempt] = []
        self.lock = threading.Lock()
        handler = grpc.method_handlers_generic_handler(TRACE_SERVICE, {
            # No (de)serializers: the request arrives as bytes and the answer is returned as bytes.
            "Export": grpc.unary_unary_rpc_method_handler(self._export),
        })
        self.server = grpc.server(ThreadPoolExecutor(max_workers=4))
        self.server.add_generic_rpc_handlers((handler,))
        self.port = self.server.add_insecure_port("127.0.0.1:0")
        assert self.port, "grpcio could not bind 127.0.0.1:0"
        self.server.start()

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    def _export(self, request: bytes, context: grpc.ServicerContext) -> bytes:
        attempt = parse_attempt(time.monotonic(), request)
        with self.lock:
            self.attempts.append(attempt)
            answer = self.script.pop(0) if self.script else GRPCAnswer(None)
        if answer.code is None:
            return trace_service_pb2.ExportTraceServiceResponse().SerializeToString()
        message = answer.message or f"fake upstream says {answer.code.name}"
        if answer.retry_delay is not None:
            # What grpc_status.rpc_status.to_status + abort_with_status would send: the google.rpc.Status, whose
            # code and message match the call's, with a RetryInfo detail, as binary trailing metadata.
            status = status_pb2.Status(code=answer.code.value[0], message=message)
            info = error_details_pb2.RetryInfo()
            info.retry_delay.FromNanoseconds(int(answer.retry_delay * 1e9))
            status.details.add().Pack(info)
            context.set_trailing_metadata((("grpc-status-details-bin", status.SerializeToString()),))
        context.abort(answer.code, message)

    def snapshot(self) -> list[Attempt]:
        with self.lock:
            return list(self.attempts)

    def stop(self):
        self.server.stop(grace=None).wait(5)


@pytest.fixture
def fake_http():
    made: list[FakeHTTPUpstream] = []

    def make(script: list[Answer]) -> FakeHTTPUpstream:
        made.append(FakeHTTPUpstream(script))
        return made[-1]

    yield make
    for upstream in made:
        upstream.stop()


@pytest.fixture
def fake_grpc():
    made: list[FakeGRPCUpstream] = []

    def make(script: list[GRPCAnswer]) -> FakeGRPCUpstream:
        made.append(FakeGRPCUpstream(script))
        return made[-1]

    yield make
    for upstream in made:
        upstream.stop()


def start_http_edge(server_factory, upstream: FakeHTTPUpstream):
    """test_forwarding's edge with an `otlphttp` exporter (gzip, the fast retry) instead of `otlp`."""
    text = edge_yaml(upstream.url, f"compression: gzip\n{RETRY}")
    text = text.replace("\n  otlp:\n    endpoint:", "\n  otlphttp:\n    endpoint:", 1)
    text = text.replace("exporters: [otlp]", "exporters: [otlphttp]")
    assert "exporters: [otlphttp]" in text and "\n  otlphttp:\n" in text, text
    return server_factory(config_text=text)


def start_grpc_edge(server_factory, address: str, retry: str = RETRY):
    return server_factory(config_text=edge_yaml(address, f"{INSECURE}\n{retry}"))


def send(edge, rng) -> tuple[bytes, int]:
    """One seeded trace into the edge over OTLP/HTTP (accepted once queued); returns (trace_id, spans)."""
    trace_id, request = seeded_request(rng)
    r = http_export(edge, request)
    assert r.status_code == 200, f"{r.status_code} {r.text}\n{edge.log()[-2000:]}"
    return trace_id, span_count(request)


def settle(edge, exporter: str, spans: int, timeout: float = 20) -> str:
    """Waits until the exporter has counted all `spans` as sent or failed; returns the exposition."""
    def done(text):
        return (metric(text, SENT, exporter) or 0) + (metric(text, FAILED, exporter) or 0) >= spans
    text = poll(lambda: telemetry(edge), done, timeout)
    assert done(text), f"the outcome of {spans} spans was not counted within {timeout}s:\n{text}\n{edge.log()[-3000:]}"
    return text


def quiet_attempts(upstream, edge) -> list[Attempt]:
    """The attempts once nothing more has arrived for QUIET seconds (several backoff intervals)."""
    time.sleep(QUIET)
    attempts = upstream.snapshot()
    for a in attempts:
        assert not a.error, f"the fake upstream saw a bad request: {a.error}\n{edge.log()[-2000:]}"
    return attempts


def lines(edge, text: str) -> list[str]:
    return [line for line in edge.log().splitlines() if text in line]


def assert_delivered_after_one_retry(edge, upstream, exporter: str, trace_id: bytes, spans: int, status_text: str):
    text = settle(edge, exporter, spans)
    attempts = quiet_attempts(upstream, edge)
    log = edge.log()
    assert len(attempts) == 2, f"{len(attempts)} attempts, expected the refused one and one retry:\n{log[-3000:]}"
    assert all(a.trace_ids == {trace_id} and a.spans == spans for a in attempts), attempts  # the same request again
    text = telemetry(edge)
    assert metric(text, SENT, exporter) == spans, text
    assert metric(text, FAILED, exporter) in (0, None), text
    assert metric(text, DROPPED, exporter) in (0, None), text
    assert metric(text, "otelcol_exporter_queue_size", exporter) == 0, text
    # The failure streak is one warning naming the upstream's answer, then one line when it accepts again.
    retrying = lines(edge, RETRYING)
    assert len(retrying) == 1 and status_text in retrying[0], f"{retrying}\n{log[-3000:]}"
    assert len(lines(edge, RECOVERED)) == 1, log[-3000:]
    assert not lines(edge, "export dropped"), log[-3000:]
    return attempts


def assert_dropped_after_one_attempt(edge, upstream, exporter: str, spans: int, status_text: str):
    text = settle(edge, exporter, spans)
    attempts = quiet_attempts(upstream, edge)
    log = edge.log()
    assert len(attempts) == 1, f"{len(attempts)} attempts of a permanent refusal (expected 1):\n{log[-3000:]}"
    assert attempts[0].spans == spans, attempts
    text = telemetry(edge)
    assert metric(text, DROPPED, exporter) == spans, text
    assert metric(text, FAILED, exporter) == spans, text
    assert metric(text, SENT, exporter) in (0, None), text
    assert metric(text, "otelcol_exporter_queue_size", exporter) == 0, text
    named = lines(edge, status_text)
    assert len(named) == 1, f"expected one log line naming {status_text!r}, got {named}\n{log[-3000:]}"
    print(f"logged: {named[0]}")
    assert REFUSED in named[0] and "fake upstream says" in named[0], named
    assert not lines(edge, RETRYING), log[-3000:]


# ---------------------------------------------------------------------------------------------- 1. OTLP/HTTP


def _http_date_in(seconds: float):
    return lambda: {"Retry-After": formatdate(time.time() + seconds, usegmt=True)}


@pytest.mark.parametrize("answer,min_gap", [
    pytest.param(Answer(503, {"Retry-After": "2"}), 1.8, id="503-retry-after-2s"),
    # An HTTP date has whole seconds: now + 3 s, truncated, is 2-3 s away when the edge reads it.
    pytest.param(Answer(429, _http_date_in(3)), 1.0, id="429-retry-after-http-date"),
    pytest.param(Answer(502), 0.0, id="502"),
    pytest.param(Answer(504), 0.0, id="504"),
])
def test_http_retryable_answer_is_retried_then_delivered(fake_http, server_factory, rng, answer, min_gap):
    upstream = fake_http([answer])
    edge = start_http_edge(server_factory, upstream)
    trace_id, spans = send(edge, rng)
    attempts = assert_delivered_after_one_retry(edge, upstream, "otlphttp", trace_id, spans, f"HTTP {answer.status}")
    gap = attempts[1].at - attempts[0].at
    print(f"HTTP {answer.status}: retried after {gap:.3f}s")
    # The server's delay wins over the 100-200 ms backoff.
    assert gap >= min_gap, f"retried {gap:.3f}s after HTTP {answer.status}, before the server's delay ({min_gap}s)"


@pytest.mark.parametrize("status", [400, 404, 413, 500])
def test_http_permanent_answer_drops_after_one_attempt(fake_http, server_factory, rng, status):
    upstream = fake_http([Answer(status)])
    edge = start_http_edge(server_factory, upstream)
    _, spans = send(edge, rng)
    assert_dropped_after_one_attempt(edge, upstream, "otlphttp", spans, f"HTTP {status}")


# ---------------------------------------------------------------------------------------------- 2. OTLP/gRPC


def test_grpc_unavailable_is_retried_then_delivered(fake_grpc, server_factory, rng):
    upstream = fake_grpc([GRPCAnswer(grpc.StatusCode.UNAVAILABLE)])
    edge = start_grpc_edge(server_factory, upstream.address)
    trace_id, spans = send(edge, rng)
    assert_delivered_after_one_retry(edge, upstream, "otlp", trace_id, spans, "grpc status 14")


def test_grpc_resource_exhausted_with_retry_info_waits_for_the_servers_delay(fake_grpc, server_factory, rng):
    upstream = fake_grpc([GRPCAnswer(grpc.StatusCode.RESOURCE_EXHAUSTED, retry_delay=2.0)])
    edge = start_grpc_edge(server_factory, upstream.address)
    trace_id, spans = send(edge, rng)
    attempts = assert_delivered_after_one_retry(edge, upstream, "otlp", trace_id, spans, "grpc status 8")
    gap = attempts[1].at - attempts[0].at
    print(f"RESOURCE_EXHAUSTED + RetryInfo 2s: retried after {gap:.3f}s")
    assert gap >= 1.8, f"retried {gap:.3f}s after RESOURCE_EXHAUSTED with RetryInfo 2s"


@pytest.mark.parametrize("code", [
    pytest.param(grpc.StatusCode.RESOURCE_EXHAUSTED, id="RESOURCE_EXHAUSTED-without-RetryInfo"),
    pytest.param(grpc.StatusCode.INVALID_ARGUMENT, id="INVALID_ARGUMENT"),
    pytest.param(grpc.StatusCode.PERMISSION_DENIED, id="PERMISSION_DENIED"),
])
def test_grpc_permanent_answer_drops_after_one_attempt(fake_grpc, server_factory, rng, code):
    upstream = fake_grpc([GRPCAnswer(code)])
    edge = start_grpc_edge(server_factory, upstream.address)
    _, spans = send(edge, rng)
    assert_dropped_after_one_attempt(edge, upstream, "otlp", spans, f"grpc status {code.value[0]}:")


def cpu_seconds(pid: int) -> float:
    """utime + stime of a process, from /proc/PID/stat."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")  # fields 14 and 15 of stat(5)


def start_grpc_edge_to_http1(fake_http, server_factory, max_elapsed: str):
    """An `otlp` exporter pointed at a plain HTTP/1.1 server (an OTLP/HTTP port, say): http.server answers the
    HTTP/2 preface ("PRI * HTTP/2.0") with its 505 error page (HTML; no status line, as it takes the request for
    HTTP/0.9) and closes the connection."""
    upstream = fake_http([])
    retry = f"retry_on_failure:\n  initial_interval: 100ms\n  max_interval: 500ms\n  max_elapsed_time: {max_elapsed}"
    edge = start_grpc_edge(server_factory, f"127.0.0.1:{upstream.port}", retry)
    return upstream, edge


def first_warning(edge) -> str:
    log = poll(edge.log, lambda t: RETRYING in t, 5)
    retrying = lines(edge, RETRYING)
    assert len(retrying) == 1, f"expected one warning within 5 s of the export, got {retrying}:\n{log[-3000:]}"
    print(f"warning: {retrying[0]}")
    return retrying[0]


def test_grpc_exporter_to_a_plain_http1_upstream_warns_once_and_does_not_spin(fake_http, server_factory, rng):
    """Every attempt fails on the connection (UNAVAILABLE, retryable): the edge says so once, naming the upstream,
    keeps retrying with its backoff (not in a loop), keeps serving, and gives up at max_elapsed_time."""
    upstream, edge = start_grpc_edge_to_http1(fake_http, server_factory, "6s")
    _, spans = send(edge, rng)
    warning = first_warning(edge)
    assert f"127.0.0.1:{upstream.port}" in warning and "grpc status 14" in warning, warning

    connections_before, cpu_before, t0 = len(upstream.connections), cpu_seconds(edge.pid), time.monotonic()
    time.sleep(3)
    cpu = cpu_seconds(edge.pid) - cpu_before
    elapsed = time.monotonic() - t0
    reconnects = len(upstream.connections) - connections_before
    print(f"over {elapsed:.2f}s: {cpu:.3f}s of CPU, {reconnects} new connections to the HTTP/1.1 upstream")
    assert cpu < 1.0, f"the edge used {cpu:.2f}s of CPU in {elapsed:.2f}s while retrying\n{edge.log()[-2000:]}"
    assert reconnects >= 1, f"no further attempt in {elapsed:.2f}s (backoff ≤ 500 ms)\n{edge.log()[-2000:]}"
    assert len(lines(edge, RETRYING)) == 1, edge.log()[-3000:]  # not repeated for the later attempts

    # Still serving: another export is taken, and the self-telemetry answers.
    assert edge.running
    _, more = send(edge, rng)
    text = telemetry(edge)
    assert metric(text, SENT, "otlp") in (0, None), text
    # Given up at max_elapsed_time: both requests dropped and counted, the warning still not repeated.
    assert wait_for(lambda: metric(telemetry(edge), DROPPED, "otlp") == spans + more, 20), \
        f"{telemetry(edge)}\n{edge.log()[-3000:]}"
    assert len(lines(edge, GAVE_UP)) == 2, edge.log()[-3000:]
    assert len(lines(edge, RETRYING)) == 1, edge.log()[-3000:]
    assert not upstream.attempts, "the HTTP/1.1 server was sent a POST"


def test_grpc_exporter_to_a_plain_http1_upstream_names_the_cause(fake_http, server_factory, rng):
    """The warning says what is wrong: the upstream answered in HTTP/1.x, not HTTP/2 (as the client already says
    "is this a gRPC endpoint?" for an HTTP/2 answer without grpc-status)."""
    upstream, edge = start_grpc_edge_to_http1(fake_http, server_factory, "2s")
    send(edge, rng)
    warning = first_warning(edge)
    assert f"127.0.0.1:{upstream.port}" in warning, warning
    assert re.search(r"(?i)HTTP/1|not (an? )?(HTTP/2|gRPC)|gRPC endpoint", warning), warning
