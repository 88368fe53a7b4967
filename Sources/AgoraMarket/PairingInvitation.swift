public import AgoraCore
internal import AgoraStore
internal import Crypto
internal import FoundationEssentials

/// An invitation for one sensor to pair over MQTT, as the `pairing` table keeps it.
///
/// The one-time code is shown once and never stored: the row holds `SHA-256("agora-pair:" ‖
/// code)`, which is also the HMAC key the sensor proves the code with (HMAC-SHA256 over its
/// CSR's DER) — the code never travels, and a copy of the store does not reveal it. (The
/// stored key would let someone with the store forge a proof for this invitation until it
/// expires; whoever has the store has the CA key too.)
public struct PairingInvitation: Codable, Sendable, Equatable {
    public var registration: LedgerEntry.SensorRegistration
    /// Hex of SHA-256("agora-pair:" ‖ code).
    public var key: String
    public var expires: Timestamp

    static func tableKey(_ sensor: SensorID) -> [UInt8] { StoreKey.text(sensor.rawValue) }

    /// A fresh code: 20 random base32 characters (100 bits) in groups of four.
    public static func newCode() -> String {
        let alphabet = Array("ABCDEFGHJKMNPQRSTVWXYZ0123456789") // Crockford-style: no I, L, O, U
        var generator = SystemRandomNumberGenerator()
        let characters = (0..<20).map { _ in alphabet[Int.random(in: 0..<alphabet.count, using: &generator)] }
        return stride(from: 0, to: 20, by: 4).map { String(characters[$0..<$0 + 4]) }.joined(separator: "-")
    }

    /// A code as a person may type it — lower-case, without its dashes, with spaces — in the
    /// printed form (`ABCD-EFGH-…`); nil when it cannot be a code (wrong length or letters).
    /// The gateway's key derivation upper-cases, so only the dashes really matter; a device
    /// normalises before deriving so that "abcdefgh…" and "ABCD-EFGH-…" prove the same code.
    public static func normalizedCode(_ typed: String) -> String? {
        let alphabet = Set("ABCDEFGHJKMNPQRSTVWXYZ0123456789")
        let characters = typed.uppercased().filter { $0 != "-" && $0 != " " }
        guard characters.count == 20, characters.allSatisfy(alphabet.contains) else { return nil }
        let array = Array(characters)
        return stride(from: 0, to: 20, by: 4).map { String(array[$0..<$0 + 4]) }.joined(separator: "-")
    }

    /// The HMAC key a code stands for (what sensors and the gateway both derive).
    public static func proofKey(code: String) -> [UInt8] {
        Array(SHA256.hash(data: Array("agora-pair:\(code.uppercased())".utf8)))
    }

    /// Whether `proof` is HMAC-SHA256(key, csrDER), compared in constant time.
    func accepts(proof: [UInt8], for csrDER: [UInt8]) -> Bool {
        guard let key = Hex.decode(self.key), key.count == 32 else { return false }
        return HMAC<SHA256>.isValidAuthenticationCode(proof, authenticating: csrDER, using: SymmetricKey(data: key))
    }
}
