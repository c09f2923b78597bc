"""OTLP/HTTP transport: HTTP/1.1 and cleartext HTTP/2 with prior knowledge (h2c) on the same port; protobuf, JSON
and gzip bodies; answers in the request's encoding; connections reused for several requests.
"""

from __future__ import annotations

import gzip
import json

import httpx
import pytest
from google.protobuf import json_format
from opentelemetry.proto.collector.logs.v1 import logs_service_pb2
from opentelemetry.proto.collector.metrics.v1 import metrics_service_pb2

from otlp_util import (JSON, PROTOBUF, assert_same_trace, cli_trace_request, encode_body, make_trace_request,
                       new_span_id, new_trace_id, parse_status, parse_trace_response, stored_span_ids, to_otlp_json)
from rawhttp import H2Connection, Http1Connection

VERSIONS = {
    "http1.1": dict(http1=True, http2=False),
    "h2c": dict(http1=False, http2=True),  # prior knowledge: no Upgrade, the HTTP/2 preface is sent at once
}
EXPECTED_VERSION = {"http1.1": "HTTP/1.1", "h2c": "HTTP/2"}

BODIES = {
    "protobuf": (PROTOBUF, False),
    "json": (JSON, False),
    "protobuf-gzip": (PROTOBUF, True),
    "json-gzip": (JSON, True),
}


def assert_ok_trace_response(r, content_type):
    assert r.status_code == 200, f"{r.status_code}: {r.content[:500]!r}"
    assert r.headers["content-type"].split(";")[0] == content_type
    response = parse_trace_response(r.content, r.headers["content-type"])
    assert response.partial_success.rejected_spans == 0
    assert response.partial_success.error_message == ""
    if content_type == JSON:
        assert isinstance(json.loads(r.content or b"{}"), dict)


@pytest.mark.parametrize("body_kind", list(BODIES))
@pytest.mark.parametrize("version", list(VERSIONS))
def test_trace_export(module_server, version, body_kind):
    content_type, compress = BODIES[body_kind]
    trace_id, request = make_trace_request(4, service=f"svc-{version}-{body_kind}")
    headers = {"Content-Type": content_type}
    if compress:
        headers["Content-Encoding"] = "gzip"
    with httpx.Client(timeout=10, **VERSIONS[version]) as client:
        r = client.post(module_server.url(), content=encode_body(request, content_type, compress), headers=headers)
    assert r.http_version == EXPECTED_VERSION[version]
    assert_ok_trace_response(r, content_type)
    assert_same_trace(request, cli_trace_request(module_server.binary, module_server.db_path, trace_id))


def _metrics_request():
    doc = {"resourceMetrics": [{
        "resource": {"attributes": [{"key": "service.name", "value": {"stringValue": "metrics-svc"}}]},
        "scopeMetrics": [{"scope": {"name": "m"}, "metrics": [{
            "name": "queue.depth", "unit": "1",
            "gauge": {"dataPoints": [{"timeUnixNano": "1700000000000000000", "asInt": "7"}]},
        }]}],
    }]}
    return json_format.ParseDict(doc, metrics_service_pb2.ExportMetricsServiceRequest())


def _logs_request():
    req = logs_service_pb2.ExportLogsServiceRequest()
    rl = req.resource_logs.add()
    rl.resource.attributes.add(key="service.name").value.string_value = "logs-svc"
    rec = rl.scope_logs.add().log_records.add()
    rec.time_unix_nano = 1_700_000_000_000_000_000
    rec.severity_number = 9
    rec.body.string_value = "hello"
    rec.trace_id = new_trace_id()
    rec.span_id = new_span_id()
    return req


@pytest.mark.parametrize("content_type", [PROTOBUF, JSON])
@pytest.mark.parametrize("version", list(VERSIONS))
@pytest.mark.parametrize("signal", ["metrics", "logs"])
def test_metrics_and_logs_are_accepted(module_server, signal, version, content_type):
    request, response_type = {
        "metrics": (_metrics_request(), metrics_service_pb2.ExportMetricsServiceResponse),
        "logs": (_logs_request(), logs_service_pb2.ExportLogsServiceResponse),
    }[signal]
    body = json.dumps(to_otlp_json(request)).encode() if content_type == JSON else request.SerializeToString()
    with httpx.Client(timeout=10, **VERSIONS[version]) as client:
        r = client.post(module_server.url(f"/v1/{signal}"), content=body, headers={"Content-Type": content_type})
    assert r.status_code == 200, r.content
    assert r.http_version == EXPECTED_VERSION[version]
    assert r.headers["content-type"].split(";")[0] == content_type
    if content_type == JSON:
        json_format.Parse(r.content.decode() or "{}", response_type())
    else:
        response_type().ParseFromString(r.content)


