/// A key enum of the format (``StageKey``, ``PipelineKey``, …): its cases are the keys a mapping
/// may hold, and its ``table`` matches a key as written by its UTF-8 bytes, without hashing.
package protocol ConfigKey: RawRepresentable, CaseIterable, Hashable, Sendable where RawValue == String, AllCases == [Self] {
    /// The keys' names, built once per enum.
    static var table: KeyTable<Self> { get }
}

extension ConfigKey {
    /// The case's position in ``allCases`` (declaration order): how ``Fields`` compares keys.
    /// A case of an enum without payloads is stored as its declaration index in one byte (none
    /// for an enum of one case); ``KeyTable/init()`` checks that for every case.
    @inline(__always) package var ordinal: Int {
        withUnsafeBytes(of: self) { $0.isEmpty ? 0 : Int($0[0]) }
    }
}

/// The names of a ``ConfigKey`` enum, grouped by length, for matching a key by its bytes.
package struct KeyTable<K: ConfigKey>: Sendable {
    /// Every case, in declaration order.
    package let cases: [K]
    /// Every case's name, in declaration order (for "did you mean").
    package let names: [String]
    /// The names' bytes, one after another; `nameStart[i]..<nameStart[i + 1]` is case `i`'s.
    private let nameBytes: [UInt8]
    private let nameStart: [Int]
    /// Ordinals sorted by name length; `lengthStart[n]..<lengthStart[n + 1]` are those of length `n`.
    private let byLength: [Int]
    private let lengthStart: [Int]
    /// Each name of at most 16 bytes in `byLength` order as two words (``words(of:)``): a key of
    /// at most 16 bytes is matched by two comparisons per candidate of its length.
    private let words: [(UInt64, UInt64)]

    package init() {
        let cases = K.allCases
        let names = cases.map(\.rawValue)
        self.cases = cases
        self.names = names
        precondition(cases.count <= 64, "a key enum has at most 64 cases (Fields keeps a 64-bit set)")
        for (index, key) in cases.enumerated() {
            precondition(key.ordinal == index, "\(K.self) is not stored as its declaration index")
        }
        var bytes: [UInt8] = []
        var starts: [Int] = []
        for name in names {
            starts.append(bytes.count)
            bytes += name.utf8
        }
        starts.append(bytes.count)
        nameBytes = bytes
        nameStart = starts
        let longest = names.map(\.utf8.count).max() ?? 0
        let byLength = cases.indices.sorted { (names[$0].utf8.count, $0) < (names[$1].utf8.count, $1) }
        self.byLength = byLength
        var lengthStart = [Int](repeating: 0, count: longest + 2)
        for ordinal in byLength { lengthStart[names[ordinal].utf8.count + 1] += 1 }
        for n in 1..<lengthStart.count { lengthStart[n] += lengthStart[n - 1] }
        self.lengthStart = lengthStart
        words = byLength.map { ordinal in
            Array(names[ordinal].utf8).withUnsafeBufferPointer { Self.words(of: $0) }
        }
    }

    /// Up to 16 bytes as two words that tell apart any two texts of the same length: the first
    /// and the last 8 bytes (overlapping below 16), of 4 below 8, the bytes themselves below 4.
    /// Loads, not a copy: every key of every mapping is matched this way.
    @inline(__always) private static func words(of bytes: UnsafeBufferPointer<UInt8>) -> (UInt64, UInt64) {
        guard let base = bytes.baseAddress else { return (0, 0) }
        let raw = UnsafeRawPointer(base)
        let count = min(bytes.count, 16)
        switch count {
        case 8...:
            return (raw.loadUnaligned(as: UInt64.self), raw.loadUnaligned(fromByteOffset: count - 8, as: UInt64.self))
        case 4...:
            return (UInt64(raw.loadUnaligned(as: UInt32.self)), UInt64(raw.loadUnaligned(fromByteOffset: count - 4, as: UInt32.self)))
        default:
            var word: UInt64 = 0
            for i in 0..<count { word |= UInt64(base[i]) << UInt64(8 * i) }
            return (word, 0)
        }
    }

    /// The key spelled by `bytes`, if it is one.
    /// - Complexity: O(*n*) in the length, times the (few) names of that length.
    @inline(__always) package func key(_ bytes: UnsafeBufferPointer<UInt8>) -> K? {
        let length = bytes.count
        guard length + 1 < lengthStart.count else { return nil }
        let range = lengthStart[length]..<lengthStart[length + 1]
        if range.isEmpty { return nil }
        if length <= 16 {
            let key = Self.words(of: bytes)
            return words.withUnsafeBufferPointer { words in
                for slot in range where words[slot] == key { return cases[byLength[slot]] }
                return nil
            }
        }
        return nameBytes.withUnsafeBufferPointer { names in
            candidates: for slot in range {
                let ordinal = byLength[slot]
                let start = nameStart[ordinal]
                for i in 0..<length where names[start + i] != bytes[i] { continue candidates }
                return cases[ordinal]
            }
            return nil
        }
    }

    /// The key named `name`, if it is one.
    package func key(_ name: String) -> K? {
        var name = name
        return name.withUTF8 { key($0) }
    }
}
