"""Client authentication on forwarding exporters: `auth: {authenticator: ID}` naming `bearertokenauth` or `basicauth`
(with `client_auth`) on the edge, against a gateway that requires the matching credentials."""

from __future__ import annotations

import pytest

from otlp_util import run_cli
from test_forwarding import (INSECURE, check_stored, edge_yaml, export_sdk, metric, poll, row_count, telemetry,
                             wait_stored)

pytestmark = pytest.mark.timeout(60)

TOKEN = "upstream-s3cret"


def edge_with_extension(endpoint: str, extension: str, exporter: str = "otlp", tls: str = INSECURE) -> str:
    """An edge whose `otlp` exporter authenticates with the extension `auth/up` defined by `extension`."""
    text = edge_yaml(endpoint, f"{tls}\nauth:\n  authenticator: {extension.split(':')[0]}")
    if exporter != "otlp":
        text = text.replace("  otlp:\n    endpoint:", f"  {exporter}:\n    endpoint:").replace("exporters: [otlp]", f"exporters: [{exporter}]")
    return f"extensions:\n{extension}\n" + text.replace("service:\n", f"service:\n  extensions: [{extension.split(':')[0].strip()}]\n", 1)


def bearer_gateway(server_factory):
    return server_factory(grpc_extra="auth:\n  authenticator: bearertokenauth", http_extra="auth:\n  authenticator: bearertokenauth",
                          extensions_extra=f"bearertokenauth:\n  token: {TOKEN}", service_extensions=("bearertokenauth",))


@pytest.mark.parametrize("exporter", ["otlp", "otlphttp"])
def test_a_bearer_token_from_bearertokenauth_reaches_the_upstream(server_factory, exporter):
    gateway = bearer_gateway(server_factory)
    endpoint = gateway.grpc_address if exporter == "otlp" else f"http://{gateway.http_address}"
    tls = INSECURE if exporter == "otlp" else ""
    config = edge_with_extension(endpoint, f"  bearertokenauth/up:\n    token: {TOKEN}", exporter, tls)
    edge = server_factory(config_text=config)
    edge.tls_ca = None
    sent = export_sdk(edge, "grpc")
    wait_stored(gateway, [sent])
    check_stored(gateway, sent)
    assert TOKEN not in edge.log()


def test_a_wrong_token_is_refused_for_good_and_counted(server_factory):
    gateway = bearer_gateway(server_factory)
    edge = server_factory(config_text=edge_with_extension(gateway.grpc_address, "  bearertokenauth/up:\n    token: wrong"))
    edge.tls_ca = None
    export_sdk(edge, "grpc")
    text = poll(lambda: telemetry(edge), lambda t: (metric(t, "otelsink_exporter_dropped_spans_total") or 0) > 0, 6)
    assert metric(text, "otelsink_exporter_dropped_spans_total") == 4, edge.log()[-2000:]
    assert "grpc status 16" in edge.log()
    assert row_count(gateway.db_path) == 0


def test_basicauth_client_auth_reaches_a_basicauth_gateway(server_factory):
    gateway = server_factory(grpc_extra="auth:\n  authenticator: basicauth", extensions_extra="basicauth:\n  htpasswd:\n    inline: |\n      edge:pa55word",
                             service_extensions=("basicauth",))
    config = edge_with_extension(gateway.grpc_address, "  basicauth/up:\n    client_auth:\n      username: edge\n      password: pa55word")
    edge = server_factory(config_text=config)
    edge.tls_ca = None
    sent = export_sdk(edge, "grpc")
    wait_stored(gateway, [sent])
    assert "pa55word" not in edge.log()


def test_an_exporter_auth_must_name_a_client_authenticator(otelsink_bin, tmp_path):
    config = tmp_path / "edge.yaml"
    text = edge_with_extension("127.0.0.1:4317", f"  file_storage:\n    directory: {tmp_path}").replace(
        "authenticator: file_storage", "authenticator: file_storage")
    config.write_text(text)
    p = run_cli(otelsink_bin, "validate", "--config", config)
    err = p.stderr.decode(errors="replace")
    assert p.returncode == 1, err
    assert "exporters::otlp::auth::authenticator: extension \"file_storage\" is of type file_storage, which is not a client authenticator" in err, err
