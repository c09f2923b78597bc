"""Durability: an export that was answered with success is stored, even if otelsink is killed (-9) right after.

The database is read back straight from SQLite (read-only, with the server dead) and through `otelsink trace`
after a restart on the same file.
"""

from __future__ import annotations

import json
import random
import shutil
import threading
import time
from pathlib import Path

import grpc
import httpx
from opentelemetry.proto.collector.trace.v1 import trace_service_pb2_grpc

from otlp_util import (JSON, PROTOBUF, assert_same_trace, cli_trace_request, make_trace_request,
                       parse_trace_response, stored_rows, stored_span_ids, to_otlp_json)

ITERATIONS = 20
SPANS_PER_BATCH = 50


def export_http(client: httpx.Client, server, request) -> None:
    """Raises unless the export was acknowledged in full (200, nothing rejected)."""
    r = client.post(server.url(), content=request.SerializeToString(), headers={"Content-Type": PROTOBUF})
    r.raise_for_status()
    assert parse_trace_response(r.content, r.headers["content-type"]).partial_success.rejected_spans == 0


def export_grpc(stub, request) -> None:
    response = stub.Export(request, timeout=5)
    assert response.partial_success.rejected_spans == 0


def span_ids(request) -> set[bytes]:
    return {s.span_id for rs in request.resource_spans for ss in rs.scope_spans for s in ss.spans}


def assert_all_present(db_path, acked: dict[bytes, set[bytes]], when: str):
    stored = stored_span_ids(db_path, set(acked))
    missing = {t.hex(): len(ids - stored.get(t, set())) for t, ids in acked.items() if not ids <= stored.get(t, set())}
    assert not missing, f"{when}: acknowledged spans missing (trace -> count): {missing}"


def test_acknowledged_batches_survive_kill_9(server_factory):
    server = server_factory()
    acked: dict[bytes, set[bytes]] = {}
    requests = {}
    deadline = time.monotonic() + 100
    for i in range(ITERATIONS):
        assert time.monotonic() < deadline, f"only {i} iterations in the time budget"
        if i:
            server.start()  # on the database the previous, killed process left behind
        this_round = []
        if i % 2 == 0:
            with httpx.Client(timeout=10) as client:
                for _ in range(3):
                    trace_id, request = make_trace_request(SPANS_PER_BATCH)
                    export_http(client, server, request)
                    this_round.append((trace_id, request))
        else:
            with grpc.insecure_channel(server.grpc_address) as channel:
                stub = trace_service_pb2_grpc.TraceServiceStub(channel)
                for _ in range(3):
                    trace_id, request = make_trace_request(SPANS_PER_BATCH)
                    export_grpc(stub, request)
                    this_round.append((trace_id, request))
        server.kill()  # at once: the answers are in, nothing else may be assumed to have happened
        for trace_id, request in this_round:
            acked[trace_id] = span_ids(request)
            requests[trace_id] = request
        assert_all_present(server.db_path, acked, f"after kill #{i + 1}")

    # A restart on the crashed database serves, and reads back exactly what was sent.
    server.start()
    assert_all_present(server.db_path, acked, "after the final restart")
    for trace_id in random.sample(sorted(acked), 5):
        assert_same_trace(requests[trace_id], cli_trace_request(server.binary, server.db_path, trace_id))
    stored = stored_span_ids(server.db_path)
    assert sum(len(v) for v in stored.values()) == ITERATIONS * 3 * SPANS_PER_BATCH
    with httpx.Client(timeout=10) as client:
        trace_id, request = make_trace_request(3)
        export_http(client, server, request)
    # Teardown stops it with SIGTERM and checks the clean exit.


