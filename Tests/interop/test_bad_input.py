"""Bad input over OTLP/HTTP and OTLP/gRPC: every case gets the answer the OTLP spec prescribes, and afterwards the
server still serves and what it stored before is intact.

Most tests share one server (`module_server`); after every test an autouse fixture checks it is alive, still has
the canary trace stored at the start, and stores new exports over both protocols.
"""

from __future__ import annotations

import gzip
import json
import logging
import select
import socket
import threading
import time
import zlib

import grpc
import httpx
import pytest
from opentelemetry.proto.collector.trace.v1 import trace_service_pb2, trace_service_pb2_grpc

from otlp_util import (JSON, PROTOBUF, assert_same_trace, cli_trace_request, make_request, make_span,
                       make_trace_request, new_span_id, new_trace_id, parse_status, parse_trace_response,
                       stored_span_ids, to_otlp_json)
from rawhttp import H2Connection, Http1Connection

GRPC_EXPORT = "/opentelemetry.proto.collector.trace.v1.TraceService/Export"
INVALID_ARGUMENT, RESOURCE_EXHAUSTED = 3, 8
LIMIT = 20 * 1024 * 1024
MiB = 1024 * 1024


# ---------------------------------------------------------------------------------------------- shared server


@pytest.fixture(scope="module")
def canary(module_server):
    trace_id, request = make_trace_request(5, service="canary")
    r = httpx.post(module_server.url(), content=request.SerializeToString(), headers={"Content-Type": PROTOBUF},
                   timeout=10)
    assert r.status_code == 200
    return trace_id, request


@pytest.fixture(autouse=True)
def still_serving(request, canary):
    """After each test using the shared server: alive, canary intact, new exports over HTTP and gRPC stored."""
    yield
    if "module_server" not in request.fixturenames:
        return
    server = request.getfixturevalue("module_server")
    assert server.running, f"otelsink died:\n{server.log()[-3000:]}"
    trace_id, sent = canary
    assert_same_trace(sent, cli_trace_request(server.binary, server.db_path, trace_id))
    http_trace, http_req = make_trace_request(2)
    r = httpx.post(server.url(), content=http_req.SerializeToString(), headers={"Content-Type": PROTOBUF}, timeout=10)
    assert r.status_code == 200, r.content
    grpc_trace, grpc_req = make_trace_request(2)
    with grpc.insecure_channel(server.grpc_address) as channel:
        trace_service_pb2_grpc.TraceServiceStub(channel).Export(grpc_req, timeout=10)
    stored = stored_span_ids(server.db_path, {http_trace, grpc_trace})
    assert len(stored.get(http_trace, ())) == 2 and len(stored.get(grpc_trace, ())) == 2


def post(server, body: bytes, headers: dict, path: str = "/v1/traces", method: str = "POST") -> httpx.Response:
    with httpx.Client(timeout=15) as client:
        return client.request(method, server.url(path), content=body, headers=headers)


def assert_error(r, status: int, content_type: str, *needles: str, rpc_code: int | None = INVALID_ARGUMENT):
    """An error answer: the status, a google.rpc.Status body in `content_type` whose message contains `needles`."""
    assert r.status_code == status, f"expected {status}, got {r.status_code}: {r.content[:300]!r}"
    got_type = r.headers.get("content-type", "").split(";")[0]
    assert got_type == content_type, f"error body is {got_type!r}, expected {content_type!r}"
    st = parse_status(r.content, got_type)
    assert st.message, "the google.rpc.Status has no message"
    for needle in needles:
        assert needle in st.message, f"{needle!r} not in {st.message!r}"
    if rpc_code is not None:
        assert st.code == rpc_code, st
    return st


# ---------------------------------------------------------------------------------------------- malformed bodies


def _doc_with(mutate):
    trace_id, request = make_trace_request(3)
    doc = to_otlp_json(request)
    mutate(doc["resourceSpans"][0]["scopeSpans"][0]["spans"][1])
    return trace_id, json.dumps(doc).encode()


def _set(key, value):
    def mutate(span):
        span[key] = value
    return mutate


SPAN1 = "resourceSpans[0].scopeSpans[0].spans[1]"

JSON_CASES = {
    # name: (mutation of span 1, field path the message must name)
    "name-not-string": (_set("name", 5), f"{SPAN1}.name"),
    "traceId-not-hex": (_set("traceId", "zz" * 16), f"{SPAN1}.traceId"),
    "spanId-odd-hex": (_set("spanId", "abc"), f"{SPAN1}.spanId"),
    "spanId-base64-of-7-bytes": (_set("spanId", "AAECAwQFBg=="), f"{SPAN1}.spanId"),
    "kind-unknown-enum": (_set("kind", 99), f"{SPAN1}.kind"),
    "status-code-unknown-enum": (_set("status", {"code": 7}), f"{SPAN1}.status.code"),
    "start-not-integer": (_set("startTimeUnixNano", "soon"), f"{SPAN1}.startTimeUnixNano"),
    "attributes-not-array": (_set("attributes", {"k": "v"}), f"{SPAN1}.attributes"),
    "intValue-not-integer": (_set("attributes", [{"key": "k", "value": {"intValue": "1.5x"}}]),
                             f"{SPAN1}.attributes[0].value.intValue"),
    "events-wrong-type": (_set("events", [{"timeUnixNano": [], "name": "e"}]), f"{SPAN1}.events[0].timeUnixNano"),
}