def test_http1_keep_alive_serves_many_requests_on_one_connection(module_server):
    """Several requests of every encoding, and an error in between, on one HTTP/1.1 connection."""
    host, port = module_server.http_host_port
    sent = []
    with Http1Connection(host, port) as conn:
        for i, (content_type, compress) in enumerate(list(BODIES.values()) * 2):
            trace_id, request = make_trace_request(2)
            headers = {"Content-Type": content_type}
            if compress:
                headers["Content-Encoding"] = "gzip"
            r = conn.request("POST", "/v1/traces", encode_body(request, content_type, compress), headers)
            assert r.status == 200, r.body
            assert r.content_type.split(";")[0] == content_type
            assert r.headers.get("connection", "keep-alive").lower() == "keep-alive"
            sent.append((trace_id, request))
            if i == 3:
                # An error answer does not end the connection either.
                bad = conn.request("POST", "/v1/traces", b"\xff\xff\xff\xff", {"Content-Type": PROTOBUF})
                assert bad.status == 400
                assert parse_status(bad.body, bad.content_type).message
        # A chunked body (no Content-Length) on the same connection.
        trace_id, request = make_trace_request(3)
        r = conn.request("POST", "/v1/traces", request.SerializeToString(), {"Content-Type": PROTOBUF}, chunked=True)
        assert r.status == 200, r.body
        sent.append((trace_id, request))
    stored = stored_span_ids(module_server.db_path)
    for trace_id, request in sent:
        assert len(stored.get(trace_id, ())) == len(request.resource_spans[0].scope_spans[0].spans)


def test_h2c_multiplexes_streams_on_one_connection(module_server):
    """Prior-knowledge h2c: eight concurrent streams (every encoding) on one connection, then eight more on it."""
    host, port = module_server.http_host_port
    sent = []
    with H2Connection(host, port) as conn:
        for _round in range(2):
            batch = []
            for content_type, compress in list(BODIES.values()) * 2:
                trace_id, request = make_trace_request(3)
                headers = {"content-type": content_type}
                if compress:
                    headers["content-encoding"] = "gzip"
                batch.append((trace_id, request, content_type,
                              ("POST", "/v1/traces", encode_body(request, content_type, compress), headers)))
            responses = conn.requests([b[3] for b in batch])
            for (trace_id, request, content_type, _), r in zip(batch, responses):
                assert r.status == 200, r.body
                assert r.content_type.split(";")[0] == content_type
                assert parse_trace_response(r.body, r.content_type).partial_success.rejected_spans == 0
                sent.append((trace_id, request))
        assert conn.goaway is None
    for trace_id, request in sent:
        assert_same_trace(request, cli_trace_request(module_server.binary, module_server.db_path, trace_id))


def test_httpx_clients_reuse_their_connection(module_server):
    """A pooled client (as exporters use) sends many requests; with HTTP/2 they all share one connection."""
    for version in VERSIONS:
        ports = set()

        def remember(response):
            stream = response.extensions.get("network_stream")
            if stream is not None:
                ports.add(stream.get_extra_info("socket").getsockname()[1])

        with httpx.Client(timeout=10, event_hooks={"response": [remember]}, **VERSIONS[version]) as client:
            for _ in range(10):
                trace_id, request = make_trace_request(2)
                r = client.post(module_server.url(), content=request.SerializeToString(),
                                headers={"Content-Type": PROTOBUF})
                assert r.status_code == 200 and r.http_version == EXPECTED_VERSION[version]
        assert len(ports) == 1, f"{version}: requests used {len(ports)} connections"


def test_json_spec_rules(module_server):
    """OTLP/JSON rules: IDs are case-insensitive hex, 64-bit integers may be numbers or strings, enums may be given
    by integer, and unknown field names are ignored."""
    trace_id, request = make_trace_request(2)
    doc = to_otlp_json(request)
    rs = doc["resourceSpans"][0]
    rs["unknownResourceSpansField"] = {"nested": [1, 2, 3]}
    rs["scopeSpans"][0]["someFutureField"] = "x"
    for span in rs["scopeSpans"][0]["spans"]:
        span["traceId"] = span["traceId"].upper()
        span["spanId"] = span["spanId"].upper()
        span["startTimeUnixNano"] = int(span["startTimeUnixNano"])  # a JSON number, not a string
        span["kind"] = 3
        span["newFieldFromALaterOTLPVersion"] = True
    for span in request.resource_spans[0].scope_spans[0].spans:
        span.kind = 3
    body = json.dumps(doc).encode()
    with httpx.Client(timeout=10) as client:
        r = client.post(module_server.url(), content=body, headers={"Content-Type": "application/json; charset=utf-8"})
    assert_ok_trace_response(r, JSON)
    assert_same_trace(request, cli_trace_request(module_server.binary, module_server.db_path, trace_id))