def _run_exporters(server, stop: threading.Event, acked: dict, lock: threading.Lock, attempts: list, n_http=2,
                   n_grpc=2):
    def http_worker():
        with httpx.Client(timeout=5) as client:
            while not stop.is_set():
                trace_id, request = make_trace_request(20)
                attempts.append(trace_id)
                try:
                    export_http(client, server, request)
                except Exception:
                    time.sleep(0.01)
                    continue
                with lock:
                    acked[trace_id] = span_ids(request)

    def grpc_worker():
        with grpc.insecure_channel(server.grpc_address) as channel:
            stub = trace_service_pb2_grpc.TraceServiceStub(channel)
            while not stop.is_set():
                trace_id, request = make_trace_request(20)
                attempts.append(trace_id)
                try:
                    export_grpc(stub, request)
                except Exception:
                    time.sleep(0.01)
                    continue
                with lock:
                    acked[trace_id] = span_ids(request)

    threads = [threading.Thread(target=http_worker, daemon=True) for _ in range(n_http)]
    threads += [threading.Thread(target=grpc_worker, daemon=True) for _ in range(n_grpc)]
    for t in threads:
        t.start()
    return threads


def test_concurrent_exporters_while_killing(server_factory):
    """Four exporters (two HTTP, two gRPC) running while the server is killed at a random moment, five times:
    every acknowledged batch is stored whole; unanswered ones may or may not be."""
    server = server_factory()
    acked: dict[bytes, set[bytes]] = {}
    total_attempts = 0
    for round_ in range(5):
        if round_:
            server.start()
        stop, lock, attempts = threading.Event(), threading.Lock(), []
        before = len(acked)
        threads = _run_exporters(server, stop, acked, lock, attempts)
        time.sleep(random.uniform(0.4, 1.0))
        server.kill()
        stop.set()
        for t in threads:
            t.join(15)
            assert not t.is_alive(), "an exporter thread hung"
        total_attempts += len(attempts)
        assert len(acked) > before, f"round {round_ + 1}: no export was acknowledged before the kill"
        assert_all_present(server.db_path, acked, f"after kill #{round_ + 1}")
    assert total_attempts >= len(acked)
    server.start()
    assert_all_present(server.db_path, acked, "after the final restart")


def test_sigterm_with_exporters_in_flight_keeps_every_acknowledged_batch(server_factory, tmp_path):
    """SIGTERM while exporters are busy: a graceful stop (exit 0), and every acknowledged batch is stored — in the
    database file itself: the WAL is copied in and truncated, so a copy of `traces.db` alone is complete."""
    server = server_factory()
    stop, lock, attempts = threading.Event(), threading.Lock(), []
    acked: dict[bytes, set[bytes]] = {}
    threads = _run_exporters(server, stop, acked, lock, attempts)
    time.sleep(0.7)
    rc = server.stop()
    stop.set()
    for t in threads:
        t.join(15)
        assert not t.is_alive(), "an exporter thread hung"
    assert rc == 0, server.log()[-3000:]
    assert server.log().strip().splitlines()[-1].endswith("otelsink stopped")
    assert acked
    assert_all_present(server.db_path, acked, "after SIGTERM")
    wal = Path(f"{server.db_path}-wal")
    assert not wal.exists() or wal.stat().st_size == 0, f"the WAL holds {wal.stat().st_size} bytes after a clean stop"
    copy = tmp_path / "copy-of-the-file-alone.db"
    shutil.copyfile(server.db_path, copy)
    assert_all_present(copy, acked, "in a copy of the database file alone")


def test_resent_batches_are_stored_once(server):
    """Exporters retry: the same batch sent again (over HTTP protobuf, HTTP JSON and gRPC) is stored once."""
    trace_id, request = make_trace_request(10)
    with httpx.Client(timeout=10) as client:
        export_http(client, server, request)
        export_http(client, server, request)
        r = client.post(server.url(), content=json.dumps(to_otlp_json(request)), headers={"Content-Type": JSON})
        assert r.status_code == 200
    with grpc.insecure_channel(server.grpc_address) as channel:
        export_grpc(trace_service_pb2_grpc.TraceServiceStub(channel), request)
    assert_same_trace(request, cli_trace_request(server.binary, server.db_path, trace_id))
    assert len(stored_rows(server.db_path, trace_id)) == 10
