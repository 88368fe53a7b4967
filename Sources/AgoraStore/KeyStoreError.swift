/// Why a key could not be loaded, sealed or opened. Messages name files and keys, never
/// key material.
public struct KeyStoreError: Error, Hashable, Sendable, CustomStringConvertible {
    enum Code: Hashable, Sendable { case kekMissing, kekPermissions, kekUnreadable, kekMalformed, keyMissing, keyUnsealFailed, keyExists }
    let code: Code
    public let description: String

    public static func kekMissing(path: String) -> KeyStoreError {
        .init(code: .kekMissing, description: "key-encryption key \(path) does not exist (agora init creates it)")
    }
    public static func kekPermissions(path: String, mode: UInt32) -> KeyStoreError {
        .init(code: .kekPermissions, description: "key-encryption key \(path) has mode \(String(mode, radix: 8)); it must not be readable by group or others (chmod 600)")
    }
    public static func kekUnreadable(path: String, reason: String) -> KeyStoreError {
        .init(code: .kekUnreadable, description: "key-encryption key \(path): \(reason)")
    }
    public static func kekMalformed(path: String) -> KeyStoreError {
        .init(code: .kekMalformed, description: "key-encryption key \(path) must hold exactly 32 random bytes")
    }
    public static func keyMissing(_ name: String) -> KeyStoreError {
        .init(code: .keyMissing, description: "no key named \(name) in the key store")
    }
    public static func keyUnsealFailed(_ name: String) -> KeyStoreError {
        .init(code: .keyUnsealFailed, description: "key \(name) cannot be opened: wrong key-encryption key or damaged record")
    }
    public static func keyExists(_ name: String) -> KeyStoreError {
        .init(code: .keyExists, description: "a key named \(name) already exists")
    }

    public static func == (lhs: KeyStoreError, rhs: KeyStoreError) -> Bool { lhs.code == rhs.code }
    public func hash(into hasher: inout Hasher) { hasher.combine(code) }
}
