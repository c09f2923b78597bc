"""The otelsink command line: validate, print-config, components, trace, and serve's start-up and shutdown."""

from __future__ import annotations

import json
import re
import signal
import socket
import subprocess
import threading
import time
from pathlib import Path

import httpx
import pytest
import yaml

from conftest import REPO_ROOT, write_config
from otlp_util import (PROTOBUF, assert_same_trace, cli_trace_request, from_otlp_json, kv, make_request, make_span,
                       make_trace_request, new_trace_id, open_db_readonly, run_cli, terminal_cells)

PIPELINES = sorted((REPO_ROOT / "pipelines").glob("*.y*ml"))


def text(p: subprocess.CompletedProcess) -> tuple[str, str]:
    return p.stdout.decode(errors="replace"), p.stderr.decode(errors="replace")


# ---------------------------------------------------------------------------------------------- validate

BROKEN_CONFIG = """\
receivers:
  otlp:
    protocols:
      grpc:
        endpoint: 127.0.0.1:0
        bogus_key: 1
      http:
        endpoint: ${env:OTELSINK_TEST_HTTP_ENDPOINT}
  otlp/unused:
    protocols:
      http:
        endpoint: 127.0.0.1:0
exporters:
  sqlite:
    path: ${env:OTELSINK_TEST_DB:-/tmp/otelsink-never-written.db}
    retention: soon
service:
  pipelines:
    traces:
      receivers: [otlp]
      exporters: [sqlite, nothere]
"""

EXPECTED_PROBLEMS = [
    "receivers::otlp::protocols::grpc::bogus_key: unknown key",
    'exporters::sqlite::retention: expected a duration like "72h", got "soon"',
    'service::pipelines::traces::exporters::1: references exporter "nothere", which is not defined under exporters',
    "receivers::otlp/unused: defined but not used in any pipeline",
    # ${env:...} is substituted before validation: the message shows the variable's value.
    'receivers::otlp::protocols::http::endpoint: expected host:port with an IP address or localhost (e.g. "localhost:4317", "0.0.0.0:4317"), got "not-an-endpoint"',
]


def test_validate_lists_every_problem_with_its_path(otelsink_bin, tmp_path):
    config = tmp_path / "broken.yaml"
    config.write_text(BROKEN_CONFIG)
    p = run_cli(otelsink_bin, "validate", "--config", config, env={"OTELSINK_TEST_HTTP_ENDPOINT": "not-an-endpoint"})
    out, err = text(p)
    assert p.returncode == 1, (p.returncode, out, err)
    for problem in EXPECTED_PROBLEMS:
        assert problem in err, f"missing problem:\n  {problem}\nin stderr:\n{err}"
    problem_lines = [line for line in err.splitlines() if "::" in line]
    assert len(problem_lines) == len(EXPECTED_PROBLEMS), err
    assert "valid (" not in out
    assert not Path("/tmp/otelsink-never-written.db").exists()


def test_validate_accepts_the_fixed_config(otelsink_bin, tmp_path):
    fixed = (BROKEN_CONFIG.replace("        bogus_key: 1\n", "").replace("retention: soon", "retention: 48h")
             .replace("[sqlite, nothere]", "[sqlite]").replace("  otlp/unused:\n    protocols:\n      http:\n"
                                                                 "        endpoint: 127.0.0.1:0\n", ""))
    config = tmp_path / "fixed.yaml"
    config.write_text(fixed)
    p = run_cli(otelsink_bin, "validate", "--config", config, env={"OTELSINK_TEST_HTTP_ENDPOINT": "127.0.0.1:4999"})
    out, err = text(p)
    assert p.returncode == 0, err
    assert "valid" in out


@pytest.mark.parametrize("path", PIPELINES, ids=[p.name for p in PIPELINES])
def test_shipped_pipelines_are_valid(otelsink_bin, path, tmp_path):
    # secure.yaml reads its certificates, token and htpasswd from $OTELSINK_SECRETS; validate checks they can be
    # read, so point it at a folder that has them (stand-ins: validate does not parse certificates).
    for name, content in [("server.pem", "-"), ("server-key.pem", "-"), ("ingest-token", "t"), ("htpasswd", "grafana:plain")]:
        (tmp_path / name).write_text(content)
    p = run_cli(otelsink_bin, "validate", "--config", path, env={"OTELSINK_SECRETS": str(tmp_path)})
    out, err = text(p)
    assert p.returncode == 0, err
    assert "valid" in out


