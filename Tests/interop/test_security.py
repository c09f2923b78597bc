"""TLS and authentication on otelsink's listeners, against the real binary.

TLS: certificates made once per session with `openssl` (a CA, a server certificate for 127.0.0.1/localhost, a
client certificate, an unrelated CA with its own client certificate, an expired server certificate and a second
server certificate for rotation); the official Python SDK exporters (gRPC and HTTP) and raw `ssl` sockets as
clients. Authentication: the `bearertokenauth` and `basicauth` (htpasswd with bcrypt hashes made by python's
`bcrypt`) extensions on OTLP/gRPC, OTLP/HTTP and the query API.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import socket
import ssl
import subprocess
import threading
import time
from pathlib import Path

import grpc
import httpx
import pytest
import requests
from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter as GRPCSpanExporter
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter as HTTPSpanExporter
from opentelemetry.proto.collector.trace.v1 import trace_service_pb2_grpc
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor, SpanExportResult
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from conftest import Pair, tls_yaml  # the session fixture `pki` (openssl-made certificates) is in conftest.py
from otlp_util import PROTOBUF, make_trace_request, run_cli, stored_span_ids
from rawhttp import H2Connection

GRPC_EXPORT = "/opentelemetry.proto.collector.trace.v1.TraceService/Export"
GRPC_HEALTH_CHECK = "/grpc.health.v1.Health/Check"
TOKEN = "s3cret"
GOOD_AUTH = {"authorization": f"Bearer {TOKEN}"}
CHALLENGE = 'Bearer realm="otelsink"'


# ---------------------------------------------------------------------------------------------- TLS clients


def client_context(ca: Pair | None, client: Pair | None = None, alpn: list[str] | None = None) -> ssl.SSLContext:
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    if ca is not None:
        ctx.load_verify_locations(cafile=str(ca.cert))
    if client is not None:
        ctx.load_cert_chain(str(client.cert), str(client.key))
    if alpn:
        ctx.set_alpn_protocols(alpn)
    return ctx


def host_port(address: str) -> tuple[str, int]:
    host, port = address.rsplit(":", 1)
    return host, int(port)


def tls_connect(address: str, ctx: ssl.SSLContext, timeout: float = 5.0) -> ssl.SSLSocket:
    """A TCP connection with a completed TLS handshake (raises ssl.SSLError when it fails)."""
    raw = socket.create_connection(host_port(address), timeout=timeout)
    try:
        return ctx.wrap_socket(raw, server_hostname=host_port(address)[0])
    except BaseException:
        raw.close()
        raise


def https_exchange(address: str, ctx: ssl.SSLContext, path: str = "/v1/traces", body: bytes = b"",
                   headers: dict[str, str] | None = None, timeout: float = 5.0, method: str | None = None) -> bytes:
    """One HTTP/1.1 request over TLS; the raw answer (b"" when the server closes without one). Raises ssl.SSLError
    or OSError when the server refuses the handshake (with TLS 1.3 a refused client certificate is only seen on the
    first read)."""
    with tls_connect(address, ctx, timeout) as s:
        head = [f"{method or ('POST' if body else 'GET')} {path} HTTP/1.1", f"Host: {address}", "Connection: close"]
        head += [f"{k}: {v}" for k, v in (headers or {}).items()]
        if body:
            head.append(f"Content-Length: {len(body)}")
        s.sendall(("\r\n".join(head) + "\r\n\r\n").encode() + body)
        out = b""
        while True:
            chunk = s.recv(65536)
            if not chunk:
                return out
            out += chunk


def assert_refused(address: str, ctx: ssl.SSLContext, what: str) -> str:
    """The server refuses the TLS session: the handshake fails or the connection ends without an HTTP answer."""
    try:
        answer = https_exchange(address, ctx, body=b"\x00")
    except (ssl.SSLError, OSError) as e:
        return repr(e)
    assert not answer.startswith(b"HTTP/"), f"{what}: the server answered {answer[:200]!r}"
    return "closed without an answer"


# ---------------------------------------------------------------------------------------------- SDK helpers


def sdk_spans(n: int = 3, name: str = "secure-op"):
    """`n` finished SDK spans of one new trace; returns (trace_id, span ids, spans)."""
    memory = InMemorySpanExporter()
    provider = TracerProvider(resource=Resource.create({"service.name": "interop-security"}))
    provider.add_span_processor(SimpleSpanProcessor(memory))
    tracer = provider.get_tracer("interop.security")
    with tracer.start_as_current_span(name) as root:
        for i in range(n - 1):
            with tracer.start_as_current_span(f"{name}-{i}"):
                pass
    spans = memory.get_finished_spans()
    provider.shutdown()
    trace_id = root.get_span_context().trace_id.to_bytes(16, "big")
    return trace_id, {s.context.span_id.to_bytes(8, "big") for s in spans}, spans


def grpc_exporter(server, ca: Pair | None = None, client: Pair | None = None, headers=None, timeout=5.0,
                  root_pem: bytes | None = None):
    if ca is None and root_pem is None:
        return GRPCSpanExporter(endpoint=f"http://{server.grpc_address}", insecure=True, headers=headers,
                                timeout=timeout)
    creds = grpc.ssl_channel_credentials(
        root_certificates=root_pem if root_pem is not None else ca.cert.read_bytes(),
        private_key=client.key.read_bytes() if client else None,
        certificate_chain=client.cert.read_bytes() if client else None)
    return GRPCSpanExporter(endpoint=f"https://{server.grpc_address}", insecure=False, credentials=creds,
                            headers=headers, timeout=timeout)


def http_exporter(server, ca: Pair | None = None, client: Pair | None = None, headers=None, timeout=5.0):
    scheme = "https" if ca else "http"
    # requests lets REQUESTS_CA_BUNDLE (set on many CI machines) override a session's `verify`, i.e. the
    # exporter's certificate_file: a session that ignores the environment keeps the test's CA.
    session = requests.Session()
    session.trust_env = False
    return HTTPSpanExporter(endpoint=f"{scheme}://{server.http_address}/v1/traces", session=session,
                            certificate_file=str(ca.cert) if ca else None,
                            client_certificate_file=str(client.cert) if client else None,
                            client_key_file=str(client.key) if client else None,
                            headers=headers, timeout=timeout)


def export_once(exporter, spans) -> SpanExportResult:
    try:
        return exporter.export(spans)
    finally:
        exporter.shutdown()


def stored(server, trace_id: bytes) -> set[bytes]:
    return stored_span_ids(server.db_path, {trace_id}).get(trace_id, set())


def assert_exported_and_stored(server, exporter, what: str):
    trace_id, ids, spans = sdk_spans()
    result = export_once(exporter, spans)
    assert result == SpanExportResult.SUCCESS, f"{what}: export failed:\n{server.log()[-2000:]}"
    assert stored(server, trace_id) == ids, f"{what}: spans not stored"


def assert_export_fails_and_nothing_stored(server, exporter, what: str):
    trace_id, ids, spans = sdk_spans()
    result = export_once(exporter, spans)
    assert result == SpanExportResult.FAILURE, f"{what}: export unexpectedly succeeded"
    assert stored(server, trace_id) == set(), f"{what}: spans stored although the export was refused"


def grpc_export_raw(server, *, ca: Pair | None = None, client: Pair | None = None, metadata=None, timeout=5.0):
    """One Export call with the grpc library (no retries); returns the grpc.StatusCode."""
    _, request = make_trace_request(2)
    if ca is None:
        channel = grpc.insecure_channel(server.grpc_address)
    else:
        creds = grpc.ssl_channel_credentials(ca.cert.read_bytes(), client.key.read_bytes() if client else None,
                                             client.cert.read_bytes() if client else None)
        channel = grpc.secure_channel(server.grpc_address, creds)
    with channel:
        try:
            trace_service_pb2_grpc.TraceServiceStub(channel).Export(request, metadata=metadata, timeout=timeout)
            return grpc.StatusCode.OK
        except grpc.RpcError as e:
            return e.code()


# ---------------------------------------------------------------------------------------------- TLS


@pytest.fixture
def tls_server(server_factory, pki):
    return server_factory(grpc_extra=tls_yaml(pki.server), http_extra=tls_yaml(pki.server))


@pytest.mark.timeout(60)
def test_good_certificate_grpc_and_http_exporters_store_spans(tls_server, pki):
    assert_exported_and_stored(tls_server, grpc_exporter(tls_server, pki.ca), "gRPC over TLS")
    assert_exported_and_stored(tls_server, http_exporter(tls_server, pki.ca), "OTLP/HTTP over https")

    # The server presents its certificate; gRPC negotiates h2, OTLP/HTTP offers h2 and http/1.1.
    with tls_connect(tls_server.grpc_address, client_context(pki.ca, alpn=["h2"])) as s:
        assert s.getpeercert(binary_form=True) == pki.server.der
        assert s.selected_alpn_protocol() == "h2"
        assert s.version() in ("TLSv1.2", "TLSv1.3")
    with tls_connect(tls_server.http_address, client_context(pki.ca, alpn=["h2", "http/1.1"])) as s:
        assert s.selected_alpn_protocol() == "h2"
    with tls_connect(tls_server.http_address, client_context(pki.ca, alpn=["http/1.1"])) as s:
        assert s.selected_alpn_protocol() == "http/1.1"
    _, request = make_trace_request(2)
    with httpx.Client(http2=True, verify=client_context(pki.ca), timeout=10) as c:
        r = c.post(f"https://{tls_server.http_address}/v1/traces", content=request.SerializeToString(),
                   headers={"Content-Type": PROTOBUF})
    assert r.status_code == 200 and r.http_version == "HTTP/2", (r.status_code, r.http_version, r.content[:200])

    # Cleartext to a TLS port gets no OTLP answer.
    with httpx.Client(timeout=5) as c:
        with pytest.raises(httpx.HTTPError):
            c.post(f"http://{tls_server.http_address}/v1/traces", content=request.SerializeToString(),
                   headers={"Content-Type": PROTOBUF})
    assert grpc_export_raw(tls_server) == grpc.StatusCode.UNAVAILABLE


@pytest.mark.timeout(60)
def test_certificate_from_another_ca_fails_client_verification(tls_server, pki):
    for address in (tls_server.grpc_address, tls_server.http_address):
        with pytest.raises(ssl.SSLCertVerificationError) as e:
            tls_connect(address, client_context(pki.other_ca)).close()
        assert e.value.verify_code == 20, e.value  # X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY
    assert grpc_export_raw(tls_server, ca=pki.other_ca) == grpc.StatusCode.UNAVAILABLE
    assert_export_fails_and_nothing_stored(tls_server, http_exporter(tls_server, pki.other_ca, timeout=2),
                                           "HTTP, wrong CA")
    assert_export_fails_and_nothing_stored(tls_server, grpc_exporter(tls_server, pki.other_ca, timeout=2),
                                           "gRPC, wrong CA")


@pytest.mark.timeout(60)
def test_expired_server_certificate_fails_client_verification(server_factory, pki):
    server = server_factory(grpc_extra=tls_yaml(pki.expired), http_extra=tls_yaml(pki.expired))
    for address in (server.grpc_address, server.http_address):
        with pytest.raises(ssl.SSLCertVerificationError) as e:
            tls_connect(address, client_context(pki.ca)).close()
        assert e.value.verify_code == 10, e.value  # X509_V_ERR_CERT_HAS_EXPIRED
    assert grpc_export_raw(server, ca=pki.ca) == grpc.StatusCode.UNAVAILABLE
    assert_export_fails_and_nothing_stored(server, http_exporter(server, pki.ca, timeout=2),
                                           "HTTP, expired certificate")


@pytest.mark.timeout(90)
def test_mutual_tls_requires_a_client_certificate_from_the_client_ca(server_factory, pki):
    server = server_factory(grpc_extra=tls_yaml(pki.server, client_ca=pki.ca),
                            http_extra=tls_yaml(pki.server, client_ca=pki.ca))
    # Raw TLS to the HTTP port: a good client certificate gets an answer; none, or one from another CA, does not.
    answer = https_exchange(server.http_address, client_context(pki.ca, pki.client), path="/v1/traces",
                            method="POST", headers={"Content-Type": PROTOBUF, "Content-Length": "0"})
    assert answer.startswith(b"HTTP/1.1 200"), answer[:300]
    for ctx, what in [(client_context(pki.ca), "no client certificate"),
                      (client_context(pki.ca, pki.other_client), "client certificate from another CA")]:
        for version in (ssl.TLSVersion.TLSv1_2, ssl.TLSVersion.TLSv1_3):
            ctx.maximum_version = ctx.minimum_version = version
            print(f"{what}, {version.name}: {assert_refused(server.http_address, ctx, what)}")

    # The SDK exporters.
    assert_exported_and_stored(server, grpc_exporter(server, pki.ca, pki.client), "gRPC mTLS, good client cert")
    assert_exported_and_stored(server, http_exporter(server, pki.ca, pki.client), "HTTP mTLS, good client cert")
    assert grpc_export_raw(server, ca=pki.ca) == grpc.StatusCode.UNAVAILABLE
    assert grpc_export_raw(server, ca=pki.ca, client=pki.other_client) == grpc.StatusCode.UNAVAILABLE
    assert_export_fails_and_nothing_stored(server, http_exporter(server, pki.ca, timeout=2),
                                           "HTTP mTLS, no client cert")
    assert_export_fails_and_nothing_stored(server, http_exporter(server, pki.ca, pki.other_client, timeout=2),
                                           "HTTP mTLS, client cert from another CA")
    assert_export_fails_and_nothing_stored(server, grpc_exporter(server, pki.ca, timeout=2),
                                           "gRPC mTLS, no client cert")
    assert_export_fails_and_nothing_stored(server, grpc_exporter(server, pki.ca, pki.other_client, timeout=2),
                                           "gRPC mTLS, client cert from another CA")


def _tls11_client(pki) -> ssl.SSLContext:
    ctx = client_context(pki.ca)
    ctx.minimum_version = ctx.maximum_version = ssl.TLSVersion.TLSv1_1
    ctx.set_ciphers("DEFAULT:@SECLEVEL=0")
    return ctx


def _local_openssl_speaks_tls11(pki) -> bool:
    """Whether this machine's OpenSSL can negotiate TLS 1.1 at all (a Python server and client in one process)."""
    server_ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server_ctx.load_cert_chain(str(pki.server.cert), str(pki.server.key))
    server_ctx.minimum_version = server_ctx.maximum_version = ssl.TLSVersion.TLSv1_1
    try:
        server_ctx.set_ciphers("DEFAULT:@SECLEVEL=0")
    except ssl.SSLError:
        return False
    listener = socket.create_server(("127.0.0.1", 0))
    result = {}

    def serve():
        try:
            conn, _ = listener.accept()
            with server_ctx.wrap_socket(conn, server_side=True) as s:
                s.recv(1)
        except Exception as e:  # noqa: BLE001 - only the client's view matters
            result["server"] = e

    t = threading.Thread(target=serve, daemon=True)
    t.start()
    try:
        with tls_connect(f"127.0.0.1:{listener.getsockname()[1]}", _tls11_client(pki)) as s:
            ok = s.version() == "TLSv1.1"
            s.sendall(b"x")
    except (ssl.SSLError, OSError):
        ok = False
    t.join(5)
    listener.close()
    return ok


