"""Starts otelsink for the Python benchmarks: `otelsink serve` with a given config on ephemeral loopback ports,
its output in a log file, and the addresses it logged once it listens."""
import os
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