def test_pipelines_directory_is_not_empty():
    assert PIPELINES, "pipelines/ has no YAML files"


def test_validate_without_config_checks_the_embedded_default(otelsink_bin, tmp_path):
    p = run_cli(otelsink_bin, "validate", cwd=tmp_path)
    assert p.returncode == 0, p.stderr
    assert b"valid" in p.stdout


def test_malformed_yaml_is_exit_1_with_a_message(otelsink_bin, tmp_path):
    config = tmp_path / "malformed.yaml"
    config.write_text("receivers:\n  otlp: [\n    protocols: {\n")
    p = run_cli(otelsink_bin, "validate", "--config", config)
    out, err = text(p)
    assert p.returncode == 1, (p.returncode, err)
    assert "YAML" in err and str(config) in err


def test_oversized_config_is_exit_1_with_a_message(otelsink_bin, tmp_path):
    config = tmp_path / "huge.yaml"
    config.write_text("receivers:\n  otlp: {}\n# " + "x" * (5 * 1024 * 1024) + "\n")
    started = time.monotonic()
    p = run_cli(otelsink_bin, "validate", "--config", config)
    out, err = text(p)
    assert time.monotonic() - started < 20
    assert p.returncode == 1, f"exit {p.returncode}, expected 1; stderr: {err[:500]}"
    assert "bytes" in err and str(config) in err


def test_missing_config_file_is_an_error_with_a_message(otelsink_bin, tmp_path):
    missing = tmp_path / "nope.yaml"
    p = run_cli(otelsink_bin, "validate", "--config", missing)
    out, err = text(p)
    assert p.returncode != 0
    assert str(missing) in err


def test_serve_with_an_invalid_config_exits_1_without_listening(otelsink_bin, tmp_path):
    config = tmp_path / "broken.yaml"
    config.write_text(BROKEN_CONFIG)
    p = run_cli(otelsink_bin, "serve", "--config", config, env={"OTELSINK_TEST_HTTP_ENDPOINT": "127.0.0.1:0"},
                timeout=30)
    out, err = text(p)
    assert p.returncode == 1, (p.returncode, err)
    assert "listening" not in err
    assert 'exporters::sqlite::retention: expected a duration like "72h", got "soon"' in err


# ---------------------------------------------------------------------------------------------- print-config


PRINT_CONFIG = """\
receivers:
  otlp:
    protocols:
      grpc:
        endpoint: 127.0.0.1:0
      http:
        endpoint: 127.0.0.1:0
exporters:
  sqlite:
    path: ${env:OTELSINK_TEST_PATH:-/tmp/d.db}
service:
  pipelines:
    traces:
      receivers: [otlp]
      exporters: [sqlite]
"""


@pytest.mark.parametrize("env_value,expected", [(None, "/tmp/d.db"), ("/var/tmp/from-env.db", "/var/tmp/from-env.db")])
def test_print_config_substitutes_and_fills_in_defaults(otelsink_bin, tmp_path, env_value, expected):
    config = tmp_path / "config.yaml"
    config.write_text(PRINT_CONFIG)
    if env_value is None:
        p = run_cli(otelsink_bin, "print-config", "--config", config, unset=("OTELSINK_TEST_PATH",))
    else:
        p = run_cli(otelsink_bin, "print-config", "--config", config, env={"OTELSINK_TEST_PATH": env_value})
    assert p.returncode == 0, p.stderr
    effective = yaml.safe_load(p.stdout)
    sqlite = effective["exporters"]["sqlite"]
    assert sqlite["path"] == expected
    assert "${" not in p.stdout.decode()
    assert sqlite["retention"] == "72h"
    assert sqlite["max_size_mib"] == 8192
    assert sqlite["partition"] == "1h"
    assert sqlite["queue_size"] == 50000
    assert sqlite["synchronous"] == "normal"
    protocols = effective["receivers"]["otlp"]["protocols"]
    assert protocols["grpc"]["endpoint"] == "127.0.0.1:0"
    assert protocols["grpc"]["max_recv_msg_size_mib"] == 4
    assert protocols["http"]["max_request_body_size"] == 20 * 1024 * 1024
    assert effective["service"]["pipelines"]["traces"]["receivers"] == ["otlp"]
    assert effective["service"]["pipelines"]["traces"]["exporters"] == ["sqlite"]

    # The effective config is itself a valid config that means the same.
    again = tmp_path / "effective.yaml"
    again.write_bytes(p.stdout)
    v = run_cli(otelsink_bin, "validate", "--config", again)
    assert v.returncode == 0, v.stderr
    p2 = run_cli(otelsink_bin, "print-config", "--config", again)
    assert p2.returncode == 0 and yaml.safe_load(p2.stdout) == effective


