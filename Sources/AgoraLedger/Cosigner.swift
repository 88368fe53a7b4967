internal import Crypto
internal import FoundationEssentials

/// The public key of a witness: verifies its C2SP `cosignature/v1` signatures
/// (https://c2sp.org/tlog-cosignature, Ed25519).
///
/// The same `name+hexid+base64` verifier-key form as a log key (`NoteVerifier`), with the
/// cosignature signature type 0x04 in the key ID and the encoded key, so a witness key can
/// never be mistaken for a log key or the other way round.
public struct CosignerVerifier: Sendable, Hashable, CustomStringConvertible {
    public let name: String
    public let keyID: UInt32
    let publicKey: [UInt8]

    /// Signature type byte of Ed25519 `cosignature/v1` in the signed-note registry.
    static let cosignatureV1: UInt8 = 0x04

    public init(name: String, publicKey: [UInt8]) throws(LedgerError) {
        try NoteKey.validateName(name)
        guard publicKey.count == 32 else { throw .badKey("an Ed25519 public key has 32 bytes") }
        self.name = name
        self.publicKey = publicKey
        self.keyID = NoteKey.keyID(name: name, type: Self.cosignatureV1, publicKey: publicKey)
    }

    /// Parses the `name+hexid+base64(0x04 ‖ key)` form.
    public init(parsing text: String) throws(LedgerError) {
        let (name, id, raw) = try NoteKey.split(text)
        guard raw.count == 33, raw.first == Self.cosignatureV1 else {
            throw .badKey("not a witness key: expected the cosignature/v1 Ed25519 type (0x04)")
        }
        try self.init(name: name, publicKey: Array(raw.dropFirst()))
        guard keyID == id else { throw .badKey("witness key \(name): key ID does not match the key") }
    }

    public var description: String { NoteKey.encode(name: name, keyID: keyID, type: Self.cosignatureV1, publicKey: publicKey) }

    /// The message a `cosignature/v1` signs: the header line, the time line, then the
    /// checkpoint note's text (with its final newline, without signatures).
    static func message(checkpointText: String, time: UInt64) -> [UInt8] {
        Array("cosignature/v1\ntime \(time)\n\(checkpointText)".utf8)
    }

    /// The time of this witness's valid cosignature of `text` among `signatures`, or nil
    /// when it has none (a signature by another key is ignored, as the spec requires).
    public func cosignatureTime(of text: String, among signatures: [SignedNote.Signature]) -> UInt64? {
        guard let key = try? Curve25519.Signing.PublicKey(rawRepresentation: publicKey) else { return nil }
        for signature in signatures where signature.name == name && signature.keyID == keyID && signature.bytes.count == 72 {
            let time = signature.bytes.prefix(8).reduce(UInt64(0)) { $0 << 8 | UInt64($1) }
            guard time <= UInt64(Int64.max) else { continue }
            if key.isValidSignature(signature.bytes.dropFirst(8), for: Self.message(checkpointText: text, time: time)) { return time }
        }
        return nil
    }
}

/// The private half: cosigns checkpoints this gateway has checked as a witness. Sealed in
/// the key store as `witness.cosigner`, apart from the log key (the spec forbids one key
/// for two roles, and a witness must be able to vouch against its own log).
public struct Cosigner: Sendable {
    public let verifier: CosignerVerifier
    private let key: Curve25519.Signing.PrivateKey

    public static let keyStoreName = "witness.cosigner"

    public init(name: String, rawPrivateKey: [UInt8]) throws(LedgerError) {
        guard let key = try? Curve25519.Signing.PrivateKey(rawRepresentation: rawPrivateKey) else {
            throw .badKey("the stored witness key is not an Ed25519 private key")
        }
        self.key = key
        self.verifier = try CosignerVerifier(name: name, publicKey: Array(key.publicKey.rawRepresentation))
    }

    /// A `cosignature/v1` signature line over `checkpointText`, timestamped `time` (POSIX seconds).
    public func cosign(_ checkpointText: String, time: UInt64) throws(LedgerError) -> SignedNote.Signature {
        let message = CosignerVerifier.message(checkpointText: checkpointText, time: time)
        let signature: [UInt8]
        do { signature = Array(try key.signature(for: message)) } catch { throw .badSignature("cannot cosign the checkpoint") }
        let timestamp = withUnsafeBytes(of: time.bigEndian) { Array($0) }
        return SignedNote.Signature(name: verifier.name, keyID: verifier.keyID, bytes: timestamp + signature)
    }
}
