"""Hostile clients against every listener: each test asserts the bound the server promises (a deadline, a
connection limit, a span cap, a GOAWAY and close), that its memory (VmRSS of the server process) stays under a
stated bound, and that a well-behaved client is served afterwards and, where noted, while the abuse runs.

Already covered elsewhere and not repeated here: a 1 GiB gzip bomb over OTLP/HTTP (413, peak RSS, eight at once,
an export afterwards) is `test_bad_input.py::test_gzip_bomb_is_413_without_inflating_it`; this file adds the gRPC
side of it.
"""

from __future__ import annotations

import json
import os
import selectors
import socket
import threading
import time
import zlib
from pathlib import Path

import grpc
import httpx
import hpack
import pytest
from opentelemetry.proto.collector.metrics.v1 import metrics_service_pb2
from opentelemetry.proto.collector.trace.v1 import trace_service_pb2_grpc

from otlp_util import (JSON, PROTOBUF, kv, make_request, make_span, make_trace_request, new_trace_id,
                       stored_span_ids, to_otlp_json)
from rawhttp import H2Connection, Http1Connection

MiB = 1024 * 1024
GRPC_EXPORT = "/opentelemetry.proto.collector.trace.v1.TraceService/Export"


# ---------------------------------------------------------------------------------------------- observation


def rss_mib(server) -> float:
    return server.proc_status("VmRSS") / 1024


def cpu_seconds(pid: int) -> float:
    """utime + stime of a process, in seconds."""
    stat = Path(f"/proc/{pid}/stat").read_text()
    fields = stat[stat.rindex(")") + 2:].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


class RssSampler:
    """Samples the server's VmRSS every 50 ms in a thread; `peak` is the largest seen (MiB)."""

    def __init__(self, server):
        self.server = server
        self.baseline = rss_mib(server)
        self.peak = self.baseline
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self):
        while not self._stop.wait(0.05):
            try:
                self.peak = max(self.peak, rss_mib(self.server))
            except (FileNotFoundError, ProcessLookupError):
                return

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join(5)
        self.peak = max(self.peak, rss_mib(self.server))

    def assert_growth_below(self, mib: float, what: str):
        growth = self.peak - self.baseline
        print(f"{what}: RSS {self.baseline:.0f} MiB before, peak {self.peak:.0f} MiB (+{growth:.0f})")
        assert growth < mib, f"{what}: RSS grew by {growth:.0f} MiB (bound {mib} MiB)"


def server_socket_open(server_port: int, client_port: int) -> bool:
    """Whether the server still holds its end of the loopback connection from `client_port`: the socket exists,
    is ESTABLISHED and owned by a process (inode != 0: a closed socket with unsent data lingers orphaned, and so
    does one not yet accepted from the listen backlog, so callers must first see the connection open).
    Every line with these ports is looked at: an earlier connection between the same two port numbers (ports are
    reused over a long run) can still be listed, in TIME_WAIT, before the live one."""
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        f = line.split()
        if int(f[1].rsplit(":", 1)[1], 16) == server_port and int(f[2].rsplit(":", 1)[1], 16) == client_port:
            if f[3] == "01" and f[9] != "0":
                return True
    return False


def host_port(address: str) -> tuple[str, int]:
    host, port = address.rsplit(":", 1)
    return host, int(port)


# ---------------------------------------------------------------------------------------------- well-behaved clients


def good_exports(server, what: str = ""):
    """One OTLP/HTTP and one OTLP/gRPC export, both answered and stored."""
    http_trace, http_req = make_trace_request(2)
    r = httpx.post(server.url(), content=http_req.SerializeToString(), headers={"Content-Type": PROTOBUF}, timeout=10)
    assert r.status_code == 200, (what, r.status_code, r.content[:200])
    grpc_trace, grpc_req = make_trace_request(2)
    with grpc.insecure_channel(server.grpc_address) as channel:
        trace_service_pb2_grpc.TraceServiceStub(channel).Export(grpc_req, timeout=10)
    stored = stored_span_ids(server.db_path, {http_trace, grpc_trace})
    assert len(stored.get(http_trace, ())) == 2 and len(stored.get(grpc_trace, ())) == 2, what
    assert server.running, f"otelsink died ({what}):\n{server.log()[-3000:]}"


class BackgroundExporter:
    """Exports over one gRPC channel (and one HTTP/1.1 keep-alive client) every ~50 ms until stopped; every
    failure is recorded."""

    def __init__(self, server, http: bool = True):
        self.server = server
        self.http = http
        self.ok = 0
        self.failures: list[str] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self):
        with grpc.insecure_channel(self.server.grpc_address) as channel, httpx.Client(timeout=10) as client:
            stub = trace_service_pb2_grpc.TraceServiceStub(channel)
            while not self._stop.is_set():
                _, request = make_trace_request(2)
                try:
                    stub.Export(request, timeout=10)
                    self.ok += 1
                except grpc.RpcError as e:
                    self.failures.append(f"gRPC {e.code()}: {e.details()}")
                if self.http:
                    try:
                        r = client.post(self.server.url(), content=request.SerializeToString(),
                                        headers={"Content-Type": PROTOBUF})
                        if r.status_code == 200:
                            self.ok += 1
                        else:
                            self.failures.append(f"HTTP {r.status_code}")
                    except httpx.HTTPError as e:
                        self.failures.append(f"HTTP {e!r}")
                self._stop.wait(0.05)

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join(30)

    def assert_kept_working(self, minimum: int = 5):
        assert not self.failures, f"{len(self.failures)} exports failed meanwhile, first: {self.failures[:3]}"
        assert self.ok >= minimum, f"only {self.ok} exports in the meantime"


# ---------------------------------------------------------------------------------------------- (a) slowloris

SLOW_HEAD = b"GET /metrics HTTP/1.1\r\nHost: slow\r\n" + b"X-Slow: " + b"a" * 200