def test_print_config_without_config_prints_the_default_pipeline(otelsink_bin, tmp_path):
    p = run_cli(otelsink_bin, "print-config", cwd=tmp_path)
    assert p.returncode == 0, p.stderr
    effective = yaml.safe_load(p.stdout)
    shipped = yaml.safe_load((REPO_ROOT / "pipelines" / "default.yaml").read_text())
    assert set(effective["service"]["pipelines"]) == set(shipped["service"]["pipelines"])
    assert effective["exporters"]["sqlite"]["path"] == shipped["exporters"]["sqlite"]["path"]
    assert effective["receivers"]["otlp"]["protocols"]["grpc"]["endpoint"] in ("localhost:4317", "127.0.0.1:4317")
    assert effective["receivers"]["otlp"]["protocols"]["http"]["endpoint"] in ("localhost:4318", "127.0.0.1:4318")


def test_print_config_redacts_secrets_unless_asked(otelsink_bin, tmp_path):
    """print-config replaces secrets with [REDACTED] (Tests/CollectorCoreTests/ConfigSecretRedactionTests pins which
    keys); --show-secrets prints them. otelsink's own components have no secret settings, so here the two agree."""
    config = tmp_path / "config.yaml"
    config.write_text(PRINT_CONFIG)
    redacted = run_cli(otelsink_bin, "print-config", "--config", config)
    shown = run_cli(otelsink_bin, "print-config", "--config", config, "--show-secrets")
    assert redacted.returncode == 0 and shown.returncode == 0, (redacted.stderr, shown.stderr)
    assert yaml.safe_load(redacted.stdout) == yaml.safe_load(shown.stdout)
    assert b"[REDACTED]" not in redacted.stdout


# ---------------------------------------------------------------------------------------------- components


def test_components_lists_the_builtin_components(otelsink_bin):
    p = run_cli(otelsink_bin, "components")
    out, err = text(p)
    assert p.returncode == 0, err
    sections: dict[str, list[str]] = {}
    current = None
    for line in out.splitlines():
        if line and not line.startswith(" "):
            current = line.rstrip(":")
            sections[current] = []
        elif line.strip() and current:
            sections[current].append(line.split()[0])
    assert "otlp" in sections["receivers"]
    assert {"sqlite", "debug", "file", "nop"} <= set(sections["exporters"])
    assert "sqlite" not in sections["receivers"]
    # otlp is both a receiver and (forwarding) an exporter, as in otelcol; so are its renamed aliases.
    assert {"otlp", "otlp_grpc", "otlphttp", "otlp_http"} <= set(sections["exporters"])
    assert {"bearertokenauth", "basicauth", "health_check", "query"} <= set(sections["extensions"])
    assert "prometheus" in sections["exporters"] and {"spanmetrics", "servicegraph", "forward"} <= set(sections["connectors"])


# ---------------------------------------------------------------------------------------------- trace


@pytest.mark.parametrize("bad_id", ["zz", "0123456789abcdef0123456789abcde", "0123456789abcdef0123456789abcdefa",
                                    "g123456789abcdef0123456789abcdef", "00000000000000000000000000000000", ""])