@pytest.mark.timeout(60)
def test_old_tls_versions_are_refused_by_default(server_factory, pki):
    default = server_factory(http_extra=tls_yaml(pki.server), grpc=False)
    tls13_only = server_factory(http_extra=tls_yaml(pki.server, min_version='"1.3"'), grpc=False)

    # TLS 1.2 works by default; a 1.3-only server refuses a client that stops at 1.2.
    ctx12 = client_context(pki.ca)
    ctx12.maximum_version = ssl.TLSVersion.TLSv1_2
    with tls_connect(default.http_address, ctx12) as s:
        assert s.version() == "TLSv1.2"
    with pytest.raises(ssl.SSLError):
        tls_connect(tls13_only.http_address, ctx12).close()
    with tls_connect(tls13_only.http_address, client_context(pki.ca)) as s:
        assert s.version() == "TLSv1.3"

    if not _local_openssl_speaks_tls11(pki):
        pytest.skip("this machine's OpenSSL cannot negotiate TLS 1.1 (checked against itself); "
                    "the 1.2/1.3 checks above passed")
    # The client really speaks 1.1: a server that allows it (min_version 1.1) completes the handshake...
    allows_11 = server_factory(http_extra=tls_yaml(pki.server, min_version='"1.1"'), grpc=False)
    with tls_connect(allows_11.http_address, _tls11_client(pki)) as s:
        assert s.version() == "TLSv1.1"
    # ...and the default (min_version 1.2) refuses it.
    with pytest.raises(ssl.SSLError) as e:
        tls_connect(default.http_address, _tls11_client(pki)).close()
    print("TLS 1.1 against the default server:", e.value)