def trickle(address: str, prefix: bytes, data: bytes, interval: float, limit: float) -> dict:
    """Sends `prefix` at once, then `data` one byte per `interval`, until the server closes the connection or
    `limit` seconds pass. Returns when it closed (seconds after the first trickled byte) and how many bytes went."""
    sock = socket.create_connection(host_port(address), timeout=5)
    opened = time.monotonic()
    out = {"closed_after": None, "bytes": 0, "answer": b""}
    try:
        if prefix:
            # One request answered, then an idle keep-alive second: the deadline starts at the next first byte.
            sock.sendall(prefix)
            out["answer"] = _read_answer(sock)
            time.sleep(1.0)
        started = time.monotonic()
        for i in range(len(data)):
            if time.monotonic() - started > limit:
                break
            try:
                sock.sendall(data[i:i + 1])
                out["bytes"] += 1
            except OSError:
                out["closed_after"] = time.monotonic() - started
                break
            sock.settimeout(interval)
            try:
                chunk = sock.recv(65536)
            except socket.timeout:
                continue
            except OSError:
                chunk = b""
            if not chunk:
                out["closed_after"] = time.monotonic() - started
                break
            out["late"] = out.get("late", b"") + chunk  # e.g. a 408 before the close: keep reading
    finally:
        sock.close()
    out["opened"] = opened
    return out


def _read_answer(sock) -> bytes:
    conn = Http1Connection.__new__(Http1Connection)
    conn.sock, conn.buffer = sock, b""
    r = conn.read_response(timeout=5)
    assert r.status == 200, r.status
    return r.raw_head


@pytest.mark.timeout(120)
def test_slowloris_is_cut_at_the_header_deadline_on_every_port(server_factory):
    """One header byte every 0.5 s: the connection is closed at read_header_timeout (2 s here, on every port; the
    default, 10 s, on a second server's OTLP/HTTP port) + 1 s, however many bytes keep coming. Also: the HTTP/2
    preface on the gRPC port, and a request head trickled after an idle keep-alive period."""
    server = server_factory(query=True, prometheus=True, grpc_extra="read_header_timeout: 2s",
                            http_extra="read_header_timeout: 2s", query_extra="read_header_timeout: 2s",
                            prometheus_extra="read_header_timeout: 2s", telemetry_extra="read_header_timeout: 2s")
    defaults = server_factory(grpc=False)
    preface = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"
    cases = {
        "otlp-http": (server.http_address, b"", SLOW_HEAD, 2.0),
        "query": (server.query_address, b"", SLOW_HEAD, 2.0),
        "prometheus": (server.prometheus_address, b"", SLOW_HEAD, 2.0),
        "otlp-grpc preface": (server.grpc_address, b"", preface + b"\x00" * 40, 2.0),
        "otlp-http after keep-alive": (server.http_address, b"POST /v1/traces HTTP/1.1\r\nHost: a\r\n"
                                       b"Content-Type: application/x-protobuf\r\nContent-Length: 0\r\n\r\n",
                                       SLOW_HEAD, 2.0),
        "self-telemetry": (server.telemetry_address, b"", SLOW_HEAD, 2.0),
        "otlp-http, default read_header_timeout (10 s)": (defaults.http_address, b"", SLOW_HEAD, 10.0),
    }
    results: dict[str, dict] = {}

    def run(name, address, prefix, data, deadline):
        try:
            results[name] = trickle(address, prefix, data, 0.5, deadline + 5)
        except Exception as e:  # noqa: BLE001 - reported below with the others
            results[name] = {"error": repr(e)}

    with RssSampler(server) as rss:
        threads = [threading.Thread(target=run, args=(name, *case), daemon=True) for name, case in cases.items()]
        for t in threads:
            t.start()
        # Meanwhile well-behaved clients are served.
        while any(t.is_alive() for t in threads):
            good_exports(server, "during slowloris")
            time.sleep(0.5)
        for t in threads:
            t.join(30)
    problems = []
    for name, (_, _, _, deadline) in cases.items():
        r = results.get(name, {"error": "no result"})
        if "error" in r:
            problems.append(f"{name}: {r['error']}")
            continue
        print(f"{name}: closed after {r['closed_after']} s, {r['bytes']} bytes trickled")
        if r["closed_after"] is None:
            problems.append(f"{name}: still open after {deadline + 5:.0f} s of trickling ({r['bytes']} bytes)")
        elif not (deadline - 0.3 <= r["closed_after"] <= deadline + 1.0):
            problems.append(f"{name}: closed after {r['closed_after']:.2f} s, expected {deadline} s (+1 s)")
        elif r["bytes"] < int(deadline / 0.5) - 1:
            problems.append(f"{name}: only {r['bytes']} bytes went before the close")
    assert not problems, "\n".join(problems)
    rss.assert_growth_below(50, "slowloris")
    good_exports(server, "after slowloris")


# ---------------------------------------------------------------------------------------------- (b) idle connections