def test_trace_rejects_invalid_ids(otelsink_bin, tmp_path, bad_id):
    p = run_cli(otelsink_bin, "trace", bad_id, "--db", tmp_path / "whatever.db")
    out, err = text(p)
    assert p.returncode > 0, (p.returncode, err)  # an error exit, not success and not a crash (signal)
    assert "trace ID" in err or "trace id" in err.lower(), err
    assert out == ""


def test_trace_with_a_missing_database(otelsink_bin, tmp_path):
    db = tmp_path / "missing" / "traces.db"
    p = run_cli(otelsink_bin, "trace", new_trace_id().hex(), "--db", db, "--json")
    out, err = text(p)
    assert p.returncode == 3, (p.returncode, err)  # 3: the database (or server) is unavailable
    assert str(db) in err
    assert out == ""
    assert not db.exists() and not db.parent.exists(), "trace must not create a database"


def test_trace_with_a_file_that_is_not_a_database(otelsink_bin, tmp_path):
    db = tmp_path / "not.db"
    db.write_bytes(b"this is not sqlite" * 100)
    p = run_cli(otelsink_bin, "trace", new_trace_id().hex(), "--db", db)
    out, err = text(p)
    assert p.returncode > 0, (p.returncode, err)
    assert err.strip()
    assert db.read_bytes() == b"this is not sqlite" * 100


def test_trace_found_unknown_and_outline(server):
    trace_id, request = make_trace_request(3)
    r = httpx.post(server.url(), content=request.SerializeToString(), headers={"Content-Type": PROTOBUF}, timeout=10)
    assert r.status_code == 200
    unknown = new_trace_id().hex()
    p = run_cli(server.binary, "trace", unknown, "--db", server.db_path)
    out, err = text(p)
    assert p.returncode == 1, (p.returncode, err)
    assert unknown in err and "not found" in err
    # Found: the waterfall (piped: plain text, 80 cells) has a header (two lines at that width), then every span,
    # children indented under the root; upper case IDs are accepted.
    p = run_cli(server.binary, "trace", trace_id.hex().upper(), "--db", server.db_path)
    out, err = text(p)
    assert p.returncode == 0, err
    header, started, *lines = out.splitlines()
    assert header.startswith(f"Trace {trace_id.hex()} · 3 spans") and started.startswith("started ")
    assert len(lines) == 3
    assert all(terminal_cells(line) <= 80 for line in out.splitlines())
    assert "root" in lines[0] and not lines[0].startswith(" ")
    assert all(line.startswith("  ") and "child-" in line for line in lines[1:])


# ---------------------------------------------------------------------------------------------- serve lifecycle


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_signal_while_idle_stops_cleanly(server_factory, sig):
    server = server_factory()
    time.sleep(0.3)
    started = time.monotonic()
    server.proc.send_signal(sig)
    rc = server.proc.wait(timeout=15)
    assert rc == 0, server.log()[-2000:]
    assert time.monotonic() - started < 10
    assert server.log().strip().splitlines()[-1].endswith("otelsink stopped")
    # The ports are released.
    host, port = server.http_host_port
    with pytest.raises(OSError):
        socket.create_connection((host, port), timeout=2).close()


def test_serve_restarts_on_its_database(server_factory):
    server = server_factory()
    trace_id, request = make_trace_request(4)
    r = httpx.post(server.url(), content=request.SerializeToString(), headers={"Content-Type": PROTOBUF}, timeout=10)
    assert r.status_code == 200
    assert server.stop() == 0
    server.start()
    p = run_cli(server.binary, "trace", trace_id.hex(), "--db", server.db_path)
    assert p.returncode == 0 and sum("│" in line for line in p.stdout.decode().splitlines()) == 4  # 4 span rows


