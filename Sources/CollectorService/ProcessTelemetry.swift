import CollectorCore

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// otelcol's process metrics: uptime, resident memory and CPU time, read when `/metrics` is rendered.
enum ProcessTelemetry {
    static func register(_ registry: TelemetryRegistry) {
        let started = ContinuousClock.now
        registry.observedCounter("otelcol_process_uptime_seconds_total", help: "Uptime of the process.") {
            let (s, atto) = (ContinuousClock.now - started).components
            return Double(s) + Double(atto) * 1e-18
        }
        registry.gauge("otelcol_process_memory_rss_bytes", help: "Total physical memory (resident set size).") {
            Double(residentBytes())
        }
        registry.observedCounter("otelcol_process_cpu_seconds_total", help: "Total CPU user and system time in seconds.") {
            var usage = rusage()
            guard getrusage(RUSAGE_SELF.rawValue, &usage) == 0 else { return 0 }
            return Double(usage.ru_utime.tv_sec) + Double(usage.ru_utime.tv_usec) / 1e6
                + Double(usage.ru_stime.tv_sec) + Double(usage.ru_stime.tv_usec) / 1e6
        }
    }

    /// Resident set size from `/proc/self/statm` (0 where unavailable).
    static func residentBytes() -> Int {
        guard let f = fopen("/proc/self/statm", "r") else { return 0 }
        defer { fclose(f) }
        var size = 0
        var resident = 0
        guard
            withUnsafeMutablePointer(
                to: &size,
                { s in
                    withUnsafeMutablePointer(to: &resident) { r in
                        withVaList([s, r]) { vfscanf(f, "%ld %ld", $0) }
                    }
                }) == 2
        else { return 0 }
        return resident * Int(sysconf(Int32(_SC_PAGESIZE)))
    }
}