@pytest.mark.timeout(120)
def test_two_thousand_idle_grpc_connections_are_closed_at_the_header_deadline(server_factory):
    import resource
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < 4500:
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, 8192), hard))
    n = 2000
    server = server_factory(grpc_extra="read_header_timeout: 2s")
    sel = selectors.DefaultSelector()
    opened: dict[socket.socket, float] = {}
    closed_after: dict[socket.socket, float] = {}
    with RssSampler(server) as rss, BackgroundExporter(server) as exporter:
        try:
            # In batches, each accepted by the server (its descriptor count grows) before the next: a burst would
            # overflow the listen backlog, and the kernel would hold the dropped ones back a second (SYN retry), so
            # their open time here would not be when the server's deadline started.
            base_fds = len(os.listdir(f"/proc/{server.pid}/fd"))
            for batch in range(n // 100):
                for _ in range(100):
                    s = socket.create_connection(host_port(server.grpc_address), timeout=5)
                    s.setblocking(False)
                    opened[s] = time.monotonic()
                    sel.register(s, selectors.EVENT_READ)
                accept_deadline = time.monotonic() + 2
                while (len(os.listdir(f"/proc/{server.pid}/fd")) < base_fds + len(opened) - 5
                       and time.monotonic() < accept_deadline):
                    time.sleep(0.002)
            last_opened = time.monotonic()
            print(f"{n} connections opened in {last_opened - min(opened.values()):.2f} s")
            deadline = last_opened + 8
            while len(closed_after) < n and time.monotonic() < deadline:
                for key, _ in sel.select(timeout=0.2):
                    s = key.fileobj
                    try:
                        data = s.recv(4096)
                    except ConnectionResetError:
                        data = b""
                    except BlockingIOError:
                        continue
                    if data == b"":
                        closed_after[s] = time.monotonic() - opened[s]
                        sel.unregister(s)
                    elif data:
                        pass  # a server preface (SETTINGS) may come first
            all_closed_at = time.monotonic() - last_opened
        finally:
            for s in opened:
                s.close()
            sel.close()
    still_open = n - len(closed_after)
    assert still_open == 0, f"{still_open} of {n} idle connections still open 8 s after the last was opened"
    times = sorted(closed_after.values())
    print(f"closed after {times[0]:.2f} .. {times[-1]:.2f} s (median {times[n // 2]:.2f}); "
          f"all closed {all_closed_at:.2f} s after the last opened")
    assert times[0] >= 1.7, f"a connection was closed after {times[0]:.2f} s, before read_header_timeout (2 s)"
    assert times[-1] <= 4.0, f"a connection was closed only {times[-1]:.2f} s after it opened (2 s deadline)"
    assert all_closed_at <= 5.0, f"the last connection closed {all_closed_at:.2f} s after the last was opened"
    exporter.assert_kept_working(minimum=10)
    rss.assert_growth_below(150, f"{n} idle gRPC connections")
    good_exports(server, "after the idle connections")


@pytest.mark.timeout(60)
def test_idle_sessions_are_ended_after_the_idle_timeout(server_factory):
    """An HTTP/2 session on the gRPC port with no call for keepalive.server_parameters.max_connection_idle (1 s)
    gets GOAWAY NO_ERROR and is closed; an HTTP/1.1 keep-alive connection idle for idle_timeout (1 s) is closed."""
    server = server_factory(grpc_extra="keepalive:\n  server_parameters:\n    max_connection_idle: 1s",
                            http_extra="idle_timeout: 1s")
    opened = time.monotonic()
    conn = RawH2(server.grpc_address)
    try:
        conn.send(frame(SETTINGS, ACK, 0))
        closed = conn.read_until_closed(6)
        goaway = conn.goaway
        assert goaway is not None and goaway[1] == 0, (goaway, [f[0] for f in conn.frames])
        assert 0.8 <= conn.goaway_at - opened <= 2.0, f"GOAWAY {conn.goaway_at - opened:.2f} s after opening"
        assert closed and conn.closed_at - opened <= 4.0, f"closed={closed}"
        print(f"gRPC: GOAWAY after {conn.goaway_at - opened:.2f} s, closed after {conn.closed_at - opened:.2f} s")
    finally:
        conn.close()
    with Http1Connection(*server.http_host_port) as c:
        assert c.request("POST", "/v1/traces", b"", {"Content-Type": PROTOBUF}).status == 200
        answered = time.monotonic()
        assert c.peer_closed(timeout=4), "an idle keep-alive connection is still open 4 s after its last answer"
        took = time.monotonic() - answered
        print(f"HTTP/1.1: idle connection closed {took:.2f} s after its last answer")
        assert 0.8 <= took <= 3.5, f"closed {took:.2f} s after the last answer (idle_timeout 1 s)"
    good_exports(server, "after idle timeouts")


# ---------------------------------------------------------------------------------------------- (c) max_connections


@pytest.mark.timeout(60)
def test_connections_past_max_connections_are_closed_at_once_without_spinning(server_factory):
    server = server_factory(http_extra="max_connections: 50\nread_header_timeout: 30s\nidle_timeout: 60s")
    host, port = server.http_host_port
    body = make_trace_request(1)[1].SerializeToString()
    headers = {"Content-Type": PROTOBUF}
    held = [Http1Connection(host, port, timeout=10) for _ in range(50)]
    try:
        # Each held connection is admitted: it is answered (then stays open, idle).
        for c in held:
            assert c.request("POST", "/v1/traces", body, headers).status == 200

        def refused_at_once() -> float:
            s = socket.create_connection((host, port), timeout=5)
            started = time.monotonic()
            try:
                s.sendall(b"POST /v1/traces HTTP/1.1\r\nHost: a\r\nContent-Length: 0\r\n\r\n")
            except OSError:
                pass
            try:
                data = s.recv(65536)
            except ConnectionResetError:
                data = b""
            finally:
                s.close()
            assert data == b"", f"connection 51 was answered: {data[:200]!r}"
            return time.monotonic() - started

        took = refused_at_once()
        assert took < 1.0, f"the 51st connection was closed only after {took:.2f} s"

        # Idle at the limit, and while new connections keep arriving (~20/s), the server does not spin.
        for with_attempts in (False, True):
            cpu0, t0 = cpu_seconds(server.pid), time.monotonic()
            attempts = 0
            while time.monotonic() - t0 < 2.0:
                if with_attempts:
                    assert refused_at_once() < 1.0
                    attempts += 1
                time.sleep(0.05)
            cores = (cpu_seconds(server.pid) - cpu0) / (time.monotonic() - t0)
            print(f"at the limit, {attempts} refused connections: server used {cores:.2f} cores")
            assert cores < 0.5, f"server used {cores:.2f} cores while holding max_connections ({attempts} refused)"

        # The held connections still work.
        assert held[0].request("POST", "/v1/traces", body, headers).status == 200
        assert held[49].request("POST", "/v1/traces", body, headers).status == 200
    finally:
        for c in held[:10]:
            c.close()
    try:
        # Released: new connections are admitted again (as soon as the server has seen the closes).
        deadline = time.monotonic() + 3
        while True:
            try:
                with Http1Connection(host, port, timeout=5) as c:
                    if c.request("POST", "/v1/traces", body, headers).status == 200:
                        break
            except ConnectionError:
                pass
            assert time.monotonic() < deadline, "no connection admitted 3 s after 10 were released"
            time.sleep(0.05)
        good_exports(server, "after max_connections")
    finally:
        for c in held[10:]:
            c.close()


# ---------------------------------------------------------------------------------------------- query server (d, e, f)

BIG_TRACE_SPANS = 2000


def _store_big_trace(server, n: int = BIG_TRACE_SPANS, service: str = "big") -> bytes:
    trace_id, request = make_trace_request(n, service=service)
    r = httpx.post(server.url(), content=request.SerializeToString(), headers={"Content-Type": PROTOBUF}, timeout=30)
    assert r.status_code == 200, r.content[:200]
    assert len(stored_span_ids(server.db_path, {trace_id}).get(trace_id, ())) == n
    return trace_id


def _store_series(server, n: int = 2000):
    """n gauge series, so that the prometheus exporter's /metrics is large (about 100 bytes per series)."""
    req = metrics_service_pb2.ExportMetricsServiceRequest()
    rm = req.resource_metrics.add()
    rm.resource.attributes.append(kv("service.name", "abuse"))
    metric = rm.scope_metrics.add().metrics.add(name="abuse_gauge")
    now = time.time_ns()
    for i in range(n):
        p = metric.gauge.data_points.add(time_unix_nano=now, as_double=float(i))
        p.attributes.append(kv("series", f"s{i:05d}"))
    r = httpx.post(server.url("/v1/metrics"), content=req.SerializeToString(), headers={"Content-Type": PROTOBUF},
                   timeout=10)
    assert r.status_code == 200, r.content[:200]


@pytest.fixture(scope="module")
def qserver(otelsink_bin, tmp_path_factory):
    """A server with the query API, the prometheus exporter and self-telemetry (write_timeout 3 s on all three),
    a 2,000-span trace and 2,000 metric series."""
    from conftest import ServerFactory
    factory = ServerFactory(otelsink_bin, tmp_path_factory.mktemp("abuse-query"))
    server = factory(query=True, query_extra="write_timeout: 3s", prometheus=True, prometheus_extra="write_timeout: 3s",
                     telemetry_extra="write_timeout: 3s")
    server.big_trace = _store_big_trace(server)
    _store_series(server)
    yield server
    factory.teardown()


def _never_read(address: str, requests: bytes) -> tuple[socket.socket, int]:
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    # A small receive window, so the server's writes stall after a few responses.
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 16384)
    s.settimeout(10)
    s.connect(host_port(address))
    s.sendall(requests)
    return s, s.getsockname()[1]


