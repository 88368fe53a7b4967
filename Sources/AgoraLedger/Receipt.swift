internal import AgoraCore
internal import FoundationEssentials

/// Proof that an entry is in the log: the entry, its index, its audit path and a signed
/// checkpoint of a tree that contains it. Checked offline with the log's verifier key
/// alone (`agora verify-receipt`), or by any RFC 9162 + signed-note verifier.
///
/// JSON: `{"index": N, "entry": base64, "treeSize": N, "inclusion": [base64…], "checkpoint": "<signed note>"}`.
public struct Receipt: Sendable, Hashable, Codable {
    public let index: UInt64
    public let entry: String
    public let treeSize: UInt64
    public let inclusion: [String]
    public let checkpoint: String

    /// Receipts are a few KiB; larger input is refused before parsing.
    public static let maxSize = 256 * 1024

    public init(index: UInt64, entry: [UInt8], treeSize: UInt64, inclusion: [[UInt8]], checkpoint: String) {
        self.index = index
        self.entry = Data(entry).base64EncodedString()
        self.treeSize = treeSize
        self.inclusion = inclusion.map { Data($0).base64EncodedString() }
        self.checkpoint = checkpoint
    }

    /// Parses receipt JSON.
    public init(json bytes: [UInt8]) throws(LedgerError) {
        guard bytes.count <= Self.maxSize else { throw .malformed("receipt is larger than \(Self.maxSize) bytes") }
        do { self = try CanonicalJSON.decode(Receipt.self, from: bytes) } catch {
            throw .malformed("not a receipt: \(CanonicalJSON.summary(of: error))")
        }
    }

    public func json() throws -> [UInt8] { try CanonicalJSON.encode(self) }

    /// Verifies the checkpoint signature and the inclusion proof; returns the entry bytes.
    public func verify(with verifier: NoteVerifier) throws(LedgerError) -> [UInt8] {
        let checkpoint = try Checkpoint.open(self.checkpoint, verifier: verifier)
        guard checkpoint.size == treeSize else {
            throw .proofFailed("receipt tree size \(treeSize) differs from its checkpoint's \(checkpoint.size)")
        }
        guard let entryBytes = Data(base64Encoded: entry) else { throw .malformed("receipt entry is not base64") }
        guard inclusion.count <= 64 else { throw .malformed("inclusion proof longer than 64 hashes") }
        var path: [[UInt8]] = []
        for item in inclusion {
            guard let hash = Data(base64Encoded: item), hash.count == TreeHash.size else {
                throw .malformed("inclusion proof holds something that is not a base64 SHA-256 hash")
            }
            path.append(Array(hash))
        }
        guard MerkleProofs.verifyInclusion(leafHash: TreeHash.leaf(entryBytes), index: index, size: treeSize, proof: path, root: checkpoint.root) else {
            throw .proofFailed("inclusion proof for entry \(index) does not lead to the checkpoint's root")
        }
        return Array(entryBytes)
    }

    /// Verifies as `verify(with:)`, then requires valid `cosignature/v1` signatures over the
    /// receipt's checkpoint from at least `minimum` of `witnesses`: only then can no single
    /// gateway have shown this history to one party and another to the next. Returns the
    /// entry and, per witness that cosigned, the time it did.
    public func verify(with verifier: NoteVerifier, witnesses: [CosignerVerifier], minimum: Int) throws(LedgerError)
        -> (entry: [UInt8], cosignedAt: [CosignerVerifier: UInt64]) {
        let entry = try verify(with: verifier)
        let note = try SignedNote(parsing: checkpoint)
        var cosigned: [CosignerVerifier: UInt64] = [:]
        for witness in Set(witnesses) {
            if let time = witness.cosignatureTime(of: note.text, among: note.signatures) { cosigned[witness] = time }
        }
        guard cosigned.count >= minimum else {
            throw .proofFailed("the receipt's checkpoint (size \(treeSize)) has valid cosignatures from \(cosigned.count) of the "
                               + "\(Set(witnesses).count) witnesses given; \(minimum) are required")
        }
        return (entry, cosigned)
    }
}
