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
