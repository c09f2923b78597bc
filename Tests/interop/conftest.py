"""Fixtures for the interop tests: a real `otelsink serve` process on loopback ports chosen by the OS.

The binary is `$OTELSINK_BIN`, else `<repo>/.build/debug/otelsink` (build it with `swift build --product otelsink`).
"""

from __future__ import annotations

import hashlib
import os
import re
import signal
import ssl
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

REPO_ROOT = Path(__file__).resolve().parents[2]
DEFAULT_BIN = REPO_ROOT / ".build" / "debug" / "otelsink"

START_TIMEOUT = 30.0
STOP_TIMEOUT = 15.0
MAX_REQUEST_BODY = 20 * 1024 * 1024

_LISTENING = re.compile(r"\blistening\b")
_FIELD = re.compile(r"(\w+)=(\S+)")
# `query` listed in service.extensions (alone, as before, or with other extensions).
_QUERY_IN_SERVICE = re.compile(r"extensions: \[(?:[^\]\n]*, )?query(?:, [^\]\n]*)?\]")


def otelsink_binary() -> Path:
    return Path(os.environ.get("OTELSINK_BIN") or DEFAULT_BIN)


def write_config(path: Path, db_path: Path, *, grpc_max_mib: int = 4, grpc_in_flight: int | None = None,
                 http_max_body: int = MAX_REQUEST_BODY,
                 sqlite_extra: str = "", grpc: bool = True, http: bool = True, debug_verbosity: str = "basic",
                 query: bool = False, query_extra: str = "",
                 prometheus: bool = False, spanmetrics: bool = False, open_metrics: bool = False,
                 grpc_extra: str = "", http_extra: str = "", prometheus_extra: str = "",
                 extensions_extra: str = "", service_extensions: tuple[str, ...] = (),
                 telemetry_extra: str = "", logs_exporters: str = "[debug]") -> Path:
    """A config on loopback port 0. `prometheus` adds the prometheus exporter to the metrics pipeline;
    `spanmetrics` (implies `prometheus`) adds the spanmetrics connector from traces to metrics.

    `grpc_extra`, `http_extra`, `prometheus_extra`: YAML added under `protocols.grpc`, `protocols.http` and
    `exporters.prometheus` (tls, auth, listener bounds); `extensions_extra`: YAML added under `extensions`
    (e.g. a `bearertokenauth` extension), whose names go in `service_extensions`; `telemetry_extra`: YAML added
    under `service.telemetry.metrics` (the self-telemetry listener's keys); `logs_exporters`: the logs pipeline's
    exporters (e.g. `"[sqlite]"` to store log records)."""
    prometheus = prometheus or spanmetrics
    protocols = ""
    if grpc:
        protocols += f"""
      grpc:
        endpoint: 127.0.0.1:0
        max_recv_msg_size_mib: {grpc_max_mib}"""
        if grpc_in_flight is not None:
            protocols += f"""
        max_in_flight_bytes: {grpc_in_flight}"""
        protocols += "".join(f"\n        {line}" for line in grpc_extra.strip("\n").splitlines())
    if http:
        protocols += f"""
      http:
        endpoint: 127.0.0.1:0
        max_request_body_size: {http_max_body}"""
        protocols += "".join(f"\n        {line}" for line in http_extra.strip("\n").splitlines())
    extra = "".join(f"\n    {line}" for line in sqlite_extra.strip().splitlines())
    query_lines = "".join(f"\n    {line}" for line in query_extra.strip().splitlines())
    more_extensions = "".join(f"\n  {line}" for line in extensions_extra.strip("\n").splitlines())
    query_extension = f"""
  query:
    endpoint: 127.0.0.1:0
    storage: sqlite{query_lines}""" if query else ""
    extensions = f"extensions:{more_extensions}{query_extension}\n" if query or more_extensions else ""
    extension_names = (["query"] if query else []) + list(service_extensions)
    service_extensions = f"\n  extensions: [{', '.join(extension_names)}]" if extension_names else ""
    prom = f"""
  prometheus:
    endpoint: 127.0.0.1:0
    enable_open_metrics: {str(open_metrics).lower()}""" if prometheus else ""
    if prometheus:
        prom += "".join(f"\n    {line}" for line in prometheus_extra.strip("\n").splitlines())
    connectors = """
connectors:
  spanmetrics:
    exemplars:
      enabled: true
    metrics_flush_interval: 1s""" if spanmetrics else ""
    metrics_exporters = "[debug, prometheus]" if prometheus else "[debug]"
    traces_exporters = "[sqlite, spanmetrics]" if spanmetrics else "[sqlite]"
    metrics_receivers = "[otlp, spanmetrics]" if spanmetrics else "[otlp]"
    telemetry_lines = "".join(f"\n      {line}" for line in telemetry_extra.strip("\n").splitlines())
    path.write_text(f"""{extensions}receivers:
  otlp:
    protocols:{protocols}
exporters:
  sqlite:
    path: {db_path}{extra}
  debug:
    verbosity: {debug_verbosity}{prom}{connectors}
service:{service_extensions}
  telemetry:
    metrics:
      address: 127.0.0.1:0{telemetry_lines}
  pipelines:
    traces:
      receivers: [otlp]
      exporters: {traces_exporters}
    metrics:
      receivers: {metrics_receivers}
      exporters: {metrics_exporters}
    logs:
      receivers: [otlp]
      exporters: {logs_exporters}
""")
    return path