def test_header_names_and_media_types_are_case_insensitive(module_server):
    """Header names, media types and content codings are case-insensitive (RFC 9110)."""
    trace_id, request = make_trace_request(2)
    with httpx.Client(timeout=10) as client:
        r = client.post(module_server.url(), content=gzip.compress(request.SerializeToString()),
                        headers={"CONTENT-TYPE": "Application/X-Protobuf", "Content-Encoding": "GZIP"})
    assert_ok_trace_response(r, PROTOBUF)
    assert_same_trace(request, cli_trace_request(module_server.binary, module_server.db_path, trace_id))


def test_expect_100_continue_is_answered_without_waiting_for_the_body(module_server):
    """`Expect: 100-continue` (curl sends it for large POSTs): RFC 9110 §10.1.1 has the server answer 100 (or a
    final status) without waiting for the body; a server that stays silent costs such clients a ~1 s stall on
    every request."""
    host, port = module_server.http_host_port
    trace_id, request = make_trace_request(3)
    body = request.SerializeToString()
    with Http1Connection(host, port) as conn:
        conn.send_head("POST", "/v1/traces", {"Content-Type": PROTOBUF, "Content-Length": str(len(body)),
                                              "Expect": "100-continue"})
        try:
            interim = conn.read_response(timeout=1.0, allow_interim=False)
        except TimeoutError:
            interim = None
        conn.sock.sendall(body)
        final = conn.read_response()
    assert final.status == 200, final.body
    assert interim is not None, "no 100 Continue (nor any answer) within 1 s of a request head with Expect: 100-continue"
    assert interim.status == 100
    assert len(stored_span_ids(module_server.db_path, {trace_id})[trace_id]) == 3


def test_http1_pipelined_requests_are_answered_in_order(module_server):
    """Three requests written back to back before reading anything (HTTP/1.1 pipelining): three answers, in order."""
    host, port = module_server.http_host_port
    sent, wire = [], b""
    for content_type in (PROTOBUF, JSON, PROTOBUF):
        trace_id, request = make_trace_request(2)
        body = encode_body(request, content_type)
        wire += (f"POST /v1/traces HTTP/1.1\r\nHost: {host}\r\nContent-Type: {content_type}\r\n"
                 f"Content-Length: {len(body)}\r\n\r\n").encode() + body
        sent.append((trace_id, content_type))
    with Http1Connection(host, port) as conn:
        conn.sock.sendall(wire)
        for trace_id, content_type in sent:
            r = conn.read_response()
            assert r.status == 200, r.body
            assert r.content_type.split(";")[0] == content_type
    stored = stored_span_ids(module_server.db_path, {t for t, _ in sent})
    assert all(len(stored.get(t, ())) == 2 for t, _ in sent)


def test_concatenated_gzip_members_are_one_body(module_server):
    """RFC 1952: a gzip body may hold several members back to back; they inflate to one body."""
    trace_id, request = make_trace_request(5, service="multi-member-gzip")
    raw = request.SerializeToString()
    half = len(raw) // 2
    body = gzip.compress(raw[:half]) + gzip.compress(raw[half:])
    with httpx.Client(timeout=10) as client:
        r = client.post(module_server.url(), content=body,
                        headers={"Content-Type": PROTOBUF, "Content-Encoding": "gzip"})
    assert_ok_trace_response(r, PROTOBUF)
    assert_same_trace(request, cli_trace_request(module_server.binary, module_server.db_path, trace_id))


def test_expect_100_continue_with_a_wrong_content_type_is_refused_at_once(module_server):
    """With `Expect: 100-continue` the client waits before sending the body, so a request that will fail anyway
    is answered from its head (415 here) instead of after a body that never comes."""
    host, port = module_server.http_host_port
    with Http1Connection(host, port) as conn:
        conn.send_head("POST", "/v1/traces", {"Content-Type": "text/plain", "Content-Length": "1000",
                                              "Expect": "100-continue"})
        final = conn.read_response(timeout=5.0, allow_interim=False)
    assert final.status == 415
