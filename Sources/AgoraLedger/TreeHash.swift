internal import Crypto

/// RFC 9162 §2.1.1 hashing with SHA-256: leaves are prefixed 0x00, interior nodes 0x01,
/// so a leaf can never be passed off as a node (second-preimage resistance).
public enum TreeHash {
    public static let size = 32

    /// `MTH({})`: the hash of an empty tree.
    public static let empty: [UInt8] = Array(SHA256.hash(data: [UInt8]()))

    /// `SHA-256(0x00 ‖ entry)`.
    public static func leaf(_ entry: some Sequence<UInt8>) -> [UInt8] {
        var hasher = SHA256()
        hasher.update(data: [0x00])
        hasher.update(data: Array(entry))
        return Array(hasher.finalize())
    }

    /// `SHA-256(0x01 ‖ left ‖ right)`.
    public static func node(_ left: [UInt8], _ right: [UInt8]) -> [UInt8] {
        var hasher = SHA256()
        hasher.update(data: [0x01])
        hasher.update(data: left)
        hasher.update(data: right)
        return Array(hasher.finalize())
    }
}