@pytest.mark.timeout(60)
def test_max_version_and_cipher_suites(server_factory, pki):
    server = server_factory(grpc=False, http_extra=tls_yaml(
        pki.server, max_version='"1.2"', cipher_suites="[TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256]"))
    with tls_connect(server.http_address, client_context(pki.ca)) as s:
        assert s.version() == "TLSv1.2"
        assert s.cipher()[0] == "ECDHE-ECDSA-AES128-GCM-SHA256", s.cipher()
    other = client_context(pki.ca)
    other.maximum_version = ssl.TLSVersion.TLSv1_2
    other.set_ciphers("ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-ECDSA-CHACHA20-POLY1305")
    with pytest.raises(ssl.SSLError):
        tls_connect(server.http_address, other).close()
    tls13_only = client_context(pki.ca)
    tls13_only.minimum_version = ssl.TLSVersion.TLSv1_3
    with pytest.raises(ssl.SSLError):
        tls_connect(server.http_address, tls13_only).close()


def _client_hello(pki) -> bytes:
    bio_in, bio_out = ssl.MemoryBIO(), ssl.MemoryBIO()
    tls = client_context(pki.ca).wrap_bio(bio_in, bio_out, server_hostname="127.0.0.1")
    with pytest.raises(ssl.SSLWantReadError):
        tls.do_handshake()
    return bio_out.read()


