"""What the server keeps resident: the code that only ran to start it is given back once it serves, and the memory
of a large answer is given back after it (issue 19). Bounds are relative to the same server's own earlier figures,
so they hold on any machine and build."""

from __future__ import annotations

import time

import httpx

from otlp_util import PROTOBUF, make_request, make_span, new_span_id, new_trace_id
from test_forwarding import poll


def test_the_code_that_started_the_server_is_no_longer_resident_once_it_serves(server):
    # Sampled as soon as the server listens: everything startup ran is mapped in.
    at_start = server.proc_status("RssFile")
    # StartupCode.settle (2 s) after every receiver listens, the code pages are unmapped; what runs again (timers,
    # the next request) comes back from the page cache.
    after = poll(lambda: server.proc_status("RssFile"), lambda kib: kib < at_start * 0.7, timeout=15, interval=0.1)
    assert after < at_start * 0.7, f"mapped-file RSS {at_start} KiB when listening, still {after} KiB later"
    # The server still serves, with the code mapped back as it runs.
    trace_id = new_trace_id()
    request = make_request([make_span(trace_id, name="after-release")])
    answer = httpx.post(server.url(), content=request.SerializeToString(), headers={"Content-Type": PROTOBUF})
    assert answer.status_code == 200, answer.text


def large_trace_requests(n_spans: int) -> tuple[bytes, list[bytes]]:
    """One trace of `n_spans` spans shaped as bench/large_trace.py's (span j a child of span (j-1)/2, ten
    20-character attributes and an event each, five services), in requests of 1,000 spans."""
    trace_id = new_trace_id()
    ids = [new_span_id() for _ in range(n_spans)]
    start = time.time_ns() - 60_000_000_000
    bodies = []
    for first in range(0, n_spans, 1000):
        spans = []
        for j in range(first, min(n_spans, first + 1000)):
            span = make_span(trace_id, name=f"operation-{j % 20}", span_id=ids[j], parent=ids[(j - 1) // 2] if j else b"",
                             start_ns=start + j * 100_000, duration_ns=1_000_000 + j % 50_000,
                             **{f"bench.attribute.k{k}....."[:20]: f"s{j}-v{k}-lorem......."[:20] for k in range(10)})
            span.kind = [2, 3, 1][j % 3]
            event = span.events.add()
            event.time_unix_nano = span.start_time_unix_nano + 500_000
            event.name = "bench.event"
            spans.append(span)
        bodies.append(make_request(spans, service=f"service-{first // 1000 % 5 + 1}").SerializeToString())
    return trace_id, bodies


def test_the_memory_of_large_answers_is_given_back_after_them(server_factory):
    server = server_factory(query=True)
    trace_id, bodies = large_trace_requests(10_000)
    with httpx.Client(timeout=60) as client:
        for body in bodies:
            answer = client.post(server.url(), content=body, headers={"Content-Type": PROTOBUF})
            assert answer.status_code == 200, answer.text
        time.sleep(1)
        before = server.proc_status("RssAnon")
        answer = client.get(f"{server.query_url}/api/traces/{trace_id.hex()}")
        assert len(answer.json()["data"][0]["spans"]) == 10_000
        # Back to back, as a dashboard or a script asks: each answer is still being freed while the next is built.
        sizes = set()
        for _ in range(12):
            answer = client.get(f"{server.query_url}/api/traces/{trace_id.hex()}")
            assert answer.status_code == 200
            sizes.add(len(answer.content))
        right_after = server.proc_status("RssAnon")
    # Each answer is megabytes of JSON built from 10,000 decoded spans; after the last one, the heap returns to
    # about where it was (glibc keeps freed memory for reuse unless told otherwise: FreedMemory).
    assert min(sizes) > 5_000_000, sizes
    bound = before + 16 * 1024
    after = poll(lambda: server.proc_status("RssAnon"), lambda kib: kib <= bound, timeout=10, interval=0.1)
    print(f"anonymous RSS: {before} KiB before the answers, {right_after} KiB right after, {after} KiB after; answers {sizes}")
    assert after <= bound, f"anonymous RSS {before} KiB before the answers, {right_after} KiB right after, {after} KiB 10 s later"