def _drain(s: socket.socket, timeout: float = 10.0) -> tuple[bytes, bool]:
    """Reads what is left until the end; (data, whether the connection ended: EOF, or a reset, which is what a
    close with unread pipelined requests in the server's receive buffer sends)."""
    s.settimeout(timeout)
    chunks = []
    try:
        while True:
            c = s.recv(1 << 20)
            if not c:
                return b"".join(chunks), True
            chunks.append(c)
    except ConnectionResetError:
        return b"".join(chunks), True
    except socket.timeout:
        return b"".join(chunks), False


@pytest.mark.timeout(120)
def test_never_reading_client_is_closed_at_the_write_timeout_with_bounded_memory(qserver):
    """Pipelined requests never read: 600 for a 2,000-span trace (about 1 MB of JSON each) to the query API, 600
    for /metrics (2,000 series, about 90 kB) to the prometheus exporter, 2,000 for /metrics (about 8 kB) to
    self-telemetry. The server answers one at a time as the client reads, so its memory stays bounded, and closes
    each connection 3 s (write_timeout) after a response stops moving."""
    server = qserver
    targets = {
        "query": (server.query_address, f"GET /api/traces/{server.big_trace.hex()} HTTP/1.1\r\nHost: q\r\n\r\n",
                  600, 3.0),
        "prometheus": (server.prometheus_address, "GET /metrics HTTP/1.1\r\nHost: p\r\n\r\n", 600, 3.0),
        "self-telemetry": (server.telemetry_address, "GET /metrics HTTP/1.1\r\nHost: t\r\n\r\n", 2000, 3.0),
    }
    sockets = {}
    with RssSampler(server) as rss:
        started = time.monotonic()
        for name, (address, request, n, _) in targets.items():
            sockets[name] = _never_read(address, request.encode() * n)
        closed_at: dict[str, float] = {}
        # When each connection was last seen open: the close happened between then and closed_at (a loop turn,
        # which reads a 2,000-span trace, can take a second on a loaded machine).
        open_at: dict[str, float] = {}
        # A connection counts as closed only once it was seen open: until the server accepts it, a connection
        # waits in the listen backlog with no owner (inode 0), which looks the same as one already closed.
        seen_open: set[str] = set()
        # Meanwhile a well-behaved reader of the same trace and of /metrics is served.
        while time.monotonic() - started < 10:
            for name, (address, _, _, timeout) in targets.items():
                if name in closed_at:
                    continue
                if server_socket_open(host_port(address)[1], sockets[name][1]):
                    seen_open.add(name)
                    open_at[name] = time.monotonic() - started
                elif name in seen_open:
                    closed_at[name] = time.monotonic() - started
            r = httpx.get(f"http://{server.query_address}/api/traces/{server.big_trace.hex()}", timeout=10)
            assert r.status_code == 200 and len(r.json()["data"][0]["spans"]) == BIG_TRACE_SPANS
            assert httpx.get(f"http://{server.prometheus_address}/metrics", timeout=10).status_code == 200
            time.sleep(0.1)
    try:
        for name, (address, _, n, timeout) in targets.items():
            at = closed_at.get(name)
            assert name in seen_open, f"{name}: the server never accepted the connection"
            assert at is not None, f"{name}: the never-reading connection is still open after 10 s"
            last_open = open_at[name]
            print(f"{name}: closed between {last_open:.2f} and {at:.2f} s after the requests were sent")
            # The close fell somewhere in (last_open, at]: that interval must meet [timeout - 0.5, timeout + 2].
            assert at >= timeout - 0.5 and last_open <= timeout + 2.0, \
                f"{name}: closed between {last_open:.2f} and {at:.2f} s (write_timeout {timeout} s)"
            data, ended = _drain(sockets[name][0])
            answered = data.count(b"HTTP/1.1 200")
            print(f"{name}: {answered} of {n} responses reached the client before the close ({len(data)} bytes)")
            assert ended, f"{name}: the connection did not end (client side) after draining"
            assert answered < n, f"{name}: all {n} responses were produced for a client that never read"
        rss.assert_growth_below(100, "never-reading clients")
    finally:
        for s, _ in sockets.values():
            s.close()
    good_exports(server, "after never-reading clients")