def test_backup_while_the_server_ingests_then_restore_from_it(server_factory, tmp_path):
    """`otelsink backup` copies a live database into one file while exports keep arriving; the copy is
    refused over an existing file; a server started on the copy (the README's restore) serves what it holds."""
    server = server_factory()
    first_id, first = make_trace_request(6)
    with httpx.Client(timeout=10) as client:
        assert client.post(server.url(), content=first.SerializeToString(), headers={"Content-Type": PROTOBUF}).status_code == 200
        stop = threading.Event()
        sent = []

        def keep_exporting():
            while not stop.is_set() and len(sent) < 2000:
                _, request = make_trace_request(20)
                r = client.post(server.url(), content=request.SerializeToString(), headers={"Content-Type": PROTOBUF})
                sent.append(r.status_code)

        exporter = threading.Thread(target=keep_exporting)
        exporter.start()
        try:
            time.sleep(0.3)
            out = tmp_path / "backup.db"
            p = run_cli(server.binary, "backup", "--db", server.db_path, str(out))
        finally:
            stop.set()
            exporter.join(30)
    assert p.returncode == 0, p.stderr.decode()
    assert set(sent) == {200} and len(sent) > 1
    m = re.fullmatch(rf"copied .* to {re.escape(str(out))}: (\d+) spans, 0 log records, (\d+) bytes\n", p.stdout.decode())
    assert m, p.stdout.decode()
    spans = int(m.group(1))
    assert spans >= 6 and (spans - 6) % 20 == 0 and int(m.group(2)) == out.stat().st_size
    assert not Path(f"{out}-wal").exists()

    again = run_cli(server.binary, "backup", "--db", server.db_path, str(out))
    assert again.returncode == 3 and "already exists" in again.stderr.decode(), again.stderr.decode()
    assert server.stop() == 0

    restored = server_factory(db_path=out, query=True)
    p = run_cli(restored.binary, "stats", "--db", out, "--spans")
    assert p.returncode == 0 and int(p.stdout) == spans
    r = httpx.get(f"{restored.query_url}/api/traces/{first_id.hex()}", timeout=10)
    assert r.status_code == 200 and len(r.json()["data"][0]["spans"]) == 6


