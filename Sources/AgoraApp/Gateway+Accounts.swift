public import AgoraCore
internal import AgoraMarket

/// Opening accounts: the one place that decides whether an address can be an account here.
///
/// An account in another domain cannot log in to this gateway (its server is elsewhere), so
/// opening one with a password is nearly always a typo (`alice@gw1.exmaple`) that would
/// leave a person unable to log in and not knowing why. Such accounts are opened only when
/// the operator says they are remote, and then without a password: they exist on the ledger
/// so that a federated consumer can hold credits and buy (issue 19 routes their stanzas).
extension Gateway {
    /// Opens `jid` with `role` and a password (checked, stored as SCRAM keys only).
    /// - Throws: `GatewayError` when `jid` is not in this gateway's domain.
    public func openLocalAccount(_ jid: BareJID, role: Role, password: String, actor: LedgerActor) async throws -> UInt64 {
        let domain = XMPPSetup.domain(of: self)
        guard jid.domain == domain else {
            throw GatewayError.notThisDomain(jid, domain: domain)
        }
        try Self.checkPassword(password)
        let accepted = try await market.openAccount(jid, role: role, actor: actor)
        try await setPassword(password, for: jid)
        return accepted.index
    }

    /// Opens `jid`, in another domain, with `role` and no password.
    public func openRemoteAccount(_ jid: BareJID, role: Role, actor: LedgerActor) async throws -> UInt64 {
        let domain = XMPPSetup.domain(of: self)
        guard jid.domain != domain else {
            throw GatewayError.notRemote(jid)
        }
        return try await market.openAccount(jid, role: role, actor: actor).index
    }
}
