"""Helpers shared by the interop tests: building OTLP requests, OTLP/JSON conversion, reading the store back.

Everything here talks to the server through its public surfaces only: the OTLP endpoints, the CLI and the
SQLite file (opened read-only).
"""

from __future__ import annotations

import base64
import copy
import gzip
import json
import os
import sqlite3
import subprocess
import time
from pathlib import Path

from google.protobuf import json_format
from google.rpc import status_pb2
from opentelemetry.proto.collector.trace.v1 import trace_service_pb2
from opentelemetry.proto.common.v1 import common_pb2
from opentelemetry.proto.resource.v1 import resource_pb2
from opentelemetry.proto.trace.v1 import trace_pb2

ID_KEYS = ("traceId", "spanId", "parentSpanId")

PROTOBUF = "application/x-protobuf"
JSON = "application/json"


# ---------------------------------------------------------------------------------------------- IDs and requests


def new_trace_id() -> bytes:
    while True:
        b = os.urandom(16)
        if any(b):
            return b


def new_span_id() -> bytes:
    while True:
        b = os.urandom(8)
        if any(b):
            return b


def kv(key: str, value) -> common_pb2.KeyValue:
    out = common_pb2.KeyValue(key=key)
    if isinstance(value, bool):
        out.value.bool_value = value
    elif isinstance(value, int):
        out.value.int_value = value
    elif isinstance(value, float):
        out.value.double_value = value
    elif isinstance(value, bytes):
        out.value.bytes_value = value
    else:
        out.value.string_value = str(value)
    return out


def make_span(trace_id: bytes, name: str = "op", span_id: bytes | None = None, parent: bytes = b"",
              start_ns: int | None = None, duration_ns: int = 1_000_000, **attrs) -> trace_pb2.Span:
    start = time.time_ns() if start_ns is None else start_ns
    span = trace_pb2.Span(
        trace_id=trace_id,
        span_id=span_id if span_id is not None else new_span_id(),
        parent_span_id=parent,
        name=name,
        kind=trace_pb2.Span.SPAN_KIND_INTERNAL,
        start_time_unix_nano=start,
        end_time_unix_nano=start + duration_ns,
    )
    for k, v in attrs.items():
        span.attributes.append(kv(k, v))
    return span


def make_request(spans, service: str = "interop-test", scope: str = "interop") -> trace_service_pb2.ExportTraceServiceRequest:
    """One resource, one scope, the given spans."""
    req = trace_service_pb2.ExportTraceServiceRequest()
    rs = req.resource_spans.add()
    rs.resource.attributes.append(kv("service.name", service))
    ss = rs.scope_spans.add()
    ss.scope.name = scope
    ss.spans.extend(spans)
    return req


def make_trace_request(n_spans: int = 3, service: str = "interop-test") -> tuple[bytes, trace_service_pb2.ExportTraceServiceRequest]:
    """A request holding one trace of `n_spans` spans (a root and its children); returns (trace_id, request)."""
    trace_id = new_trace_id()
    root = make_span(trace_id, name="root", duration_ns=5_000_000)
    spans = [root] + [
        make_span(trace_id, name=f"child-{i}", parent=root.span_id, start_ns=root.start_time_unix_nano + i + 1, index=i)
        for i in range(n_spans - 1)
    ]
    return trace_id, make_request(spans, service=service)


# ---------------------------------------------------------------------------------------------- OTLP/JSON


def _map_ids(node, fn):
    if isinstance(node, dict):
        for k, v in list(node.items()):
            if k in ID_KEYS and isinstance(v, str):
                node[k] = fn(v)
            else:
                _map_ids(v, fn)
    elif isinstance(node, list):
        for item in node:
            _map_ids(item, fn)
    return node


def to_otlp_json(message) -> dict:
    """OTLP/JSON for a protobuf message: proto3 JSON with integer enums and hex trace/span IDs."""
    d = json_format.MessageToDict(message, use_integers_for_enums=True)
    return _map_ids(d, lambda v: base64.b64decode(v).hex())


def from_otlp_json(doc: dict, message_type=trace_service_pb2.ExportTraceServiceRequest):
    """Parses OTLP/JSON (hex IDs) into a protobuf message, strictly (unknown fields are an error here)."""
    d = _map_ids(copy.deepcopy(doc), lambda v: base64.b64encode(bytes.fromhex(v)).decode())
    return json_format.ParseDict(d, message_type())


def encode_body(message_or_doc, content_type: str, compress: bool = False) -> bytes:
    if content_type == JSON:
        doc = message_or_doc if isinstance(message_or_doc, dict) else to_otlp_json(message_or_doc)
        body = json.dumps(doc).encode()
    else:
        body = message_or_doc.SerializeToString()
    return gzip.compress(body) if compress else body


def parse_status(body: bytes, content_type: str) -> status_pb2.Status:
    """The google.rpc.Status of an error answer, in the encoding the answer declares."""
    if content_type.split(";")[0].strip() == JSON:
        return json_format.Parse(body.decode(), status_pb2.Status(), ignore_unknown_fields=True)
    status = status_pb2.Status()
    status.ParseFromString(body)
    return status


