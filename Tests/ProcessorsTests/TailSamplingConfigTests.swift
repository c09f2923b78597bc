import CollectorCore
import CollectorTesting
import Testing

@testable import Processors

func readTailConfig(_ yaml: String) -> (TailSamplingConfig?, [String]) {
    let (config, problems) = readComponentConfig(TailSamplingProcessorFactory(), yaml: yaml)
    return (config as? TailSamplingConfig, problems)
}

@Suite struct TailSamplingConfigTests {
    @Test func defaultsAreOtelcolsWithBoundedCaches() {
        let (config, problems) = readTailConfig("{}")
        #expect(problems.isEmpty)
        #expect(config?.decisionWait == .seconds(30))
        #expect(config?.numTraces == 50_000)
        #expect(config?.expectedNewTracesPerSec == 0)
        #expect(config?.sampledCacheSize == 100_000)
        #expect(config?.nonSampledCacheSize == 100_000)
        #expect(config?.sampleOnFirstMatch == false)
        #expect(config?.dropPendingTracesOnShutdown == false)
        #expect(config?.maxBufferedBytes == 256 << 20)
        #expect(config?.policies.isEmpty == true)
    }

    @Test func otelcolPolicyListIsRead() {
        let yaml = """
            decision_wait: 10s
            num_traces: 100
            decision_cache: {sampled_cache_size: 10, non_sampled_cache_size: 0}
            policies:
              - {name: everything, type: always_sample}
              - {name: slow, type: latency, latency: {threshold_ms: 500, upper_threshold_ms: 5000}}
              - {name: errors, type: status_code, status_code: {status_codes: [ERROR, UNSET]}}
              - name: routes
                type: string_attribute
                string_attribute: {key: http.route, values: ["/api/.*"], enabled_regex_matching: true, invert_match: true}
              - {name: codes, type: numeric_attribute, numeric_attribute: {key: http.status_code, min_value: 500, max_value: 599}}
              - {name: debug, type: boolean_attribute, boolean_attribute: {key: debug, value: true}}
              - {name: some, type: probabilistic, probabilistic: {sampling_percentage: 10}}
              - {name: limit, type: rate_limiting, rate_limiting: {spans_per_second: 100}}
              - {name: big, type: span_count, span_count: {min_spans: 2, max_spans: 50}}
              - {name: vendor, type: trace_state, trace_state: {key: vendor, values: [keep]}}
              - name: both
                type: and
                and:
                  and_sub_policy:
                    - {name: e, type: status_code, status_code: {status_codes: [ERROR]}}
                    - {name: s, type: latency, latency: {threshold_ms: 100}}
              - name: no-health
                type: drop
                drop:
                  drop_sub_policy:
                    - {name: h, type: string_attribute, string_attribute: {key: http.route, values: [/health]}}
            """
        let (config, problems) = readTailConfig(yaml)
        #expect(problems.isEmpty, "\(problems)")
        #expect(
            config?.policies.map(\.name) == [
                "everything", "slow", "errors", "routes", "codes", "debug", "some", "limit", "big", "vendor", "both", "no-health",
            ])
        #expect(config?.decisionWait == .seconds(10))
        #expect(config?.sampledCacheSize == 10 && config?.nonSampledCacheSize == 0)
        if case .probabilistic(let salt, let pct)? = config?.policies[6].rule {
            #expect(salt == "default-hash-seed" && pct == 10)
        } else {
            Issue.record("expected a probabilistic policy")
        }
    }

    @Test(arguments: [
        ("policies: [{name: x, type: sometimes}]", "processors::tail_sampling::policies::0::type: unknown policy type \"sometimes\""),
        (
            "policies: [{name: x, type: ottl_condition}]",
            "processors::tail_sampling::policies::0::type: policy type \"ottl_condition\" is not supported by otelsink"
        ),
        (
            "policies: [{name: x, type: composite}]",
            "processors::tail_sampling::policies::0::type: policy type \"composite\" is not supported by otelsink"
        ),
        (
            "policies: [{name: x, type: bytes_limiting}]",
            "processors::tail_sampling::policies::0::type: policy type \"bytes_limiting\" is not supported by otelsink"
        ),
        ("policies: [{name: x}]", "processors::tail_sampling::policies::0::type: policy type is required"),
        ("policies: [{type: always_sample}]", "processors::tail_sampling::policies::0::name: policy name is required"),
        (
            "policies: [{name: x, type: always_sample}, {name: x, type: always_sample}]",
            "processors::tail_sampling::policies::1::name: duplicate policy name \"x\""
        ),
        (
            "policies: [{name: x, type: string_attribute, string_attribute: {key: k, values: [\"(\"], enabled_regex_matching: true}}]",
            "processors::tail_sampling::policies::0::string_attribute::values::0: regular expression \"(\" does not compile"
        ),
        (
            "policies: [{name: x, type: string_attribute, string_attribute: {values: [a]}}]",
            "processors::tail_sampling::policies::0::string_attribute::key: is required"
        ),
        (
            "policies: [{name: x, type: status_code, status_code: {status_codes: [BROKEN]}}]",
            "processors::tail_sampling::policies::0::status_code::status_codes::0: unknown status code \"BROKEN\""
        ),
        (
            "policies: [{name: x, type: status_code}]",
            "processors::tail_sampling::policies::0::status_code::status_codes: expected at least one status code"
        ),
        (
            "policies: [{name: x, type: latency, latency: {threshold_ms: 500, upper_threshold_ms: 100}}]",
            "processors::tail_sampling::policies::0::latency::upper_threshold_ms: must be 0"
        ),
        (
            "policies: [{name: x, type: latency, latency: {threshold_ms: fast}}]",
            "processors::tail_sampling::policies::0::latency::threshold_ms: expected an integer"
        ),
        (
            "policies: [{name: x, type: latency, latency: {threshhold_ms: 5}}]",
            "processors::tail_sampling::policies::0::latency::threshhold_ms: unknown key"
        ),
        (
            "policies: [{name: x, type: probabilistic, probabilistic: {sampling_percentage: -5}}]",
            "processors::tail_sampling::policies::0::probabilistic::sampling_percentage: must be between"
        ),
        (
            "policies: [{name: x, type: span_count, span_count: {min_spans: 10, max_spans: 2}}]",
            "processors::tail_sampling::policies::0::span_count::max_spans: must be 0"
        ),
        (
            "policies: [{name: x, type: and, and: {and_sub_policy: [{name: y, type: drop}]}}]",
            "processors::tail_sampling::policies::0::and::and_sub_policy::0::type: \"drop\" cannot be used as a sub-policy"
        ),
        ("policies: [{name: x, type: drop}]", "processors::tail_sampling::policies::0::drop::drop_sub_policy: expected at least one sub-policy"),
        ("num_traces: 0", "processors::tail_sampling::num_traces: must be between 1"),
        ("decision_wait: soon", "processors::tail_sampling::decision_wait: expected a duration"),
        ("max_buffered_bytes: 10", "processors::tail_sampling::max_buffered_bytes: must be between 1048576"),
        ("decision_cache: {sampled_cache_size: -1}", "processors::tail_sampling::decision_cache::sampled_cache_size: must be between 0"),
        ("block_on_overflow: true", "processors::tail_sampling::block_on_overflow: is not supported by otelsink"),
    ])
    func badConfigIsReportedWithItsPath(yaml: String, expected: String) {
        let (_, problems) = readTailConfig(yaml)
        #expect(problems.contains { $0.hasPrefix(expected) }, "\(problems)")
    }
}
