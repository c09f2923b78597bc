"""The `otlp` exporter's client TLS settings against a real TLS gateway: `server_name_override` (the name checked
against the certificate and sent as SNI) and `min_version` / `max_version`, with failures named in the log."""

from __future__ import annotations

import re

import pytest

from conftest import _make_leaf, tls_yaml
from test_forwarding import GIVE_UP, dropped_lines, export_sdk, row_count, start_edge, wait_stored

pytestmark = pytest.mark.timeout(60)


@pytest.fixture
def tls_gateway(server_factory, pki):
    gateway = server_factory(http=False, grpc_extra=tls_yaml(pki.server))
    gateway.port = int(gateway.grpc_address.rsplit(":", 1)[1])
    return gateway


@pytest.fixture
def named_gateway(server_factory, pki, tmp_path):
    """A TLS gateway whose certificate names only gateway.internal (no IP address, no localhost)."""
    leaf = _make_leaf(tmp_path, "named", pki.ca, 3001, server=True, san="DNS:gateway.internal")
    gateway = server_factory(http=False, grpc_extra=tls_yaml(leaf))
    gateway.port = int(gateway.grpc_address.rsplit(":", 1)[1])
    return gateway


def test_server_name_override_is_the_name_checked_against_the_certificate(server_factory, pki, named_gateway):
    edge = start_edge(server_factory, f"127.0.0.1:{named_gateway.port}",
                      f"tls:\n  ca_file: {pki.ca.cert}\n  server_name_override: gateway.internal\n{GIVE_UP}")
    wait_stored(named_gateway, [export_sdk(edge, "grpc")], timeout=10)


@pytest.mark.parametrize("override", ["gateway.example", None])
def test_a_name_or_address_the_certificate_does_not_carry_is_refused_and_named(server_factory, pki, named_gateway, override):
    """A wrong override, or none: the edge dials 127.0.0.1, which the certificate does not name either."""
    name = f"\n  server_name_override: {override}" if override else ""
    edge = start_edge(server_factory, f"127.0.0.1:{named_gateway.port}", f"tls:\n  ca_file: {pki.ca.cert}{name}\n{GIVE_UP}")
    export_sdk(edge, "grpc")
    dropped = dropped_lines(edge)
    assert any(re.search(r"TLS handshake with the upstream failed.*(?i:hostname)", line) for line in dropped), dropped
    assert row_count(named_gateway.db_path) == 0
    assert edge.running


def test_min_version_above_what_the_upstream_speaks_fails_the_handshake(server_factory, pki):
    gateway = server_factory(http=False, grpc_extra=tls_yaml(pki.server, max_version="\"1.2\""))
    port = int(gateway.grpc_address.rsplit(":", 1)[1])
    edge = start_edge(server_factory, f"localhost:{port}", f"tls:\n  ca_file: {pki.ca.cert}\n  min_version: \"1.3\"\n{GIVE_UP}")
    export_sdk(edge, "grpc")
    dropped = dropped_lines(edge)
    assert any("TLS handshake with the upstream failed" in line for line in dropped), dropped
    # The same edge settings against a gateway that speaks TLS 1.3 deliver.
    modern = server_factory(http=False, grpc_extra=tls_yaml(pki.server))
    port = int(modern.grpc_address.rsplit(":", 1)[1])
    edge = start_edge(server_factory, f"localhost:{port}", f"tls:\n  ca_file: {pki.ca.cert}\n  min_version: \"1.3\"\n{GIVE_UP}")
    wait_stored(modern, [export_sdk(edge, "grpc")], timeout=10)
