/// Random bytes hashed together with a ledger entry or a reading, so that its leaf hash
/// says nothing about its content (DESIGN.md "Ledger entry privacy").
///
/// Proofs are open to every account, and an audit path holds the leaf hashes of the
/// neighbouring entries. Without a salt, `SHA-256(0x00 ‖ entry)` of a transfer with known
/// parties and a time to the second is found by trying every plausible amount — a few
/// thousand hashes. With 128 random bits inside the hashed bytes, the same search needs
/// 2¹²⁸ guesses; only a reader who is shown the entry (or the reading) learns its salt.
///
/// Written as lower-case hex under the key `salt`, which keeps the canonical form a plain
/// JSON string any verifier can read.
public struct Salt: Hashable, Sendable, CustomStringConvertible {
    /// What new entries and readings carry: 128 bits, the floor and the usual
    /// security level of the rest of the system (P-256, Ed25519, AES-128-GCM strength).
    public static let byteCount = 16
    /// Fewer bits than this are refused when reading: such a salt would not hide anything.
    public static let minimumByteCount = 16
    /// More than this is not a salt but an attempt to bloat entries.
    public static let maximumByteCount = 64

    public let bytes: [UInt8]

    /// A salt from given bytes (stored entries, tests); nil when the length is outside
    /// `minimumByteCount...maximumByteCount`.
    public init?(bytes: [UInt8]) {
        guard (Self.minimumByteCount...Self.maximumByteCount).contains(bytes.count) else { return nil }
        self.bytes = bytes
    }

    /// The canonical text form; nil unless `text` is lower-case hex of an accepted length,
    /// so every stored salt writes back as exactly the same bytes.
    public init?(hex text: String) {
        guard text.utf8.allSatisfy({ (0x30...0x39).contains($0) || (0x61...0x66).contains($0) }),
              let bytes = Hex.decode(text) else { return nil }
        self.init(bytes: bytes)
    }

    /// A fresh salt of `byteCount` bytes.
    ///
    /// `SystemRandomNumberGenerator` is the operating system's CSPRNG (`getrandom(2)` on
    /// Linux): unpredictable to anyone who saw earlier salts, and needing no key of ours.
    /// A seeded generator (SplitMix and the like) would not do — one leaked salt would give
    /// away every later one. swift-crypto draws its own keys from the same source, so it
    /// would add nothing here but a dependency of `AgoraCore`.
    public static func random() -> Salt {
        var generator = SystemRandomNumberGenerator()
        return random(using: &generator)
    }

    /// A salt from `generator`; only tests pass anything but the system generator.
    public static func random(using generator: inout some RandomNumberGenerator) -> Salt {
        var bytes: [UInt8] = []
        bytes.reserveCapacity(byteCount)
        for _ in 0..<(byteCount / 8) {
            withUnsafeBytes(of: generator.next() as UInt64) { bytes += $0 }
        }
        return Salt(unchecked: bytes)
    }

    private init(unchecked bytes: [UInt8]) { self.bytes = bytes }

    public var hex: String { Hex.encode(bytes) }
    public var description: String { hex }
}
