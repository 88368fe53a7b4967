internal import Crypto
internal import FoundationEssentials

/// The key that seals every private key in the `keys` table; it never enters the store.
///
/// Read from `$CREDENTIALS_DIRECTORY/agora.kek` (systemd `LoadCredential=`) or from a file
/// the configuration names. Its description is redacted, so it cannot leak by printing.
public struct KeyEncryptionKey: Sendable, CustomStringConvertible {
    /// Kept as bytes because `SymmetricKey` is not `Sendable` in swift-crypto 3.
    private let material: [UInt8]
    var key: SymmetricKey { SymmetricKey(data: material) }

    public static let size = 32

    public init(loadingFrom path: String) throws(KeyStoreError) {
        let bytes = try SecretFile.read(path: path, maxSize: Self.size)
        guard bytes.count == Self.size else { throw .kekMalformed(path: path) }
        material = bytes
    }

    /// Creates a new random key file at `path` (mode 0600); fails if the file exists.
    public static func create(at path: String) throws(KeyStoreError) -> KeyEncryptionKey {
        let key = SymmetricKey(size: .bits256)
        try SecretFile.create(path: path, bytes: key.withUnsafeBytes { Array($0) })
        return KeyEncryptionKey(material: key.withUnsafeBytes { Array($0) })
    }

    private init(material: [UInt8]) { self.material = material }

    public var description: String { "KeyEncryptionKey(redacted)" }
}

/// Bytes of a private key, opened from the key store. Printing shows nothing of them.
public struct SecretBytes: Sendable, CustomStringConvertible, CustomDebugStringConvertible {
    public let bytes: [UInt8]
    public init(_ bytes: [UInt8]) { self.bytes = bytes }
    public var description: String { "SecretBytes(\(bytes.count) bytes, redacted)" }
    public var debugDescription: String { description }
}

/// Private keys sealed with AES-256-GCM under the key-encryption key, one per name in `keys`.
///
/// Record: version byte 0x01 ‖ nonce ‖ ciphertext ‖ tag. The key's name is the additional
/// authenticated data, so a record moved to another name fails to open.
public struct KeyStore: Sendable {
    private let kek: KeyEncryptionKey
    private let table: Database

    public init(kek: KeyEncryptionKey, tables: Tables) {
        self.kek = kek
        self.table = tables.keys
    }

    /// Seals `secret` under `name`; refuses to replace an existing key.
    public func seal(_ secret: SecretBytes, as name: String, in txn: WriteTransaction) throws {
        guard try !txn.contains(table, StoreKey.text(name)) else { throw KeyStoreError.keyExists(name) }
        let box = try AES.GCM.seal(secret.bytes, using: kek.key, authenticating: Array("agora-key:\(name)".utf8))
        guard let combined = box.combined else { throw KeyStoreError.keyUnsealFailed(name) }
        try txn.put(table, StoreKey.text(name), [0x01] + Array(combined))
    }

    /// Seals `secret` under `name`, replacing any key there (used only to adopt an imported CA).
    public func replace(_ name: String, with secret: SecretBytes, in txn: WriteTransaction) throws {
        try txn.delete(table, StoreKey.text(name))
        try seal(secret, as: name, in: txn)
    }

    /// Opens the key under `name`.
    public func open(_ name: String, in txn: ReadTransaction) throws -> SecretBytes {
        guard let record = try txn.get(table, StoreKey.text(name)) else { throw KeyStoreError.keyMissing(name) }
        guard record.first == 0x01 else { throw KeyStoreError.keyUnsealFailed(name) }
        do {
            let box = try AES.GCM.SealedBox(combined: record.dropFirst())
            let plain = try AES.GCM.open(box, using: kek.key, authenticating: Array("agora-key:\(name)".utf8))
            return SecretBytes(Array(plain))
        } catch {
            throw KeyStoreError.keyUnsealFailed(name)
        }
    }
}