@pytest.mark.parametrize("case", list(JSON_CASES))
def test_json_with_wrong_types_is_400_naming_the_field(module_server, case):
    mutate, path = JSON_CASES[case]
    trace_id, body = _doc_with(mutate)
    r = post(module_server, body, {"Content-Type": JSON})
    assert_error(r, 400, JSON, path)
    # The whole request was refused: not even its valid spans are stored.
    assert stored_span_ids(module_server.db_path, {trace_id}) == {}


@pytest.mark.parametrize("body,needle", [
    (b'{"resourceSpans": [', "JSON"),
    (b"[]", "object"),
    (b'{"resourceSpans": "x"}', "resourceSpans"),
    (b'{"resourceSpans": [{"scopeSpans": [{"spans": [{"traceId": 5}]}]}]}', "resourceSpans[0].scopeSpans[0].spans[0].traceId"),
    (b"\xff\xfe not utf-8", ""),
])
def test_malformed_json_documents_are_400(module_server, body, needle):
    assert_error(post(module_server, body, {"Content-Type": JSON}), 400, JSON, needle)


def test_truncated_and_garbage_protobuf_are_400(module_server):
    trace_id, request = make_trace_request(4)
    body = request.SerializeToString()
    for bad in (body[:-7], body[: len(body) // 2], b"\xff" * 64, b"\x0a\xff\xff\xff\xff\x0f"):
        r = post(module_server, bad, {"Content-Type": PROTOBUF})
        assert_error(r, 400, PROTOBUF, "ExportTraceServiceRequest")
    assert stored_span_ids(module_server.db_path, {trace_id}) == {}


@pytest.mark.parametrize("content_type", [PROTOBUF, JSON])
def test_corrupt_gzip_is_400(module_server, content_type):
    trace_id, request = make_trace_request(3)
    plain = request.SerializeToString() if content_type == PROTOBUF else json.dumps(to_otlp_json(request)).encode()
    good = gzip.compress(plain)
    cases = {
        "bad checksum": good[:-8] + bytes(8),
        "truncated": good[: len(good) // 2],
        "not gzip at all": plain,
        "flipped bits": good[:20] + bytes(b ^ 0x5A for b in good[20:40]) + good[40:],
    }
    for name, body in cases.items():
        r = post(module_server, body, {"Content-Type": content_type, "Content-Encoding": "gzip"})
        assert_error(r, 400, content_type, "gzip")
    assert stored_span_ids(module_server.db_path, {trace_id}) == {}


# ---------------------------------------------------------------------------------------------- wrong requests


@pytest.mark.parametrize("headers,needle", [
    ({"Content-Type": "text/plain"}, "text/plain"),
    ({"Content-Type": "application/grpc"}, "application/grpc"),
    ({}, "content type"),
    ({"Content-Type": PROTOBUF, "Content-Encoding": "br"}, "br"),
])
def test_unsupported_media_type_is_415(module_server, headers, needle):
    trace_id, request = make_trace_request(2)
    r = post(module_server, request.SerializeToString(), headers)
    assert_error(r, 415, PROTOBUF, needle, rpc_code=None)
    assert stored_span_ids(module_server.db_path, {trace_id}) == {}


@pytest.mark.parametrize("method", ["GET", "PUT", "DELETE"])
def test_wrong_method_is_405_with_allow(module_server, method):
    r = post(module_server, b"" if method == "GET" else b"\x00", {"Content-Type": PROTOBUF}, method=method)
    assert_error(r, 405, PROTOBUF, method, rpc_code=None)
    assert r.headers.get("allow", "").upper() == "POST"


@pytest.mark.parametrize("path", ["/", "/v1/trace", "/v2/traces", "/v1/traces/extra", "/v1/profiles"])
def test_unknown_path_is_404(module_server, path):
    trace_id, request = make_trace_request(2)
    r = post(module_server, request.SerializeToString(), {"Content-Type": PROTOBUF}, path=path)
    assert_error(r, 404, PROTOBUF, path, rpc_code=None)
    assert stored_span_ids(module_server.db_path, {trace_id}) == {}


def test_malformed_http_and_abandoned_requests_do_not_hurt(module_server):
    host, port = module_server.http_host_port
    # Not HTTP at all.
    with socket.create_connection((host, port), timeout=10) as s:
        s.sendall(b"\x16\x03\x01\x02\x00 this is not http\r\n\r\n")
        s.settimeout(10)
        try:
            data = s.recv(4096)
        except ConnectionResetError:
            data = b""
        assert data == b"" or data.startswith(b"HTTP/1.1 400"), data[:100]
    # A request abandoned half-way through its body, and a head that never ends.
    for partial in (b"POST /v1/traces HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-protobuf\r\n"
                    b"Content-Length: 1000\r\n\r\n" + b"\x0a" * 300,
                    b"POST /v1/traces HTTP/1.1\r\nHost: x\r\nContent-Ty"):
        with socket.create_connection((host, port), timeout=10) as s:
            s.sendall(partial)
            time.sleep(0.1)


# ---------------------------------------------------------------------------------------------- size limits


def test_declared_oversized_body_is_413_before_it_is_sent(module_server):
    """Content-Length over max_request_body_size: answered 413 from the head alone; the body is never needed."""
    host, port = module_server.http_host_port
    with Http1Connection(host, port) as conn:
        started = time.monotonic()
        conn.send_head("POST", "/v1/traces", {"Content-Type": PROTOBUF, "Content-Length": str(LIMIT + 1)})
        r = conn.read_response(timeout=5)
        assert time.monotonic() - started < 5
        assert r.status == 413
        st = parse_status(r.body, r.content_type)
        assert st.code == RESOURCE_EXHAUSTED and str(LIMIT) in st.message
        assert conn.peer_closed(), "the connection should be closed after an early 413"


def test_streamed_oversized_body_is_413(module_server):
    """Chunked (no Content-Length) and growing past the limit: 413 once the limit is passed, without reading it all."""
    host, port = module_server.http_host_port
    with Http1Connection(host, port) as conn:
        conn.send_head("POST", "/v1/traces", {"Content-Type": PROTOBUF, "Transfer-Encoding": "chunked"})
        chunk = bytes(256 * 1024)
        sent = 0
        answered = False
        while sent < 3 * LIMIT:
            if select.select([conn.sock], [], [], 0)[0]:
                answered = True
                break
            try:
                conn.sock.sendall(f"{len(chunk):x}\r\n".encode() + chunk + b"\r\n")
            except (BrokenPipeError, ConnectionResetError):
                answered = True
                break
            sent += len(chunk)
        assert answered, f"no answer after streaming {sent} bytes (limit {LIMIT})"
        # `sent` includes what sits in the loopback socket buffers (several MiB), so the bound is loose.
        assert sent <= 2 * LIMIT, f"server took {sent} bytes before answering"
        r = conn.read_response(timeout=5)
        assert r.status == 413
        assert parse_status(r.body, r.content_type).code == RESOURCE_EXHAUSTED


def test_h2c_oversized_bodies_are_413(module_server):
    host, port = module_server.http_host_port
    with H2Connection(host, port) as conn:
        r, sent = conn.upload_until_answered("POST", "/v1/traces",
                                             {"content-type": PROTOBUF, "content-length": str(LIMIT + 1)}, LIMIT + 1)
        assert r.status == 413, (r, sent)
        assert sent < LIMIT
        assert parse_status(r.body, r.headers.get("content-type", "")).code == RESOURCE_EXHAUSTED
    with H2Connection(host, port) as conn:
        r, sent = conn.upload_until_answered("POST", "/v1/traces", {"content-type": PROTOBUF}, 2 * LIMIT)
        assert r.status == 413, (r, sent)
        assert sent <= LIMIT + 4 * MiB
        # The connection survives the refused stream: another request on it works.
        trace_id, request = make_trace_request(2)
        [ok] = conn.requests([("POST", "/v1/traces", request.SerializeToString(), {"content-type": PROTOBUF})])
        assert ok.status == 200
    assert len(stored_span_ids(module_server.db_path, {trace_id})[trace_id]) == 2


def _request_of_exact_size(size: int) -> tuple[bytes, bytes]:
    """A valid ExportTraceServiceRequest serialized to exactly `size` bytes; returns (trace_id, body)."""
    trace_id = new_trace_id()
    span = make_span(trace_id, "padded", pad="")
    base = make_request([span]).ByteSize()
    for pad in range(max(0, size - base - 16), size - base + 1):
        span.attributes[0].value.string_value = "x" * pad
        body = make_request([span]).SerializeToString()
        if len(body) == size:
            return trace_id, body
    raise AssertionError(f"cannot build a request of exactly {size} bytes")


@pytest.mark.parametrize("compress", [False, True], ids=["identity", "gzip"])
def test_body_limit_is_exact(server_factory, compress):
    """max_request_body_size applies to the body as sent and after decompression: at the limit accepted, one byte
    over refused."""
    limit = MiB
    server = server_factory(http_max_body=limit)
    headers = {"Content-Type": PROTOBUF}
    if compress:
        headers["Content-Encoding"] = "gzip"
    at_limit, body = _request_of_exact_size(limit)
    over, over_body = _request_of_exact_size(limit + 1)
    r = post(server, gzip.compress(body) if compress else body, headers)
    assert r.status_code == 200, r.content[:300]
    r = post(server, gzip.compress(over_body) if compress else over_body, headers)
    assert_error(r, 413, PROTOBUF, str(limit), rpc_code=RESOURCE_EXHAUSTED)
    stored = stored_span_ids(server.db_path, {at_limit, over})
    assert at_limit in stored and over not in stored


@pytest.fixture(scope="module")
def gzip_bomb() -> bytes:
    """1 GiB of zeros, gzip-compressed to about 1 MB."""
    c = zlib.compressobj(9, zlib.DEFLATED, 31)
    zeros = bytes(MiB)
    body = b"".join([c.compress(zeros) for _ in range(1024)] + [c.flush()])
    assert len(body) < 2 * MiB
    return body


def test_gzip_bomb_is_413_without_inflating_it(server_factory, gzip_bomb):
    server = server_factory()
    started = time.monotonic()
    r = post(server, gzip_bomb, {"Content-Type": PROTOBUF, "Content-Encoding": "gzip"})
    elapsed = time.monotonic() - started
    assert_error(r, 413, PROTOBUF, str(LIMIT), rpc_code=RESOURCE_EXHAUSTED)
    assert elapsed < 10, f"took {elapsed:.1f}s to refuse the bomb"
    peak = server.proc_status("VmHWM") // 1024
    assert peak < 300, f"peak RSS {peak} MiB while refusing a gzip bomb"

    # Several at once (as an attacker would): all refused, memory still bounded.
    results = []

    def bomb():
        try:
            results.append(post(server, gzip_bomb, {"Content-Type": JSON, "Content-Encoding": "gzip"}).status_code)
        except httpx.HTTPError as e:
            results.append(repr(e))

    threads = [threading.Thread(target=bomb) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert results == [413] * 8
    peak = server.proc_status("VmHWM") // 1024
    assert peak < 300, f"peak RSS {peak} MiB while refusing 8 concurrent gzip bombs"
    trace_id, request = make_trace_request(3)
    assert post(server, request.SerializeToString(), {"Content-Type": PROTOBUF}).status_code == 200


# ---------------------------------------------------------------------------------------------- invalid IDs, empty


def _mixed_request():
    """Three valid spans (two traces) and five with invalid IDs; returns (request, valid {trace: spans}, bad span ids)."""
    t1, t2 = new_trace_id(), new_trace_id()
    good = [make_span(t1, "good-1"), make_span(t1, "good-2"), make_span(t2, "good-3")]
    bad = [
        make_span(bytes(16), "zero-trace-id"),
        make_span(new_trace_id(), "zero-span-id", span_id=bytes(8)),
        make_span(new_trace_id()[:8], "short-trace-id"),
        make_span(new_trace_id(), "long-span-id", span_id=new_span_id() + b"\x01"),
        make_span(new_trace_id(), "bad-parent", parent=b"\x01\x02\x03"),
    ]
    request = make_request(good[:2] + bad[:3])
    rs = request.resource_spans.add()
    rs.resource.attributes.add(key="service.name").value.string_value = "second-resource"
    rs.scope_spans.add().spans.extend([good[2]] + bad[3:])
    valid = {t1: {s.span_id for s in good[:2]}, t2: {good[2].span_id}}
    return request, valid, {s.span_id for s in bad}, {s.trace_id for s in bad}


def _check_partial(server, response, valid, bad_span_ids, bad_trace_ids):
    assert response.partial_success.rejected_spans == 5
    assert response.partial_success.error_message, "partial_success needs an error message"
    stored = stored_span_ids(server.db_path)
    for trace_id, span_ids in valid.items():
        assert stored.get(trace_id) == span_ids
    all_stored = set().union(*stored.values())
    assert not (all_stored & bad_span_ids)
    assert not (set(stored) & bad_trace_ids)


@pytest.mark.parametrize("content_type", [PROTOBUF, JSON])
def test_invalid_ids_are_rejected_one_by_one_over_http(module_server, content_type):
    request, valid, bad_spans, bad_traces = _mixed_request()
    if content_type == JSON:
        doc = to_otlp_json(request)
        # JSON cannot express an odd-length ID, but a valid hex string of the wrong length it can.
        body = json.dumps(doc).encode()
    else:
        body = request.SerializeToString()
    r = post(module_server, body, {"Content-Type": content_type})
    assert r.status_code == 200, r.content
    assert r.headers["content-type"].split(";")[0] == content_type
    _check_partial(module_server, parse_trace_response(r.content, r.headers["content-type"]), valid, bad_spans,
                   bad_traces)


def test_invalid_ids_are_rejected_one_by_one_over_grpc(module_server):
    request, valid, bad_spans, bad_traces = _mixed_request()
    with grpc.insecure_channel(module_server.grpc_address) as channel:
        response = trace_service_pb2_grpc.TraceServiceStub(channel).Export(request, timeout=10)
    _check_partial(module_server, response, valid, bad_spans, bad_traces)


def test_all_invalid_is_still_200_with_every_span_rejected(module_server):
    request = make_request([make_span(bytes(16), "z1"), make_span(bytes(16), "z2")])
    r = post(module_server, request.SerializeToString(), {"Content-Type": PROTOBUF})
    assert r.status_code == 200
    assert parse_trace_response(r.content, r.headers["content-type"]).partial_success.rejected_spans == 2


@pytest.mark.parametrize("content_type,body", [
    (PROTOBUF, b""),
    (JSON, b"{}"),
    (JSON, b'{"resourceSpans": []}'),
    (JSON, b'{"resourceSpans": [{"scopeSpans": [{"spans": []}]}]}'),
    (PROTOBUF, trace_service_pb2.ExportTraceServiceRequest(
        resource_spans=[{"scope_spans": [{}]}]).SerializeToString()),
])
def test_empty_request_is_200(module_server, content_type, body):
    r = post(module_server, body, {"Content-Type": content_type})
    assert r.status_code == 200, r.content
    assert r.headers["content-type"].split(";")[0] == content_type
    response = parse_trace_response(r.content, r.headers["content-type"])
    assert not response.HasField("partial_success")


# ---------------------------------------------------------------------------------------------- gRPC


def _raw_export(server, payload: bytes, compression=None):
    with grpc.insecure_channel(server.grpc_address) as channel:
        call = channel.unary_unary(GRPC_EXPORT, request_serializer=None, response_deserializer=None)
        return call(payload, timeout=10, compression=compression)


@pytest.mark.parametrize("payload", [b"\xff" * 64, b"\x0a\xff\xff\xff\xff\x0f", b"\x0a\x05abc"],
                         ids=["garbage", "bad-varint", "truncated"])
def test_grpc_garbage_is_invalid_argument(module_server, payload):
    with pytest.raises(grpc.RpcError) as e:
        _raw_export(module_server, payload)
    assert e.value.code() == grpc.StatusCode.INVALID_ARGUMENT, (e.value.code(), e.value.details())


def test_grpc_empty_request_is_ok(module_server):
    response = trace_service_pb2.ExportTraceServiceResponse.FromString(_raw_export(module_server, b""))
    assert not response.HasField("partial_success")


def test_grpc_unknown_method_is_unimplemented(module_server):
    with grpc.insecure_channel(module_server.grpc_address) as channel:
        call = channel.unary_unary("/opentelemetry.proto.collector.profiles.v1development.ProfilesService/Export")
        with pytest.raises(grpc.RpcError) as e:
            call(b"", timeout=10)
    assert e.value.code() == grpc.StatusCode.UNIMPLEMENTED


def _big_request(total: int) -> bytes:
    """A valid request of a little over `total` bytes."""
    span = make_span(new_trace_id(), "x" * 1000)
    spans = [make_span(new_trace_id(), "x" * 1000) for _ in range(total // span.ByteSize() + 1)]
    body = make_request(spans).SerializeToString()
    assert total < len(body) < total + 50_000
    return body


@pytest.mark.parametrize("compression", [None, grpc.Compression.Gzip], ids=["identity", "gzip"])
def test_grpc_message_over_limit_is_resource_exhausted(module_server, compression):
    """Over max_recv_msg_size_mib (4 MiB; after decompression): RESOURCE_EXHAUSTED, per the gRPC spec and OTLP."""
    body = _big_request(4 * MiB + 100_000)
    with pytest.raises(grpc.RpcError) as e:
        _raw_export(module_server, body, compression)
    assert e.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED, (e.value.code(), e.value.details())


def test_grpc_message_far_over_limit_is_resource_exhausted_and_not_stored(module_server):
    """Far over the limit (here 10 MiB against 4 MiB) the status is the same: the length prefix is checked before
    the message arrives, the server answers RESOURCE_EXHAUSTED and resets the stream so the client stops sending,
    and nothing is stored."""
    body = _big_request(10 * MiB)
    request = trace_service_pb2.ExportTraceServiceRequest.FromString(body)
    with pytest.raises(grpc.RpcError) as e:
        _raw_export(module_server, body)
    assert e.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED, (e.value.code(), e.value.details())
    assert "exceeds the limit" in e.value.details()
    trace_ids = {s.trace_id for s in request.resource_spans[0].scope_spans[0].spans[:50]}
    assert stored_span_ids(module_server.db_path, trace_ids) == {}


def test_grpc_message_under_limit_is_stored(module_server):
    body = _big_request(3 * MiB)
    request = trace_service_pb2.ExportTraceServiceRequest.FromString(body)
    response = trace_service_pb2.ExportTraceServiceResponse.FromString(_raw_export(module_server, body))
    assert not response.HasField("partial_success")
    trace_ids = {s.trace_id for s in request.resource_spans[0].scope_spans[0].spans}
    assert len(stored_span_ids(module_server.db_path, trace_ids)) == len(trace_ids)


def _grpc_frame(message: bytes, compressed: bool = False) -> bytes:
    return bytes([1 if compressed else 0]) + len(message).to_bytes(4, "big") + message


def _raw_grpc(server, body: bytes, headers: dict[str, str] | None = None, path: str = GRPC_EXPORT):
    """One gRPC call over a hand-driven HTTP/2 connection, for what real gRPC clients never send."""
    host, port = server.grpc_address.rsplit(":", 1)
    with H2Connection(host, int(port)) as conn:
        hdrs = {"content-type": "application/grpc", "te": "trailers", **(headers or {})}
        return conn.requests([("POST", path, body, hdrs)])[0]


def test_grpc_port_answers_non_grpc_content_type_with_415(module_server):
    r = _raw_grpc(module_server, make_request([make_span(new_trace_id())]).SerializeToString(),
                  {"content-type": "application/x-protobuf"})
    assert r.status == 415 and "grpc-status" not in r.headers


def test_grpc_unsupported_encoding_is_unimplemented_and_names_it(module_server):
    r = _raw_grpc(module_server, _grpc_frame(b"\x00" * 10, compressed=True), {"grpc-encoding": "snappy"})
    assert r.status == 200 and r.headers["grpc-status"] == "12", r.headers
    assert "snappy" in r.headers["grpc-message"]


@pytest.mark.parametrize("body,reason", [
    (_grpc_frame(b"\x0a\x00", compressed=True), "compressed but grpc-encoding names no algorithm"),
    (_grpc_frame(b"") + _grpc_frame(b""), "one request message"),
    (_grpc_frame(b"\x0a\x00" * 50)[:20], "truncated"),
    (b"\x00\x00", "without a complete request message"),
], ids=["compressed-flag-without-encoding", "two-messages", "truncated-frame", "short-prefix"])
def test_grpc_framing_errors_are_internal_with_a_message(module_server, body, reason):
    r = _raw_grpc(module_server, body)
    assert r.status == 200 and r.headers["grpc-status"] == "13", r.headers
    assert reason in r.headers["grpc-message"], r.headers["grpc-message"]


def test_grpc_deflate_compressed_request_is_stored(module_server):
    """grpc-encoding deflate (zlib format), which grpc-java and grpc-go clients can choose, besides gzip."""
    trace_id = new_trace_id()
    request = make_request([make_span(trace_id, "deflated")])
    r = _raw_grpc(module_server, _grpc_frame(zlib.compress(request.SerializeToString()), compressed=True),
                  {"grpc-encoding": "deflate"})
    assert r.status == 200 and r.headers["grpc-status"] == "0", r.headers
    assert not trace_service_pb2.ExportTraceServiceResponse.FromString(r.body[5:]).HasField("partial_success")
    assert len(stored_span_ids(module_server.db_path, {trace_id}).get(trace_id, ())) == 1


def test_grpc_error_message_is_percent_encoded(module_server):
    """grpc-message carries non-ASCII text percent-encoded (gRPC over HTTP/2 spec), so clients decode it intact."""
    r = _raw_grpc(module_server, _grpc_frame(b""), path="/no.such.Service/M\u00e9thode")
    assert r.status == 200 and r.headers["grpc-status"] == "12", r.headers
    assert r.headers["grpc-message"] == "unknown method /no.such.Service/M%C3%A9thode"


# ---------------------------------------------------------------------------------------------- backpressure


def _retry_info_delay(error: grpc.RpcError) -> float | None:
    """The RetryInfo delay (seconds) in a gRPC error's google.rpc.Status details, if any."""
    from google.rpc import error_details_pb2, status_pb2
    for key, value in error.trailing_metadata() or ():
        if key == "grpc-status-details-bin":
            st = status_pb2.Status.FromString(value)
            for detail in st.details:
                info = error_details_pb2.RetryInfo()
                if detail.Unpack(info):
                    return info.retry_delay.seconds + info.retry_delay.nanos / 1e9
    return None


def test_grpc_bytes_past_the_in_flight_budget_are_unavailable_with_retry_info(server_factory):
    """gRPC `max_in_flight_bytes` bounds the request bytes held across connections: a call that would pass it fails
    with UNAVAILABLE and RetryInfo (clients retry), while the call holding the bytes completes and is stored, and
    once it has, the budget is free again."""
    import base64
    from google.rpc import error_details_pb2, status_pb2
    server = server_factory(grpc_max_mib=1, grpc_in_flight=1 << 20)
    host, port = server.grpc_address.rsplit(":", 1)
    headers = {"content-type": "application/grpc", "te": "trailers"}
    holding = make_request([make_span(new_trace_id(), "x" * 1000) for _ in range(700)]).SerializeToString()
    assert 700_000 < len(holding) < 1 << 20
    held = _grpc_frame(holding)
    with H2Connection(host, int(port)) as first, H2Connection(host, int(port)) as second:
        stream = first.start_upload("POST", GRPC_EXPORT, headers, held[:-1000])
        time.sleep(0.3)  # let the server read it
        refused, sent = second.upload_until_answered("POST", GRPC_EXPORT, headers, total=600_000,
                                                     prefix=_grpc_frame(b"")[:1] + (600_000 - 5).to_bytes(4, "big"))
        assert refused.headers["grpc-status"] == "14", (sent, refused.headers)
        assert "in flight" in refused.headers["grpc-message"]
        status = status_pb2.Status.FromString(base64.b64decode(refused.headers["grpc-status-details-bin"]))
        info = error_details_pb2.RetryInfo()
        assert status.details[0].Unpack(info) and info.retry_delay.seconds == 1
        answer = first.finish_upload(stream, held[-1000:])
        assert answer.headers["grpc-status"] == "0", answer.headers
    request = trace_service_pb2.ExportTraceServiceRequest.FromString(holding)
    trace_ids = {s.trace_id for s in request.resource_spans[0].scope_spans[0].spans}
    assert len(stored_span_ids(server.db_path, trace_ids)) == len(trace_ids)
    again = _raw_grpc(server, held)
    assert again.headers["grpc-status"] == "0", again.headers


def test_store_behind_is_503_with_retry_after_and_unavailable_with_retry_info(server_factory):
    """With a tiny writer queue and many concurrent exports, some are refused retryably: HTTP 503 + Retry-After,
    gRPC UNAVAILABLE + RetryInfo. Refused batches are not stored; accepted ones are, whole."""
    server = server_factory(sqlite_extra="queue_size: 100")
    lock = threading.Lock()
    accepted, refused_http, refused_grpc, other = {}, [], [], []

    def http_worker():
        with httpx.Client(timeout=10) as client:
            for _ in range(8):
                trace_id, request = make_trace_request(90)
                r = client.post(server.url(), content=request.SerializeToString(), headers={"Content-Type": PROTOBUF})
                with lock:
                    if r.status_code == 200:
                        accepted[trace_id] = 90
                    elif r.status_code == 503:
                        st = parse_status(r.content, r.headers.get("content-type", ""))
                        refused_http.append((trace_id, r.headers.get("retry-after"), st))
                    else:
                        other.append(r.status_code)

    def grpc_worker():
        with grpc.insecure_channel(server.grpc_address) as channel:
            stub = trace_service_pb2_grpc.TraceServiceStub(channel)
            for _ in range(8):
                trace_id, request = make_trace_request(90)
                try:
                    stub.Export(request, timeout=10)
                    with lock:
                        accepted[trace_id] = 90
                except grpc.RpcError as e:
                    with lock:
                        if e.code() == grpc.StatusCode.UNAVAILABLE:
                            refused_grpc.append((trace_id, _retry_info_delay(e)))
                        else:
                            other.append(e.code())

    threads = [threading.Thread(target=http_worker) for _ in range(8)]
    threads += [threading.Thread(target=grpc_worker) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert not other, other
    assert refused_http and refused_grpc, (len(accepted), len(refused_http), len(refused_grpc))
    for _trace_id, retry_after, st in refused_http:
        assert retry_after is not None and int(retry_after) >= 1
        assert st.code == 14 and st.message  # UNAVAILABLE
    for _trace_id, delay in refused_grpc:
        assert delay is not None and delay > 0, "UNAVAILABLE without a RetryInfo detail"
    stored = stored_span_ids(server.db_path)
    for trace_id in accepted:
        assert len(stored.get(trace_id, ())) == 90
    for trace_id, *_ in refused_http + refused_grpc:
        assert trace_id not in stored


def _wait_until_read(sock: socket.socket, timeout: float = 20) -> None:
    """Waits until the server has read everything sent on `sock` (loopback): nothing left in the client's send
    queue nor in the server socket's receive queue (`ss`), so what the server does with those bytes is done."""
    import subprocess
    local, peer = sock.getsockname()[1], sock.getpeername()[1]
    deadline = time.monotonic() + timeout

    def queues(src: int, dst: int) -> tuple[int, int] | None:
        out = subprocess.run(["ss", "-tnH", f"( sport = :{src} and dport = :{dst} )"], capture_output=True, text=True).stdout
        fields = out.split()
        return (int(fields[1]), int(fields[2])) if len(fields) >= 3 else None

    while time.monotonic() < deadline:
        client, server = queues(local, peer), queues(peer, local)
        if client is not None and server is not None and client[1] == 0 and server[0] == 0:
            return
        time.sleep(0.02)
    raise AssertionError("the server did not read the held upload")


def _request_of_size(size: int) -> bytes:
    """A serialized trace request of exactly `size` bytes (spans with long names, the last one trimmed to fit)."""
    trace_id = new_trace_id()
    spans = [make_span(trace_id, "x" * 1000) for _ in range(size // 1100)]
    request = make_request(spans)
    for _ in range(8):  # a name's length prefix can change by a byte; converge
        missing = size - request.ByteSize()
        if missing == 0:
            return request.SerializeToString()
        span = request.resource_spans[0].scope_spans[0].spans[-1]
        span.name = "x" * (len(span.name) + missing)
    raise AssertionError(f"no request of exactly {size} bytes")


@pytest.mark.timeout(120)
def test_sdk_exporters_retry_through_backpressure(server_factory, caplog):
    """The SDK exporters treat 503/UNAVAILABLE as retryable: while both receivers' in-flight budgets are held by
    an unfinished upload each, every SDK export is refused; the exporters retry, and once the uploads finish,
    every batch is stored."""
    from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter as GRPCSpanExporter
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter as HTTPSpanExporter
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SpanExportResult
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor

    caplog.set_level(logging.WARNING)
    budget = 1 << 20
    server = server_factory(grpc_max_mib=1, grpc_in_flight=budget, http_max_body=budget,
                            http_extra=f"max_in_flight_bytes: {budget}")
    # Two uploads that leave less of each budget free than any SDK batch needs, held unfinished.
    unsent = 100
    grpc_body = _grpc_frame(_request_of_size(budget - 5 - 200))
    http_body = _request_of_size(budget - 200)
    grpc_host, grpc_port = server.grpc_address.rsplit(":", 1)
    holder = H2Connection(grpc_host, int(grpc_port))
    grpc_stream = holder.start_upload("POST", GRPC_EXPORT, {"content-type": "application/grpc", "te": "trailers"},
                                      grpc_body[:-unsent])
    http_host, http_port = server.http_address.rsplit(":", 1)
    http_hold = socket.create_connection((http_host, int(http_port)), timeout=30)
    http_hold.sendall(f"POST /v1/traces HTTP/1.1\r\nHost: h\r\nContent-Type: {PROTOBUF}\r\n"
                      f"Content-Length: {len(http_body)}\r\n\r\n".encode() + http_body[:-unsent])
    # The server reads the held bytes asynchronously; a request arriving before they are read would take the budget
    # first (and the held upload be refused). Wait until they are read, then until both receivers refuse a request
    # that cannot fit in what is left of either budget.
    _wait_until_read(holder.sock)
    _wait_until_read(http_hold)
    probe = _request_of_size(20_000)
    with grpc.insecure_channel(server.grpc_address) as channel:
        stub = trace_service_pb2_grpc.TraceServiceStub(channel)
        deadline = time.monotonic() + 20
        grpc_answer = http_answer = None
        while time.monotonic() < deadline:
            if grpc_answer != grpc.StatusCode.UNAVAILABLE:
                try:
                    stub.Export(trace_service_pb2.ExportTraceServiceRequest.FromString(probe), timeout=10)
                    grpc_answer = grpc.StatusCode.OK
                except grpc.RpcError as error:
                    grpc_answer = error.code()
            if http_answer != 503:
                http_answer = httpx.post(server.url(), content=probe, headers={"content-type": PROTOBUF},
                                         timeout=10).status_code
            if (grpc_answer, http_answer) == (grpc.StatusCode.UNAVAILABLE, 503):
                break
            time.sleep(0.05)
    assert (grpc_answer, http_answer) == (grpc.StatusCode.UNAVAILABLE, 503), "the held uploads fill both budgets"
    results, trace_ids = [], set()
    lock = threading.Lock()

    def worker(kind):
        memory = InMemorySpanExporter()
        provider = TracerProvider()
        provider.add_span_processor(SimpleSpanProcessor(memory))
        tracer = provider.get_tracer("backpressure")
        exporter = (GRPCSpanExporter(endpoint=server.grpc_address, insecure=True, timeout=60) if kind == "grpc"
                    else HTTPSpanExporter(endpoint=server.url(), timeout=60))
        try:
            for _ in range(4):
                memory.clear()
                with tracer.start_as_current_span("batch-root"):
                    for i in range(89):
                        with tracer.start_as_current_span(f"s{i}"):
                            pass
                spans = memory.get_finished_spans()
                result = exporter.export(spans)
                with lock:
                    results.append(result)
                    trace_ids.add(spans[0].context.trace_id.to_bytes(16, "big"))
        finally:
            exporter.shutdown()

    def refused_threads() -> set[str]:
        return {r.threadName for r in caplog.records if "Transient error" in r.getMessage()}

    # The gRPC exporter's logger drops a message repeated within 20 s (the SDK's DuplicateFilter): let every retry
    # through, to see each exporter's.
    grpc_logger = logging.getLogger("opentelemetry.exporter.otlp.proto.grpc.exporter")
    grpc_filters = list(grpc_logger.filters)
    for log_filter in grpc_filters:
        grpc_logger.removeFilter(log_filter)
    try:
        threads = [threading.Thread(target=worker, args=(k,), name=f"{k}-{i}") for i, k in enumerate(["grpc", "http"] * 4)]
        for t in threads:
            t.start()
        # Every exporter, gRPC and HTTP, is refused at least once and retries while the budgets are held (the SDK
        # gives up after five retries, 1 s apart here: the uploads finish before that).
        deadline = time.monotonic() + 20
        while len(refused_threads()) < len(threads) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert refused_threads() == {t.name for t in threads}, [r.getMessage() for r in caplog.records]
        assert not results, "an export succeeded while the budgets were held"
        # The held uploads complete and are stored too.
        answer = holder.finish_upload(grpc_stream, grpc_body[-unsent:])
        assert answer.headers["grpc-status"] == "0", answer.headers
        http_hold.sendall(http_body[-unsent:])
        head = http_hold.recv(4096)
        assert head.startswith(b"HTTP/1.1 200"), head[:200]
    finally:
        holder.close()
        http_hold.close()
        for log_filter in grpc_filters:
            grpc_logger.addFilter(log_filter)
    for t in threads:
        t.join(90)
    assert results == [SpanExportResult.SUCCESS] * 32
    stored = stored_span_ids(server.db_path, trace_ids)
    assert {t: len(v) for t, v in stored.items()} == {t: 90 for t in trace_ids}
