/// Why a ledger operation or check failed. Audit failures name the index they found.
public struct LedgerError: Error, Hashable, Sendable, CustomStringConvertible {
    enum Code: Hashable, Sendable {
        case indexOutOfRange, noCheckpoint, notInitialized, alreadyInitialized, tampered, badSignature, malformed, badKey, proofFailed
    }
    let code: Code
    public let description: String
    /// The ledger index the failure concerns, when there is one.
    public let index: UInt64?

    /// The entry or checkpoint asked for does not exist (yet): the asker's mistake, not the ledger's.
    public var isNotFound: Bool { code == .indexOutOfRange || code == .noCheckpoint }
    /// No checkpoint covers the entry yet: sealing one cures it.
    public var isMissingCheckpoint: Bool { code == .noCheckpoint }

    init(_ code: Code, _ description: String, index: UInt64? = nil) {
        self.code = code
        self.description = description
        self.index = index
    }

    public static func indexOutOfRange(_ index: UInt64, size: UInt64) -> LedgerError {
        .init(.indexOutOfRange, "index \(index) is outside the ledger of \(size) entries", index: index)
    }
    public static func noCheckpoint(covering index: UInt64) -> LedgerError {
        .init(.noCheckpoint, "no signed checkpoint covers entry \(index) yet", index: index)
    }
    public static let notInitialized = LedgerError(.notInitialized, "the store has no ledger (run agora init)")
    public static let alreadyInitialized = LedgerError(.alreadyInitialized, "the store already holds a ledger; refusing to initialize it again")
    public static func tampered(_ what: String, index: UInt64?) -> LedgerError {
        .init(.tampered, what, index: index)
    }
    public static func badSignature(_ what: String) -> LedgerError { .init(.badSignature, what) }
    public static func malformed(_ what: String) -> LedgerError { .init(.malformed, what) }
    public static func badKey(_ what: String) -> LedgerError { .init(.badKey, what) }
    public static func proofFailed(_ what: String) -> LedgerError { .init(.proofFailed, what) }

    public var isTampering: Bool { code == .tampered }
    public var isBadSignature: Bool { code == .badSignature }
    public static func == (lhs: LedgerError, rhs: LedgerError) -> Bool { lhs.code == rhs.code && lhs.index == rhs.index }
    public func hash(into hasher: inout Hasher) { hasher.combine(code); hasher.combine(index) }
}
