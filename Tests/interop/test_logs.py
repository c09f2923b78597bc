"""OTLP logs stored by the `sqlite` exporter and read back: `otelsink logs` (--db and --endpoint), `otelsink trace
--logs`, `GET /api/v3/logs`, the receivers' per-record checks, and durability across `kill -9`.

The servers here run a `logs` pipeline with `exporters: [sqlite]` and the `query` extension. Records are made by the
official Python SDK (its `logging` handler and OTLP exporters) or built by hand as OTLP protobuf, and what comes back
is compared with what was sent, field for field.

`--follow` follows by arrival (a cursor of row ids), so a record stamped earlier or later than the last one
printed still shows once; `--json` prints a JSON document (`{}`) even when nothing matches.
"""

from __future__ import annotations

import json
import re
import logging
import queue
import signal
import socket
import subprocess
import threading
import time
import urllib.parse
import uuid

import grpc
import httpx
import pytest
from opentelemetry.proto.collector.logs.v1 import logs_service_pb2, logs_service_pb2_grpc
from opentelemetry.proto.logs.v1 import logs_pb2

from conftest import ServerFactory
from otlp_util import (JSON, PROTOBUF, from_otlp_json, kv, new_span_id, new_trace_id, parse_status, run_cli,
                       to_otlp_json)

pytestmark = pytest.mark.timeout(60)

ExportLogsServiceRequest = logs_service_pb2.ExportLogsServiceRequest
ExportLogsServiceResponse = logs_service_pb2.ExportLogsServiceResponse
MINUTE = 60 * 10**9
LEVELS = {range(1, 5): "TRACE", range(5, 9): "DEBUG", range(9, 13): "INFO", range(13, 17): "WARN",
          range(17, 21): "ERROR", range(21, 25): "FATAL"}


# ---------------------------------------------------------------------------------------------- helpers


def start_logs_server(factory, **options):
    """A server whose logs pipeline stores into sqlite, with the query extension."""
    return factory(query=True, logs_exporters="[sqlite]", **options)


@pytest.fixture
def logs_server(server_factory):
    return start_logs_server(server_factory)


def make_log(body, *, time_ns: int | None = None, severity: int = 9, severity_text: str = "", trace_id: bytes = b"",
             span_id: bytes = b"", observed_ns: int = 0, **attrs) -> logs_pb2.LogRecord:
    r = logs_pb2.LogRecord(time_unix_nano=time.time_ns() if time_ns is None else time_ns,
                           observed_time_unix_nano=observed_ns, severity_number=severity,
                           severity_text=severity_text, trace_id=trace_id, span_id=span_id)
    if isinstance(body, str):
        r.body.string_value = body
    elif body is not None:
        r.body.CopyFrom(body)
    for k, v in attrs.items():
        r.attributes.append(kv(k.replace("__", "."), v))
    return r


def make_logs_request(records, service: str = "logs-test", scope: str = "interop.logs") -> ExportLogsServiceRequest:
    req = ExportLogsServiceRequest()
    rl = req.resource_logs.add()
    rl.resource.attributes.append(kv("service.name", service))
    sl = rl.scope_logs.add()
    sl.scope.name = scope
    sl.log_records.extend(records)
    return req


def logs_json(request) -> dict:
    return to_otlp_json(request)


def post_logs(server, body: bytes, content_type: str = PROTOBUF) -> httpx.Response:
    with httpx.Client(timeout=15) as client:
        return client.post(server.url("/v1/logs"), content=body, headers={"Content-Type": content_type})


def parse_logs_response(r: httpx.Response) -> ExportLogsServiceResponse:
    if r.headers.get("content-type", "").split(";")[0] == JSON:
        from google.protobuf import json_format
        return json_format.Parse(r.content.decode() or "{}", ExportLogsServiceResponse())
    return ExportLogsServiceResponse.FromString(r.content)


def export_http(server, request) -> None:
    """Raises unless the export was acknowledged in full."""
    r = post_logs(server, request.SerializeToString())
    assert r.status_code == 200, (r.status_code, r.content[:300])
    assert parse_logs_response(r).partial_success.rejected_log_records == 0


def export_grpc(server, request) -> ExportLogsServiceResponse:
    with grpc.insecure_channel(server.grpc_address) as channel:
        return logs_service_pb2_grpc.LogsServiceStub(channel).Export(request, timeout=10)


def source_args(server, source: str) -> list[str]:
    return ["--db", str(server.db_path)] if source == "db" else ["--endpoint", server.query_url]


def cli_logs(server, *args, source: str = "db") -> subprocess.CompletedProcess:
    return run_cli(server.binary, "logs", *source_args(server, source), *args, timeout=30)


def cli_logs_request(server, *args, source: str = "db") -> ExportLogsServiceRequest:
    """`otelsink logs … --json`, parsed; an empty request when nothing matched."""
    p = cli_logs(server, "--json", *args, source=source)
    # Exit code 1 (with the empty document printed) when nothing matched.
    assert p.returncode == 0 or (p.returncode == 1 and "no log records found" in p.stderr.decode()), \
        (p.returncode, p.stderr.decode(errors="replace"))
    out = p.stdout.decode()
    if not out.strip():
        return ExportLogsServiceRequest()
    assert out.count("\n") == 1, f"--json prints one document on one line:\n{out[:2000]}"
    return from_otlp_json(json.loads(out), ExportLogsServiceRequest)


def flat(request) -> list[tuple]:
    """(ResourceLogs without scope_logs, ScopeLogs without records, LogRecord) for every record, in order."""
    out = []
    for rl in request.resource_logs:
        r = logs_pb2.ResourceLogs()
        r.CopyFrom(rl)
        del r.scope_logs[:]
        for sl in rl.scope_logs:
            s = logs_pb2.ScopeLogs()
            s.CopyFrom(sl)
            del s.log_records[:]
            for record in sl.log_records:
                out.append((r, s, record))
    return out


def bodies(request) -> list[str]:
    return [rec.body.string_value for _, _, rec in flat(request)]


def record_time(rec) -> int:
    return rec.time_unix_nano or rec.observed_time_unix_nano


def assert_same_logs(expected, actual):
    """Every record equal with its resource and scope, ignoring grouping; `actual` is oldest first."""
    exp = sorted(flat(expected), key=lambda t: (record_time(t[2]), t[2].body.string_value))
    act = flat(actual)
    assert [record_time(t[2]) for t in act] == sorted(record_time(t[2]) for t in act), "not oldest first"
    act = sorted(act, key=lambda t: (record_time(t[2]), t[2].body.string_value))
    assert len(act) == len(exp), f"{len(exp)} records sent, {len(act)} read back:\n{bodies(actual)}"
    for (er, es, erec), (ar, as_, arec) in zip(exp, act):
        assert arec == erec, f"record differs:\nsent:\n{erec}\nread back:\n{arec}"
        assert ar == er, f"resource differs:\nsent:\n{er}\nread back:\n{ar}"
        assert as_ == es, f"scope differs:\nsent:\n{es}\nread back:\n{as_}"