def test_compressed_span_bodies_read_back_exactly(server_factory):
    """Once a partition has stored its first 1 MiB of spans (its dictionary's samples) the server stores chunks of
    spans compressed with the partition's dictionary: those traces read back field for field, through the CLI on
    the file and through the running server."""
    server = server_factory(query=True)
    sent = []
    # Partitions are hours of span start time: start every span in the middle of the previous hour, so that all
    # of them land in one partition whenever the test runs (it failed once when run across 19:00).
    hour = 3600 * 10**9
    start = (time.time_ns() // hour - 1) * hour + hour // 2
    with httpx.Client(timeout=10) as client:
        for t in range(100):
            trace_id = new_trace_id()
            spans = [make_span(trace_id, name=f"GET /api/orders/{{id}} {i % 3}", http_request_method="GET",
                               http_route="/api/orders/{id}", db_statement="SELECT * FROM orders WHERE id = $1",
                               user_id=f"user-{t * 50 + i}", attempt=i % 4, start_ns=start + (t * 50 + i) * 1000)
                     for i in range(50)]
            request = make_request(spans)
            sent.append((trace_id, request))
            r = client.post(server.url(), content=request.SerializeToString(), headers={"Content-Type": PROTOBUF})
            assert r.status_code == 200
        last_id, last = sent[-1]
        r = client.get(f"{server.query_url}/api/v3/traces/{last_id.hex()}")
        assert r.status_code == 200
    assert_same_trace(last, from_otlp_json(r.json()["result"]))
    con = open_db_readonly(server.db_path)
    try:
        bucket = con.execute("SELECT bucket FROM partitions").fetchone()[0]
        first_bytes = [bytes(b)[:1] for (b,) in con.execute(f"SELECT body FROM span_chunks_{int(bucket)} WHERE trace_id = ?", (last_id,))]
        dictionaries = con.execute("SELECT count(*) FROM span_dictionaries").fetchone()[0]
    finally:
        con.close()
    assert first_bytes == [b"\x00"] and dictionaries == 1
    assert server.stop() == 0
    assert_same_trace(last, cli_trace_request(server.binary, server.db_path, last_id))
    assert_same_trace(sent[0][1], cli_trace_request(server.binary, server.db_path, sent[0][0]))


def test_serve_refuses_a_port_in_use(server_factory, tmp_path):
    first = server_factory()
    config = tmp_path / "clash.yaml"
    write_config(config, tmp_path / "other.db")
    config.write_text(config.read_text().replace("endpoint: 127.0.0.1:0\n        max_request_body_size",
                                                  f"endpoint: {first.http_address}\n        max_request_body_size"))
    p = run_cli(first.binary, "serve", "--config", config, timeout=30)
    out, err = text(p)
    assert p.returncode != 0, err
    assert str(first.http_host_port[1]) in err or "in use" in err.lower(), err


def test_grpc_health_reports_serving(server):
    """grpc.health.v1.Health/Check answers SERVING (1) for the server ("") and for the trace service."""
    import grpc

    with grpc.insecure_channel(server.grpc_address) as channel:
        check = channel.unary_unary("/grpc.health.v1.Health/Check")
        for service in ("", "opentelemetry.proto.collector.trace.v1.TraceService"):
            name = service.encode()
            request = b"\x0a" + bytes([len(name)]) + name if name else b""  # HealthCheckRequest{service}
            assert check(request, timeout=10) == b"\x08\x01"  # HealthCheckResponse{status: SERVING}
        with pytest.raises(grpc.RpcError) as e:
            check(b"\x0a\x07nothing", timeout=10)
        assert e.value.code() == grpc.StatusCode.NOT_FOUND


def test_serve_exits_when_only_the_grpc_port_is_in_use(server_factory, tmp_path):
    """A receiver whose gRPC side cannot bind must not keep serving HTTP half-started: serve exits non-zero."""
    first = server_factory()
    config = tmp_path / "clash.yaml"
    write_config(config, tmp_path / "other.db")
    config.write_text(config.read_text().replace("endpoint: 127.0.0.1:0\n        max_recv_msg_size_mib",
                                                  f"endpoint: {first.grpc_address}\n        max_recv_msg_size_mib"))
    p = run_cli(first.binary, "serve", "--config", config, timeout=30)
    out, err = text(p)
    assert p.returncode != 0, err
    assert "stopped" in err or "error" in err.lower(), err


# ---------------------------------------------------------------------------------------------- untrusted text

# Span text is hostile: clear screen, set the terminal title, carriage return and newline (a forged line), NUL, BEL
# and a right-to-left override. The service has no NUL: it is also passed to `search --service` (an argv string).
# Service and name are short enough that the waterfall's label (cut at 60 columns) shows both whole.
HOSTILE_SERVICE = "s\x1b[2J\r\nforged\u202e"
HOSTILE_NAME = "n\x1b]0;pwned\x07\x00\r\n\u202e"
HOSTILE_KEY = "k\u202e\x1b[2J"
HOSTILE_VALUE = "v\x1b]0;pwned\x07\r\n\x00"
RAW_CONTROLS = ["\x1b", "\x07", "\r", "\x00", "\u202e"]
ESCAPED = {
    HOSTILE_SERVICE: r"s\x1b[2J\r\nforged\u202e",
    HOSTILE_NAME: r"n\x1b]0;pwned\x07\x00\r\n\u202e",
    HOSTILE_KEY: r"k\u202e\x1b[2J",
    HOSTILE_VALUE: r"v\x1b]0;pwned\x07\r\n\x00",
}


def _store_hostile_trace(server) -> bytes:
    trace_id = new_trace_id()
    root = make_span(trace_id, name=HOSTILE_NAME)
    root.attributes.append(kv(HOSTILE_KEY, HOSTILE_VALUE))
    root.status.code = 2  # STATUS_CODE_ERROR: the waterfall shows the message
    root.status.message = HOSTILE_VALUE
    event = root.events.add()
    event.name = HOSTILE_NAME
    event.time_unix_nano = root.start_time_unix_nano
    child = make_span(trace_id, name="child", parent=root.span_id, start_ns=root.start_time_unix_nano + 1)
    request = make_request([root, child], service=HOSTILE_SERVICE)
    r = httpx.post(server.url(), content=request.SerializeToString(), headers={"Content-Type": PROTOBUF}, timeout=10)
    assert r.status_code == 200, r.content
    return trace_id


def _assert_no_raw_controls(out: str, *, lines: int | None = None):
    for raw in RAW_CONTROLS:
        assert raw not in out, f"raw {raw!r} in output:\n{out!r}"
    if lines is not None:
        assert len(out.split("\n")) == lines + 1 and out.endswith("\n"), out  # no forged lines
    assert not any(line.startswith("forged") for line in out.split("\n")), out


@pytest.fixture
def hostile_server(server_factory):
    server = server_factory(query=True)
    return server, _store_hostile_trace(server)


@pytest.mark.parametrize("source", ["db", "endpoint"])
def test_cli_escapes_untrusted_text(hostile_server, source):
    server, trace_id = hostile_server
    where = ["--db", server.db_path] if source == "db" else ["--endpoint", server.query_url]

    # trace: the waterfall (plain, with attributes, and coloured: only its own SGR colour codes are escapes); wide
    # enough that the escaped names are not shortened, and at 80 cells, where they are.
    p = run_cli(server.binary, "trace", trace_id.hex(), "--width", "200", *where)
    out, err = text(p)
    assert p.returncode == 0, err
    _assert_no_raw_controls(out, lines=3)
    p = run_cli(server.binary, "trace", trace_id.hex(), *where)
    short, err = text(p)
    assert p.returncode == 0, err
    _assert_no_raw_controls(short, lines=4)  # a two-line header at 80 cells, two span rows
    assert "…" in short
    assert f"{ESCAPED[HOSTILE_SERVICE]}: {ESCAPED[HOSTILE_NAME]}" in out
    assert f"ERROR: {ESCAPED[HOSTILE_VALUE]}" in out
    p = run_cli(server.binary, "trace", trace_id.hex(), "--attributes", *where)
    out, err = text(p)
    assert p.returncode == 0, err
    _assert_no_raw_controls(out)
    assert f"{ESCAPED[HOSTILE_KEY]}={ESCAPED[HOSTILE_VALUE]}" in out
    assert f"event +0ns {ESCAPED[HOSTILE_NAME]}" in out
    p = run_cli(server.binary, "trace", trace_id.hex(), "--color", "always", "--attributes", *where)
    out, err = text(p)
    assert p.returncode == 0, err
    _assert_no_raw_controls(re.sub(r"\x1b\[[0-9;]*m", "", out))
    # The critical path's summary names services and operations too.
    p = run_cli(server.binary, "trace", trace_id.hex(), "--critical-path", "--width", "200", *where)
    out, err = text(p)
    assert p.returncode == 0, err
    _assert_no_raw_controls(out)
    assert f"    {ESCAPED[HOSTILE_SERVICE]}: {ESCAPED[HOSTILE_NAME]}" in out

    # search: the table, escaped before its columns are measured.
    p = run_cli(server.binary, "search", "--service", HOSTILE_SERVICE, "--width", "200", *where)
    out, err = text(p)
    assert p.returncode == 0, err
    _assert_no_raw_controls(out, lines=2)
    header, row = out.splitlines()
    assert trace_id.hex() in row and f"{ESCAPED[HOSTILE_SERVICE]}: {ESCAPED[HOSTILE_NAME]}" in row
    assert len(header) == len(row)  # the last column is right-aligned: equal lengths mean aligned columns

    # services, with operations.
    p = run_cli(server.binary, "services", "--operations", *where)
    out, err = text(p)
    assert p.returncode == 0, err
    _assert_no_raw_controls(out)
    assert out.splitlines()[0] == ESCAPED[HOSTILE_SERVICE]
    # The operations table keeps a name up to its first NUL (GRDB binds text as a C string): known, not a safety
    # problem; the span itself keeps the whole name (see --json below).
    assert any(line.startswith("  " + ESCAPED[HOSTILE_NAME].split(r"\x00")[0]) and line.endswith("  (internal)")
               for line in out.splitlines()), out

    # --json keeps the exact strings.
    p = run_cli(server.binary, "trace", trace_id.hex(), "--json", *where)
    assert p.returncode == 0, p.stderr
    request = from_otlp_json(json.loads(p.stdout))
    rs = request.resource_spans[0]
    assert [a.value.string_value for a in rs.resource.attributes if a.key == "service.name"] == [HOSTILE_SERVICE]
    root = next(s for s in rs.scope_spans[0].spans if s.name != "child")
    assert root.name == HOSTILE_NAME and root.events[0].name == HOSTILE_NAME
    assert root.status.message == HOSTILE_VALUE
    assert [(a.key, a.value.string_value) for a in root.attributes] == [(HOSTILE_KEY, HOSTILE_VALUE)]
    p = run_cli(server.binary, "search", "--service", HOSTILE_SERVICE, "--json", *where)
    assert p.returncode == 0, p.stderr
    [found] = json.loads(p.stdout)
    assert (found["rootService"], found["rootOperation"]) == (HOSTILE_SERVICE, HOSTILE_NAME)


def test_stats_escapes_service_names(hostile_server):
    server, _ = hostile_server
    p = run_cli(server.binary, "stats", "--db", server.db_path)
    out, err = text(p)
    assert p.returncode == 0, err
    _assert_no_raw_controls(out, lines=7)  # spans, log records, partitions, services, file bytes, free bytes, WAL file bytes
    assert ESCAPED[HOSTILE_SERVICE] in out


def test_debug_exporter_escapes_untrusted_text(server_factory):
    """Logs and metrics reach the debug exporter (verbosity normal): a forged line or terminal escape in a body,
    severity or metric name stays inside one escaped log line."""
    from opentelemetry.proto.collector.logs.v1 import logs_service_pb2
    from opentelemetry.proto.collector.metrics.v1 import metrics_service_pb2

    server = server_factory(debug_verbosity="normal")
    logs = logs_service_pb2.ExportLogsServiceRequest()
    rl = logs.resource_logs.add()
    rl.resource.attributes.append(kv("service.name", HOSTILE_SERVICE))
    record = rl.scope_logs.add().log_records.add()
    record.severity_text = HOSTILE_NAME
    record.body.string_value = HOSTILE_VALUE
    metrics = metrics_service_pb2.ExportMetricsServiceRequest()
    rm = metrics.resource_metrics.add()
    rm.resource.attributes.append(kv("service.name", HOSTILE_SERVICE))
    metric = rm.scope_metrics.add().metrics.add()
    metric.name = HOSTILE_NAME
    metric.gauge.data_points.add().as_double = 1
    for path, request in (("/v1/logs", logs), ("/v1/metrics", metrics)):
        r = httpx.post(server.url(path), content=request.SerializeToString(), headers={"Content-Type": PROTOBUF},
                       timeout=10)
        assert r.status_code == 200, r.content
    expected_log = f"{ESCAPED[HOSTILE_SERVICE]} severity={ESCAPED[HOSTILE_NAME]} body={ESCAPED[HOSTILE_VALUE]}"
    expected_metric = f"{ESCAPED[HOSTILE_SERVICE]} {ESCAPED[HOSTILE_NAME]} unit=- type=gauge"
    deadline = time.monotonic() + 10
    while not (expected_log in server.log() and expected_metric in server.log()) and time.monotonic() < deadline:
        time.sleep(0.05)
    log = server.log()
    assert expected_log in log and expected_metric in log, log[-3000:]
    _assert_no_raw_controls(log)


def test_trace_with_a_span_from_9e18_to_1_renders(server):
    """The waterfall once trapped (Double to Int overflow) on a span starting at 9e18 ns and ending at 1 in a trace
    1 ns long: the span's offset on the timeline was 9e18 × 40 columns."""
    trace_id = new_trace_id()
    odd = make_span(trace_id, name="backwards", start_ns=9 * 10**18)
    odd.end_time_unix_nano = 1
    request = make_request([odd, make_span(trace_id, name="ordinary", start_ns=1_000, duration_ns=1)])
    r = httpx.post(server.url(), content=request.SerializeToString(), headers={"Content-Type": PROTOBUF}, timeout=10)
    assert r.status_code == 200, r.content
    for extra in ([], ["--attributes"], ["--color", "always"]):
        p = run_cli(server.binary, "trace", trace_id.hex(), "--db", server.db_path, *extra)
        out, err = text(p)
        assert p.returncode == 0, (p.returncode, err)
        assert out.startswith(f"Trace {trace_id.hex()} · 2 spans") or "\x1b[1mTrace" in out
        assert "backwards" in out and "ordinary" in out
