#if canImport(Glibc)
    import Glibc
#endif

/// Memory the process has freed but the allocator still holds. glibc keeps freed heap pages (and, once its mmap
/// threshold has grown, freed buffers of many megabytes) for reuse, so resident memory stays at its peak after one
/// large piece of work — a 10,000-span trace answered, say — until something asks for it back.
public enum FreedMemory {
    /// Gives freed heap memory back to the system (glibc `malloc_trim(0)`; nothing elsewhere). It walks the heap:
    /// call it after large work, off the event loops, not per request.
    public static func returnToSystem() {
        #if os(Linux)
            _ = glibcMallocTrim(0)
        #endif
    }
}

#if os(Linux)
    /// glibc's `int malloc_trim(size_t pad)`, which the Glibc module does not export.
    @_silgen_name("malloc_trim")
    private func glibcMallocTrim(_ pad: Int) -> Int32
#endif