# ------------------------------------------------------------------------------------------ (e) repeated IDs, span cap


@pytest.mark.timeout(60)
def test_repeated_trace_ids_are_read_once(qserver):
    tid = qserver.big_trace.hex()
    params = [("traceID", tid)] * 150 + [("traceID", tid.upper())] * 50
    started = time.monotonic()
    r = httpx.get(f"http://{qserver.query_address}/api/traces", params=params, timeout=30)
    took = time.monotonic() - started
    assert r.status_code == 200, r.text[:300]
    body = r.json()
    assert len(body["data"]) == 1, f"{len(body['data'])} copies of the trace"
    assert len(body["data"][0]["spans"]) == BIG_TRACE_SPANS
    assert not body.get("errors"), body.get("errors")
    assert "otelsink-truncated" not in r.headers
    print(f"200 repeated IDs answered in {took:.2f} s, {len(r.content)} bytes")
    assert len(r.content) < 3 * MiB


@pytest.mark.timeout(60)
def test_span_cap_truncates_a_big_trace_and_says_so(server_factory):
    server = server_factory(query=True, query_extra="max_spans_per_response: 500")
    big = _store_big_trace(server)
    small_id, small = make_trace_request(3, service="small")
    assert httpx.post(server.url(), content=small.SerializeToString(), headers={"Content-Type": PROTOBUF},
                      timeout=10).status_code == 200
    base = f"http://{server.query_address}"
    with httpx.Client(base_url=base, timeout=30) as c:
        r = c.get(f"/api/traces/{big.hex()}")
        assert r.status_code == 200, r.text[:300]
        body = r.json()
        assert len(body["data"]) == 1 and len(body["data"][0]["spans"]) == 500
        [err] = body["errors"]
        assert err["code"] == 206 and err["msg"].startswith("trace truncated") and err.get("traceID") == big.hex(), err
        assert "otelsink-truncated" in r.headers, r.headers

        r = c.get(f"/api/v3/traces/{big.hex()}")
        assert r.status_code == 200, r.text[:300]
        body = r.json()
        spans = sum(len(ss["spans"]) for rs in body["result"]["resourceSpans"] for ss in rs["scopeSpans"])
        assert spans == 500
        assert any(w.startswith("trace truncated") for w in body.get("warnings", [])), body.get("warnings")
        assert "otelsink-truncated" in r.headers

        # By IDs: the big one fills the cap; the small one is left unread and says so.
        r = c.get("/api/traces", params=[("traceID", big.hex()), ("traceID", small_id.hex())])
        assert r.status_code == 200
        body = r.json()
        assert sum(len(t["spans"]) for t in body["data"]) <= 500
        by_id = {e.get("traceID"): e for e in body["errors"]}
        assert by_id[big.hex()]["msg"].startswith("trace truncated"), body["errors"]
        assert by_id[small_id.hex()]["code"] == 206 and by_id[small_id.hex()]["msg"].startswith("trace not loaded"), \
            body["errors"]
        assert "otelsink-truncated" in r.headers

        # A small trace alone is whole and unmarked.
        r = c.get(f"/api/traces/{small_id.hex()}")
        assert len(r.json()["data"][0]["spans"]) == 3 and not r.json().get("errors")
        assert "otelsink-truncated" not in r.headers


# ---------------------------------------------------------------------------------------------- (f) tag criteria


@pytest.mark.timeout(60)
def test_too_many_tag_criteria_is_400_naming_the_limit(qserver):
    base = f"http://{qserver.query_address}"
    with httpx.Client(base_url=base, timeout=10) as c:
        ok = c.get("/api/traces", params={"service": "big", "tags": json.dumps({f"k{i}": "v" for i in range(32)})})
        assert ok.status_code == 200, ok.text[:300]
        for params in ({"service": "big", "tags": json.dumps({f"k{i}": "v" for i in range(33)})},
                       [("service", "big")] + [("tag", f"k{i}:v") for i in range(33)],
                       [("service", "big"), ("tags", json.dumps({f"k{i}": "v" for i in range(20)}))]
                       + [("tag", f"t{i}:v") for i in range(13)]):
            r = c.get("/api/traces", params=params)
            assert r.status_code == 400, (r.status_code, r.text[:300])
            [err] = r.json()["errors"]
            assert "at most 32" in err["msg"] and "33" in err["msg"], err
        r = c.get("/api/v3/traces", params={"query.service_name": "big",
                                           "query.attributes": json.dumps({f"k{i}": "v" for i in range(33)})})
        assert r.status_code == 400, (r.status_code, r.text[:300])
        assert "at most 32" in r.json()["error"]["message"], r.text[:300]
        r = c.get("/api/v3/traces", params={"query.service_name": "big",
                                           "query.attributes": json.dumps({f"k{i}": "v" for i in range(32)})})
        assert r.status_code in (200, 404), r.text[:300]  # 404: no trace has those attributes


# ---------------------------------------------------------------------------------------------- (g) large bodies


def _request_just_under(limit: int, encode) -> tuple[bytes, set[bytes], bytes]:
    """A request whose encoding (`encode(request) -> bytes`) is a little under `limit`: spans with a 64 KiB string
    attribute each, padded with one smaller attribute. Returns (body, span ids, trace id)."""
    trace_id = new_trace_id()
    blob = "x" * (64 * 1024)

    def build(n: int, pad: int):
        spans = [make_span(trace_id, f"big-{i}", blob=blob) for i in range(n)]
        if pad:
            spans.append(make_span(trace_id, "pad", blob="y" * pad))
        return make_request(spans)

    one = len(encode(build(1, 0))) - len(encode(build(0, 0)))
    n = (limit - 64 * 1024) // one
    req = build(n, 0)
    pad = max(0, limit - len(encode(req)) - 2048)
    req = build(n, pad)
    body = encode(req)
    assert limit - 8192 < len(body) < limit, (len(body), limit)
    return body, {s.span_id for s in req.resource_spans[0].scope_spans[0].spans}, trace_id