class OtelsinkServer:
    """One `otelsink serve` process; can be started again on the same config (and so the same database)."""

    def __init__(self, binary: Path, workdir: Path, config: Path, db_path: Path):
        self.binary = binary
        self.workdir = workdir
        self.config = config
        self.db_path = db_path
        self.proc: subprocess.Popen | None = None
        self.grpc_address: str | None = None
        self.http_address: str | None = None
        self.query_address: str | None = None
        self.telemetry_address: str | None = None
        self.prometheus_address: str | None = None
        self.starts = 0
        self.log_path: Path | None = None
        self._log_file = None

    # -- lifecycle

    def start(self, timeout: float = START_TIMEOUT) -> "OtelsinkServer":
        assert self.proc is None or self.proc.poll() is not None, "already running"
        self.starts += 1
        self.log_path = self.workdir / f"otelsink-{self.starts}.log"
        self._log_file = open(self.log_path, "wb")
        self.grpc_address = self.http_address = self.query_address = self.telemetry_address = self.prometheus_address = None
        self.proc = subprocess.Popen(
            [str(self.binary), "serve", "--config", str(self.config)],
            stdin=subprocess.DEVNULL, stdout=self._log_file, stderr=subprocess.STDOUT, cwd=self.workdir,
        )
        deadline = time.monotonic() + timeout
        want_grpc = "grpc:" in self.config.read_text()
        want_http = "http:" in self.config.read_text()
        want_query = _QUERY_IN_SERVICE.search(self.config.read_text()) is not None
        want_prometheus = "\n  prometheus:" in self.config.read_text()
        want_telemetry = "level: none" not in self.config.read_text()
        while True:
            for line in self.log().splitlines():
                if _LISTENING.search(line):
                    fields = dict(_FIELD.findall(line))
                    if fields.get("component") == "extension/query":
                        self.query_address = fields["address"]
                    elif fields.get("protocol") == "grpc":
                        self.grpc_address = fields["address"]
                    elif fields.get("protocol") == "http":
                        self.http_address = fields["address"]
                    elif fields.get("protocol") == "telemetry":
                        self.telemetry_address = fields["address"]
                    elif fields.get("protocol") == "prometheus":
                        self.prometheus_address = fields["address"]
            if ((self.grpc_address or not want_grpc) and (self.http_address or not want_http)
                    and (self.query_address or not want_query)
                    and (self.telemetry_address or not want_telemetry) and (self.prometheus_address or not want_prometheus)):
                return self
            if self.proc.poll() is not None:
                raise AssertionError(f"otelsink exited with {self.proc.returncode} before listening:\n{self.log()}")
            if time.monotonic() > deadline:
                self.kill()
                raise AssertionError(f"otelsink did not report both listening addresses within {timeout}s:\n{self.log()}")
            time.sleep(0.02)

    def stop(self, timeout: float = STOP_TIMEOUT) -> int:
        """SIGTERM, wait (SIGKILL after `timeout`); returns the exit code (negative for a signal)."""
        assert self.proc is not None
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=10)
                self._close_log()
                raise AssertionError(f"otelsink did not stop within {timeout}s of SIGTERM:\n{self.log()[-4000:]}")
        self._close_log()
        return self.proc.returncode

    def kill(self) -> None:
        """SIGKILL (a crash), and wait for the process to be gone."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(timeout=10)
        self._close_log()

    def _close_log(self):
        if self._log_file is not None:
            self._log_file.close()
            self._log_file = None

    @property
    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    # -- observation

    def log(self) -> str:
        if self.log_path is None or not self.log_path.exists():
            return ""
        return self.log_path.read_text(errors="replace")

    def proc_status(self, key: str) -> int:
        """A `/proc/PID/status` value in KiB (VmRSS, VmHWM, ...)."""
        for line in Path(f"/proc/{self.pid}/status").read_text().splitlines():
            if line.startswith(key + ":"):
                return int(line.split()[1])
        raise KeyError(key)

    # -- addresses

    @property
    def http_url(self) -> str:
        return f"http://{self.http_address}"

    def url(self, path: str = "/v1/traces") -> str:
        return self.http_url + path

    @property
    def query_url(self) -> str:
        return f"http://{self.query_address}"

    @property
    def http_host_port(self) -> tuple[str, int]:
        host, port = self.http_address.rsplit(":", 1)
        return host, int(port)


@pytest.fixture(scope="session")
def otelsink_bin() -> Path:
    binary = otelsink_binary()
    if not (binary.is_file() and os.access(binary, os.X_OK)):
        pytest.exit(f"otelsink binary not found at {binary}: run `swift build --product otelsink` "
                    f"(or set OTELSINK_BIN)", returncode=2)
    return binary


class ServerFactory:
    def __init__(self, binary: Path, base: Path):
        self.binary = binary
        self.base = base
        self.servers: list[OtelsinkServer] = []

    def __call__(self, *, start: bool = True, db_path: Path | None = None, config_text: str | None = None,
                 **config_options) -> OtelsinkServer:
        """`config_text`: the whole YAML, written as given instead of `write_config(**config_options)` (it should
        put its listeners, and the self-telemetry's, on port 0 of loopback; `server.db_path` is then only what
        `db_path` says, the config is not told about it)."""
        n = len(self.servers) + 1
        workdir = self.base / f"server{n}"
        workdir.mkdir(parents=True, exist_ok=True)
        db = db_path or workdir / "data" / "traces.db"
        if config_text is not None:
            assert not config_options, "config_text replaces the write_config options"
            config = workdir / "otelsink.yaml"
            config.write_text(config_text)
        else:
            config = write_config(workdir / "otelsink.yaml", db, **config_options)
        server = OtelsinkServer(self.binary, workdir, config, db)
        self.servers.append(server)
        return server.start() if start else server

    def teardown(self):
        problems = []
        for s in self.servers:
            if not s.running:
                s._close_log()
            else:
                try:
                    rc = s.stop()
                except AssertionError as e:
                    problems.append(str(e))
                    continue
                if rc != 0:
                    problems.append(f"otelsink exited {rc} after SIGTERM (expected 0):\n{s.log()[-4000:]}")
                elif "otelsink stopped" not in s.log().strip().splitlines()[-1]:
                    problems.append(f"last log line after SIGTERM is not 'otelsink stopped':\n{s.log()[-2000:]}")
        assert not problems, "\n\n".join(problems)


@pytest.fixture
def server_factory(otelsink_bin, tmp_path):
    """Makes servers (each with its own config and, by default, its own database); SIGTERMs them at teardown and
    asserts a clean exit (code 0, last line `otelsink stopped`)."""
    factory = ServerFactory(otelsink_bin, tmp_path)
    yield factory
    factory.teardown()


@pytest.fixture
def server(server_factory) -> OtelsinkServer:
    """A running server with default limits (gRPC 4 MiB, HTTP 20 MiB) and a fresh database."""
    return server_factory()


@pytest.fixture(scope="module")
def module_server(otelsink_bin, tmp_path_factory):
    """One server shared by a module's tests (for tests that check the server survives a sequence of requests)."""
    factory = ServerFactory(otelsink_bin, tmp_path_factory.mktemp("module-server"))
    server = factory()
    yield server
    factory.teardown()


