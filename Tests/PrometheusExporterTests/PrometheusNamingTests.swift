import PrometheusExporter
import Testing

/// Cases from otelcol-contrib `pkg/translator/prometheus/normalize_name_test.go` and the OpenTelemetry–Prometheus
/// compatibility spec.
@Suite struct PrometheusNamingTests {
    func gauge(_ name: String, _ unit: String) -> String { PrometheusNaming.metricName(name, unit: unit, kind: .gauge) }
    func counter(_ name: String, _ unit: String) -> String { PrometheusNaming.metricName(name, unit: unit, kind: .counter) }

    @Test func bytesUnitBecomesASuffix() {
        #expect(gauge("system.filesystem.usage", "By") == "system_filesystem_usage_bytes")
        #expect(counter("system.io", "By") == "system_io_bytes_total")
        #expect(counter("network_transmitted_bytes_total", "By") == "network_transmitted_bytes_total")
    }

    @Test func whitespaceAroundNameAndUnitIsIgnored() {
        #expect(gauge("\t system.filesystem.usage       ", "  By\t") == "system_filesystem_usage_bytes")
    }

    @Test func annotationUnitsInBracesAreDropped() {
        #expect(gauge("system.network.dropped", "{packets}") == "system_network_dropped")
        #expect(counter("system.network.dropped", "{packets}") == "system_network_dropped_total")
    }

    @Test func unknownUnitsAreAppendedUnlessAlreadyAWordOfTheName() {
        #expect(gauge("system.network.dropped", "packets") == "system_network_dropped_packets")
        #expect(gauge("system.network.packets.dropped", "packets") == "system_network_packets_dropped")
        #expect(gauge("system.network.packets", "packets") == "system_network_packets")
        #expect(counter("system.network.dropped", "packets") == "system_network_dropped_packets_total")
        #expect(counter("system.network.packets", "packets") == "system_network_packets_total")
    }

    @Test func unitOneIsRatioForGaugesOnly() {
        #expect(gauge("hw.gpu.memory.utilization", "1") == "hw_gpu_memory_utilization_ratio")
        #expect(gauge("hw.fan.speed_ratio", "1") == "hw_fan_speed_ratio")
        #expect(counter("objects", "1") == "objects_total")
        #expect(gauge("system.cpu.load_average.15m", "1") == "system_cpu_load_average_15m_ratio")
    }