def _closed_after(sock: socket.socket, started: float, send: bytes = b"", interval: float = 0.5,
                  limit: float = 8.0) -> float | None:
    """Sends `send` a byte per `interval` (or nothing) until the server closes; seconds from `started`."""
    i = 0
    while time.monotonic() - started < limit:
        if i < len(send):
            try:
                sock.sendall(send[i:i + 1])
            except OSError:
                return time.monotonic() - started
            i += 1
        sock.settimeout(interval)
        try:
            data = sock.recv(65536)
        except socket.timeout:
            continue
        except OSError:
            return time.monotonic() - started
        if not data:
            return time.monotonic() - started
    return None


@pytest.mark.timeout(60)
def test_tls_handshake_counts_toward_the_header_deadline(server_factory, pki):
    """read_header_timeout (2 s) runs from the connection's opening, TLS handshake included: a ClientHello
    trickled a byte per 0.5 s, or a completed handshake followed by nothing, is closed at 2 s (+1 s)."""
    server = server_factory(grpc_extra=tls_yaml(pki.server) + "\nread_header_timeout: 2s",
                            http_extra=tls_yaml(pki.server) + "\nread_header_timeout: 2s")
    hello = _client_hello(pki)
    results = {}

    def trickled(name, address):
        with socket.create_connection(host_port(address), timeout=5) as raw:
            results[name] = _closed_after(raw, time.monotonic(), hello)

    def silent_after_handshake(name, address):
        started = time.monotonic()
        with tls_connect(address, client_context(pki.ca, alpn=["h2"] if "grpc" in name else None)) as s:
            results[name] = _closed_after(s, started)

    jobs = [threading.Thread(target=fn, args=(f"{kind} {port}", address), daemon=True)
            for fn, kind in ((trickled, "ClientHello trickled"), (silent_after_handshake, "silent after handshake"))
            for port, address in (("grpc", server.grpc_address), ("http", server.http_address))]
    for j in jobs:
        j.start()
    for j in jobs:
        j.join(15)
    print(results)
    for name, closed in results.items():
        assert closed is not None, f"{name}: still open after 8 s"
        assert 1.7 <= closed <= 3.0, f"{name}: closed after {closed:.2f} s (read_header_timeout 2 s)"
    assert len(results) == 4
    assert_exported_and_stored(server, grpc_exporter(server, pki.ca), "gRPC over TLS afterwards")


@pytest.mark.timeout(60)
def test_query_api_and_prometheus_over_https(server_factory, pki):
    server = server_factory(query=True, query_extra=tls_yaml(pki.server), prometheus=True,
                            prometheus_extra=tls_yaml(pki.server))
    trace_id, request = make_trace_request(4)
    assert httpx.post(server.url(), content=request.SerializeToString(), headers={"Content-Type": PROTOBUF},
                      timeout=10).status_code == 200
    with httpx.Client(verify=client_context(pki.ca), timeout=10) as c:
        r = c.get(f"https://{server.query_address}/api/traces/{trace_id.hex()}")
        assert r.status_code == 200, r.text[:300]
        assert len(r.json()["data"][0]["spans"]) == 4
        assert c.get(f"https://{server.query_address}/health").status_code == 200
        r = c.get(f"https://{server.prometheus_address}/metrics")
        assert r.status_code == 200 and r.headers["content-type"].startswith("text/plain"), r.headers
    for address in (server.query_address, server.prometheus_address):
        with tls_connect(address, client_context(pki.ca)) as s:
            assert s.getpeercert(binary_form=True) == pki.server.der
        with httpx.Client(timeout=5) as c, pytest.raises(httpx.HTTPError):
            c.get(f"http://{address}/health")


