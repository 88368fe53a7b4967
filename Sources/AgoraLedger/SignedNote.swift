internal import FoundationEssentials

/// A C2SP signed note: text ending in a newline, a blank line, then signature lines
/// `— <key name> <base64(key ID ‖ signature)>` (https://c2sp.org/signed-note).
public struct SignedNote: Sendable, Hashable {
    /// The signed text, including its final newline.
    public let text: String
    public let signatures: [Signature]

    public struct Signature: Sendable, Hashable {
        public let name: String
        public let keyID: UInt32
        public let bytes: [UInt8]

        /// `— <name> <base64(key ID ‖ bytes)>` and a newline.
        public var line: String {
            let id = withUnsafeBytes(of: keyID.bigEndian) { Array($0) }
            return "\(SignedNote.dash)\(name) \(Data(id + bytes).base64EncodedString())\n"
        }

        /// Parses one signature line (without its newline).
        init(parsingLine line: Substring) throws(LedgerError) {
            guard line.hasPrefix(SignedNote.dash) else { throw .malformed("signature line must start with an em dash") }
            let fields = line.dropFirst(SignedNote.dash.count).split(separator: " ", omittingEmptySubsequences: false)
            guard fields.count == 2, !fields[0].isEmpty, let raw = Data(base64Encoded: String(fields[1])), raw.count > 4 else {
                throw .malformed("malformed signature line")
            }
            self.init(name: String(fields[0]), keyID: raw.prefix(4).reduce(UInt32(0)) { $0 << 8 | UInt32($1) }, bytes: Array(raw.dropFirst(4)))
        }

        init(name: String, keyID: UInt32, bytes: [UInt8]) {
            self.name = name; self.keyID = keyID; self.bytes = bytes
        }

        /// Parses a block of signature lines, each ending in a newline (a witness's
        /// `add-checkpoint` answer). At most 100.
        public static func parseLines(_ block: String) throws(LedgerError) -> [Signature] {
            guard block.utf8.count <= SignedNote.maxSize, block.hasSuffix("\n") else { throw .malformed("signature lines must end in a newline") }
            var result: [Signature] = []
            for line in block.dropLast().split(separator: "\n", omittingEmptySubsequences: false) {
                result.append(try Signature(parsingLine: line))
                guard result.count <= 100 else { throw .malformed("more than 100 signature lines") }
            }
            return result
        }
    }

    /// This note with `more` signatures added after its own (a cosigned checkpoint: the
    /// log's signature, then the witnesses'). A signature by a key already present (same
    /// name and key ID) replaces that key's earlier line, so a witness that cosigns again
    /// is counted once.
    public func adding(_ more: [Signature]) -> SignedNote {
        var all = signatures
        for signature in more {
            if let index = all.firstIndex(where: { $0.name == signature.name && $0.keyID == signature.keyID }) {
                all[index] = signature
            } else {
                all.append(signature)
            }
        }
        return SignedNote(text: text, signatures: all)
    }

    /// How many different keys (name and key ID) signed lines of this note.
    public var signerCount: Int { Set(signatures.map { "\($0.name)+\($0.keyID)" }).count }

    /// Whether any line by `verifier`'s name and key ID carries a valid signature (a junk
    /// line with the same name before the real one does not hide it).
    public func hasValidSignature(by verifier: NoteVerifier) -> Bool {
        signatures.contains { $0.name == verifier.name && $0.keyID == verifier.keyID && verifier.isValidSignature($0.bytes, for: Array(text.utf8)) }
    }

    /// Notes are small; a larger input is refused before parsing.
    public static let maxSize = 64 * 1024
    static let dash = "\u{2014} "

    /// Signs `text` (which must end in "\n" and contain no blank line).
    public static func sign(_ text: String, with signer: NoteSigner) throws(LedgerError) -> SignedNote {
        guard text.hasSuffix("\n"), !text.contains("\n\n") else { throw .malformed("note text must end in a newline and contain no blank line") }
        let signature = try signer.sign(Array(text.utf8))
        return SignedNote(text: text, signatures: [Signature(name: signer.verifier.name, keyID: signer.verifier.keyID, bytes: signature)])
    }

    private init(text: String, signatures: [Signature]) {
        self.text = text
        self.signatures = signatures
    }

    /// The note as transmitted.
    public var serialized: String {
        signatures.reduce(text + "\n") { $0 + $1.line }
    }

    /// Parses a serialized note (text, blank line, signature lines). Does not verify.
    public init(parsing serialized: String) throws(LedgerError) {
        guard serialized.utf8.count <= Self.maxSize else { throw .malformed("signed note is larger than \(Self.maxSize) bytes") }
        // Split at the last blank line, as Go's note.Open does.
        let bytes = Array(serialized.utf8)
        guard let split = (0..<max(0, bytes.count - 1)).last(where: { bytes[$0] == 0x0A && bytes[$0 + 1] == 0x0A }) else {
            throw .malformed("signed note has no blank line before its signatures")
        }
        let text = String(decoding: bytes[...split], as: UTF8.self)
        let block = Substring(String(decoding: bytes[(split + 2)...], as: UTF8.self))
        guard block.hasSuffix("\n") else { throw .malformed("signed note must end in a newline") }
        var signatures: [Signature] = []
        for line in block.dropLast().split(separator: "\n", omittingEmptySubsequences: false) {
            signatures.append(try Signature(parsingLine: line))
        }
        guard !signatures.isEmpty, signatures.count <= 100 else { throw .malformed("signed note needs 1…100 signatures") }
        self.init(text: text, signatures: signatures)
    }

    /// Verifies the signature made by `verifier`; returns the text it covers.
    /// A note with no signature by that key, or none of its lines for that key valid, is
    /// refused — the same rule as `hasValidSignature`, so a witness and a reader of the
    /// note never disagree (a note may carry a key's line twice).
    public func verified(by verifier: NoteVerifier) throws(LedgerError) -> String {
        guard signatures.contains(where: { $0.name == verifier.name && $0.keyID == verifier.keyID }) else {
            throw .badSignature("the note is not signed by \(verifier.name)+\(String(verifier.keyID, radix: 16))")
        }
        guard hasValidSignature(by: verifier) else {
            throw .badSignature("the signature by \(verifier.name) does not verify")
        }
        return text
    }
}