@pytest.mark.timeout(120)
@pytest.mark.parametrize("content_type", [PROTOBUF, JSON], ids=["protobuf", "json"])
def test_bodies_just_under_the_limit_are_accepted_and_stored(server_factory, content_type):
    limit = 20 * MiB
    server = server_factory()
    encode = (lambda r: r.SerializeToString()) if content_type == PROTOBUF else (
        lambda r: json.dumps(to_otlp_json(r)).encode())
    body, span_ids, trace_id = _request_just_under(limit, encode)
    print(f"{content_type}: {len(body)} bytes, {len(span_ids)} spans")
    r = httpx.post(server.url(), content=body, headers={"Content-Type": content_type}, timeout=60)
    assert r.status_code == 200, (r.status_code, r.content[:300])
    assert stored_span_ids(server.db_path, {trace_id}).get(trace_id) == span_ids
    good_exports(server, "after a large body")


# ---------------------------------------------------------------------------------------------- raw HTTP/2

PREFACE = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"
DATA, HEADERS, RST_STREAM, SETTINGS, PING, GOAWAY, WINDOW_UPDATE, CONTINUATION = 0, 1, 3, 4, 6, 7, 8, 9
END_STREAM, END_HEADERS, ACK = 0x1, 0x4, 0x1
ERROR_NAMES = {0: "NO_ERROR", 1: "PROTOCOL_ERROR", 2: "INTERNAL_ERROR", 3: "FLOW_CONTROL_ERROR", 6: "FRAME_SIZE_ERROR",
               7: "REFUSED_STREAM", 9: "COMPRESSION_ERROR", 11: "ENHANCE_YOUR_CALM"}


def frame(kind: int, flags: int, stream: int, payload: bytes = b"") -> bytes:
    return len(payload).to_bytes(3, "big") + bytes([kind, flags]) + stream.to_bytes(4, "big") + payload


def grpc_headers(encoder: hpack.Encoder, address: str) -> bytes:
    return encoder.encode([(":method", "POST"), (":scheme", "http"), (":path", GRPC_EXPORT), (":authority", address),
                           ("content-type", "application/grpc"), ("te", "trailers")])


