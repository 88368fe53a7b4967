internal import Crypto

/// A SHA-256 value held inline (four words, no heap allocation), for the loops that
/// hash millions of times: `ledger verify` and `CompactRange`. Public APIs keep `[UInt8]`.
public struct Hash32: Hashable, Sendable {
    var words: (UInt64, UInt64, UInt64, UInt64)

    init(_ buffer: UnsafeRawBufferPointer) {
        precondition(buffer.count == 32)
        words = (buffer.loadUnaligned(fromByteOffset: 0, as: UInt64.self), buffer.loadUnaligned(fromByteOffset: 8, as: UInt64.self),
                 buffer.loadUnaligned(fromByteOffset: 16, as: UInt64.self), buffer.loadUnaligned(fromByteOffset: 24, as: UInt64.self))
    }

    public init(_ bytes: [UInt8]) {
        precondition(bytes.count == 32, "a SHA-256 hash has 32 bytes")
        self = bytes.withUnsafeBytes { Hash32($0) }
    }

    init(_ digest: SHA256.Digest) {
        self = digest.withUnsafeBytes { Hash32($0) }
    }

    public var bytes: [UInt8] { withUnsafeBytes { Array($0) } }

    func withUnsafeBytes<T>(_ body: (UnsafeRawBufferPointer) throws -> T) rethrows -> T {
        try Swift.withUnsafeBytes(of: words, body)
    }

    /// Whether `buffer` holds exactly these 32 bytes.
    func matches(_ buffer: UnsafeRawBufferPointer) -> Bool {
        buffer.count == 32 && Hash32(buffer) == self
    }

    public static func == (lhs: Hash32, rhs: Hash32) -> Bool {
        lhs.words.0 == rhs.words.0 && lhs.words.1 == rhs.words.1 && lhs.words.2 == rhs.words.2 && lhs.words.3 == rhs.words.3
    }

    public func hash(into hasher: inout Hasher) { withUnsafeBytes { hasher.combine(bytes: $0) } }

    // RFC 9162 §2.1.1, as in `TreeHash`, without allocating.
    private static let leafPrefix: UInt8 = 0x00
    private static let nodePrefix: UInt8 = 0x01

    static func leaf(_ entry: UnsafeRawBufferPointer) -> Hash32 {
        var hasher = SHA256()
        Swift.withUnsafeBytes(of: leafPrefix) { hasher.update(bufferPointer: $0) }
        hasher.update(bufferPointer: entry)
        return Hash32(hasher.finalize())
    }

    static func node(_ left: Hash32, _ right: Hash32) -> Hash32 {
        var hasher = SHA256()
        Swift.withUnsafeBytes(of: nodePrefix) { hasher.update(bufferPointer: $0) }
        left.withUnsafeBytes { hasher.update(bufferPointer: $0) }
        right.withUnsafeBytes { hasher.update(bufferPointer: $0) }
        return Hash32(hasher.finalize())
    }
}
