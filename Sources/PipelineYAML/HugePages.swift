internal import CYAML

#if canImport(Glibc)
    internal import Glibc
#endif

/// Transparent huge pages for the few large buffers a big file needs (the node arena, the stage
/// list): backed by 2 MB pages where the kernel allows them for memory that asks (THP `madvise`,
/// the common default), each takes one page fault per 2 MB instead of one per 4 KB.
public enum HugePages {
    /// Buffers smaller than this are left alone: they hold no whole 2 MB page worth asking for.
    public static let threshold = 4 << 20

    /// Asks for huge pages for the whole pages inside `buffer`, before they are first written.
    /// Advice only: nothing changes where the kernel gives none (THP `never`, other systems).
    public static func advise(_ buffer: UnsafeMutableRawBufferPointer) {
        #if os(Linux)
            guard buffer.count >= threshold, let base = buffer.baseAddress else { return }
            let page = UInt(sysconf(Int32(_SC_PAGESIZE)))
            guard page > 0 else { return }
            let start = (UInt(bitPattern: base) + page - 1) / page * page
            let end = (UInt(bitPattern: base) + UInt(buffer.count)) / page * page
            guard end > start, let aligned = UnsafeMutableRawPointer(bitPattern: start) else { return }
            _ = madvise(aligned, Int(end - start), 14)  // MADV_HUGEPAGE
        #endif
    }

    /// ``advise(_:)`` on the storage of an array (its reserved capacity, not only its elements).
    public static func advise<Element>(capacityOf array: inout [Element]) {
        // Unique storage first (a shared array is copied here, to storage of its own capacity),
        // so that the capacity read next is the one of the storage advised below.
        array.withUnsafeMutableBufferPointer { _ in }
        let bytes = array.capacity * MemoryLayout<Element>.stride
        guard bytes >= threshold else { return }
        array.withUnsafeMutableBufferPointer { elements in
            guard let base = elements.baseAddress else { return }
            advise(UnsafeMutableRawBufferPointer(start: base, count: bytes))
        }
    }
}

extension HugePages {
    /// Grows malloc's main heap at once by about `bytes` and asks huge pages for it, so a large
    /// file's allocations, small and large, take one page fault per 2 MB instead of one per 4 KB
    /// (`validate` of 10,000 stages faulted ~2,800 times, most of them in its own allocations).
    /// Allocations up to that size are then served from the heap rather than from mappings of
    /// their own (whose 4 KB alignment leaves most of them outside any whole 2 MB page), and the
    /// heap is no longer trimmed: the process keeps what it grew to, for the rest of its life (a
    /// `run` of a large file keeps about its load's peak resident; its model is held anyway).
    /// Called before any thread starts (another thread's allocations come from an arena of its
    /// own, which this neither grows nor advises). Advice only, as above.
    public static func reserveHeap(_ bytes: Int) {
        #if os(Linux)
            guard bytes >= threshold else { return }
            // glibc's largest mmap threshold on 64-bit is 32 MB; the block below stays under it.
            let size = min(bytes, 31 << 20)
            guard mallopt(M_MMAP_THRESHOLD, 32 << 20) == 1, mallopt(M_TRIM_THRESHOLD, Int32.max) == 1 else { return }
            let before = UInt(bitPattern: sbrk(0))
            // A block as large as the reservation moves the heap's end past it; freed, it is the
            // heap's free top, from which the next allocations are carved.
            guard let block = malloc(size) else { return }
            // Handed to a function the optimizer cannot see into: a block only freed would be removed.
            guard malloc_usable_size(block) >= size else { return free(block) }
            free(block)
            let after = UInt(bitPattern: sbrk(0))
            guard after > before else { return }
            let huge: UInt = 2 << 20
            let start = (before + huge - 1) / huge * huge
            let end = after / huge * huge
            guard end > start, let aligned = UnsafeMutableRawPointer(bitPattern: start) else { return }
            _ = madvise(aligned, Int(end - start), 14)  // MADV_HUGEPAGE
        #endif
    }
}
