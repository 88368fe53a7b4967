public import Crypto
internal import _CryptoExtras

/// The SCRAM hash functions the server offers (RFC 5802, RFC 7677).
public enum SCRAMHash: String, Sendable, CaseIterable {
    case sha256 = "SCRAM-SHA-256"
    case sha1 = "SCRAM-SHA-1"

    var byteCount: Int { self == .sha256 ? 32 : 20 }

    func hmac(key: [UInt8], _ message: [UInt8]) -> [UInt8] {
        let key = SymmetricKey(data: key)
        switch self {
        case .sha256: return Array(HMAC<SHA256>.authenticationCode(for: message, using: key))
        case .sha1: return Array(HMAC<Insecure.SHA1>.authenticationCode(for: message, using: key))
        }
    }

    func hash(_ message: [UInt8]) -> [UInt8] {
        switch self {
        case .sha256: return Array(SHA256.hash(data: message))
        case .sha1: return Array(Insecure.SHA1.hash(data: message))
        }
    }

    /// Hi() of RFC 5802 §2.2 is PBKDF2 with HMAC of this hash and one output block.
    func saltedPassword(_ password: [UInt8], salt: [UInt8], iterations: Int) throws -> [UInt8] {
        let function: KDF.Insecure.PBKDF2.HashFunction = self == .sha256 ? .sha256 : .insecureSHA1
        let key = try KDF.Insecure.PBKDF2.deriveKey(from: password, salt: salt, using: function,
                                                    outputByteCount: byteCount, unsafeUncheckedRounds: iterations)
        return key.withUnsafeBytes { Array($0) }
    }
}

/// What SCRAM needs to verify a password without knowing it (RFC 5802 §3): salt, iteration
/// count, StoredKey = H(HMAC(SaltedPassword, "Client Key")) and ServerKey =
/// HMAC(SaltedPassword, "Server Key"). Stolen, these let nobody log in (a proof needs the
/// ClientKey), though they allow an offline guessing attack at `iterations` cost per guess.
public struct SCRAMKeys: Sendable, Equatable {
    public let hash: SCRAMHash
    public let salt: [UInt8]
    public let iterations: Int
    public let storedKey: [UInt8]
    public let serverKey: [UInt8]

    /// RFC 7677 §4 asks for at least 4096.
    public static let minimumIterations = 4096

    public init(hash: SCRAMHash, salt: [UInt8], iterations: Int, storedKey: [UInt8], serverKey: [UInt8]) {
        self.hash = hash
        self.salt = salt
        self.iterations = iterations
        self.storedKey = storedKey
        self.serverKey = serverKey
    }

    /// Derives the keys for `password`. The password is used as its UTF-8 bytes: SASLprep
    /// (RFC 4013) maps printable ASCII to itself, and non-ASCII passwords would need a
    /// stringprep table no library here ships; clients apply the same identity mapping.
    public static func derive(password: String, hash: SCRAMHash, salt: [UInt8], iterations: Int) throws -> SCRAMKeys {
        let salted = try hash.saltedPassword(Array(password.utf8), salt: salt, iterations: iterations)
        let clientKey = hash.hmac(key: salted, Array("Client Key".utf8))
        return SCRAMKeys(hash: hash, salt: salt, iterations: iterations,
                         storedKey: hash.hash(clientKey), serverKey: hash.hmac(key: salted, Array("Server Key".utf8)))
    }

    /// Whether `password` is the one these keys were derived from (for SASL PLAIN).
    public func matches(password: String) -> Bool {
        guard let candidate = try? Self.derive(password: password, hash: hash, salt: salt, iterations: iterations) else { return false }
        return constantTimeEqual(candidate.storedKey, storedKey)
    }
}

/// Both SCRAM variants of one account, as stored (table `credentials`, never on the ledger).
public struct SCRAMCredentials: Sendable, Equatable {
    public let sha256: SCRAMKeys
    public let sha1: SCRAMKeys

    public init(sha256: SCRAMKeys, sha1: SCRAMKeys) {
        self.sha256 = sha256
        self.sha1 = sha1
    }

    public func keys(for hash: SCRAMHash) -> SCRAMKeys { hash == .sha256 ? sha256 : sha1 }

    /// Fresh random salts for each hash.
    public static func derive(password: String, iterations: Int = SCRAMKeys.minimumIterations) throws -> SCRAMCredentials {
        var generator = SystemRandomNumberGenerator()
        func salt() -> [UInt8] { (0..<16).map { _ in UInt8.random(in: .min ... .max, using: &generator) } }
        return SCRAMCredentials(
            sha256: try .derive(password: password, hash: .sha256, salt: salt(), iterations: iterations),
            sha1: try .derive(password: password, hash: .sha1, salt: salt(), iterations: iterations))
    }

    static let formatVersion: UInt8 = 1

    /// `version ‖ (iterations u32 ‖ salt length u8 ‖ salt ‖ StoredKey ‖ ServerKey)` for
    /// SHA-256 then SHA-1; key lengths follow from the hash.
    public var encoded: [UInt8] {
        var bytes: [UInt8] = [Self.formatVersion]
        for keys in [sha256, sha1] {
            let iterations = UInt32(keys.iterations)
            bytes += [UInt8(iterations >> 24), UInt8(iterations >> 16 & 0xFF), UInt8(iterations >> 8 & 0xFF), UInt8(iterations & 0xFF)]
            bytes.append(UInt8(keys.salt.count))
            bytes += keys.salt + keys.storedKey + keys.serverKey
        }
        return bytes
    }

    public init?(decoding bytes: [UInt8]) {
        guard bytes.first == Self.formatVersion else { return nil }
        var offset = 1
        func keys(_ hash: SCRAMHash) -> SCRAMKeys? {
            guard offset + 5 <= bytes.count else { return nil }
            let iterations = bytes[offset..<offset + 4].reduce(0) { $0 << 8 | Int($1) }
            let saltCount = Int(bytes[offset + 4])
            offset += 5
            guard offset + saltCount + 2 * hash.byteCount <= bytes.count else { return nil }
            let salt = Array(bytes[offset..<offset + saltCount]); offset += saltCount
            let stored = Array(bytes[offset..<offset + hash.byteCount]); offset += hash.byteCount
            let server = Array(bytes[offset..<offset + hash.byteCount]); offset += hash.byteCount
            return SCRAMKeys(hash: hash, salt: salt, iterations: iterations, storedKey: stored, serverKey: server)
        }
        guard let sha256 = keys(.sha256), let sha1 = keys(.sha1), offset == bytes.count else { return nil }
        self.init(sha256: sha256, sha1: sha1)
    }
}

func constantTimeEqual(_ a: [UInt8], _ b: [UInt8]) -> Bool {
    guard a.count == b.count else { return false }
    var difference: UInt8 = 0
    for index in a.indices { difference |= a[index] ^ b[index] }
    return difference == 0
}
