public import AgoraCore

/// Why `AccessPolicy` refused a read: a code that protocol mappings switch on (XMPP
/// conditions in AgoraServices' `IQFailure`), and a reason people read.
///
/// Equality is by code, like `MarketRefusal`.
public struct AccessDenial: Error, Hashable, Sendable, CustomStringConvertible {
    public enum Code: String, Hashable, Sendable {
        /// The sensor is not registered here.
        case unknownSensor
        /// The reader has no account here.
        case unknownAccount
        /// The reader's purchases do not cover the time or window asked for.
        case notPurchased
        /// The ledger entry neither names nor concerns the reader.
        case notConcerned
    }

    public let code: Code
    public let description: String

    init(_ code: Code, _ description: String) {
        self.code = code
        self.description = description
    }

    static func unknownSensor(_ id: SensorID) -> AccessDenial { .init(.unknownSensor, "no sensor \(id)") }
    static func unknownAccount(_ jid: BareJID) -> AccessDenial { .init(.unknownAccount, "no account \(jid)") }
    static func notPurchased(_ why: String) -> AccessDenial { .init(.notPurchased, why) }
    static func notConcerned(_ why: String) -> AccessDenial { .init(.notConcerned, why) }

    public static func == (lhs: AccessDenial, rhs: AccessDenial) -> Bool { lhs.code == rhs.code }
    public func hash(into hasher: inout Hasher) { hasher.combine(code) }
}
