import CollectorCore
import CollectorService
import OTLP
import Processors
import Testing

/// Bad `attributes` settings are reported with the path of the key and what was expected.
@Suite struct AttributesConfigTests {
    func problems(_ yaml: String) -> [String] {
        readProcessorConfig(yaml, factory: AttributesProcessorFactory(), id: "attributes/scrub", as: AttributesProcessorConfig.self).problems
    }

    @Test func unknownActionNamesTheActionAndListsTheValidOnes() {
        #expect(
            problems("actions:\n  - {key: a, value: 1, action: insert}\n  - {key: a, action: delete}\n  - {key: a, value: 1, action: upsrt}\n") == [
                "processors::attributes/scrub::actions::2::action: unknown action \"upsrt\"; expected one of insert, update, upsert, delete, hash, extract, convert"
            ])
    }

    @Test func missingActionAndMissingKey() {
        #expect(
            problems("actions:\n  - {key: a, value: 1}\n") == [
                "processors::attributes/scrub::actions::0::action: required; expected one of insert, update, upsert, delete, hash, extract, convert"
            ])
        #expect(
            problems("actions:\n  - {value: 1, action: upsert}\n") == ["processors::attributes/scrub::actions::0::key: required for action upsert"])
        #expect(
            problems("actions:\n  - {action: delete}\n") == ["processors::attributes/scrub::actions::0: action delete needs key or pattern (or both)"]
        )
    }

    @Test func valueSourcesMustBeExactlyOne() {
        #expect(
            problems("actions:\n  - {key: a, value: 1, from_attribute: b, action: insert}\n") == [
                "processors::attributes/scrub::actions::0::value: value and from_attribute are mutually exclusive; set one"
            ])
        #expect(
            problems("actions:\n  - {key: a, action: update}\n") == [
                "processors::attributes/scrub::actions::0: action update needs value or from_attribute"
            ])
        #expect(
            problems("actions:\n  - {key: a, value: 1, action: delete}\n") == [
                "processors::attributes/scrub::actions::0::value: not used by action delete; remove it"
            ])
    }

    @Test func fromContextIsRejectedAsUnsupported() {
        let p = problems("actions:\n  - {key: tenant, from_context: metadata.x-tenant, action: insert}\n")
        #expect(
            p.contains(
                "processors::attributes/scrub::actions::0::from_context: not supported by otelsink: request metadata (client address, headers, auth) does not reach processors; use value or from_attribute"
            ))
    }

    @Test func extractNeedsACompilingPatternWithOnlyNamedGroups() {
        #expect(
            problems("actions:\n  - {key: u, action: extract}\n") == [
                "processors::attributes/scrub::actions::0::pattern: required for action extract: a regex with named groups, e.g. ^/api/(?P<version>v[0-9]+)/"
            ])
        #expect(
            problems("actions:\n  - {key: u, pattern: '^/api/(v1)', action: extract}\n") == [
                "processors::attributes/scrub::actions::0::pattern: regex \"^/api/(v1)\" has an unnamed group; every group must be named (use (?:…) for grouping)"
            ])
        #expect(
            problems("actions:\n  - {key: u, pattern: '^/api/v1', action: extract}\n") == [
                "processors::attributes/scrub::actions::0::pattern: regex \"^/api/v1\" has no named groups; extract creates one attribute per (?P<name>…) group"
            ])
        #expect(
            problems("actions:\n  - {key: u, pattern: '(?P<a>x', action: extract}\n") == [
                "processors::attributes/scrub::actions::0::pattern: regex \"(?P<a>x\" does not compile"
            ])
    }

    @Test func deletePatternMustCompile() {
        #expect(
            problems("actions:\n  - {pattern: 'a[', action: delete}\n") == [
                "processors::attributes/scrub::actions::0::pattern: regex \"a[\" does not compile"
            ])
    }

    @Test func convertNeedsAKnownType() {
        #expect(
            problems("actions:\n  - {key: a, action: convert}\n") == [
                "processors::attributes/scrub::actions::0::converted_type: required for action convert; expected one of int, double, string"
            ])
        #expect(
            problems("actions:\n  - {key: a, action: convert, converted_type: float}\n") == [
                "processors::attributes/scrub::actions::0::converted_type: unknown type \"float\"; expected one of int, double, string"
            ])
        #expect(
            problems("actions:\n  - {key: a, value: 1, action: insert, converted_type: int}\n") == [
                "processors::attributes/scrub::actions::0::converted_type: not used by action insert; remove it"
            ])
    }

    @Test func unknownKeysAndWrongShapesAreReported() {
        #expect(
            problems("actions:\n  - {key: a, value: 1, action: insert, colour: red}\n") == [
                "processors::attributes/scrub::actions::0::colour: unknown key"
            ])
        #expect(problems("actions: upsert\n") == ["processors::attributes/scrub::actions: expected a list, got a scalar"])
        #expect(problems("actions:\n  - upsert\n") == ["processors::attributes/scrub::actions::0: expected a mapping, got a scalar"])
    }

    @Test func includeNeedsAKnownMatchTypeAndCompilingRegexes() {
        #expect(
            problems("actions: [{key: a, action: delete}]\ninclude:\n  services: [a]\n") == [
                "processors::attributes/scrub::include::match_type: required; expected strict or regexp"
            ])
        #expect(
            problems("actions: [{key: a, action: delete}]\ninclude:\n  match_type: glob\n  services: [a]\n") == [
                "processors::attributes/scrub::include::match_type: unknown match type \"glob\"; expected strict or regexp"
            ])
        #expect(
            problems("actions: [{key: a, action: delete}]\nexclude:\n  match_type: regexp\n  span_names: ['ok', 'a(']\n") == [
                "processors::attributes/scrub::exclude::span_names::1: regex \"a(\" does not compile"
            ])
        #expect(
            problems("actions: [{key: a, action: delete}]\ninclude:\n  match_type: strict\n  span_kinds: [server]\n") == [
                "processors::attributes/scrub::include::span_kinds::0: unknown span kind \"server\"; with match_type strict expected one of SPAN_KIND_CLIENT, SPAN_KIND_CONSUMER, SPAN_KIND_INTERNAL, SPAN_KIND_PRODUCER, SPAN_KIND_SERVER"
            ])
        #expect(
            problems("actions: [{key: a, action: delete}]\ninclude:\n  match_type: regexp\n  attributes: [{key: code, value: 200}]\n") == [
                "processors::attributes/scrub::include::attributes::0::value: match_type regexp needs a string (a regex) as the value of \"code\""
            ])
        #expect(
            problems("actions: [{key: a, action: delete}]\ninclude:\n  match_type: strict\n  attributes: [{value: 1}]\n") == [
                "processors::attributes/scrub::include::attributes::0::key: required (an attribute name)"
            ])
        #expect(
            problems("actions: [{key: a, action: delete}]\ninclude:\n  match_type: strict\n  status_codes: [STATUS_CODE_ERROR]\n") == [
                "processors::attributes/scrub::include::status_codes: unknown key"
            ])
    }

    @Test func propertiesThatCannotSelectTheSignalFailTheBuild() throws {
        let config = try validProcessorConfig(
            "actions: [{key: a, action: delete}]\ninclude:\n  match_type: strict\n  services: [a]\n",
            factory: AttributesProcessorFactory(), id: "attributes/scrub", as: AttributesProcessorConfig.self)
        let sink = TracesSinkForBuild()
        #expect(
            throws: ConfigProblem(
                path: "processors::attributes/scrub::include",
                "services, span_names, and span_kinds are not valid for log records (in a logs pipeline)")
        ) {
            _ = try AttributesProcessor(config: config, next: SignalConsumers(logs: sink))
        }
        _ = try AttributesProcessor(config: config, next: SignalConsumers(traces: sink))
        let logsOnly = try validProcessorConfig(
            "actions: [{key: a, action: delete}]\nexclude:\n  match_type: strict\n  log_bodies: [x]\n",
            factory: AttributesProcessorFactory(), id: "attributes/scrub", as: AttributesProcessorConfig.self)
        #expect(
            throws: ConfigProblem(
                path: "processors::attributes/scrub::exclude", "log_bodies should not be specified for trace spans (in a traces pipeline)")
        ) {
            _ = try AttributesProcessor(config: logsOnly, next: SignalConsumers(traces: sink))
        }
    }

    @Test func noActionsIsAValidNoOpConfig() {
        #expect(problems("") == [])
    }
}

/// A consumer that takes everything, for building processors in tests.
final class TracesSinkForBuild: TracesConsumer, MetricsConsumer, LogsConsumer, Sendable {
    func consume(_ traces: ExportTraceRequest) async throws {}
    func consume(_ metrics: ExportMetricsRequest) async throws {}
    func consume(_ logs: ExportLogsRequest) async throws {}
}
