public import AgoraCore
internal import AgoraMarket
public import AgoraServices

/// The operator actions behind the XEP-0050 commands, on this gateway. The market checks
/// that the actor is an operator for each of them; the password is checked and stored as
/// SCRAM keys only, and appears in no reply or log.
public struct GatewayOperatorDesk: OperatorDesk {
    let gateway: Gateway

    public init(gateway: Gateway) { self.gateway = gateway }

    public func addAccount(_ jid: BareJID, role: Role, password: String, actor: LedgerActor) async throws {
        _ = try await gateway.openLocalAccount(jid, role: role, password: password, actor: actor)
    }

    public func inviteSensor(_ registration: LedgerEntry.SensorRegistration, ttlSeconds: Int64, actor: LedgerActor) async throws -> (code: String, expires: Timestamp) {
        try await PairingResponder(gateway: gateway).invite(registration, ttlSeconds: ttlSeconds, actor: actor)
    }

    public func status() throws -> [(label: String, value: String)] {
        let status = try GatewayStatus(gateway: gateway)
        return [
            ("health", status.problems.isEmpty ? "ok" : status.problems.joined(separator: "; ")),
            ("gateway", "\(status.name) (\(status.origin))"), ("version", AgoraVersion.current),
            ("ledger", "\(status.ledgerEntries) entries, latest checkpoint at \(status.checkpointSize)"),
            ("accounts", String(status.accounts)), ("sensors", "\(status.sensors) (\(status.frozenSensors) frozen)"),
            ("purchases", String(status.purchases)), ("readings", String(status.readings)),
            ("credits", "\(status.totalMinted) minted, \(status.sumOfBalances) in balances"),
            ("store", "\(status.usedBytes / 1024) KiB used"),
        ]
    }
}
