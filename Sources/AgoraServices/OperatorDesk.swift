public import AgoraCore

/// Operator actions the ad-hoc commands need beyond the market's own: they live in AgoraApp
/// (passwords go to the XMPP credential store, invitations to the pairing service).
public protocol OperatorDesk: Sendable {
    /// Opens an account and sets its XMPP password (checked for strength).
    func addAccount(_ jid: BareJID, role: Role, password: String, actor: LedgerActor) async throws
    /// Invites a sensor to pair over MQTT: the one-time code (shown once) and when it expires.
    func inviteSensor(_ registration: LedgerEntry.SensorRegistration, ttlSeconds: Int64, actor: LedgerActor) async throws -> (code: String, expires: Timestamp)
    /// The gateway's state as label/value lines (`agora status`).
    func status() throws -> [(label: String, value: String)]
}