@pytest.mark.timeout(90)
def test_certificate_rotation_reaches_new_connections_without_failed_exports(server_factory, pki, tmp_path):
    cert, key = tmp_path / "live.pem", tmp_path / "live.key"
    cert.write_bytes(pki.server.cert.read_bytes())
    key.write_bytes(pki.server.key.read_bytes())
    live = Pair(cert, key)
    server = server_factory(grpc_extra=tls_yaml(live, reload_interval="1s"), http=False)

    def presented() -> str:
        with tls_connect(server.grpc_address, client_context(pki.ca, alpn=["h2"])) as s:
            return hashlib.sha256(s.getpeercert(binary_form=True)).hexdigest()

    assert presented() == pki.server.fingerprint
    assert pki.rotated.fingerprint != pki.server.fingerprint

    exporter = grpc_exporter(server, pki.ca, timeout=10)
    results: list[SpanExportResult] = []
    sent: dict[bytes, set[bytes]] = {}
    stop = threading.Event()

    def keep_exporting():
        while not stop.is_set():
            trace_id, ids, spans = sdk_spans(2, "during-rotation")
            sent[trace_id] = ids
            results.append(exporter.export(spans))
            time.sleep(0.02)

    worker = threading.Thread(target=keep_exporting, daemon=True)
    worker.start()
    try:
        deadline = time.monotonic() + 5
        while len(results) < 5 and time.monotonic() < deadline:
            time.sleep(0.05)
        assert len(results) >= 5, "the exporter did not get going"

        # Swap certificate and key (each replaced atomically).
        for src, dst in ((pki.rotated.key, key), (pki.rotated.cert, cert)):
            tmp = dst.with_suffix(".tmp")
            tmp.write_bytes(src.read_bytes())
            os.replace(tmp, dst)
        swapped = time.monotonic()
        seen = None
        while time.monotonic() - swapped < 3.0:
            if presented() == pki.rotated.fingerprint:
                seen = time.monotonic() - swapped
                break
            time.sleep(0.1)
        assert seen is not None, (f"new connections still get the old certificate 3 s after the swap "
                                  f"(reload_interval 1s):\n{server.log()[-2000:]}")
        print(f"new certificate seen {seen:.2f}s after the swap")
        before = len(results)
        deadline = time.monotonic() + 5
        while len(results) < before + 5 and time.monotonic() < deadline:
            time.sleep(0.05)
    finally:
        stop.set()
        worker.join(20)
        exporter.shutdown()
    failures = [i for i, r in enumerate(results) if r != SpanExportResult.SUCCESS]
    assert not failures, f"{len(failures)} of {len(results)} exports failed during rotation (indices {failures[:10]})"
    assert len(results) >= 10
    stored_now = stored_span_ids(server.db_path, set(sent))
    assert all(stored_now.get(t) == ids for t, ids in sent.items()), "spans exported during rotation are missing"
    # A new exporter (new connection) verifies the rotated certificate against the same CA.
    assert_exported_and_stored(server, grpc_exporter(server, pki.ca), "new exporter after rotation")


# ---------------------------------------------------------------------------------------------- authentication

BEARER = f"""bearertokenauth:
  token: {TOKEN}"""
AUTH = "auth:\n  authenticator: bearertokenauth"


@pytest.fixture
def auth_server(server_factory):
    return server_factory(grpc_extra=AUTH, http_extra=AUTH, query=True, query_extra=AUTH,
                          extensions_extra=BEARER, service_extensions=("bearertokenauth",))


def _raw_grpc_status(server, headers: dict[str, str]) -> dict[str, str]:
    """The response headers and trailers of one Export over a hand-driven HTTP/2 connection."""
    _, request = make_trace_request(2)
    msg = request.SerializeToString()
    frame = b"\x00" + len(msg).to_bytes(4, "big") + msg
    with H2Connection(*host_port(server.grpc_address)) as conn:
        r = conn.requests([("POST", GRPC_EXPORT, frame,
                            {"content-type": "application/grpc", "te": "trailers", **headers})])[0]
    return {":status": str(r.status), **r.headers}


@pytest.mark.timeout(90)
def test_bearer_token_on_grpc(auth_server):
    server = auth_server
    assert_export_fails_and_nothing_stored(server, grpc_exporter(server), "gRPC without a token")
    assert_export_fails_and_nothing_stored(server, grpc_exporter(server, headers={"authorization": "Bearer nope"}),
                                           "gRPC with a wrong token")
    assert_exported_and_stored(server, grpc_exporter(server, headers=GOOD_AUTH), "gRPC with the token")

    assert grpc_export_raw(server) == grpc.StatusCode.UNAUTHENTICATED
    assert grpc_export_raw(server, metadata=[("authorization", f"Bearer {TOKEN}x")]) == grpc.StatusCode.UNAUTHENTICATED
    assert grpc_export_raw(server, metadata=[("authorization", TOKEN)]) == grpc.StatusCode.UNAUTHENTICATED
    assert grpc_export_raw(server, metadata=[("authorization", f"Bearer {TOKEN}")]) == grpc.StatusCode.OK
    for headers, want in [({}, "16"), ({"authorization": "Bearer wrong"}, "16"), (GOOD_AUTH, "0")]:
        got = _raw_grpc_status(server, headers)
        assert got[":status"] == "200" and got.get("grpc-status") == want, (headers, got)

    # The health service stays open.
    with grpc.insecure_channel(server.grpc_address) as channel:
        answer = channel.unary_unary(GRPC_HEALTH_CHECK)(b"", timeout=5)
    assert answer == b"\x08\x01", answer  # HealthCheckResponse{status: SERVING}