    @Test func perUnitsBecomePerWords() {
        #expect(gauge("broken.metric.speed", "km/h") == "broken_metric_speed_km_per_hour")
        #expect(gauge("astro.light.speed_limit", "m/s") == "astro_light_speed_limit_meters_per_second")
        #expect(gauge("active_directory.ds.replication.object.rate", "{objects}/s") == "active_directory_ds_replication_object_rate_per_second")
        #expect(gauge("mongodbatlas.process.network.io", "By/s") == "mongodbatlas_process_network_io_bytes_per_second")
        #expect(gauge("mongodbatlas.process.oplog.rate", "GiBy/h") == "mongodbatlas_process_oplog_rate_gibibytes_per_hour")
        #expect(
            gauge("mongodbatlas.process.db.query_targeting.scanned_per_returned", "{scanned}/{returned}")
                == "mongodbatlas_process_db_query_targeting_scanned_per_returned")
    }

    @Test func percentHertzDollarsAndTimeUnits() {
        #expect(gauge("broken.metric.success_ratio", "%") == "broken_metric_success_ratio_percent")
        #expect(gauge("broken.metric.success_percent", "%") == "broken_metric_success_percent")
        #expect(gauge("hw.cpu.speed_limit", "Hz") == "hw_cpu_speed_limit_hertz")
        #expect(gauge("crypto.bitcoin.value", "$") == "crypto_bitcoin_value_dollars")
        #expect(gauge("crypto.bitcoin.value.dollars", "$") == "crypto_bitcoin_value_dollars")
        #expect(
            gauge("active_directory.ds.ldap.bind.last_successful.time", "ms") == "active_directory_ds_ldap_bind_last_successful_time_milliseconds")
        #expect(counter("system.disk.operation_time", "s") == "system_disk_operation_time_seconds_total")
        #expect(gauge("redis.latest_fork", "us") == "redis_latest_fork_microseconds")
        #expect(gauge("nsxt.node.memory.usage", "KBy") == "nsxt_node_memory_usage_kilobytes")
        #expect(gauge("mongodbatlas.process.journaling.data_files", "MiBy") == "mongodbatlas_process_journaling_data_files_mebibytes")
    }

    @Test func emptyAndBlankUnitsAddNothing() {
        #expect(gauge("test.metric.no_unit", "") == "test_metric_no_unit")
        #expect(gauge("test.metric.spaces", "   \t  ") == "test_metric_spaces")
    }

    @Test func unsupportedCharactersInUnitsAreDropped() {
        #expect(gauge("unsupported.metric.temperature", "°F") == "unsupported_metric_temperature_F")
        #expect(gauge("unsupported.metric.weird", "+=.:,!* & #") == "unsupported_metric_weird")
        #expect(gauge("unsupported.metric.redundant", "__test $/°C") == "unsupported_metric_redundant_test_per_C")
    }

    @Test func receiverMetricsFromOtelcolTests() {
        #expect(counter("active_directory.ds.replication.network.io", "By") == "active_directory_ds_replication_network_io_bytes_total")
        #expect(
            counter("active_directory.ds.replication.sync.object.pending", "{objects}") == "active_directory_ds_replication_sync_object_pending_total"
        )
        #expect(gauge("apache.current_connections", "connections") == "apache_current_connections")
        #expect(gauge("apache.workers", "connections") == "apache_workers_connections")
        #expect(counter("apache.requests", "1") == "apache_requests_total")
        #expect(counter("bigip.virtual_server.request.count", "{requests}") == "bigip_virtual_server_request_count_total")
        #expect(gauge("system.cpu.utilization", "1") == "system_cpu_utilization_ratio")
        #expect(gauge("memcached.operation_hit_ratio", "%") == "memcached_operation_hit_ratio_percent")
        #expect(gauge("mongodbatlas.process.asserts", "{assertions}/s") == "mongodbatlas_process_asserts_per_second")
        #expect(gauge("nginx.requests", "requests") == "nginx_requests")
        #expect(gauge("nginx.connections_accepted", "connections") == "nginx_connections_accepted")
    }

    @Test func namespaceDigitsAndRepeatedSeparators() {
        #expect(PrometheusNaming.metricName("test", unit: "", kind: .gauge, namespace: "space") == "space_test")
        #expect(PrometheusNaming.metricName("#test", unit: "", kind: .gauge, namespace: "space") == "space_test")
        #expect(PrometheusNaming.metricName("network.io", unit: "By", kind: .counter, namespace: "system") == "system_network_io_bytes_total")
        #expect(gauge("3.14 digits", "") == "_3_14_digits")
        #expect(gauge("envoy__rule_engine_zlib_buf_error", "") == "envoy_rule_engine_zlib_buf_error")
        #expect(gauge(":foo::bar", "") == "foo_bar")
        #expect(counter(":foo::bar", "") == "foo_bar_total")
    }

    @Test func withoutSuffixesOnlyInvalidCharactersAreReplaced() {
        #expect(PrometheusNaming.metricName("system.io", unit: "By", kind: .counter, addSuffixes: false) == "system_io")
        #expect(
            PrometheusNaming.metricName("network (I/O)", unit: "By", kind: .counter, namespace: "system", addSuffixes: false) == "system_network_I_O")
        #expect(PrometheusNaming.metricName("3.14 digits", unit: "By", kind: .gauge, addSuffixes: false) == "_3_14_digits")
    }
}

/// Cases from otelcol-contrib `normalize_label_test.go` and the compatibility spec.
@Suite struct PrometheusLabelTests {
    @Test func invalidCharactersBecomeUnderscores() {
        #expect(PrometheusLabels.sanitize("") == "")
        #expect(PrometheusLabels.sanitize("label:with:colons") == "label_with_colons")
        #expect(PrometheusLabels.sanitize("LabelWithCapitalLetters") == "LabelWithCapitalLetters")
        #expect(PrometheusLabels.sanitize("label!with&special$chars)") == "label_with_special_chars_")
        #expect(PrometheusLabels.sanitize("label_with_foreign_characteres_字符") == "label_with_foreign_characteres___")
        #expect(PrometheusLabels.sanitize("label.with.dots") == "label_with_dots")
        #expect(PrometheusLabels.sanitize("http.request.method") == "http_request_method")
    }

    @Test func leadingDigitOrSingleUnderscoreGetsKeyPrefix() {
        #expect(PrometheusLabels.sanitize("123label") == "key_123label")
        #expect(PrometheusLabels.sanitize("_label_starting_with_underscore") == "key_label_starting_with_underscore")
        #expect(PrometheusLabels.sanitize("__label_starting_with_2underscores") == "__label_starting_with_2underscores")
    }

    @Test func collidingKeysJoinValuesInOrderOfOriginalKeys() {
        let labels = PrometheusLabels.build([("foo.bar", "b"), ("foo_bar", "c"), ("foo-bar", "a")])
        #expect(labels.count == 1)
        #expect(labels[0].name == "foo_bar")
        #expect(labels[0].value == "a;b;c")  // "foo-bar" < "foo.bar" < "foo_bar"
    }

    @Test func valuesAreEscaped() {
        #expect(PrometheusLabels.render([("a", "x\"y\\z\nw")]) == #"a="x\"y\\z\nw""#)
        #expect(PrometheusLabels.render([("a", ""), ("b", "1")]) == #"b="1""#)
    }
}
