public import AgoraCore

/// Why the gateway could not be opened or initialised.
public struct GatewayError: Error, Hashable, Sendable, CustomStringConvertible {
    public let description: String

    public static func noStore(_ directory: String) -> GatewayError {
        .init(description: "no Agora store in \(directory) (run agora init --domain DOMAIN)")
    }
    public static func storeExists(_ path: String) -> GatewayError {
        .init(description: "\(path) already exists; refusing to initialize it again")
    }
    public static func file(_ path: String, _ reason: String) -> GatewayError {
        .init(description: "\(path): \(reason)")
    }
    public static func noCertificateAuthority(_ reason: String) -> GatewayError {
        .init(description: "the certificate authority is not available: \(reason)")
    }
    public static func stateDirectory(_ directory: String, _ reason: String) -> GatewayError {
        .init(description: "state directory \(directory): \(reason)")
    }
    public static func notThisDomain(_ jid: BareJID, domain: String) -> GatewayError {
        .init(description: "\(jid) is not in this gateway's domain \(domain): an account elsewhere cannot log in here (to record one for a consumer of another server anyway: agora user add --remote)")
    }
    public static func notRemote(_ jid: BareJID) -> GatewayError {
        .init(description: "\(jid) is in this gateway's own domain; open it without --remote, with a password")
    }
}
