internal import AgoraCore
internal import AgoraHTTP
internal import AgoraXMPP
internal import NIOCore

/// Checks a dashboard login against the account's stored SCRAM keys — the same secret the
/// XMPP server checks, and never the password itself — with the XMPP server's own back-off
/// per account and per address (the same counters, when it runs), so the web form is no
/// second budget of guesses beside SASL.
struct DashboardLogin: Sendable {
    enum Outcome: Equatable { case accepted(BareJID, DashboardSessions.Credential), refused, throttled }

    let credentials: CredentialStore
    let accounts: XMPPAccountHooks
    let byAccount: AuthThrottle
    let byAddress: AuthThrottle
    /// Keys no password matches, checked for unknown accounts so they take as long as known ones.
    private let decoy: SCRAMKeys?

    /// - Parameter throttles: the XMPP server's (`XMPPServer.authThrottles`); nil: new ones
    ///   with the same policy.
    init(credentials: CredentialStore, accounts: XMPPAccountHooks, throttles: (account: AuthThrottle, address: AuthThrottle)?,
         freeFailures: Int, maxBackoffSeconds: Int) {
        self.credentials = credentials
        self.accounts = accounts
        byAccount = throttles?.account ?? AuthThrottle(policy: .init(freeFailures: freeFailures, maxBackoff: .seconds(Int64(maxBackoffSeconds))))
        byAddress = throttles?.address ?? AuthThrottle(policy: .init(freeFailures: freeFailures * 3, maxBackoff: .seconds(Int64(maxBackoffSeconds))))
        decoy = try? SCRAMKeys.derive(password: DashboardSessions.randomToken(), hash: .sha256,
                                      salt: Array(DashboardSessions.randomToken().utf8.prefix(16)), iterations: SCRAMKeys.minimumIterations)
    }

    func check(account text: String, password: String, address: String) async -> Outcome {
        // The keys SASL uses: the address, and the account's localpart lowercased.
        let addressKey = address
        guard text.utf8.count <= 1024, password.utf8.count <= 1024, let account = try? BareJID(text) else {
            byAddress.failed(addressKey)
            return .refused
        }
        let accountKey = account.localpart.lowercased()
        if byAccount.blocked(accountKey) != nil || byAddress.blocked(addressKey) != nil { return .throttled }
        let keys = credentials.credentials(for: account)?.sha256
        let matches = (keys ?? decoy)?.matches(password: password) ?? false
        guard keys != nil, matches else {
            byAccount.failed(accountKey)
            byAddress.failed(addressKey)
            return .refused
        }
        byAccount.succeeded(accountKey)
        return .accepted(account, .password(storedKey: keys?.storedKey ?? []))
    }

    /// Whether the credential a session was started with still holds: the account's stored
    /// key is the same (no password change since), or its certificate still names it and is
    /// not revoked. Checked on every request, so a changed password or a revoked
    /// certificate ends the sessions it opened.
    func stillValid(_ session: DashboardSessions.Session) -> Bool {
        switch session.credential {
        case .password(let storedKey):
            guard let current = credentials.credentials(for: session.account)?.sha256.storedKey else { return false }
            return current == storedKey
        case .certificate(let der):
            return accounts.certificateIdentity(der) == session.account
        }
    }

    /// The account a verified client certificate names (an xmppAddr of a live account, not
    /// revoked), as SASL EXTERNAL would accept it.
    func certificateAccount(_ request: HTTPRequest) -> (BareJID, DashboardSessions.Credential)? {
        guard let der = request.clientCertificate, let account = accounts.certificateIdentity(der) else { return nil }
        return (account, .certificate(der: der))
    }
}