class RawH2:
    """A hand-driven HTTP/2 connection that can send what h2 refuses to; reads frames until the server closes."""

    def __init__(self, address: str):
        self.address = address
        self.sock = socket.create_connection(host_port(address), timeout=5)
        self.sock.sendall(PREFACE + frame(SETTINGS, 0, 0))
        self.buffer = b""
        self.frames: list[tuple[int, int, int, bytes]] = []
        self.goaway_at: float | None = None
        self.closed_at: float | None = None
        self.encoder = hpack.Encoder()

    def send(self, data: bytes):
        try:
            self.sock.sendall(data)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the server may close before everything is sent

    @property
    def goaway(self) -> tuple[int, int, bytes] | None:
        """(last stream id, error code, debug data) of the first GOAWAY."""
        for kind, _, _, payload in self.frames:
            if kind == GOAWAY:
                return (int.from_bytes(payload[:4], "big") & 0x7FFFFFFF, int.from_bytes(payload[4:8], "big"),
                        payload[8:])
        return None

    def read_until_closed(self, timeout: float) -> bool:
        """Reads (acknowledging nothing) until EOF or reset; True when the server closed within `timeout`."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            self.sock.settimeout(max(0.01, deadline - time.monotonic()))
            try:
                data = self.sock.recv(1 << 16)
            except socket.timeout:
                break
            except ConnectionResetError:
                data = b""
            if not data:
                self.closed_at = time.monotonic()
                return True  # self.buffer keeps a frame cut short by the close, if any
            self.buffer += data
            while len(self.buffer) >= 9:
                length = int.from_bytes(self.buffer[:3], "big")
                if len(self.buffer) < 9 + length:
                    break
                kind, flags = self.buffer[3], self.buffer[4]
                stream = int.from_bytes(self.buffer[5:9], "big") & 0x7FFFFFFF
                self.frames.append((kind, flags, stream, self.buffer[9:9 + length]))
                if kind == GOAWAY and self.goaway_at is None:
                    self.goaway_at = time.monotonic()
                self.buffer = self.buffer[9 + length:]
        return False

    def close(self):
        self.sock.close()


def assert_goaway_then_close(conn: RawH2, what: str, code: int | None = None, timeout: float = 5.0):
    closed = conn.read_until_closed(timeout)
    goaway = conn.goaway
    assert goaway is not None, (f"{what}: no complete GOAWAY (frame types {[f[0] for f in conn.frames][:20]}, "
                                f"closed={closed}, incomplete frame at the end: {conn.buffer[:64].hex() or 'none'})")
    name = ERROR_NAMES.get(goaway[1], hex(goaway[1]))
    after = f"{conn.closed_at - conn.goaway_at:.2f} s later" if closed else "not closed"
    summary = f"{what}: GOAWAY {name} {goaway[2][:80]!r}, closed {after}"
    assert goaway[1] != 0, f"{what}: GOAWAY with NO_ERROR"
    if code is not None:
        assert goaway[1] == code, f"{what}: GOAWAY {name}, expected {ERROR_NAMES[code]}"
    assert closed, f"{what}: GOAWAY {name} sent but the connection is still open {timeout} s later"
    assert conn.closed_at - conn.goaway_at < 3.0, f"{what}: closed {conn.closed_at - conn.goaway_at:.2f} s after GOAWAY"
    return summary


# ---------------------------------------------------------------------------------------------- (h) GOAWAY then close

VIOLATIONS = {
    "DATA on stream 0": frame(DATA, 0, 0, b"hello"),
    "WINDOW_UPDATE of 0 on stream 0": frame(WINDOW_UPDATE, 0, 0, (0).to_bytes(4, "big")),
    "SETTINGS of 5 bytes": frame(SETTINGS, 0, 0, b"\x00\x04\x00\x00\x01"),
    "HEADERS on an even stream": None,  # built per connection (needs the HPACK encoder)
}


@pytest.mark.timeout(60)
@pytest.mark.parametrize("violation", list(VIOLATIONS))
@pytest.mark.parametrize("port", ["grpc", "http"])
def test_protocol_error_gets_goaway_and_the_connection_closed(module_server, violation, port):
    address = module_server.grpc_address if port == "grpc" else module_server.http_address
    conn = RawH2(address)
    try:
        payload = VIOLATIONS[violation]
        if payload is None:
            payload = frame(HEADERS, END_HEADERS | END_STREAM, 2, grpc_headers(conn.encoder, address))
        conn.send(payload)
        print(assert_goaway_then_close(conn, f"{port}: {violation}"))
    finally:
        conn.close()
    good_exports(module_server, f"after {violation}")


# ---------------------------------------------------------------------------------------------- (i) floods


def _rapid_reset(conn: RawH2, n: int = 300):
    out = b""
    for i in range(n):
        sid = 1 + 2 * i
        out += frame(HEADERS, END_HEADERS, sid, grpc_headers(conn.encoder, conn.address))
        out += frame(RST_STREAM, 0, sid, (8).to_bytes(4, "big"))  # CANCEL
    conn.send(out)


def _continuation_flood(conn: RawH2, n: int = 2000):
    block = grpc_headers(conn.encoder, conn.address)
    out = frame(HEADERS, 0, 1, block)
    piece = hpack.Encoder().encode([("x-flood", "a" * 8)])
    out += b"".join(frame(CONTINUATION, 0, 1, piece) for _ in range(n))
    conn.send(out)


def _ping_flood(conn: RawH2, n: int = 10):
    conn.send(b"".join(frame(PING, 0, 0, i.to_bytes(8, "big")) for i in range(n)))


FLOODS = {
    "rapid reset (300 HEADERS+RST_STREAM)": (_rapid_reset, None),
    "CONTINUATION flood (2000 frames)": (_continuation_flood, None),
    "ping flood without calls (keepalive enforcement)": (_ping_flood, 11),
}
@pytest.mark.timeout(60)
@pytest.mark.parametrize("flood", list(FLOODS))
def test_floods_get_goaway_and_close_while_others_are_served(module_server, flood):
    """Each flood on a fresh connection, again and again for 2 s while a well-behaved exporter keeps exporting:
    every time GOAWAY with an error code, then the connection closed; memory bounded."""
    send, code = FLOODS[flood]
    rounds = 0
    with RssSampler(module_server) as rss, BackgroundExporter(module_server) as exporter:
        started = time.monotonic()
        while rounds < 3 or time.monotonic() - started < 2.0:
            conn = RawH2(module_server.grpc_address)
            try:
                send(conn)
                summary = assert_goaway_then_close(conn, f"{flood} #{rounds + 1}", code=code)
                if rounds == 0:
                    print(summary)
                if code == 11:
                    assert conn.goaway[2] == b"too_many_pings", conn.goaway
            finally:
                conn.close()
            rounds += 1
    print(f"{flood}: {rounds} rounds, {exporter.ok} exports meanwhile")
    exporter.assert_kept_working()
    rss.assert_growth_below(100, flood)
    good_exports(module_server, f"after {flood}")


# ------------------------------------------------------------------------------ (i2) malformed request header blocks

MALFORMED_HEADERS = {
    "uppercase field name": [("X-Custom", "1")],
    "connection-specific field": [("connection", "close")],
    "te other than trailers": [("te", "gzip")],
    "CR in a value": [("x-note", "a\rb")],
    "pseudo-header field after regular ones": [(":path", "/late")],
    "response pseudo-header field": [(":status", "200")],
}


@pytest.mark.timeout(30)
@pytest.mark.parametrize("malformed", list(MALFORMED_HEADERS))
def test_a_malformed_grpc_header_block_resets_its_stream_and_the_connection_serves_on(module_server, malformed):
    """RFC 9113 §8.1.1: a malformed request is a stream error of type PROTOCOL_ERROR. otelsink checks gRPC header
    blocks itself (swift-nio-http2's check is off on that listener, for speed): the stream is reset, and a
    well-formed call on the same connection right after it is answered."""
    address = module_server.grpc_address
    conn = RawH2(address)
    try:
        base = [(":method", "POST"), (":scheme", "http"), (":path", GRPC_EXPORT), (":authority", address),
                ("content-type", "application/grpc"), ("te", "trailers")]
        bad = [f for f in base if not (f[0] == "te" and malformed == "te other than trailers")]
        conn.send(frame(HEADERS, END_HEADERS | END_STREAM, 1, conn.encoder.encode(bad + MALFORMED_HEADERS[malformed])))
        conn.send(frame(HEADERS, END_HEADERS, 3, conn.encoder.encode(base)) + frame(DATA, END_STREAM, 3, b"\0\0\0\0\0"))
        conn.read_until_closed(2.0)
        resets = [(stream, int.from_bytes(payload[:4], "big")) for kind, _, stream, payload in conn.frames if kind == RST_STREAM]
        assert resets == [(1, 1)], f"{malformed}: resets {resets} (expected stream 1 PROTOCOL_ERROR)"
        assert conn.goaway is None, f"{malformed}: GOAWAY {conn.goaway}"
        decoder = hpack.Decoder()
        blocks = [(stream, dict(decoder.decode(payload))) for kind, _, stream, payload in conn.frames if kind == HEADERS]
        assert [b for s, b in blocks if s == 3 and "grpc-status" in b] == [{"grpc-status": "0"}], f"{malformed}: {blocks}"
    finally:
        conn.close()


@pytest.mark.timeout(30)
def test_a_grpc_answer_waits_for_the_clients_flow_control_window_and_arrives_whole(module_server):
    """The gRPC listener's HTTP/2 respects the client's windows (RFC 9113 §6.9): a client that starts its streams
    with no window (SETTINGS_INITIAL_WINDOW_SIZE 0) gets the answer's headers, but its message only as the window
    opens, byte for byte, and the trailers after it; the connection is not ended."""
    conn = RawH2(module_server.grpc_address)
    try:
        conn.send(frame(SETTINGS, 0, 0, (4).to_bytes(2, "big") + (0).to_bytes(4, "big")))
        conn.send(frame(HEADERS, END_HEADERS, 1, grpc_headers(conn.encoder, conn.address))
                  + frame(DATA, END_STREAM, 1, b"\0\0\0\0\0"))
        conn.read_until_closed(1.0)
        on_stream = [(kind, flags, payload) for kind, flags, stream, payload in conn.frames if stream == 1]
        assert [kind for kind, _, _ in on_stream] == [HEADERS], f"before any window: {on_stream}"
        conn.send(frame(WINDOW_UPDATE, 0, 1, (2).to_bytes(4, "big")))
        conn.read_until_closed(0.5)
        conn.send(frame(WINDOW_UPDATE, 0, 1, (100).to_bytes(4, "big")))
        conn.read_until_closed(1.0)
        on_stream = [(kind, flags, payload) for kind, flags, stream, payload in conn.frames if stream == 1]
        data = [payload for kind, _, payload in on_stream if kind == DATA]
        assert [kind for kind, _, _ in on_stream] == [HEADERS, DATA, DATA, HEADERS], on_stream
        assert len(data[0]) == 2 and data[0] + data[1] == b"\0\0\0\0\0", data  # an empty ExportTraceServiceResponse
        decoder = hpack.Decoder()
        blocks = [dict(decoder.decode(payload)) for kind, _, payload in on_stream if kind == HEADERS]
        assert blocks[0][":status"] == "200" and blocks[1] == {"grpc-status": "0"}, blocks
        assert on_stream[-1][1] & END_STREAM and conn.goaway is None and conn.closed_at is None
    finally:
        conn.close()


@pytest.mark.timeout(90)
def test_a_grpc_client_that_never_reads_is_not_read_from_either(server_factory):
    """Empty exports sent as fast as the socket takes them on one connection, its flow-control windows wide open, no
    answer ever read: once the answers fill the socket's buffers the server stops reading that connection, so the client's sends block (for 2 s and
    more) and the server's memory stays bounded; other clients are served meanwhile and after. (The client cannot
    see streams close without reading, so the server allows it many.)"""
    module_server = server_factory(grpc_extra="max_concurrent_streams: 10000")
    conn = RawH2(module_server.grpc_address)
    with RssSampler(module_server) as rss:
        try:
            # Flow-control windows opened all the way: only TCP can hold the answers back.
            conn.send(frame(SETTINGS, 0, 0, (4).to_bytes(2, "big") + (2**31 - 1).to_bytes(4, "big"))
                      + frame(WINDOW_UPDATE, 0, 0, (2**31 - 1 - 65_535).to_bytes(4, "big")))
            conn.send(frame(HEADERS, END_HEADERS, 1, grpc_headers(conn.encoder, conn.address)) + frame(DATA, END_STREAM, 1, b"\0" * 5))
            block = grpc_headers(conn.encoder, conn.address)  # from now on the same bytes (every field indexed)
            conn.sock.setblocking(False)
            stream, sent, pending, blocked_since = 3, 0, b"", None
            deadline = time.monotonic() + 30
            while time.monotonic() < deadline:
                if not pending:
                    pending = b"".join(frame(HEADERS, END_HEADERS, s, block) + frame(DATA, END_STREAM, s, b"\0" * 5)
                                       for s in range(stream, stream + 200, 2))
                    stream += 200
                    time.sleep(0.005)  # a hundred calls at a time, well within the streams allowed
                try:
                    n = conn.sock.send(pending)
                    pending, sent, blocked_since = pending[n:], sent + n, None
                except BlockingIOError:
                    blocked_since = blocked_since or time.monotonic()
                    if time.monotonic() - blocked_since > 2.0:
                        break
                    time.sleep(0.01)
            print(f"{sent / 1e6:.1f} MB of calls sent ({(stream - 3) // 2} calls) before the server stopped reading")
            assert blocked_since is not None and time.monotonic() - blocked_since > 2.0, \
                f"the server kept reading: {sent / 1e6:.1f} MB of calls sent in 30 s, never held up for 2 s"
            good_exports(module_server, "while a client does not read")
        finally:
            conn.close()
    rss.assert_growth_below(100, "a client that never reads")
    good_exports(module_server, "after a client that did not read")


# ------------------------------------------------------------------------------------------ (j) gRPC decompression bomb


@pytest.mark.timeout(60)
def test_grpc_gzip_bomb_is_resource_exhausted_without_inflating_it(server_factory):
    """1 GiB of zeros gzip-compressed (about 1 MB, under the 4 MiB message limit) as one gRPC message: refused
    with RESOURCE_EXHAUSTED once the inflated size passes the limit, memory bounded. (The OTLP/HTTP side is
    test_bad_input.py::test_gzip_bomb_is_413_without_inflating_it.)"""
    server = server_factory()
    c = zlib.compressobj(9, zlib.DEFLATED, 31)
    zeros = bytes(MiB)
    bomb = b"".join([c.compress(zeros) for _ in range(1024)] + [c.flush()])
    assert len(bomb) < 2 * MiB
    message = b"\x01" + len(bomb).to_bytes(4, "big") + bomb
    with RssSampler(server) as rss:
        started = time.monotonic()
        answers = []
        for _ in range(3):
            with H2Connection(*host_port(server.grpc_address), timeout=30) as h2:
                answers.append(h2.requests([("POST", GRPC_EXPORT, message, {
                    "content-type": "application/grpc", "te": "trailers", "grpc-encoding": "gzip"})])[0])
        took = time.monotonic() - started
    for r in answers:
        assert r.status == 200 and r.headers.get("grpc-status") == "8", (r.status, r.headers)
    print(f"3 bombs refused in {took:.2f} s: {answers[0].headers.get('grpc-message')!r}")
    assert took < 20
    rss.assert_growth_below(150, "gRPC gzip bombs")
    good_exports(server, "after gRPC gzip bombs")
