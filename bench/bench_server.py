"""Starts otelsink for the Python benchmarks: `otelsink serve` with a config on ephemeral loopback ports, its output
in a log file, and the addresses it logged once it listens; and the figures' median and range."""
import os
import statistics
import re
import subprocess
import sys
import time
from pathlib import Path


def start(binary: str, work: str, config_text: str, query: bool = True):
    """Writes `config_text` to `work`/config.yaml and starts otelsink with it; returns the process, the OTLP/HTTP
    address and (when `query`) the query API's address, as `host:port`. Exits with the server's log when it does not
    start within 60 s."""
    config = os.path.join(work, "config.yaml")
    Path(config).write_text(config_text)
    log_path = os.path.join(work, "server.log")
    proc = subprocess.Popen([binary, "serve", "--config", config], stdout=open(log_path, "wb"), stderr=subprocess.STDOUT,
                            stdin=subprocess.DEVNULL)
    http_addr = query_addr = None
    deadline = time.monotonic() + 60
    while not (http_addr and (query_addr or not query)):
        if proc.poll() is not None or time.monotonic() > deadline:
            proc.kill()
            sys.exit("otelsink did not start:\n" + open(log_path).read()[-3000:])
        for line in open(log_path, errors="replace"):
            if "listening" in line:
                fields = dict(re.findall(r"(\w+)=(\S+)", line))
                if fields.get("component") == "extension/query":
                    query_addr = fields["address"]
                elif fields.get("protocol") == "http":
                    http_addr = fields["address"]
        time.sleep(0.05)
    return proc, http_addr, query_addr


def config(db: str | None, query: bool = True, logs: bool = False, max_body: int = 67_108_864) -> str:
    """OTLP/HTTP in on an ephemeral port; traces (and logs when `logs`) to the `sqlite` exporter at `db`, or to `nop`
    when `db` is None; the query API on an ephemeral port when `query`; no self-telemetry."""
    exporter = f"sqlite:\n    path: {db}" if db else "nop:"
    name = "sqlite" if db else "nop"
    text = f"""receivers:
  otlp:
    protocols:
      http:
        endpoint: 127.0.0.1:0
        max_request_body_size: {max_body}
exporters:
  {exporter}
"""
    if query:
        text += f"""extensions:
  query:
    endpoint: 127.0.0.1:0
    storage: {name}
"""
    text += "service:\n" + ("  extensions: [query]\n" if query else "") + f"""  telemetry:
    metrics:
      level: none
  pipelines:
    traces:
      receivers: [otlp]
      exporters: [{name}]
"""
    if logs:
        text += f"""    logs:
      receivers: [otlp]
      exporters: [{name}]
"""
    return text


def summary(values):
    """Median, min and max (one decimal) and the number of values."""
    return {"median": round(statistics.median(values), 1), "min": round(min(values), 1), "max": round(max(values), 1),
            "runs": len(values)}