# ---------------------------------------------------------------------------------------------- certificates
# Made once per session with `openssl` (test_security.py, and test_sdk_interop.py's TLS variants).


@dataclass(frozen=True)
class Pair:
    cert: Path
    key: Path

    @property
    def der(self) -> bytes:
        return ssl.PEM_cert_to_DER_cert(self.cert.read_text())

    @property
    def fingerprint(self) -> str:
        return hashlib.sha256(self.der).hexdigest()


@dataclass(frozen=True)
class PKI:
    ca: Pair                # signs server, client, expired, rotated
    server: Pair            # SAN IP:127.0.0.1, DNS:localhost
    client: Pair            # clientAuth, signed by `ca`
    other_ca: Pair          # unrelated CA
    other_client: Pair      # clientAuth, signed by `other_ca`
    other_server: Pair      # a valid server certificate for 127.0.0.1, but from `other_ca`
    expired: Pair           # server certificate from `ca` whose validity ended yesterday
    rotated: Pair           # a second server certificate from `ca` (other serial, other CN)


def _openssl(*args: str, cwd: Path):
    p = subprocess.run(["openssl", *args], cwd=cwd, capture_output=True, timeout=60)
    assert p.returncode == 0, f"openssl {' '.join(args)}: {p.stderr.decode(errors='replace')}"


