public import Crypto
internal import FoundationEssentials

/// Ed25519 keys for C2SP signed notes (https://c2sp.org/signed-note).
///
/// Key ID = first 4 bytes of SHA-256(name ‖ 0x0A ‖ 0x01 ‖ public key); the verifier key is
/// written `<name>+<8 hex digits of the key ID>+<base64(0x01 ‖ public key)>`.
public enum NoteKey {
    /// Signature type byte of Ed25519 in the signed-note registry.
    static let ed25519: UInt8 = 0x01

    /// A key name: non-empty UTF-8 without Unicode spaces or `+` (signed-note "Keys").
    static func validateName(_ name: String) throws(LedgerError) {
        guard !name.isEmpty, name.utf8.count <= 255,
              !name.unicodeScalars.contains(where: { $0.properties.isWhitespace || $0 == "+" || $0.value < 0x20 })
        else { throw .badKey("key name \"\(name)\" must be non-empty, without spaces or '+'") }
    }

    static func keyID(name: String, type: UInt8 = ed25519, publicKey: [UInt8]) -> UInt32 {
        var hasher = SHA256()
        hasher.update(data: Array(name.utf8) + [0x0A, type] + publicKey)
        return Array(hasher.finalize()).prefix(4).reduce(0) { $0 << 8 | UInt32($1) }
    }

    /// Splits a verifier key `name+hexid+base64` into its name, key ID and decoded key
    /// material (type byte first). The base64 part may itself contain "+".
    static func split(_ text: String) throws(LedgerError) -> (name: String, keyID: UInt32, raw: [UInt8]) {
        let trimmed = String(text.drop(while: \.isWhitespace).reversed().drop(while: \.isWhitespace).reversed())
        let parts = trimmed.split(separator: "+", maxSplits: 2, omittingEmptySubsequences: false)
        guard trimmed.utf8.count <= 512, parts.count == 3, parts[1].utf8.count == 8,
              let id = UInt32(parts[1], radix: 16), let raw = Data(base64Encoded: String(parts[2]))
        else { throw .badKey("not a signed-note verifier key (expected name+hexid+base64)") }
        return (String(parts[0]), id, Array(raw))
    }

    /// The `name+hexid+base64(type ‖ key)` text.
    static func encode(name: String, keyID: UInt32, type: UInt8, publicKey: [UInt8]) -> String {
        let hex = String(keyID, radix: 16)
        return "\(name)+\(String(repeating: "0", count: 8 - hex.count))\(hex)+\(Data([type] + publicKey).base64EncodedString())"
    }
}

/// The public half: verifies a note's signature line.
public struct NoteVerifier: Sendable, Hashable, CustomStringConvertible {
    public let name: String
    public let keyID: UInt32
    let publicKey: [UInt8]

    public init(name: String, publicKey: [UInt8]) throws(LedgerError) {
        try NoteKey.validateName(name)
        guard publicKey.count == 32 else { throw .badKey("an Ed25519 public key has 32 bytes") }
        self.name = name
        self.publicKey = publicKey
        self.keyID = NoteKey.keyID(name: name, publicKey: publicKey)
    }

    /// Parses the `name+hexid+base64` form.
    public init(parsing text: String) throws(LedgerError) {
        let (name, id, raw) = try NoteKey.split(text)
        guard raw.count == 33, raw.first == NoteKey.ed25519 else {
            throw .badKey("not a signed-note Ed25519 verifier key (expected name+hexid+base64)")
        }
        try self.init(name: name, publicKey: Array(raw.dropFirst()))
        guard keyID == id else { throw .badKey("verifier key \(name): key ID does not match the key") }
    }

    /// The `name+hexid+base64(0x01 ‖ key)` text.
    public var description: String { NoteKey.encode(name: name, keyID: keyID, type: NoteKey.ed25519, publicKey: publicKey) }

    func isValidSignature(_ signature: [UInt8], for message: [UInt8]) -> Bool {
        guard let key = try? Curve25519.Signing.PublicKey(rawRepresentation: publicKey) else { return false }
        return key.isValidSignature(signature, for: message)
    }
}

/// The private half, held only by the gateway (sealed in the key store as `ledger.log`).
public struct NoteSigner: Sendable {
    public let verifier: NoteVerifier
    private let key: Curve25519.Signing.PrivateKey

    /// The name under which the log key is sealed in the key store.
    public static let keyStoreName = "ledger.log"

    public init(name: String, privateKey: Curve25519.Signing.PrivateKey) throws(LedgerError) {
        self.key = privateKey
        self.verifier = try NoteVerifier(name: name, publicKey: Array(privateKey.publicKey.rawRepresentation))
    }

    public init(name: String, rawPrivateKey: [UInt8]) throws(LedgerError) {
        guard let key = try? Curve25519.Signing.PrivateKey(rawRepresentation: rawPrivateKey) else {
            throw .badKey("the stored log key is not an Ed25519 private key")
        }
        try self.init(name: name, privateKey: key)
    }

    func sign(_ message: [UInt8]) throws(LedgerError) -> [UInt8] {
        do { return Array(try key.signature(for: message)) } catch {
            throw .badSignature("cannot sign the checkpoint")
        }
    }
}