def parse_trace_response(body: bytes, content_type: str) -> trace_service_pb2.ExportTraceServiceResponse:
    if content_type.split(";")[0].strip() == JSON:
        return json_format.Parse(body.decode() or "{}", trace_service_pb2.ExportTraceServiceResponse())
    resp = trace_service_pb2.ExportTraceServiceResponse()
    resp.ParseFromString(body)
    return resp


# ---------------------------------------------------------------------------------------------- reading the store


def open_db_readonly(db_path) -> sqlite3.Connection:
    return sqlite3.connect(f"file:{db_path}?mode=ro", uri=True, timeout=10)


def span_partitions(con) -> list[tuple[int, bool]]:
    """(partition, whether it stores chunks of spans) for every partition: `span_chunks_<n>` holds one row per
    chunk of a trace's spans (schema version 11), `spans_<n>` one row per span (earlier versions)."""
    tables = {r[0] for r in con.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    return [(int(b), f"span_chunks_{int(b)}" in tables) for (b,) in con.execute("SELECT bucket FROM partitions")]


def chunk_spans(body: bytes) -> list:
    """The spans of a chunk's body (an ExportTraceServiceRequest), which must be stored uncompressed."""
    assert body[:1] != b"\x00", "a compressed chunk: read the trace through otelsink"
    request = trace_service_pb2.ExportTraceServiceRequest()
    request.ParseFromString(body)
    return [span for rs in request.resource_spans for ss in rs.scope_spans for span in ss.spans]


def stored_span_ids(db_path, trace_ids=None) -> dict[bytes, set[bytes]]:
    """trace_id -> set of span_ids stored (all partitions), read straight from SQLite (read-only)."""
    out: dict[bytes, set[bytes]] = {}
    if not Path(db_path).exists():
        return out
    con = open_db_readonly(db_path)
    try:
        for b, chunks in span_partitions(con):
            if chunks:
                rows = [(bytes(tid), bytes(ids)[i:i + 8]) for tid, ids in con.execute(f"SELECT trace_id, span_ids FROM span_chunks_{b}")
                        for i in range(0, len(bytes(ids)), 8)]
            else:
                rows = [(bytes(tid), bytes(sid)) for tid, sid in con.execute(f"SELECT trace_id, span_id FROM spans_{b}")]
            for tid, sid in rows:
                if trace_ids is None or tid in trace_ids:
                    out.setdefault(tid, set()).add(sid)
    finally:
        con.close()
    return out


def stored_span_count(db_path) -> int:
    """Every span stored (all partitions), read straight from SQLite: a span stored twice counts twice."""
    if not Path(db_path).exists():
        return 0
    con = open_db_readonly(db_path)
    try:
        return sum(con.execute(f"SELECT coalesce(sum(span_count), 0) FROM span_chunks_{b}" if chunks
                               else f"SELECT count(*) FROM spans_{b}").fetchone()[0]
                   for b, chunks in span_partitions(con))
    finally:
        con.close()


def stored_rows(db_path, trace_id: bytes) -> list[dict]:
    """Every stored row of one trace with its decoded Span body and its resource/scope rows decoded."""
    con = open_db_readonly(db_path)
    rows = []
    try:
        for b, chunks in span_partitions(con):
            if chunks:
                q = (f"SELECT s.service, s.body, r.body, c.body, r.service, c.name FROM span_chunks_{b} s "
                     f"JOIN resources r ON r.id = s.resource_id JOIN scopes c ON c.id = s.scope_id WHERE s.trace_id = ?")
                for service, body, resource, scope, resource_service, scope_name in con.execute(q, (trace_id,)):
                    rs = trace_pb2.ResourceSpans()
                    rs.ParseFromString(bytes(resource))
                    ss = trace_pb2.ScopeSpans()
                    ss.ParseFromString(bytes(scope))
                    for span in chunk_spans(bytes(body)):
                        rows.append(dict(
                            trace_id=span.trace_id, span_id=span.span_id, parent_span_id=span.parent_span_id,
                            service=service, name=span.name, kind=span.kind, start_ns=span.start_time_unix_nano,
                            duration_ns=max(0, span.end_time_unix_nano - span.start_time_unix_nano),
                            status_code=span.status.code, span=span, resource_spans=rs, scope_spans=ss,
                            resource_service=resource_service, scope_name=scope_name, in_chunk=True,
                        ))
                continue
            q = (f"SELECT s.trace_id, s.span_id, s.parent_span_id, s.service, s.name, s.kind, s.start_ns, "
                 f"s.duration_ns, s.status_code, s.body, r.body, c.body, r.service, c.name "
                 f"FROM spans_{int(b)} s JOIN resources r ON r.id = s.resource_id JOIN scopes c ON c.id = s.scope_id "
                 f"WHERE s.trace_id = ?")
            for row in con.execute(q, (trace_id,)):
                span = trace_pb2.Span()
                # A partition's bodies are compressed (first byte 0) from its 1,001st span on; the tests that read
                # rows directly store fewer.
                assert bytes(row[9])[:1] != b"\x00", "a compressed span body: read the trace through otelsink"
                span.ParseFromString(bytes(row[9]))
                rs = trace_pb2.ResourceSpans()
                rs.ParseFromString(bytes(row[10]))
                ss = trace_pb2.ScopeSpans()
                ss.ParseFromString(bytes(row[11]))
                rows.append(dict(
                    trace_id=bytes(row[0]), span_id=bytes(row[1]), parent_span_id=bytes(row[2]), service=row[3],
                    name=row[4], kind=row[5], start_ns=row[6], duration_ns=row[7], status_code=row[8],
                    span=span, resource_spans=rs, scope_spans=ss, resource_service=row[12], scope_name=row[13],
                    in_chunk=False,
                ))
    finally:
        con.close()
    return rows


def flatten(request) -> dict[bytes, tuple]:
    """span_id -> (ResourceSpans without scope_spans, ScopeSpans without spans, Span) for a trace request."""
    out = {}
    for rs in request.resource_spans:
        r = trace_pb2.ResourceSpans()
        r.CopyFrom(rs)
        del r.scope_spans[:]
        for ss in rs.scope_spans:
            s = trace_pb2.ScopeSpans()
            s.CopyFrom(ss)
            del s.spans[:]
            for span in ss.spans:
                assert span.span_id not in out, "duplicate span id in request"
                out[span.span_id] = (r, s, span)
    return out


def by_trace(request) -> dict[bytes, trace_service_pb2.ExportTraceServiceRequest]:
    """Splits a request into one request per trace id (resource and scope kept with each span)."""
    out: dict[bytes, trace_service_pb2.ExportTraceServiceRequest] = {}
    for rs in request.resource_spans:
        for ss in rs.scope_spans:
            for span in ss.spans:
                req = out.setdefault(span.trace_id, trace_service_pb2.ExportTraceServiceRequest())
                r = req.resource_spans.add()
                r.resource.CopyFrom(rs.resource)
                r.schema_url = rs.schema_url
                s = r.scope_spans.add()
                s.scope.CopyFrom(ss.scope)
                s.schema_url = ss.schema_url
                s.spans.append(span)
    return out


def assert_same_trace(expected_request, actual_request):
    """Field-by-field equality of two trace requests, ignoring how spans are grouped and ordered."""
    exp, act = flatten(expected_request), flatten(actual_request)
    assert set(act) == set(exp), (
        f"span ids differ: missing {[k.hex() for k in set(exp) - set(act)]}, extra {[k.hex() for k in set(act) - set(exp)]}")
    for sid, (er, es, espan) in exp.items():
        ar, as_, aspan = act[sid]
        assert aspan == espan, f"span {sid.hex()} differs:\nsent:\n{espan}\nstored:\n{aspan}"
        assert ar == er, f"resource of span {sid.hex()} differs:\nsent:\n{er}\nstored:\n{ar}"
        assert as_ == es, f"scope of span {sid.hex()} differs:\nsent:\n{es}\nstored:\n{as_}"


# ---------------------------------------------------------------------------------------------- the CLI


def run_cli(binary, *args, env=None, unset=(), timeout=60, input_bytes=None, cwd=None) -> subprocess.CompletedProcess:
    """Runs `otelsink ARGS` with the test's environment plus `env`, minus the variables in `unset` (and minus
    COLUMNS, so that piped output is laid out for 80 cells wherever the tests run, unless `env` sets it)."""
    full_env = {k: v for k, v in os.environ.items() if k not in unset and k != "COLUMNS"}
    if env:
        full_env.update(env)
    if input_bytes is None:
        return subprocess.run([str(binary), *map(str, args)], capture_output=True, timeout=timeout, env=full_env,
                              stdin=subprocess.DEVNULL, cwd=cwd)
    return subprocess.run([str(binary), *map(str, args)], capture_output=True, timeout=timeout, env=full_env,
                          input=input_bytes, cwd=cwd)


def cli_trace_json(binary, db_path, trace_id: bytes) -> dict:
    """`otelsink trace <id> --db PATH --json`, parsed; fails the test on a non-zero exit."""
    p = run_cli(binary, "trace", trace_id.hex(), "--db", db_path, "--json")
    assert p.returncode == 0, f"otelsink trace {trace_id.hex()} exited {p.returncode}: {p.stderr.decode(errors='replace')}"
    return json.loads(p.stdout)


def cli_trace_request(binary, db_path, trace_id: bytes) -> trace_service_pb2.ExportTraceServiceRequest:
    return from_otlp_json(cli_trace_json(binary, db_path, trace_id))


__all__ = [name for name in dir() if not name.startswith("_")] + ["resource_pb2"]


def terminal_cells(text: str) -> int:
    """Terminal cells of `text`, per code point as wcwidth counts them: East Asian wide and fullwidth characters
    (CJK, most emoji) 2, combining marks and format characters 0, the rest 1. (Tests keep to text where this and
    otelsink's per-grapheme count agree: no ZWJ sequences or flags.)"""
    import unicodedata
    total = 0
    for ch in text:
        if unicodedata.category(ch) in ("Mn", "Me", "Cf"):
            continue
        total += 2 if unicodedata.east_asian_width(ch) in ("W", "F") else 1
    return total
