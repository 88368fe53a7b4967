internal import FoundationEssentials

/// The body of a C2SP `tlog-witness` `add-checkpoint` request
/// (https://c2sp.org/tlog-witness): `old <size>`, up to 63 base64 consistency-proof lines,
/// an empty line, then the signed checkpoint note.
///
/// Written by hand: the format is three lines of grammar, and no Swift library speaks it.
public struct AddCheckpointRequest: Sendable, Hashable {
    /// The size of the checkpoint the witness last cosigned, as the log believes it.
    public let oldSize: UInt64
    /// RFC 6962 §2.1.2 consistency proof from `oldSize` to the checkpoint's size.
    public let proof: [[UInt8]]
    /// The signed checkpoint note as sent (it may carry several signatures).
    public let checkpoint: String

    /// The spec's limit on proof lines.
    public static let maxProofLines = 63
    /// Requests are a checkpoint and a proof: a few KiB.
    public static let maxSize = 64 * 1024

    public init(oldSize: UInt64, proof: [[UInt8]], checkpoint: String) {
        self.oldSize = oldSize
        self.proof = proof
        self.checkpoint = checkpoint
    }

    /// The request body, byte for byte as the spec writes it.
    public var body: [UInt8] {
        var text = "old \(oldSize)\n"
        for hash in proof { text += Data(hash).base64EncodedString() + "\n" }
        return Array((text + "\n" + checkpoint).utf8)
    }

    /// Parses a request body; refuses anything the spec does not allow, before any
    /// signature or proof is looked at.
    public init(parsing body: [UInt8]) throws(LedgerError) {
        guard body.count <= Self.maxSize else { throw .malformed("the request is larger than \(Self.maxSize) bytes") }
        guard let blank = body.indices.dropLast().first(where: { body[$0] == 0x0A && body[$0 + 1] == 0x0A }),
              let headText = String(validating: body[..<blank], as: UTF8.self),
              let checkpoint = String(validating: body[(blank + 2)...], as: UTF8.self)
        else { throw .malformed("not UTF-8 lines with an empty line between the old size and proof, and the checkpoint") }
        let head = headText.split(separator: "\n", omittingEmptySubsequences: false)
        guard let first = head.first, first.hasPrefix("old ") else { throw .malformed("the first line must be \"old <size>\"") }
        let digits = first.dropFirst(4)
        guard let oldSize = UInt64(digits), String(oldSize) == digits else {
            throw .malformed("the old size must be a decimal number without leading zeroes")
        }
        guard head.count - 1 <= Self.maxProofLines else { throw .malformed("more than \(Self.maxProofLines) consistency proof lines") }
        var proof: [[UInt8]] = []
        for line in head.dropFirst() {
            guard let hash = Data(base64Encoded: String(line)), hash.count == TreeHash.size else {
                throw .malformed("a consistency proof line is not a base64 SHA-256 hash")
            }
            proof.append(Array(hash))
        }
        self.init(oldSize: oldSize, proof: proof, checkpoint: checkpoint)
    }
}