def _make_ca(d: Path, name: str) -> Pair:
    _openssl("req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
             "-keyout", f"{name}.key", "-out", f"{name}.pem", "-days", "30", "-subj", f"/CN=otelsink test {name}",
             "-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign,cRLSign",
             cwd=d)
    return Pair(d / f"{name}.pem", d / f"{name}.key")


def _make_leaf(d: Path, name: str, ca: Pair, serial: int, *, server: bool, days: int = 30,
               san: str = "IP:127.0.0.1,DNS:localhost") -> Pair:
    _openssl("req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-keyout", f"{name}.key",
             "-out", f"{name}.csr", "-subj", f"/CN=otelsink {name}", cwd=d)
    ext = d / f"{name}.ext"
    ext.write_text("basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature,keyEncipherment\n" + (
        f"extendedKeyUsage=serverAuth\nsubjectAltName={san}\n" if server
        else "extendedKeyUsage=clientAuth\n"))
    # `-days -1`: valid from now until yesterday, i.e. expired.
    _openssl("x509", "-req", "-in", f"{name}.csr", "-CA", str(ca.cert), "-CAkey", str(ca.key), "-set_serial",
             str(serial), "-days", str(days), "-extfile", str(ext), "-out", f"{name}.pem", cwd=d)
    return Pair(d / f"{name}.pem", d / f"{name}.key")


@pytest.fixture(scope="session")
def pki(tmp_path_factory) -> PKI:
    d = tmp_path_factory.mktemp("pki")
    ca = _make_ca(d, "ca")
    other_ca = _make_ca(d, "other-ca")
    return PKI(
        ca=ca,
        server=_make_leaf(d, "server", ca, 1001, server=True),
        client=_make_leaf(d, "client", ca, 1002, server=False),
        other_ca=other_ca,
        other_client=_make_leaf(d, "other-client", other_ca, 2001, server=False),
        other_server=_make_leaf(d, "other-server", other_ca, 2002, server=True),
        expired=_make_leaf(d, "expired", ca, 1003, server=True, days=-1),
        rotated=_make_leaf(d, "rotated", ca, 1004, server=True),
    )


def tls_yaml(pair: Pair, client_ca: Pair | None = None, **extra: str) -> str:
    lines = ["tls:", f"  cert_file: {pair.cert}", f"  key_file: {pair.key}"]
    if client_ca is not None:
        lines.append(f"  client_ca_file: {client_ca.cert}")
    lines += [f"  {k}: {v}" for k, v in extra.items()]
    return "\n".join(lines)
