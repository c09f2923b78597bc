import CollectorCore
import Processors
import Testing

/// `filter` settings: the match-properties and OTTL forms, and clear errors for what otelsink does not support.
@Suite struct FilterConfigTests {
    func problems(_ yaml: String) -> [String] {
        readProcessorConfig(yaml, factory: FilterProcessorFactory(), id: "filter/drop", as: FilterProcessorConfig.self).problems
    }

    @Test func ottlConditionsAreReadPerContextWithProblemsAtTheirPath() throws {
        #expect(problems("traces:\n  span:\n    - 'attributes[\"http.route\"] == \"/health\"'\n") == [])
        #expect(
            problems(
                "traces:\n  spanevent: ['name == \"x\"']\n  resource: ['true']\nmetrics:\n  metric: ['name == \"x\"']\n  datapoint: ['true']\n"
                    + "logs:\n  log_record: ['severity_number < SEVERITY_NUMBER_WARN']\n") == [])
        #expect(problems("trace_conditions: ['span.name == \"x\"', 'resource.attributes[\"a\"] == nil']\n") == [])
        #expect(
            problems("traces:\n  span: ['nmae == \"x\"']\n") == [
                #"processors::filter/drop::traces::span::0: condition "nmae == "x"": column 1: unknown path nmae in span (known: trace_id, trace_id.string, span_id, span_id.string, parent_span_id, parent_span_id.string, trace_state, name, kind, kind.string, start_time_unix_nano, end_time_unix_nano, start_time, end_time, attributes, dropped_attributes_count, dropped_events_count, dropped_links_count, flags, status.code, status.message)"#
            ])
        #expect(problems("trace_conditions: ['true']\n").first?.contains("cannot tell which context") == true)
        #expect(problems("profile_conditions: ['true']\n") == ["processors::filter/drop::profile_conditions: profiles are not supported by otelsink"])
        #expect(
            problems("traces:\n  span: ['name == \"x\"']\nspans:\n  exclude:\n    match_type: strict\n    span_names: [a]\n") == [
                "processors::filter/drop: traces: OTTL conditions and include/exclude match properties cannot be used for the same signal"
            ])
        let config = try validProcessorConfig(
            "traces:\n  spanevent: ['name == \"x\"']\n  resource: ['true']\ntrace_conditions: ['span.name == \"y\"']\n",
            factory: FilterProcessorFactory(), id: "filter", as: FilterProcessorConfig.self)
        #expect(config.conditions[.traces]?.map(\.context) == [.resource, .span, .spanevent])
    }

    @Test func exprMatchingIsRejected() {
        #expect(
            problems("metrics:\n  include:\n    match_type: expr\n    expressions: ['Label(\"x\") == \"y\"']\n") == [
                "processors::filter/drop::metrics::include::expressions: expr expressions are not supported by otelsink; use metric_names and resource_attributes",
                "processors::filter/drop::metrics::include::match_type: expr (expr-lang expressions) is not supported by otelsink; use strict or regexp",
            ])
    }

    @Test func errorModeIsAcceptedAndChecked() {
        #expect(problems("error_mode: ignore\n") == [])
        #expect(problems("error_mode: loud\n") == ["processors::filter/drop::error_mode: expected one of propagate, ignore, silent; got \"loud\""])
    }

    @Test func spansBlocksAreValidatedForSpans() {
        #expect(
            problems("spans:\n  include:\n    match_type: strict\n") == [
                "processors::filter/drop::spans::include: at least one of \"services\", \"span_names\", \"span_kinds\", \"attributes\", \"resources\" or \"libraries\" must be specified"
            ])
        #expect(
            problems("spans:\n  exclude:\n    match_type: strict\n    log_bodies: [x]\n") == [
                "processors::filter/drop::spans::exclude: log_bodies should not be specified for trace spans"
            ])
        #expect(
            problems("spans:\n  exclude:\n    match_type: strict\n    status_codes: [ERROR]\n") == [
                "processors::filter/drop::spans::exclude::status_codes::0: unknown status code \"ERROR\"; with match_type strict expected one of STATUS_CODE_ERROR, STATUS_CODE_OK, STATUS_CODE_UNSET"
            ])
        #expect(
            problems("spans:\n  exclude:\n    match_type: regexp\n    span_names: ['(']\n") == [
                "processors::filter/drop::spans::exclude::span_names::0: regex \"(\" does not compile"
            ])
    }

    @Test func otelsinkBlocksNeedAProperty() {
        #expect(
            problems("span_events:\n  exclude:\n    match_type: strict\n") == [
                "processors::filter/drop::span_events::exclude: at least one of attributes, event_names, libraries, resources, services, span_kinds, span_names, status_codes must be specified"
            ])
        #expect(
            problems("data_points:\n  include:\n    match_type: regexp\n") == [
                "processors::filter/drop::data_points::include: at least one of attributes, metric_names, resource_attributes must be specified"
            ])
    }

    @Test func logBlocksUseTheFilterProcessorsKeyNames() {
        #expect(
            problems("logs:\n  exclude:\n    match_type: strict\n    log_bodies: [x]\n") == [
                "processors::filter/drop::logs::exclude::log_bodies: unknown key"
            ])
        #expect(
            problems("logs:\n  include:\n    match_type: strict\n    severity_number: {min: LOUD}\n") == [
                "processors::filter/drop::logs::include::severity_number::min: \"LOUD\" is not a severity; expected TRACE, DEBUG, INFO, WARN, ERROR, FATAL (optionally 2–4, e.g. INFO3) or 1–24"
            ])
        #expect(problems("logs:\n  include:\n    match_type: strict\n    severity_number: {min: warn3, match_undefined: true}\n") == [])
    }

    @Test func unknownTopLevelKeysAreReported() {
        #expect(problems("span:\n  exclude: {match_type: strict, services: [a]}\n") == ["processors::filter/drop::span: unknown key"])
    }
}
