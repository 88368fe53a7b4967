internal import FoundationEssentials

/// A C2SP tlog-checkpoint (https://c2sp.org/tlog-checkpoint): the log's origin, tree size
/// and root hash, one per line, to be carried in a signed note.
public struct Checkpoint: Sendable, Hashable {
    public let origin: String
    public let size: UInt64
    public let root: [UInt8]

    public init(origin: String, size: UInt64, root: [UInt8]) {
        self.origin = origin
        self.size = size
        self.root = root
    }

    /// `<origin>\n<size>\n<base64 root>\n`.
    public var text: String {
        "\(origin)\n\(size)\n\(Data(root).base64EncodedString())\n"
    }

    /// Parses checkpoint text; extension lines after the root are allowed and ignored.
    public init(parsing text: String) throws(LedgerError) {
        let lines = text.split(separator: "\n", omittingEmptySubsequences: false)
        guard lines.count >= 4, lines.last == "", !lines[0].isEmpty,
              let size = UInt64(lines[1]), String(size) == lines[1],
              let root = Data(base64Encoded: String(lines[2])), root.count == TreeHash.size
        else { throw .malformed("not a tlog checkpoint (origin, size, base64 root hash)") }
        self.init(origin: String(lines[0]), size: size, root: Array(root))
    }

    /// Signs this checkpoint into a note.
    public func signed(by signer: NoteSigner) throws(LedgerError) -> SignedNote {
        try SignedNote.sign(text, with: signer)
    }

    /// Parses and verifies a signed checkpoint note; its origin must be the key's name.
    public static func open(_ note: String, verifier: NoteVerifier) throws(LedgerError) -> Checkpoint {
        let text = try SignedNote(parsing: note).verified(by: verifier)
        let checkpoint = try Checkpoint(parsing: text)
        guard checkpoint.origin == verifier.name else {
            throw .badSignature("checkpoint origin \(checkpoint.origin) is not the key's log \(verifier.name)")
        }
        return checkpoint
    }
}
