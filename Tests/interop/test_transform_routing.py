"""The transform processor and the routing connector in the real server, fed by the official OpenTelemetry SDK:
two tenants' spans (told apart by a resource attribute) are rewritten by OTTL statements and each tenant's reach
only its own file exporter; spans of any other tenant go to the default pipeline. Read back from the files the
exporters write (OTLP JSON lines)."""

import json
from pathlib import Path

from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.trace import SpanKind

CONFIG = """receivers:
  otlp:
    protocols:
      http:
        endpoint: 127.0.0.1:0
processors:
  transform:
    error_mode: ignore
    trace_statements:
      - set(span.attributes["http.route"], "/users/{{id}}") where IsMatch(span.name, "^GET /users/[0-9]+$")
      - delete_key(span.attributes, "user.password")
      - set(span.attributes["db.statement"], "redacted") where span.kind == SPAN_KIND_CLIENT
      - context: resource
        statements:
          - set(attributes["routed.by"], "otelsink")
connectors:
  routing:
    default_pipelines: [traces/other]
    table:
      - condition: resource.attributes["tenant"] == "acme"
        pipelines: [traces/acme]
      - statement: route() where resource.attributes["tenant"] == "ecorp"
        pipelines: [traces/ecorp]
exporters:
  file/acme:
    path: {dir}/acme.jsonl
  file/ecorp:
    path: {dir}/ecorp.jsonl
  file/other:
    path: {dir}/other.jsonl
service:
  telemetry:
    metrics:
      address: 127.0.0.1:0
  pipelines:
    traces/in:
      receivers: [otlp]
      processors: [transform]
      exporters: [routing]
    traces/acme:
      receivers: [routing]
      exporters: [file/acme]
    traces/ecorp:
      receivers: [routing]
      exporters: [file/ecorp]
    traces/other:
      receivers: [routing]
      exporters: [file/other]
"""


def send(server, tenant: str, names: list[str]) -> None:
    resource = Resource.create({"service.name": f"{tenant}-api", "tenant": tenant})
    provider = TracerProvider(resource=resource)
    provider.add_span_processor(SimpleSpanProcessor(OTLPSpanExporter(endpoint=server.url("/v1/traces"), timeout=10)))
    tracer = provider.get_tracer("interop")
    for name in names:
        kind = SpanKind.CLIENT if name.startswith("SELECT") else SpanKind.SERVER
        with tracer.start_as_current_span(name, kind=kind) as span:
            span.set_attribute("user.password", "hunter2")
            span.set_attribute("db.statement", "SELECT * FROM users WHERE id = 42")
    assert provider.force_flush(10_000)
    provider.shutdown()


def spans_in(path: Path) -> list[tuple[dict, dict]]:
    """(resource attributes, span) for every span in an OTLP JSON lines file."""
    out = []
    if not path.exists():
        return out
    for line in path.read_text().splitlines():
        for rs in json.loads(line)["resourceSpans"]:
            resource = {a["key"]: a["value"].get("stringValue") for a in rs["resource"].get("attributes", [])}
            for ss in rs["scopeSpans"]:
                for span in ss["spans"]:
                    out.append((resource, span))
    return out


def attrs(span: dict) -> dict:
    return {a["key"]: a["value"].get("stringValue") for a in span.get("attributes", [])}


def test_each_tenant_reaches_only_its_own_exporter_after_the_transform(server_factory, tmp_path):
    out_dir = tmp_path / "out"
    out_dir.mkdir()
    server = server_factory(config_text=CONFIG.format(dir=out_dir))
    send(server, "acme", ["GET /users/17", "SELECT users"])
    send(server, "ecorp", ["GET /users/18", "POST /orders"])
    send(server, "globex", ["GET /health"])
    assert server.stop() == 0

    acme = spans_in(out_dir / "acme.jsonl")
    ecorp = spans_in(out_dir / "ecorp.jsonl")
    other = spans_in(out_dir / "other.jsonl")
    assert sorted(s["name"] for _, s in acme) == ["GET /users/17", "SELECT users"]
    assert sorted(s["name"] for _, s in ecorp) == ["GET /users/18", "POST /orders"]
    assert [s["name"] for _, s in other] == ["GET /health"]
    assert {r["tenant"] for r, _ in acme} == {"acme"}
    assert {r["tenant"] for r, _ in ecorp} == {"ecorp"}
    assert {r["tenant"] for r, _ in other} == {"globex"}

    for resource, span in acme + ecorp + other:
        assert resource["routed.by"] == "otelsink"
        a = attrs(span)
        assert "user.password" not in a
        if span["name"].startswith("GET /users/"):
            assert a["http.route"] == "/users/{id}"
        if span["name"].startswith("SELECT"):
            assert a["db.statement"] == "redacted"
        else:
            assert a["db.statement"] == "SELECT * FROM users WHERE id = 42"
