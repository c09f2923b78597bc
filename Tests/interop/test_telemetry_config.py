"""`service.telemetry` in otelcol's current shape, against the real server: the self-telemetry endpoint given as a
pull reader with a prometheus exporter, and `logs.encoding: json` — every line on standard error is one JSON object
(with span text that holds quotes and newlines passing through the debug exporter), including the `listening` lines
that say where each port is."""

import json
import signal
import subprocess
import time
import urllib.request

from conftest import otelsink_binary
from otlp_util import make_request, make_span, new_trace_id

CONFIG = """receivers:
  otlp:
    protocols:
      http:
        endpoint: 127.0.0.1:0
exporters:
  debug:
    verbosity: detailed
service:
  telemetry:
    logs:
      encoding: json
    metrics:
      readers:
        - pull:
            exporter:
              prometheus:
                host: 127.0.0.1
                port: 0
  pipelines:
    traces:
      receivers: [otlp]
      exporters: [debug]
"""


def test_json_logs_and_a_pull_reader(tmp_path):
    config = tmp_path / "otelsink.yaml"
    config.write_text(CONFIG)
    log_path = tmp_path / "otelsink.log"
    with open(log_path, "wb") as log:
        proc = subprocess.Popen([str(otelsink_binary()), "serve", "--config", str(config)],
                                stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT)
    try:
        addresses = {}
        deadline = time.monotonic() + 20
        while len(addresses) < 2 and time.monotonic() < deadline:
            for line in log_path.read_text().splitlines():
                event = json.loads(line)
                if event.get("msg") == "listening":
                    addresses[event["protocol"]] = event["address"]
            time.sleep(0.05)
        assert set(addresses) == {"http", "telemetry"}, log_path.read_text()

        hostile = 'evil"name\nwith {"json": 1}\r\x1b[31m'
        body = make_request([make_span(new_trace_id(), name=hostile)]).SerializeToString()
        req = urllib.request.Request(f"http://{addresses['http']}/v1/traces", data=body,
                                     headers={"Content-Type": "application/x-protobuf"})
        with urllib.request.urlopen(req, timeout=10) as r:
            assert r.status == 200
        with urllib.request.urlopen(f"http://{addresses['telemetry']}/metrics", timeout=10) as r:
            assert b"otelcol_receiver_accepted_spans_total" in r.read()
    finally:
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=30) == 0

    events = [json.loads(line) for line in log_path.read_text().splitlines()]
    assert all({"level", "ts", "msg"} <= set(e) for e in events), events
    assert any(e["msg"] == "otelsink stopped" for e in events)
    assert any("evil" in e["msg"] for e in events), "the debug exporter's line is missing"