@pytest.mark.timeout(90)
def test_bearer_token_on_http(auth_server):
    server = auth_server
    assert_export_fails_and_nothing_stored(server, http_exporter(server), "HTTP without a token")
    assert_export_fails_and_nothing_stored(server, http_exporter(server, headers={"authorization": "Bearer no"}),
                                           "HTTP with a wrong token")
    assert_exported_and_stored(server, http_exporter(server, headers=GOOD_AUTH), "HTTP with the token")

    trace_id, request = make_trace_request(2)
    body = request.SerializeToString()
    for headers in ({}, {"Authorization": "Bearer wrong"}, {"Authorization": f"Basic {TOKEN}"},
                    {"Authorization": f"Bearer {TOKEN}x"}, {"Authorization": f"bearer {TOKEN}"}, {"X-Token": TOKEN}):
        r = httpx.post(server.url(), content=body, headers={"Content-Type": PROTOBUF, **headers}, timeout=10)
        assert r.status_code == 401, (headers, r.status_code, r.content[:200])
        assert r.headers.get("www-authenticate") == CHALLENGE, (headers, r.headers)
    assert stored(server, trace_id) == set()
    r = httpx.post(server.url(), content=body, headers={"Content-Type": PROTOBUF, "Authorization": f"Bearer {TOKEN}"},
                   timeout=10)
    assert r.status_code == 200, r.content[:200]
    assert len(stored(server, trace_id)) == 2


@pytest.mark.timeout(60)
def test_bearer_token_on_the_query_api(auth_server):
    server = auth_server
    trace_id, request = make_trace_request(3)
    assert httpx.post(server.url(), content=request.SerializeToString(),
                      headers={"Content-Type": PROTOBUF, **GOOD_AUTH}, timeout=10).status_code == 200
    paths = ["/api/services", f"/api/traces/{trace_id.hex()}", "/api/traces?service=interop-test",
             "/api/v3/services", f"/api/v3/traces/{trace_id.hex()}", "/api/dependencies?endTs=1&lookback=1"]
    with httpx.Client(base_url=f"http://{server.query_address}", timeout=10) as c:
        assert c.get("/health").status_code == 200
        for path in paths:
            for headers in ({}, {"Authorization": "Bearer wrong"}):
                r = c.get(path, headers=headers)
                assert r.status_code == 401, (path, headers, r.status_code, r.text[:200])
                assert r.headers.get("www-authenticate") == CHALLENGE, (path, r.headers)
                assert trace_id.hex() not in r.text
        for path in paths:
            r = c.get(path, headers={"Authorization": f"Bearer {TOKEN}"})
            assert r.status_code == 200, (path, r.status_code, r.text[:200])
        r = c.get(f"/api/traces/{trace_id.hex()}", headers={"Authorization": f"Bearer {TOKEN}"})
        assert len(r.json()["data"][0]["spans"]) == 3


@pytest.mark.timeout(60)
def test_token_file_change_takes_effect_while_running(server_factory, tmp_path):
    token_file = tmp_path / "token"
    token_file.write_text("old-token\n")
    server = server_factory(grpc_extra=AUTH, http_extra=AUTH,
                            extensions_extra=f"bearertokenauth:\n  filename: {token_file}",
                            service_extensions=("bearertokenauth",))
    _, request = make_trace_request(2)
    body = request.SerializeToString()

    def status(token: str) -> int:
        return httpx.post(server.url(), content=body, timeout=10,
                          headers={"Content-Type": PROTOBUF, "Authorization": f"Bearer {token}"}).status_code

    assert (status("old-token"), status("new-token")) == (200, 401)
    assert grpc_export_raw(server, metadata=[("authorization", "Bearer old-token")]) == grpc.StatusCode.OK
    tmp = token_file.with_suffix(".tmp")
    tmp.write_text("new-token\n")
    os.replace(tmp, token_file)
    changed = time.monotonic()
    got = None
    while time.monotonic() - changed < 3.5:
        got = (status("old-token"), status("new-token"))
        if got == (401, 200):
            break
        time.sleep(0.1)
    assert got == (401, 200), f"3.5 s after the token file changed: old/new token got {got}\n{server.log()[-1500:]}"
    print(f"new token in use {time.monotonic() - changed:.2f}s after the change")
    assert grpc_export_raw(server, metadata=[("authorization", "Bearer new-token")]) == grpc.StatusCode.OK
    assert grpc_export_raw(server, metadata=[("authorization", "Bearer old-token")]) == grpc.StatusCode.UNAUTHENTICATED


# ---------------------------------------------------------------------------------------------- config errors


def _validate(otelsink_bin, tmp_path, name: str, **config) -> tuple[int, str]:
    from conftest import write_config
    path = write_config(tmp_path / f"{name}.yaml", tmp_path / "never.db", **config)
    p = run_cli(otelsink_bin, "validate", "--config", path)
    return p.returncode, p.stderr.decode(errors="replace")


@pytest.mark.timeout(60)
def test_validate_reports_bad_authenticator_references(otelsink_bin, tmp_path):
    rc, err = _validate(otelsink_bin, tmp_path, "undefined", grpc_extra="auth:\n  authenticator: nothere")
    assert rc == 1, err
    assert 'receivers::otlp::protocols::grpc::auth::authenticator: references extension "nothere"' in err, err

    rc, err = _validate(otelsink_bin, tmp_path, "unlisted", http_extra=AUTH, extensions_extra=BEARER)
    assert rc == 1, err
    assert "receivers::otlp::protocols::http::auth::authenticator:" in err and "service::extensions" in err, err

    rc, err = _validate(otelsink_bin, tmp_path, "not-an-authenticator", query=True,
                        query_extra="auth:\n  authenticator: query")
    assert rc == 1, err
    assert "extensions::query::auth::authenticator:" in err and "not an authenticator" in err, err

    rc, err = _validate(otelsink_bin, tmp_path, "good", grpc_extra=AUTH, http_extra=AUTH, query=True,
                        query_extra=AUTH, extensions_extra=BEARER, service_extensions=("bearertokenauth",))
    assert rc == 0, err


