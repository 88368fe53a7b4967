/// Why `agora device` could not pair or publish, in words that say what to do about it.
/// The CLI prints the description after `agora: error:` and exits 1. Equality is by code.
public struct DeviceError: Error, Hashable, Sendable, CustomStringConvertible {
    public enum Code: String, Hashable, Sendable {
        case notACode, invalidAddress, identityExists, identityMissing, wrongIdentity, file, encoding
        /// The gateway answered with an error response (its reason is the description).
        case refused
        case noAnswer, badResponse
        case certificateListener, pairingListener, certificateRejected, tls, connectionRefused, unreachable, brokerRefused, connectionFailed
        case notConnected, unknownKind, invalidPack, notAllAcknowledged
    }

    public let code: Code
    public let description: String

    init(_ code: Code, _ description: String) {
        self.code = code
        self.description = description
    }

    public static func == (lhs: DeviceError, rhs: DeviceError) -> Bool { lhs.code == rhs.code }
    public func hash(into hasher: inout Hasher) { hasher.combine(code) }

    // Before anything is sent.
    static let notACode = DeviceError(.notACode, "not a pairing code: expected 20 letters and digits, as agora sensor invite printed them")
    static func invalidAddress(_ text: String) -> DeviceError {
        .init(.invalidAddress, "--broker \(text): expected HOST:PORT, e.g. localhost:8884 or [::1]:8884")
    }
    static func identityExists(_ path: String) -> DeviceError {
        .init(.identityExists, "\(path) already exists: pair into an empty directory (a device keeps one identity; remove the old one first to replace it)")
    }
    static func identityMissing(_ path: String, _ reason: String) -> DeviceError {
        .init(.identityMissing, "\(path): \(reason) (run agora device pair first)")
    }
    static func wrongIdentity(_ path: String, holds name: String, expected id: String) -> DeviceError {
        .init(.wrongIdentity, "\(path) is the certificate of \(name), not of \(id)")
    }
    static func file(_ path: String, _ reason: String) -> DeviceError { .init(.file, "\(path): \(reason)") }
    static func encoding(_ what: String, _ error: any Error) -> DeviceError { .init(.encoding, "\(what) cannot be encoded: \(error)") }

    // The gateway's answer.
    static func refused(_ reason: String) -> DeviceError { .init(.refused, "the gateway refused the pairing: \(reason)") }
    static func noAnswer(topic: String, seconds: Int64) -> DeviceError {
        .init(.noAnswer, "no answer from the gateway on \(topic) within \(seconds) s: is agora serve running and connected to this broker?")
    }
    static func badResponse(_ reason: String) -> DeviceError { .init(.badResponse, "the gateway's pairing response is unusable: \(reason)") }

    // The broker connection (see `BrokerFailure`).
    static func certificateListener(_ address: BrokerAddress) -> DeviceError {
        .init(.certificateListener, """
            \(address) is the certificate listener: the broker demands a client certificate there, and a device that is \
            not paired has none; pairing uses the pairing listener (agora broker-config's --port-pair, default 8884)
            """)
    }
    static func pairingListener(_ address: BrokerAddress) -> DeviceError {
        .init(.pairingListener, """
            \(address) is the pairing listener: it takes clients without a certificate and only pairing topics, so the \
            broker would acknowledge readings there and drop them; publishing uses the certificate listener (agora \
            broker-config's --port-tls, default 8883)
            """)
    }
    static func certificateRejected(_ address: BrokerAddress, _ detail: String) -> DeviceError {
        .init(.certificateRejected, "the broker at \(address) rejected the device's certificate (\(detail)): revoked, expired, or not from this gateway's CA?")
    }
    static func tls(_ address: BrokerAddress, _ detail: String) -> DeviceError {
        .init(.tls, "TLS with the broker at \(address) failed: \(detail)")
    }
    static func connectionRefused(_ address: BrokerAddress) -> DeviceError {
        .init(.connectionRefused, "connection refused at \(address): nothing listens there; is the broker running, and is that its port?")
    }
    static func unreachable(_ address: BrokerAddress, _ detail: String) -> DeviceError {
        .init(.unreachable, "cannot reach the broker at \(address): \(detail)")
    }
    static func brokerRefused(_ address: BrokerAddress, _ detail: String) -> DeviceError {
        .init(.brokerRefused, "the broker at \(address) refused the connection: \(detail)")
    }
    static func connectionFailed(_ address: BrokerAddress, _ detail: String) -> DeviceError {
        .init(.connectionFailed, "the connection to the broker at \(address) failed: \(detail)")
    }
    static func notConnected(_ address: BrokerAddress, seconds: Int64) -> DeviceError {
        .init(.notConnected, "no connection to the broker at \(address) within \(seconds) s")
    }

    // Publishing.
    static func unknownKind(_ kind: String, known: [String]) -> DeviceError {
        .init(.unknownKind, "no simulation for \(kind): known kinds are \(known.joined(separator: ", "))")
    }
    static func invalidPack(line: Int, _ reason: String) -> DeviceError {
        .init(.invalidPack, "line \(line) is not a SenML pack the gateway accepts, not sent: \(reason)")
    }
    static func notAllAcknowledged(_ summary: String) -> DeviceError { .init(.notAllAcknowledged, summary) }
}
