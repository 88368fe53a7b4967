/// Builds LMDB keys whose byte order is their logical order: integers big-endian,
/// text followed by a 0x00 separator (no identifier Agora stores may contain NUL).
public struct StoreKey: Sendable {
    public private(set) var bytes: [UInt8]

    public init() { bytes = [] }
    public init(capacity: Int) { bytes = []; bytes.reserveCapacity(capacity) }

    public static func u64(_ value: UInt64) -> [UInt8] {
        var key = StoreKey(capacity: 8)
        key.append(value)
        return key.bytes
    }

    public static func text(_ value: String) -> [UInt8] { Array(value.utf8) }

    public mutating func append(_ value: UInt64) {
        withUnsafeBytes(of: value.bigEndian) { bytes.append(contentsOf: $0) }
    }

    public mutating func append(_ value: UInt32) {
        withUnsafeBytes(of: value.bigEndian) { bytes.append(contentsOf: $0) }
    }

    public mutating func append(_ value: UInt8) { bytes.append(value) }

    /// Appends `text` and the 0x00 separator that ends it.
    public mutating func append(text: String) {
        bytes.append(contentsOf: text.utf8)
        bytes.append(0)
    }

    /// Reads a big-endian u64 at `offset` of `bytes`.
    public static func readU64(_ bytes: UnsafeRawBufferPointer, at offset: Int = 0) -> UInt64? {
        guard bytes.count >= offset + 8 else { return nil }
        var value: UInt64 = 0
        for i in 0..<8 { value = value << 8 | UInt64(bytes[offset + i]) }
        return value
    }

    public static func readU64(_ bytes: [UInt8], at offset: Int = 0) -> UInt64? {
        bytes.withUnsafeBytes { readU64($0, at: offset) }
    }
}
