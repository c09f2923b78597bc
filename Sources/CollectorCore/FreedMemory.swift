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

    /// Blocks of at least this size get their own mapping, given back to the system as soon as they are freed.
    public static let ownMappingThreshold = 1 << 20
    /// Free memory at the top of a heap beyond this is given back at once. Higher would spare the next large piece
    /// of work the page faults of growing the heap again (a 10,000-span trace answered ~10 % faster with 32 MiB),
    /// but `malloc_trim` does not shrink the tops of glibc's per-thread heaps: what this leaves there stays
    /// resident (48 MiB of free memory after large answers, measured, against 10 MiB with 4 MiB).
    public static let topTrimThreshold = 4 << 20

    /// Makes glibc give large freed blocks back at once instead of keeping them for reuse. By default glibc raises
    /// its mmap threshold each time a mapped block is freed (up to 32 MiB), so after one large answer — a 14 MB
    /// JSON trace, say — later blocks of that size come from the heap and stay resident, free, after they are
    /// freed, until a `malloc_trim` happens to run after them. Fixed thresholds
    /// (``ownMappingThreshold``, ``topTrimThreshold``) keep that from happening; the costs are a mapping and its page
    /// faults per block of a MiB or more, which only large answers and request bodies allocate. Leaves glibc's
    /// settings alone when `MALLOC_MMAP_THRESHOLD_` or `MALLOC_TRIM_THRESHOLD_` is set in the environment: the
    /// user's choice wins. Call once, at the start of the process.
    public static func returnLargeBlocksPromptly() {
        #if os(Linux)
            guard getenv("MALLOC_MMAP_THRESHOLD_") == nil, getenv("MALLOC_TRIM_THRESHOLD_") == nil else { return }
            _ = glibcMallopt(glibcMmapThreshold, Int32(ownMappingThreshold))
            _ = glibcMallopt(glibcTrimThreshold, Int32(topTrimThreshold))
        #endif
    }
}

#if os(Linux)
    /// glibc's `int malloc_trim(size_t pad)`, which the Glibc module does not export.
    @_silgen_name("malloc_trim")
    private func glibcMallocTrim(_ pad: Int) -> Int32

    /// glibc's `int mallopt(int param, int value)` and two of its parameters (`<malloc.h>`, which the Glibc module
    /// does not export).
    @_silgen_name("mallopt")
    private func glibcMallopt(_ param: Int32, _ value: Int32) -> Int32
    private let glibcTrimThreshold: Int32 = -1  // M_TRIM_THRESHOLD
    private let glibcMmapThreshold: Int32 = -3  // M_MMAP_THRESHOLD
#endif