def escape(text: str) -> str:
    """What the CLI prints for untrusted text: backslash, controls and bidi formatting characters escaped."""
    out = []
    for ch in text:
        v = ord(ch)
        if ch == "\\":
            out.append("\\\\")
        elif ch == "\n":
            out.append("\\n")
        elif ch == "\r":
            out.append("\\r")
        elif ch == "\t":
            out.append("\\t")
        elif v < 0x20 or v == 0x7F:
            out.append(f"\\x{v:02x}")
        elif 0x80 <= v <= 0x9F or v in (0x061C, 0x200E, 0x200F) or 0x2028 <= v <= 0x202E or 0x2066 <= v <= 0x2069:
            out.append(f"\\u{v:04x}")
        else:
            out.append(ch)
    return "".join(out)


def value_text(v) -> str:
    kind = v.WhichOneof("value")
    if kind == "string_value":
        return escape(v.string_value)
    if kind == "bool_value":
        return "true" if v.bool_value else "false"
    if kind == "int_value":
        return str(v.int_value)
    if kind == "double_value":
        return repr(v.double_value)
    raise AssertionError(f"no expected text for a {kind} in this test")


def timestamp(ns: int) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(ns // 10**9)) + f".{ns // 10**6 % 1000:03d}Z"


def expected_line(rec, service: str | None) -> str:
    """The CLI's text line for a record: time, level (padded to 5), service, body, attributes."""
    label = rec.severity_text or next((name for r, name in LEVELS.items() if rec.severity_number in r), "UNKNOWN")
    line = f"{timestamp(record_time(rec))} {escape(label):<5}"
    if service is not None:
        line += f" {escape(service)}"
    line += f" {escape(rec.body.string_value)}"
    attrs = " ".join(f"{escape(a.key)}={value_text(a.value)}" for a in rec.attributes)
    return line + (f" {attrs}" if attrs else "")


def service_of(resource_logs) -> str:
    for a in resource_logs.resource.attributes:
        if a.key == "service.name":
            return a.value.string_value
    return "unknown_service"


# ---------------------------------------------------------------------------------------------- 1. the Python SDK


class TeeExporter:
    """An SDK log exporter that forwards to a real OTLP exporter and keeps what it sent and the results."""

    def __init__(self, inner):
        self.inner = inner
        self.sent = []
        self.results = []

    def export(self, batch):
        result = self.inner.export(batch)
        self.sent.extend(batch)
        self.results.append(result)
        return result

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        return True

    def shutdown(self):
        self.inner.shutdown()


def sdk_logger(exporter, resource_attrs: dict, name: str = "interop.logs.sdk", batch: bool = True):
    from opentelemetry.sdk._logs import LoggerProvider, LoggingHandler
    from opentelemetry.sdk._logs.export import BatchLogRecordProcessor, SimpleLogRecordProcessor
    from opentelemetry.sdk.resources import Resource

    provider = LoggerProvider(resource=Resource.create(resource_attrs))
    processor = BatchLogRecordProcessor(exporter) if batch else SimpleLogRecordProcessor(exporter)
    provider.add_log_record_processor(processor)
    handler = LoggingHandler(logger_provider=provider)
    logger = logging.getLogger(f"{name}")
    logger.handlers.clear()
    logger.propagate = False
    logger.addHandler(handler)
    logger.setLevel(logging.DEBUG)
    return logger, provider


def sdk_exporter(server, transport: str):
    if transport == "grpc":
        from opentelemetry.exporter.otlp.proto.grpc._log_exporter import OTLPLogExporter
        return OTLPLogExporter(endpoint=server.grpc_address, insecure=True, timeout=10)
    from opentelemetry.exporter.otlp.proto.http._log_exporter import OTLPLogExporter
    return OTLPLogExporter(endpoint=server.url("/v1/logs"), timeout=10)


@pytest.mark.parametrize("transport", ["grpc", "http-protobuf"])
def test_sdk_logging_handler_records_read_back_field_for_field(logs_server, transport):
    from opentelemetry.exporter.otlp.proto.common._log_encoder import encode_logs
    from opentelemetry.sdk._logs.export import LogRecordExportResult
    from opentelemetry.sdk.trace import TracerProvider

    service = f"sdk-{transport}"
    tee = TeeExporter(sdk_exporter(logs_server, transport))
    logger, provider = sdk_logger(tee, {"service.name": service, "service.version": "1.2.3", "host.cores": 4,
                                        "deployment.environment.name": "interop"}, name=f"interop.sdk.{transport}")
    tracer = TracerProvider().get_tracer("interop")
    try:
        logger.debug("starting up")
        with tracer.start_as_current_span("handle") as span:
            logger.warning("disk %s is %d%% full", "/dev/sda1", 93,
                           extra={"attr.str": "héllo ✓ 日本語", "attr.int": 42, "attr.float": 2.25, "attr.bool": True,
                                  "attr.false": False, "attr.neg": -7})
        try:
            raise ValueError("bad value: \"x\"\tand a tab")
        except ValueError:
            logger.exception("request failed")
        logger.critical("shutting down")
        assert provider.force_flush(10_000)
    finally:
        provider.shutdown()
    assert tee.results and all(r == LogRecordExportResult.SUCCESS for r in tee.results), tee.results
    assert len(tee.sent) == 4
    expected = encode_logs(tee.sent)
    exp_records = [rec for _, _, rec in flat(expected)]
    assert exp_records[1].trace_id == span.get_span_context().trace_id.to_bytes(16, "big")
    assert exp_records[1].span_id == span.get_span_context().span_id.to_bytes(8, "big")
    assert {a.key for a in exp_records[2].attributes} >= {"exception.type", "exception.message", "exception.stacktrace"}

    # --json, from the database and from the server: every field as the SDK sent it.
    from_db = cli_logs_request(logs_server)
    assert_same_logs(expected, from_db)
    assert cli_logs_request(logs_server, source="endpoint") == from_db
    got = [rec for _, _, rec in flat(from_db)]
    assert [r.body.string_value for r in got] == ["starting up", "disk /dev/sda1 is 93% full", "request failed",
                                                  "shutting down"]
    assert [(r.severity_number, r.severity_text) for r in got] == [(5, "DEBUG"), (13, "WARN"), (17, "ERROR"),
                                                                   (21, "FATAL")]
    assert all(r.time_unix_nano and r.observed_time_unix_nano for r in got)
    assert flat(from_db)[0][1].scope.name == f"interop.sdk.{transport}"

    # The text lines: time, level, service, body, attributes (escaped), oldest first.
    p = cli_logs(logs_server, "--color", "never")
    assert p.returncode == 0, p.stderr
    lines = p.stdout.decode().splitlines()
    assert lines == [expected_line(rec, service) for rec in got]
    assert lines[1].startswith(timestamp(got[1].time_unix_nano) + f" WARN  {service} disk /dev/sda1 is 93% full "
                               "attr.str=héllo ✓ 日本語 attr.int=42 attr.float=2.25 attr.bool=true attr.false=false "
                               "attr.neg=-7 ")
    assert "\x1b" not in p.stdout.decode()
    p2 = cli_logs(logs_server, "--color", "never", source="endpoint")
    assert p2.returncode == 0 and p2.stdout == p.stdout


def every_field_request(token: str) -> ExportLogsServiceRequest:
    """Two resources (one without service.name), scopes with version, attributes and schema URLs, and records with
    every body and attribute type, flags, event name, dropped counts, and one with only an observed time."""
    from opentelemetry.proto.common.v1 import common_pb2
    t = time.time_ns() - 10 * 10**9
    req = ExportLogsServiceRequest()
    rl = req.resource_logs.add(schema_url="https://opentelemetry.io/schemas/1.26.0")
    rl.resource.attributes.extend([kv("service.name", f"every-{token}"), kv("host.cores", 8), kv("ratio", 0.5),
                                   kv("on", True), kv("blob", b"\x00\x01")])
    rl.resource.dropped_attributes_count = 2
    sl = rl.scope_logs.add(schema_url="https://opentelemetry.io/schemas/1.24.0")
    sl.scope.name, sl.scope.version = "every.scope", "9.8.7"
    sl.scope.attributes.append(kv("scope.attr", "s"))
    sl.scope.dropped_attributes_count = 1
    arr = common_pb2.AnyValue()
    arr.array_value.values.extend([common_pb2.AnyValue(int_value=1), common_pb2.AnyValue(string_value="two"),
                                   common_pb2.AnyValue(double_value=3.5)])
    kvl = common_pb2.AnyValue()
    kvl.kvlist_value.values.extend([kv("k", "v"), kv("n", -3), kv("nested", b"\xff")])
    bodies_ = [common_pb2.AnyValue(string_value=f"{token} string"), common_pb2.AnyValue(int_value=-(2**63)),
               common_pb2.AnyValue(double_value=-1.25e-300), common_pb2.AnyValue(bool_value=False),
               common_pb2.AnyValue(bytes_value=bytes(range(256))), arr, kvl, None]
    for i, body in enumerate(bodies_):
        rec = make_log(body, time_ns=t + i * 1000, severity=1 + 3 * i, severity_text=["", "Custom"][i % 2],
                       trace_id=new_trace_id() if i % 3 == 0 else b"", token=token, i=i)
        if rec.trace_id:
            rec.span_id = new_span_id()
            rec.flags = 1
        rec.observed_time_unix_nano = t + i * 1000 + 7
        rec.dropped_attributes_count = i
        rec.event_name = f"event.{i}" if i % 2 else ""
        rec.attributes.extend([common_pb2.KeyValue(key="arr", value=arr),
                               common_pb2.KeyValue(key="map", value=kvl), kv("bytes", b"\x00\xfe"), kv("f", 1e100),
                               kv("empty", "")])
        sl.log_records.append(rec)
    only_observed = make_log(f"{token} observed time only", time_ns=0, observed_ns=t + 10**6, severity=9)
    rl2 = req.resource_logs.add()
    rl2.resource.attributes.append(kv("no.service", token))
    rl2.scope_logs.add().log_records.append(only_observed)
    return req


@pytest.mark.parametrize("via", ["http-protobuf", "http-json", "grpc"])
def test_every_field_round_trips(logs_server, via):
    token = uuid.uuid4().hex
    request = every_field_request(token)
    status, response, message = send(logs_server, request, via)
    assert status == 200 and response.partial_success.rejected_log_records == 0, (status, message, response)
    for source in ("db", "endpoint"):
        got = cli_logs_request(logs_server, source=source)
        assert_same_logs(request, got)
        assert len(got.resource_logs) == 2, "records of one resource are not grouped back together"
    # The record without service.name is filed under unknown_service; a non-string body is searched as its text.
    assert bodies(cli_logs_request(logs_server, "--service", "unknown_service")) == [f"{token} observed time only"]
    found = cli_logs_request(logs_server, "--grep", '"two"')
    assert [rec.body.WhichOneof("value") for _, _, rec in flat(found)] == ["array_value"]
    # The record with only an observed time is shown and filtered at that time.
    p = cli_logs(logs_server, "--service", "unknown_service", "--color", "never")
    observed = request.resource_logs[1].scope_logs[0].log_records[0]
    assert p.stdout.decode() == expected_line(observed, "unknown_service") + "\n"
    assert bodies(cli_logs_request(logs_server, "--service", "unknown_service", "--since", "1m")) == [
        f"{token} observed time only"]
    assert bodies(cli_logs_request(logs_server, "--service", "unknown_service", "--until", "1m")) == []
    # Levels from the severity number when there is no text, or the text as sent.
    p = cli_logs(logs_server, "--service", f"every-{token}", "--color", "never", "--severity", "1")
    levels = [line.split(" ")[1] for line in p.stdout.decode().splitlines()]
    assert levels == ["TRACE", "Custom", "DEBUG", "Custom", "WARN", "Custom", "ERROR", "Custom"], p.stdout


# ---------------------------------------------------------------------------------------------- 2. trace --logs


def test_trace_logs_shows_records_under_their_spans(logs_server):
    from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor

    service = "waterfall"
    tee = TeeExporter(sdk_exporter(logs_server, "grpc"))
    logger, provider = sdk_logger(tee, {"service.name": service}, name="interop.waterfall", batch=False)
    tracer_provider = TracerProvider(resource=Resource.create({"service.name": service}))
    tracer_provider.add_span_processor(SimpleSpanProcessor(
        OTLPSpanExporter(endpoint=logs_server.grpc_address, insecure=True, timeout=10)))
    tracer = tracer_provider.get_tracer("interop")
    try:
        logger.info("outside any span, before")
        with tracer.start_as_current_span("root") as root:
            logger.info("in root, first")
            with tracer.start_as_current_span("child") as child:
                logger.warning("in child", extra={"k": 1})
                with tracer.start_as_current_span("grandchild") as grandchild:
                    logger.error("in grandchild")
            logger.info("in root, last")
        with tracer.start_as_current_span("another-trace"):
            logger.info("in another trace")
        logger.info("outside any span, after")
    finally:
        provider.shutdown()
        tracer_provider.shutdown()
    trace_id = root.get_span_context().trace_id.to_bytes(16, "big")
    ids = {name: s.get_span_context().span_id.to_bytes(8, "big")
           for name, s in [("root", root), ("child", child), ("grandchild", grandchild)]}
    # Two records of the trace that belong to no stored span: an unknown span ID, and none.
    t = time.time_ns()
    extra = make_logs_request([make_log("orphan of an unknown span", time_ns=t, trace_id=trace_id,
                                        span_id=new_span_id(), severity=13),
                               make_log("of the trace, no span", time_ns=t + 1, trace_id=trace_id)],
                              service="elsewhere")
    export_http(logs_server, extra)

    records = {rec.body.string_value: rec for _, _, rec in flat(cli_logs_request(logs_server))}
    assert len(records) == 9, sorted(records)
    for body, span in [("in root, first", "root"), ("in root, last", "root"), ("in child", "child"),
                       ("in grandchild", "grandchild")]:
        assert (records[body].trace_id, records[body].span_id) == (trace_id, ids[span]), body
    assert not records["outside any span, before"].trace_id and not records["outside any span, after"].span_id

    for source in ("db", "endpoint"):
        p = run_cli(logs_server.binary, "trace", trace_id.hex(), *source_args(logs_server, source), "--logs",
                    "--color", "never")
        out = p.stdout.decode()
        assert p.returncode == 0, p.stderr
        lines = out.splitlines()
        assert lines[0].startswith(f"Trace {trace_id.hex()}"), out
        outside = lines.index("Logs of the trace outside its stored spans:")
        # The waterfall: each span row followed by its records (indented deeper), in time order.
        rows: list[tuple[str, int, list[str]]] = []
        first_row = next(i for i, line in enumerate(lines) if "│" in line)  # after the header (it wraps at 80 cells)
        for line in lines[first_row:outside]:
            indent = len(line) - len(line.lstrip(" "))
            if line.lstrip().startswith("▸ "):
                assert rows, f"a record line before any span row:\n{out}"
                assert indent > rows[-1][1], f"record not indented under its span:\n{out}"
                rows[-1][2].append(line.lstrip()[2:])
            else:
                rows.append((line.split("│")[0].strip(), indent, []))
        want = {
            f"{service}: root": ["in root, first", "in root, last"],
            f"{service}: child": ["in child"],
            f"{service}: grandchild": ["in grandchild"],
        }
        assert [r[0] for r in rows] == list(want), out
        assert rows[0][1] < rows[1][1] < rows[2][1], out
        for name, indent, shown in rows:
            assert shown == [expected_line(records[b], None) for b in want[name]], out
        after = [line for line in lines[outside + 1:] if line.strip()]
        assert after == ["  ▸ " + expected_line(records[b], "elsewhere")
                         for b in ("orphan of an unknown span", "of the trace, no span")], out
        assert "outside any span" not in out and "in another trace" not in out

    # The same records through `logs --trace` and `--span`.
    assert set(bodies(cli_logs_request(logs_server, "--trace", trace_id.hex()))) == {
        "in root, first", "in child", "in grandchild", "in root, last", "orphan of an unknown span",
        "of the trace, no span"}
    assert bodies(cli_logs_request(logs_server, "--span", ids["root"].hex(), source="endpoint")) == [
        "in root, first", "in root, last"]


# ---------------------------------------------------------------------------------------------- 3. CLI filters


T1, T2 = new_trace_id(), new_trace_id()
S1, S2, S3 = new_span_id(), new_span_id(), new_span_id()
# (service, severity number, severity text, body, trace, span, minutes ago)
DATASET = [
    ("svc-a", 5, "DEBUG", "cache miss key=alpha", b"", b"", 50),
    ("svc-a", 9, "INFO", "request GET /alpha 200", T1, S1, 40),
    ("svc-b", 13, "WARN", "disk nearly full 93%", T1, S2, 30),
    ("svc-b", 17, "ERROR", "request GET /beta failed: timeout", T2, S3, 20),
    ("svc-a", 21, "FATAL", "panic: out of memory", b"", b"", 10),
    ("svc-b", 9, "", "request GET /gamma 200", T1, S1, 5),
]
B = [row[3] for row in DATASET]


@pytest.fixture(scope="module")
def filter_server(otelsink_bin, tmp_path_factory):
    """A server holding DATASET (sent over HTTP protobuf, one request per service)."""
    factory = ServerFactory(otelsink_bin, tmp_path_factory.mktemp("logs-filters"))
    server = start_logs_server(factory)
    now = time.time_ns()
    server.seeded_at = now
    for service in ("svc-a", "svc-b"):
        records = [make_log(body, time_ns=now - ago * MINUTE, severity=sev, severity_text=text, trace_id=t, span_id=s,
                            observed_ns=now, row=i)
                   for i, (svc, sev, text, body, t, s, ago) in enumerate(DATASET) if svc == service]
        export_http(server, make_logs_request(records, service=service))
    yield server
    factory.teardown()


def rfc3339(ns: int) -> str:
    return timestamp(ns)


FILTER_CASES = {
    "all": ([], B),
    "service": (["--service", "svc-a"], [B[0], B[1], B[4]]),
    "severity-name": (["--severity", "warn"], [B[2], B[3], B[4]]),
    "severity-number": (["--severity", "17"], [B[3], B[4]]),
    "grep": (["--grep", "request"], [B[1], B[3], B[5]]),
    "grep-twice": (["--grep", "request", "--grep", " 200"], [B[1], B[5]]),
    "grep-case-sensitive": (["--grep", "REQUEST"], []),
    "regex": (["--regex", r"GET /(alpha|gamma) 200$"], [B[1], B[5]]),
    "trace": (["--trace", T1.hex()], [B[1], B[2], B[5]]),
    "span": (["--span", S1.hex()], [B[1], B[5]]),
    "limit-newest-oldest-first": (["--limit", "2"], [B[4], B[5]]),
    "since-duration": (["--since", "25m"], [B[3], B[4], B[5]]),
    "until-duration": (["--until", "25m"], [B[0], B[1], B[2]]),
    "since-days": (["--since", "1d"], B),
    "combined": (["--service", "svc-b", "--severity", "warn", "--grep", "request"], [B[3]]),
    "combined-limit": (["--trace", T1.hex(), "--limit", "2"], [B[2], B[5]]),
}


@pytest.mark.parametrize("source", ["db", "endpoint"])
@pytest.mark.parametrize("case", list(FILTER_CASES))
def test_cli_filters(filter_server, source, case):
    args, want = FILTER_CASES[case]
    assert bodies(cli_logs_request(filter_server, *args, source=source)) == want
    p = cli_logs(filter_server, *args, "--color", "never", source=source)
    # Nothing found is exit code 1, as for every lookup command.
    assert p.returncode == (0 if want else 1), p.stderr
    lines = p.stdout.decode().splitlines()
    assert len(lines) == len(want) and all(b in line for b, line in zip(want, lines)), lines
    if not want:
        assert p.stderr.decode().strip() == "otelsink: no log records found"


@pytest.mark.parametrize("source", ["db", "endpoint"])
def test_cli_since_until_rfc3339(filter_server, source):
    now = filter_server.seeded_at
    args = ["--since", rfc3339(now - 45 * MINUTE), "--until", rfc3339(now - 15 * MINUTE)]
    assert bodies(cli_logs_request(filter_server, *args, source=source)) == [B[1], B[2], B[3]]
    # Inclusive bounds: a range that starts exactly at a record's time holds it.
    exact = ["--since", rfc3339(now - 30 * MINUTE)[:-5] + f".{(now - 30 * MINUTE) % 10**9:09d}Z"]
    assert bodies(cli_logs_request(filter_server, *exact, source=source)) == B[2:]


def test_cli_json_with_no_match_is_still_a_json_document(filter_server):
    p = cli_logs(filter_server, "--json", "--service", "nobody")
    assert p.returncode == 1 and b"no log records found" in p.stderr, p.stderr  # nothing found: exit code 1
    doc = json.loads(p.stdout)
    assert doc.get("resourceLogs", []) == []


@pytest.mark.parametrize("source", ["db", "endpoint"])
@pytest.mark.parametrize("args,needle", [
    (["--regex", "[bad"], "--regex"),
    (["--trace", "xyz"], "--trace"),
    (["--trace", "0" * 32], "--trace"),
    (["--span", "1234"], "--span"),
    (["--severity", "loud"], "--severity"),
    (["--severity", "25"], "--severity"),
    (["--since", "soon"], "--since"),
    (["--until", "2024-13-45T00:00:00Z"], "--until"),
    (["--since", "5m", "--until", "10m"], "--since"),
    (["--limit", "0"], "--limit"),
], ids=["regex", "trace-hex", "trace-zero", "span-short", "severity-name", "severity-number", "since", "until",
        "since-after-until", "limit-0"])
def test_cli_invalid_input_is_exit_2_with_a_message(filter_server, source, args, needle):
    p = cli_logs(filter_server, *args, source=source)
    err = p.stderr.decode(errors="replace")
    assert p.returncode == 2, (p.returncode, err)
    assert needle in err and err.startswith("otelsink: "), err
    assert p.stdout == b""


def test_cli_unavailable_storage_is_exit_3(otelsink_bin, tmp_path):
    p = run_cli(otelsink_bin, "logs", "--db", tmp_path / "missing.db")
    assert p.returncode == 3 and b"missing.db" in p.stderr, p.stderr
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    p = run_cli(otelsink_bin, "logs", "--endpoint", f"http://127.0.0.1:{port}")
    assert p.returncode == 3 and b"cannot reach" in p.stderr, p.stderr


# ---------------------------------------------------------------------------------------------- 4. --follow


class Follower:
    """`otelsink logs --follow …` running, its stdout lines collected by a thread."""

    def __init__(self, server, source: str, *args):
        self.proc = subprocess.Popen(
            [str(server.binary), "logs", "--follow", "--color", "never", *source_args(server, source), *args],
            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        self.lines: queue.Queue[str] = queue.Queue()
        self.thread = threading.Thread(target=self._read, daemon=True)
        self.thread.start()

    def _read(self):
        for line in self.proc.stdout:
            self.lines.put(line.decode(errors="replace").rstrip("\n"))

    def take(self, n: int, timeout: float = 6.0) -> list[str]:
        out, deadline = [], time.monotonic() + timeout
        while len(out) < n:
            try:
                out.append(self.lines.get(timeout=max(0.01, deadline - time.monotonic())))
            except queue.Empty:
                raise AssertionError(f"only {len(out)} of {n} lines within {timeout}s: {out}\n"
                                     f"alive: {self.proc.poll() is None}") from None
        return out

    def quiet(self, seconds: float) -> list[str]:
        time.sleep(seconds)
        out = []
        while not self.lines.empty():
            out.append(self.lines.get())
        return out

    def stop(self) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
            try:
                self.proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=5)
                raise AssertionError("otelsink logs --follow did not exit within 5 s of SIGINT")
        return self.proc.returncode

    def close(self):
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(timeout=5)
        self.proc.stdout.close()
        self.proc.stderr.close()


@pytest.mark.parametrize("source", ["endpoint", "db"])
def test_follow_prints_new_records_as_they_arrive(logs_server, source):
    service = "followed"
    export_http(logs_server, make_logs_request([make_log("already there", time_ns=time.time_ns() - 10**9)],
                                               service=service))
    follower = Follower(logs_server, source, "--service", service)
    try:
        assert follower.take(1)[0].endswith(f"{service} already there")
        started = time.monotonic()
        now = time.time_ns()
        export_http(logs_server, make_logs_request([make_log("new one", time_ns=now, severity=13),
                                                    make_log("new two", time_ns=now + 1000, severity=17)],
                                                   service=service))
        export_http(logs_server, make_logs_request([make_log("not followed", time_ns=now)], service="other"))
        got = follower.take(2)
        assert time.monotonic() - started < 5
        assert got == [f"{timestamp(now)} WARN  {service} new one", f"{timestamp(now + 1000)} ERROR {service} new two"]
        export_http(logs_server, make_logs_request([make_log("third, later", time_ns=time.time_ns())], service=service))
        assert follower.take(1)[0].endswith("third, later")
        assert follower.quiet(1.5) == [], "a record was printed twice or one that does not match"
    finally:
        try:
            rc = follower.stop()
        finally:
            follower.close()
    assert rc in (0, 130, -signal.SIGINT), rc


def test_follow_json_prints_one_document_per_batch(logs_server):
    follower = Follower(logs_server, "db", "--json", "--service", "json-followed")
    try:
        assert follower.quiet(1.2) == [], "--json --follow printed something before any record matched"
        now = time.time_ns()
        sent = make_logs_request([make_log(f"json {i}", time_ns=now + i, severity=9, i=i) for i in range(3)],
                                 service="json-followed")
        export_http(logs_server, sent)
        got, deadline = [], time.monotonic() + 6
        while len(got) < 3:
            line, = follower.take(1, timeout=max(0.1, deadline - time.monotonic()))
            got += flat(from_otlp_json(json.loads(line), ExportLogsServiceRequest))
        merged = ExportLogsServiceRequest()
        for res, scope, rec in got:
            rl = merged.resource_logs.add()
            rl.CopyFrom(res)
            sl = rl.scope_logs.add()
            sl.CopyFrom(scope)
            sl.log_records.append(rec)
        assert_same_logs(sent, merged)
    finally:
        try:
            follower.stop()
        finally:
            follower.close()


def test_follow_prints_a_record_that_arrives_late(logs_server):
    follower = Follower(logs_server, "endpoint")
    try:
        assert follower.quiet(1.2) == []  # its first search is done: what comes now is new to it
        now = time.time_ns()
        export_http(logs_server, make_logs_request([make_log("from the fast process", time_ns=now)], service="fast"))
        assert follower.take(1)[0].endswith("from the fast process")
        export_http(logs_server, make_logs_request([make_log("from the slow process", time_ns=now - 2 * 10**9)],
                                                   service="slow"))
        # Stored (a new `logs` run shows it), but the running --follow never prints it.
        assert bodies(cli_logs_request(logs_server, "--service", "slow")) == ["from the slow process"]
        assert follower.take(1, timeout=3.5)[0].endswith("from the slow process")
    finally:
        try:
            follower.stop()
        finally:
            follower.close()


def test_follow_is_not_stalled_by_a_record_from_a_clock_ahead(logs_server):
    follower = Follower(logs_server, "db")
    try:
        assert follower.quiet(1.2) == []
        export_http(logs_server, make_logs_request([make_log("clock ahead", time_ns=time.time_ns() + 3600 * 10**9)],
                                                   service="skewed"))
        assert follower.take(1)[0].endswith("clock ahead")
        export_http(logs_server, make_logs_request([make_log("on time", time_ns=time.time_ns())], service="punctual"))
        assert bodies(cli_logs_request(logs_server, "--service", "punctual")) == ["on time"]
        assert follower.take(1, timeout=3.5)[0].endswith("on time")
    finally:
        try:
            follower.stop()
        finally:
            follower.close()


def test_follow_exits_3_when_the_server_goes_away(logs_server):
    follower = Follower(logs_server, "endpoint")
    try:
        assert follower.quiet(1.2) == []
        logs_server.kill()
        follower.proc.wait(timeout=5)
        assert follower.proc.returncode == 3
        assert b"cannot reach" in follower.proc.stderr.read()
    finally:
        follower.close()


# ---------------------------------------------------------------------------------------------- 5. /api/v3/logs


def api_logs(server, params) -> httpx.Response:
    query = urllib.parse.urlencode(params)
    return httpx.get(f"{server.query_url}/api/v3/logs?{query}", timeout=15)


def api_bodies(r: httpx.Response, newest_first: bool = True) -> list[str]:
    """The bodies of the records found, in the direction asked for. The answer groups records by resource and
    scope (OTLP); within a group they must be in that direction."""
    assert r.status_code == 200, (r.status_code, r.text[:500])
    assert r.headers["content-type"].startswith("application/json")
    doc = r.json()
    # `cursor` is where records arriving later begin (what --follow passes back as `after`).
    assert set(doc) == {"result", "cursor"}, doc.keys()
    assert re.fullmatch(r"(-?\d+:\d+(,-?\d+:\d+)*)?", doc["cursor"]), doc["cursor"]
    request = from_otlp_json(doc["result"], ExportLogsServiceRequest)
    for rl in request.resource_logs:
        for sl in rl.scope_logs:
            times = [record_time(rec) for rec in sl.log_records]
            assert times == sorted(times, reverse=newest_first), f"records of a scope out of order: {times}"
    records = sorted((rec for _, _, rec in flat(request)), key=record_time, reverse=newest_first)
    return [rec.body.string_value for rec in records]


def test_api_v3_logs_parameters(filter_server):
    now = filter_server.seeded_at
    newest_first = list(reversed(B))
    cases = [
        ([], newest_first),
        ([("direction", "backward")], newest_first),
        ([("direction", "forward")], B),
        ([("service", "svc-b")], [B[5], B[3], B[2]]),
        ([("trace_id", T1.hex())], [B[5], B[2], B[1]]),
        ([("span_id", S1.hex()), ("direction", "forward")], [B[1], B[5]]),
        ([("severity_min", "error")], [B[4], B[3]]),
        ([("severity_min", "13")], [B[4], B[3], B[2]]),
        ([("q", "request"), ("q", "GET /beta")], [B[3]]),
        ([("re", r"^(panic|cache)"), ("direction", "forward")], [B[0], B[4]]),
        ([("start", str(now - 35 * MINUTE)), ("end", str(now - 15 * MINUTE))], [B[3], B[2]]),
        ([("start", rfc3339(now - 45 * MINUTE)), ("end", rfc3339(now - 25 * MINUTE)), ("direction", "forward")],
         [B[1], B[2]]),
        ([("limit", "2")], [B[5], B[4]]),
        ([("limit", "2"), ("direction", "forward")], [B[0], B[1]]),
        ([("service", "nobody")], []),
    ]
    for params, want in cases:
        forward = ("direction", "forward") in params
        assert api_bodies(api_logs(filter_server, params), newest_first=not forward) == want, params
    # Every field of a record as it was sent.
    r = api_logs(filter_server, [("span_id", S3.hex())])
    (res, scope, rec), = flat(from_otlp_json(r.json()["result"], ExportLogsServiceRequest))
    sent = make_log(B[3], time_ns=now - 20 * MINUTE, severity=17, severity_text="ERROR", trace_id=T2, span_id=S3,
                    observed_ns=now, row=3)
    assert rec == sent and service_of(res) == "svc-b" and scope.scope.name == "interop.logs"


@pytest.mark.parametrize("params,name", [
    ({"re": "[bad"}, "re"),
    ({"trace_id": "xyz"}, "trace_id"),
    ({"span_id": "0123456789abcdef0"}, "span_id"),
    ({"span_id": "not-hex"}, "span_id"),
    ({"severity_min": "loud"}, "severity_min"),
    ({"direction": "up"}, "direction"),
    ({"start": "yesterday"}, "start"),
    ({"start": "2000", "end": "1000"}, "end"),
    ({"limit": "many"}, "limit"),
])
def test_api_v3_logs_bad_parameters_are_400_naming_them(filter_server, params, name):
    r = api_logs(filter_server, params)
    assert r.status_code == 400, (r.status_code, r.text[:300])
    error = r.json()["error"]
    assert error["httpCode"] == 400
    assert name in error["message"] and error["message"], error
    bad_value = next(iter(params.values())) if name != "end" else None
    if bad_value is not None:
        assert bad_value in error["message"], error


# ---------------------------------------------------------------------------------------------- 6. bad input


@pytest.fixture(scope="module")
def bad_input_server(otelsink_bin, tmp_path_factory):
    factory = ServerFactory(otelsink_bin, tmp_path_factory.mktemp("logs-bad-input"))
    server = start_logs_server(factory)
    yield server
    factory.teardown()


@pytest.fixture
def still_serving(bad_input_server):
    """After the test: the server is alive and stores a valid export over HTTP and gRPC."""
    yield bad_input_server
    assert bad_input_server.running, f"otelsink died:\n{bad_input_server.log()[-3000:]}"
    token = uuid.uuid4().hex
    export_http(bad_input_server, make_logs_request([make_log(f"alive {token} http")]))
    assert export_grpc(bad_input_server, make_logs_request([make_log(f"alive {token} grpc")])).partial_success \
        .rejected_log_records == 0
    assert sorted(bodies(cli_logs_request(bad_input_server, "--grep", token))) == [f"alive {token} grpc",
                                                                                   f"alive {token} http"]


def send(server, request_or_bytes, via: str):
    """(status, ExportLogsServiceResponse or None, error message) over `via`: http-protobuf, http-json or grpc."""
    if via == "grpc":
        payload = request_or_bytes if isinstance(request_or_bytes, bytes) else request_or_bytes.SerializeToString()
        with grpc.insecure_channel(server.grpc_address) as channel:
            call = channel.unary_unary("/opentelemetry.proto.collector.logs.v1.LogsService/Export")
            try:
                return 200, ExportLogsServiceResponse.FromString(call(payload, timeout=15)), ""
            except grpc.RpcError as e:
                return e.code(), None, e.details()
    if via == "http-json":
        body = (request_or_bytes if isinstance(request_or_bytes, bytes)
                else json.dumps(logs_json(request_or_bytes)).encode())
        r = post_logs(server, body, JSON)
    else:
        body = request_or_bytes if isinstance(request_or_bytes, bytes) else request_or_bytes.SerializeToString()
        r = post_logs(server, body, PROTOBUF)
    if r.status_code == 200:
        return 200, parse_logs_response(r), ""
    return r.status_code, None, parse_status(r.content, r.headers.get("content-type", "")).message


VIA = ["http-protobuf", "http-json", "grpc"]


@pytest.mark.parametrize("via", VIA)
@pytest.mark.parametrize("bad", ["trace-5-bytes", "span-3-bytes"])
def test_record_with_malformed_id_is_rejected_alone(still_serving, via, bad):
    server = still_serving
    token = uuid.uuid4().hex
    trace = new_trace_id()
    bad_record = (make_log(f"{token} bad", trace_id=trace[:5], span_id=new_span_id()) if bad == "trace-5-bytes"
                  else make_log(f"{token} bad", trace_id=trace, span_id=b"\x01\x02\x03"))
    request = make_logs_request([make_log(f"{token} good 1", trace_id=trace, span_id=new_span_id()), bad_record,
                                 make_log(f"{token} good 2")])
    status, response, message = send(server, request, via)
    assert status == 200, (status, message)
    assert response.partial_success.rejected_log_records == 1, response
    problem = "trace id" if bad == "trace-5-bytes" else "span id"
    assert problem in response.partial_success.error_message, response.partial_success.error_message
    assert bodies(cli_logs_request(server, "--grep", token)) == [f"{token} good 1", f"{token} good 2"]


def nested_body(depth: int, kind: str, leaf: str):
    """An AnyValue nested `depth` levels (kvlist or array) around a string, as a protobuf message."""
    from opentelemetry.proto.common.v1 import common_pb2
    value = common_pb2.AnyValue(string_value=leaf)
    for i in range(depth):
        outer = common_pb2.AnyValue()
        if kind == "kvlist":
            outer.kvlist_value.values.add(key=f"k{i}").value.CopyFrom(value)
        else:
            outer.array_value.values.add().CopyFrom(value)
        value = outer
    return value


def _varint(n: int) -> bytes:
    out = bytearray()
    while True:
        b = n & 0x7F
        n >>= 7
        out.append(b | (0x80 if n else 0))
        if not n:
            return bytes(out)


def _field(number: int, payload: bytes) -> bytes:
    """A length-delimited protobuf field."""
    return _varint(number << 3 | 2) + _varint(len(payload)) + payload


def deep_nested_wire(depth: int, kind: str, leaf: str) -> tuple[bytes, dict]:
    """A request of one record whose body nests `depth` levels, as protobuf bytes (written by hand: the Python
    protobuf runtime refuses messages this deep) and as OTLP/JSON."""
    wire = _field(1, leaf.encode())  # AnyValue.string_value
    doc: dict = {"stringValue": leaf}
    for i in range(depth):
        if kind == "kvlist":  # AnyValue.kvlist_value(6) -> KeyValueList.values(1) -> KeyValue{key(1), value(2)}
            wire = _field(6, _field(1, _field(1, f"k{i}".encode()) + _field(2, wire)))
            doc = {"kvlistValue": {"values": [{"key": f"k{i}", "value": doc}]}}
        else:  # AnyValue.array_value(5) -> ArrayValue.values(1)
            wire = _field(5, _field(1, wire))
            doc = {"arrayValue": {"values": [doc]}}
    shell = make_logs_request([make_log(None, severity=9)])
    json_doc = logs_json(shell)
    json_doc["resourceLogs"][0]["scopeLogs"][0]["logRecords"][0]["body"] = doc
    record = shell.resource_logs[0].scope_logs[0].log_records[0].SerializeToString() + _field(5, wire)
    scope_logs = logs_pb2.ScopeLogs(scope=shell.resource_logs[0].scope_logs[0].scope).SerializeToString()
    resource_logs = logs_pb2.ResourceLogs(resource=shell.resource_logs[0].resource).SerializeToString()
    request = _field(1, resource_logs + _field(2, scope_logs + _field(2, record)))
    return request, json_doc


@pytest.mark.parametrize("via", VIA)
@pytest.mark.parametrize("kind", ["kvlist", "array"])
def test_deeply_nested_body_is_answered_and_the_server_keeps_serving(still_serving, via, kind):
    server = still_serving
    token = uuid.uuid4().hex
    wire, doc = deep_nested_wire(100, kind, f"leaf-{token}")
    status, response, message = send(server, json.dumps(doc).encode() if via == "http-json" else wire, via)
    assert status in (200, 400, grpc.StatusCode.INVALID_ARGUMENT), (status, message)
    if status != 200:
        # Today: 400 / INVALID_ARGUMENT, "messageDepthLimit" (protobuf) or "… nested too deeply" (JSON).
        assert "depth" in message.lower() or "nested" in message.lower(), message
        assert bodies(cli_logs_request(server, "--grep", f"leaf-{token}")) == []
        return
    assert response.partial_success.rejected_log_records in (0, 1)
    p = cli_logs(server, "--json", "--grep", f"leaf-{token}")
    assert p.returncode == 0, p.stderr
    p = cli_logs(server, "--grep", f"leaf-{token}", "--color", "never")
    assert p.returncode == 0, p.stderr


@pytest.mark.parametrize("via", VIA)
@pytest.mark.parametrize("kind", ["kvlist", "array"])
def test_moderately_nested_body_round_trips(still_serving, via, kind):
    server = still_serving
    token = uuid.uuid4().hex
    request = make_logs_request([make_log(nested_body(20, kind, f"leaf-{token}"), severity=13, tag=token)])
    status, response, message = send(server, request, via)
    assert status == 200 and response.partial_success.rejected_log_records == 0, (status, message)
    assert_same_logs(request, cli_logs_request(server, "--grep", f"leaf-{token}"))


def test_one_megabyte_body_round_trips(still_serving):
    server = still_serving
    token = uuid.uuid4().hex
    chunk = "0123456789abcdefghijklmnopqrstuvwxyz é ✓ 日本語 "
    body = (token + " " + chunk * (2**20 // len(chunk) + 1))[:2**20]
    request = make_logs_request([make_log(body, severity=9)])
    assert len(request.SerializeToString()) > 2**20
    export_http(server, request)
    for source in ("db", "endpoint"):
        got = cli_logs_request(server, "--grep", token, source=source)
        assert_same_logs(request, got)
    # The text line cuts the body, with an ellipsis.
    p = cli_logs(server, "--grep", token, "--color", "never")
    line, = p.stdout.decode().splitlines()
    assert body[:1000] in line and "…" in line and len(line) < 10_000
    # Over the query API too.
    r = api_logs(server, {"q": token})
    assert api_bodies(r) == [body]


def _with_invalid_utf8(request, placeholder: bytes) -> bytes:
    """`request` serialized with `placeholder` replaced by invalid UTF-8 of the same length."""
    raw = request.SerializeToString()
    assert raw.count(placeholder) == 1
    bad = (b"ok\xff\xfe\xc3(" + b"x" * len(placeholder))[:len(placeholder)]
    return raw.replace(placeholder, bad)


@pytest.mark.parametrize("via", ["http-protobuf", "grpc"])
@pytest.mark.parametrize("where", ["body", "attribute-value", "attribute-key", "severity-text", "service-name"])
def test_invalid_utf8_is_refused_naming_the_problem(still_serving, via, where):
    server = still_serving
    token = uuid.uuid4().hex
    ph = b"PLACEHOLDER0123"
    p = ph.decode()
    record = make_log(p if where == "body" else f"{token} body", severity_text=p if where == "severity-text" else "")
    if where == "attribute-value":
        record.attributes.append(kv("k", p))
    if where == "attribute-key":
        record.attributes.append(kv(p, "v"))
    request = make_logs_request([record], service=p if where == "service-name" else "utf8-test")
    status, response, message = send(server, _with_invalid_utf8(request, ph), via)
    assert status in (400, grpc.StatusCode.INVALID_ARGUMENT), (status, response, message)
    assert "UTF-8" in message or "utf-8" in message.lower() or "utf8" in message.lower(), message
    assert bodies(cli_logs_request(server, "--grep", token)) == []


def test_terminal_escape_sequences_are_shown_escaped(still_serving):
    server = still_serving
    token = uuid.uuid4().hex
    body = f"{token} \x1b[31mred\x1b[0m \x07bell \x1b]0;title\x07 \u202eevil\u202c back\\slash\nnew line"
    trace, span = new_trace_id(), new_span_id()
    request = make_logs_request([make_log(body, trace_id=trace, span_id=span, severity=17,
                                          severity_text="E\x1b[2JRR", **{"attr\x1b[1m": "v\x1b[0m\r"})],
                                service="svc\x1b[5m")
    export_http(server, request)
    # The JSON keeps the exact text.
    assert_same_logs(request, cli_logs_request(server, "--grep", token))
    for args in (["--color", "never"], ["--color", "always"]):
        for source in ("db", "endpoint"):
            p = cli_logs(server, "--grep", token, *args, source=source)
            out = p.stdout.decode()
            assert p.returncode == 0, p.stderr
            line, = out.splitlines()
            assert "\\x1b[31mred\\x1b[0m \\x07bell \\x1b]0;title\\x07 \\u202eevil\\u202c back\\\\slash\\nnew line" \
                in line, line
            assert "E\\x1b[2JRR" in line and "svc\\x1b[5m" in line and "attr\\x1b[1m=v\\x1b[0m\\r" in line, line
            if args[1] == "never":
                assert "\x1b" not in out and "\x07" not in out and "\u202e" not in out and "\r" not in out
                assert line == expected_line(request.resource_logs[0].scope_logs[0].log_records[0], "svc\x1b[5m")
            else:
                # Only the CLI's own colour sequences (SGR) remain raw.
                import re
                assert not re.sub(r"\x1b\[[0-9;]*m", "", out).count("\x1b"), repr(out)
                assert "\x07" not in out and "\u202e" not in out
    # In trace --logs (no stored span: the record is listed after the "outside" line).
    p = run_cli(server.binary, "trace", trace.hex(), "--db", server.db_path, "--logs", "--color", "never")
    assert p.returncode in (0, 1), p.stderr
    assert b"\x1b" not in p.stdout and b"\x07" not in p.stdout


# ---------------------------------------------------------------------------------------------- 7. durability


def test_acknowledged_records_survive_kill_9(server_factory):
    from opentelemetry.sdk._logs.export import LogRecordExportResult

    server = start_logs_server(server_factory)
    acked: set[str] = set()
    for round_ in range(4):
        if round_:
            server.start()  # on the database the killed process left behind
        sent: set[str] = set()
        for batch in range(3):
            records = [make_log(f"r{round_}-b{batch}-{i} {uuid.uuid4().hex}", severity=9 + i % 12, n=i)
                       for i in range(50)]
            request = make_logs_request(records, service=f"durable-{batch % 2}")
            if (round_ + batch) % 3 == 0:
                export_http(server, request)
            elif (round_ + batch) % 3 == 1:
                assert export_grpc(server, request).partial_success.rejected_log_records == 0
            else:
                r = post_logs(server, json.dumps(logs_json(request)).encode(), JSON)
                assert r.status_code == 200 and parse_logs_response(r).partial_success.rejected_log_records == 0
            sent |= {r.body.string_value for r in records}
        # And a few through the SDK exporter, acknowledged when its export returns SUCCESS.
        tee = TeeExporter(sdk_exporter(server, "grpc" if round_ % 2 else "http-protobuf"))
        logger, provider = sdk_logger(tee, {"service.name": "durable-sdk"}, name=f"interop.durable.{round_}",
                                      batch=False)
        for i in range(5):
            logger.info("sdk r%d-%d %s", round_, i, uuid.uuid4().hex)
        assert tee.results == [LogRecordExportResult.SUCCESS] * 5
        sent |= {rec.log_record.body for rec in tee.sent}
        server.kill()
        provider.shutdown()
        acked |= sent
        stored = bodies(cli_logs_request(server, "--limit", "100000"))
        missing = acked - set(stored)
        assert not missing, f"after kill #{round_ + 1}: {len(missing)} acknowledged records missing"
        assert len(stored) == len(acked), "records stored twice"
    server.start()
    stored = bodies(cli_logs_request(server, "--limit", "100000", source="endpoint"))
    assert sorted(stored) == sorted(acked)
    export_http(server, make_logs_request([make_log("after the crashes")]))
    assert bodies(cli_logs_request(server, "--grep", "after the crashes")) == ["after the crashes"]
