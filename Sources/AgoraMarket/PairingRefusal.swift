public import AgoraCore

/// Why a pairing request was refused before anything was written: a code for tests and
/// counters, a reason for the sensor's error response. Equality is by code.
public struct PairingRefusal: Error, Hashable, Sendable, CustomStringConvertible {
    public enum Code: String, Hashable, Sendable {
        case noInvitation, unreadableInvitation, invitationExpired, lockedOut, wrongProof
    }

    public let code: Code
    public let description: String

    init(_ code: Code, _ description: String) {
        self.code = code
        self.description = description
    }

    static func noInvitation(_ sensor: SensorID) -> PairingRefusal { .init(.noInvitation, "no invitation for \(sensor)") }
    static func unreadableInvitation(_ sensor: SensorID) -> PairingRefusal {
        .init(.unreadableInvitation, "the invitation for \(sensor) is unreadable")
    }
    static func invitationExpired(_ sensor: SensorID) -> PairingRefusal { .init(.invitationExpired, "the invitation for \(sensor) has expired") }
    static func lockedOut(_ sensor: SensorID, for wait: Duration) -> PairingRefusal {
        .init(.lockedOut, "too many wrong proofs for \(sensor): try again in \(wait.components.seconds + 1) s")
    }
    static let wrongProof = PairingRefusal(.wrongProof, "wrong proof: the code does not match")

    public static func == (lhs: PairingRefusal, rhs: PairingRefusal) -> Bool { lhs.code == rhs.code }
    public func hash(into hasher: inout Hasher) { hasher.combine(code) }
}
