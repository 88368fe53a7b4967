internal import AgoraCore
internal import AgoraHTTP
internal import AgoraXMPP
internal import NIOCore

/// Checks a dashboard login against the account's stored SCRAM keys — the same secret the
/// XMPP server checks, and never the password itself — with the XMPP server's back-off per
/// account and per address, so the web form is no cheaper a way to guess than SASL.
struct DashboardLogin: Sendable {
    enum Outcome: Equatable { case accepted(BareJID), refused, throttled }

    let credentials: CredentialStore
    let accounts: XMPPAccountHooks
    let byAccount: AuthThrottle
    let byAddress: AuthThrottle
    /// Keys no password matches, checked for unknown accounts so they take as long as known ones.
    private let decoy: SCRAMKeys?

    init(credentials: CredentialStore, accounts: XMPPAccountHooks, freeFailures: Int, maxBackoffSeconds: Int) {
        self.credentials = credentials
        self.accounts = accounts
        byAccount = AuthThrottle(policy: .init(freeFailures: freeFailures, maxBackoff: .seconds(Int64(maxBackoffSeconds))))
        byAddress = AuthThrottle(policy: .init(freeFailures: freeFailures * 3, maxBackoff: .seconds(Int64(maxBackoffSeconds))))
        decoy = try? SCRAMKeys.derive(password: DashboardSessions.randomToken(), hash: .sha256,
                                      salt: Array(DashboardSessions.randomToken().utf8.prefix(16)), iterations: SCRAMKeys.minimumIterations)
    }

    func check(account text: String, password: String, address: String) async -> Outcome {
        let addressKey = "addr:" + address
        guard text.utf8.count <= 1024, password.utf8.count <= 1024, let account = try? BareJID(text) else {
            byAddress.failed(addressKey)
            return .refused
        }
        let accountKey = "acct:" + account.description
        if byAccount.blocked(accountKey) != nil || byAddress.blocked(addressKey) != nil { return .throttled }
        let keys = credentials.credentials(for: account)?.sha256
        let matches = (keys ?? decoy)?.matches(password: password) ?? false
        guard keys != nil, matches else {
            byAccount.failed(accountKey)
            byAddress.failed(addressKey)
            return .refused
        }
        byAccount.succeeded(accountKey)
        return .accepted(account)
    }

    /// The account a verified client certificate names (an xmppAddr of a live account, not
    /// revoked), as SASL EXTERNAL would accept it.
    func certificateAccount(_ request: HTTPRequest) -> BareJID? {
        request.clientCertificate.flatMap { accounts.certificateIdentity($0) }
    }
}
