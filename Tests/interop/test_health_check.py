"""The `health_check` extension through a real server's life: 503 or no answer while starting, 200 with otelcol's
JSON while serving, 503 from the moment SIGTERM arrives while receivers still finish a request in flight, and a
clean exit."""

import json
import re
import signal
import socket
import time
import urllib.error
import urllib.request

from otlp_util import make_request, make_span, new_trace_id



def config_text(db_path, extra: str = "") -> str:
    return f"""receivers:
  otlp:
    protocols:
      http:
        endpoint: 127.0.0.1:0
exporters:
  sqlite:
    path: {db_path}
extensions:
  health_check:
    endpoint: 127.0.0.1:0
    path: /healthz
{extra}
service:
  extensions: [health_check]
  telemetry:
    metrics:
      address: 127.0.0.1:0
  pipelines:
    traces:
      receivers: [otlp]
      exporters: [sqlite]
"""


def health_address(server) -> str:
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        for line in server.log().splitlines():
            if "listening" in line and "extension/health_check" in line:
                m = re.search(r"address=(\S+)", line)
                if m:
                    return m.group(1).strip('"')
        time.sleep(0.02)
    raise AssertionError(f"health_check never listened:\n{server.log()}")


def probe(address: str, path: str = "/healthz") -> tuple[int, bytes, str]:
    try:
        with urllib.request.urlopen(f"http://{address}{path}", timeout=5) as r:
            return r.status, r.read(), r.headers.get("Content-Type", "")
    except urllib.error.HTTPError as e:
        return e.code, e.read(), e.headers.get("Content-Type", "")


def wait_until_serving(address: str) -> tuple[int, bytes, str]:
    """Probes until 200 (receivers may still be binding when the probe's own port is up); before that, only 503 or no
    answer is acceptable."""
    deadline = time.monotonic() + 20
    while True:
        try:
            answer = probe(address)
        except OSError:
            answer = None
        if answer and answer[0] == 200:
            return answer
        assert answer is None or answer[0] == 503, answer
        assert time.monotonic() < deadline, "never became ready"
        time.sleep(0.01)


def test_health_check_serving_then_unavailable_from_sigterm_while_a_request_finishes(server_factory, tmp_path):
    db = tmp_path / "health.db"
    server = server_factory(config_text=config_text(db), db_path=db)
    address = health_address(server)

    status, body, content_type = wait_until_serving(address)
    assert content_type == "application/json"
    doc = json.loads(body)
    assert doc["status"] == "Server available"
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z", doc["upSince"]), doc
    assert re.fullmatch(r"[0-9hm.]+(ns|µs|ms|s)", doc["uptime"]), doc

    assert probe(address, "/other")[0] == 404

    # A request whose body is still arriving keeps the receiver draining after SIGTERM.
    payload = make_request([make_span(new_trace_id(), name="held")]).SerializeToString()
    host, port = server.http_host_port
    held = socket.create_connection((host, port), timeout=10)
    held.sendall(f"POST /v1/traces HTTP/1.1\r\nHost: {host}\r\nContent-Type: application/x-protobuf\r\n"
                 f"Content-Length: {len(payload)}\r\n\r\n".encode() + payload[:5])
    time.sleep(0.2)

    server.proc.send_signal(signal.SIGTERM)
    seen = []
    deadline = time.monotonic() + 3
    while time.monotonic() < deadline:
        try:
            seen.append(probe(address)[0])
        except OSError:
            seen.append("refused")
        if seen[-1] == 503:
            break
        time.sleep(0.02)
    assert seen and seen[-1] == 503, f"expected 503 during shutdown, saw {seen}"
    status, body, _ = probe(address)
    assert status == 503 and json.loads(body)["status"] == "Server not available"

    held.sendall(payload[5:])
    answer = held.recv(4096)
    held.close()
    assert answer.startswith(b"HTTP/1.1 200"), answer
    assert server.proc.wait(timeout=30) == 0
    server._close_log()


def test_health_check_custom_bodies_and_pipeline_check_keys_load(server_factory, tmp_path):
    db = tmp_path / "health.db"
    extra = """    response_body:
      healthy: I'm OK
      unhealthy: I'm not well
    check_collector_pipeline:
      enabled: true
      interval: 1m
      exporter_failure_threshold: 3"""
    server = server_factory(config_text=config_text(db, extra), db_path=db)
    address = health_address(server)
    status, body, _ = wait_until_serving(address)
    assert body == b"I'm OK"