@pytest.mark.timeout(60)
def test_missing_certificate_file_is_a_config_error(otelsink_bin, server_factory, pki, tmp_path):
    missing = Pair(tmp_path / "nope.pem", pki.server.key)
    rc, err = _validate(otelsink_bin, tmp_path, "missing-cert", grpc_extra=tls_yaml(missing))
    assert rc == 1, err
    assert f"receivers::otlp::protocols::grpc::tls::cert_file: cannot read {missing.cert}" in err, err
    rc, err = _validate(otelsink_bin, tmp_path, "good-cert", grpc_extra=tls_yaml(pki.server))
    assert rc == 0, err

    # `serve` refuses to start with the same message.
    server = server_factory(start=False, grpc_extra=tls_yaml(missing))
    p = subprocess.run([str(server.binary), "serve", "--config", str(server.config)], capture_output=True,
                       timeout=30, stdin=subprocess.DEVNULL, cwd=server.workdir)
    out = (p.stdout + p.stderr).decode(errors="replace")
    assert p.returncode != 0 and "receivers::otlp::protocols::grpc::tls::cert_file" in out, (p.returncode, out)


# ---------------------------------------------------------------------------------------------- basicauth

BASIC_CHALLENGE = 'Basic realm="otelsink", charset="UTF-8"'
BASIC_AUTH = "auth:\n  authenticator: basicauth"
# user -> password. alice: a `$2b$` hash (python bcrypt); bob: the same kind of hash with htpasswd's `$2y$` prefix;
# dave: a UTF-8 password with a colon in it (only the first colon of `user:password` separates); carol: a plain
# `user:password` inline entry.
BASIC_USERS = {"alice": "alice-pw", "bob": "bob-pw", "dave": "pa:ss wörd", "carol": "carol-plain"}


def basic(user: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


def basic_headers(user: str, password: str) -> dict[str, str]:
    return {"authorization": basic(user, password)}


@pytest.fixture(scope="module")
def htpasswd(tmp_path_factory) -> Path:
    import bcrypt
    path = tmp_path_factory.mktemp("basicauth") / "htpasswd"
    lines = ["# made by the interop tests"]
    for user in ("alice", "bob", "dave"):
        hashed = bcrypt.hashpw(BASIC_USERS[user].encode(), bcrypt.gensalt(rounds=5)).decode()
        assert hashed.startswith("$2b$05$") and len(hashed) == 60
        lines.append(f"{user}:{'$2y$' + hashed[4:] if user == 'bob' else hashed}")
    path.write_text("\n".join(lines) + "\n")
    return path


def basicauth_yaml(file: Path | None = None, inline: str | None = None) -> str:
    lines = ["basicauth:", "  htpasswd:"]
    if file is not None:
        lines.append(f"    file: {file}")
    if inline is not None:
        lines.append(f"    inline: {json.dumps(inline)}")
    return "\n".join(lines)


@pytest.fixture
def basic_server(server_factory, htpasswd):
    return server_factory(grpc_extra=BASIC_AUTH, http_extra=BASIC_AUTH, query=True, query_extra=BASIC_AUTH,
                          extensions_extra=basicauth_yaml(htpasswd, f"carol:{BASIC_USERS['carol']}"),
                          service_extensions=("basicauth",))


# Credentials that must be refused: wrong passwords (bcrypt, `$2y$`, plain), an unknown user, a user's password for
# another user, no password, not base64, another scheme, and a remembered (already verified) header's user with a
# wrong password.
BAD_BASIC = [
    {},
    {"Authorization": basic("alice", "wrong")},
    {"Authorization": basic("alice", "alice-pw ")},
    {"Authorization": basic("bob", "alice-pw")},
    {"Authorization": basic("carol", "carol-plai")},
    {"Authorization": basic("dave", "pa")},
    {"Authorization": basic("mallory", "alice-pw")},
    {"Authorization": basic("alice", "")},
    {"Authorization": "Basic !!!not-base64!!!"},
    {"Authorization": "Bearer alice-pw"},
    {"Authorization": "Basic " + base64.b64encode(b"alice-pw").decode()},
]


@pytest.mark.timeout(60)
def test_basic_auth_on_the_query_api(basic_server):
    server = basic_server
    trace_id, request = make_trace_request(3)
    r = httpx.post(server.url(), content=request.SerializeToString(), timeout=10,
                   headers={"Content-Type": PROTOBUF, **basic_headers("alice", "alice-pw")})
    assert r.status_code == 200, r.content[:300]
    paths = ["/api/services", f"/api/traces/{trace_id.hex()}", "/api/v3/services"]
    with httpx.Client(base_url=f"http://{server.query_address}", timeout=10) as c:
        r = c.get("/health")
        assert r.status_code == 200, r.text[:200]
        for user, password in BASIC_USERS.items():
            for path in paths:
                r = c.get(path, headers={"Authorization": basic(user, password)})
                assert r.status_code == 200, (user, path, r.status_code, r.text[:200])
        r = c.get(f"/api/traces/{trace_id.hex()}", headers={"Authorization": basic("bob", "bob-pw")})
        assert len(r.json()["data"][0]["spans"]) == 3
        for headers in BAD_BASIC:
            for path in paths:
                r = c.get(path, headers=headers)
                assert r.status_code == 401, (path, headers, r.status_code, r.text[:200])
                assert r.headers.get("www-authenticate") == BASIC_CHALLENGE, (path, headers, r.headers)
                assert trace_id.hex() not in r.text and "interop-test" not in r.text
        # The right credentials still work after all the refusals.
        assert c.get(paths[0], headers={"Authorization": basic("dave", "pa:ss wörd")}).status_code == 200


@pytest.mark.timeout(60)
def test_basic_auth_on_otlp_http(basic_server):
    server = basic_server
    assert_exported_and_stored(server, http_exporter(server, headers=basic_headers("alice", "alice-pw")),
                               "HTTP exporter, alice ($2b$)")
    assert_exported_and_stored(server, http_exporter(server, headers=basic_headers("bob", "bob-pw")),
                               "HTTP exporter, bob ($2y$)")
    assert_exported_and_stored(server, http_exporter(server, headers=basic_headers("carol", "carol-plain")),
                               "HTTP exporter, carol (plain inline entry)")
    assert_export_fails_and_nothing_stored(server, http_exporter(server), "HTTP exporter without credentials")
    assert_export_fails_and_nothing_stored(server, http_exporter(server, headers=basic_headers("alice", "nope")),
                                           "HTTP exporter, wrong password")
    assert_export_fails_and_nothing_stored(server, http_exporter(server, headers=basic_headers("eve", "alice-pw")),
                                           "HTTP exporter, unknown user")

    trace_id, request = make_trace_request(2)
    body = request.SerializeToString()
    for headers in BAD_BASIC:
        r = httpx.post(server.url(), content=body, headers={"Content-Type": PROTOBUF, **headers}, timeout=10)
        assert r.status_code == 401, (headers, r.status_code, r.content[:200])
        assert r.headers.get("www-authenticate") == BASIC_CHALLENGE, (headers, r.headers)
    assert stored(server, trace_id) == set()
    r = httpx.post(server.url(), content=body, timeout=10,
                   headers={"Content-Type": PROTOBUF, "Authorization": basic("dave", "pa:ss wörd")})
    assert r.status_code == 200, r.content[:200]
    assert len(stored(server, trace_id)) == 2


@pytest.mark.timeout(60)
def test_basic_auth_on_otlp_grpc(basic_server):
    server = basic_server
    assert_exported_and_stored(server, grpc_exporter(server, headers=basic_headers("bob", "bob-pw")),
                               "gRPC exporter, bob ($2y$)")
    assert_export_fails_and_nothing_stored(server, grpc_exporter(server, headers=basic_headers("bob", "alice-pw")),
                                           "gRPC exporter, wrong password")
    assert grpc_export_raw(server) == grpc.StatusCode.UNAUTHENTICATED
    assert grpc_export_raw(server, metadata=[("authorization", basic("mallory", "x"))]) == grpc.StatusCode.UNAUTHENTICATED
    assert grpc_export_raw(server, metadata=[("authorization", basic("carol", "carol-plain"))]) == grpc.StatusCode.OK
    assert grpc_export_raw(server, metadata=[("authorization", basic("alice", "alice-pw"))]) == grpc.StatusCode.OK


@pytest.mark.timeout(60)
def test_basic_auth_inline_plain_entry_alone(server_factory):
    """Only `htpasswd.inline` with a plain `user:password` line (as otelcol's README writes it from env vars)."""
    server = server_factory(grpc=False, http_extra=BASIC_AUTH, extensions_extra=basicauth_yaml(inline="ops:let-me-in"),
                            service_extensions=("basicauth",))
    assert_exported_and_stored(server, http_exporter(server, headers=basic_headers("ops", "let-me-in")),
                               "inline plain entry")
    assert_export_fails_and_nothing_stored(server, http_exporter(server, headers=basic_headers("ops", "let-me-i")),
                                           "inline plain entry, wrong password")
    _, request = make_trace_request(1)
    r = httpx.post(server.url(), content=request.SerializeToString(), timeout=10,
                   headers={"Content-Type": PROTOBUF, "Authorization": basic("ops", "LET-ME-IN")})
    assert r.status_code == 401 and r.headers.get("www-authenticate") == BASIC_CHALLENGE, (r.status_code, r.headers)


@pytest.mark.timeout(60)
def test_validate_refuses_non_bcrypt_htpasswd_hashes(otelsink_bin, tmp_path, htpasswd):
    apr1 = "$apr1$r31.....$HqJZimcKQFAMYayBlzkrA/"  # htpasswd -m (MD5)
    rc, err = _validate(otelsink_bin, tmp_path, "apr1-inline", http_extra=BASIC_AUTH,
                        extensions_extra=basicauth_yaml(inline=f"md5user:{apr1}"), service_extensions=("basicauth",))
    assert rc == 1, err
    assert "extensions::basicauth::htpasswd::inline:" in err and "md5user" in err, err
    assert apr1 not in err and "HqJZimcKQFAMYayBlzkrA" not in err, f"the hash is echoed:\n{err}"

    bad_file = tmp_path / "htpasswd-md5"
    bad_file.write_text(htpasswd.read_text() + f"md5user:{apr1}\n")
    rc, err = _validate(otelsink_bin, tmp_path, "apr1-file", http_extra=BASIC_AUTH,
                        extensions_extra=basicauth_yaml(bad_file), service_extensions=("basicauth",))
    assert rc == 1, err
    assert "extensions::basicauth::htpasswd::file:" in err and "md5user" in err, err
    assert "HqJZimcKQFAMYayBlzkrA" not in err, f"the hash is echoed:\n{err}"

    rc, err = _validate(otelsink_bin, tmp_path, "good", grpc_extra=BASIC_AUTH, http_extra=BASIC_AUTH, query=True,
                        query_extra=BASIC_AUTH, extensions_extra=basicauth_yaml(htpasswd, "carol:carol-plain"),
                        service_extensions=("basicauth",))
    assert rc == 0, err
