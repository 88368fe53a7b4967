public import AgoraCore
public import AgoraStore

/// Certificates: every issue and revoke of the CA is a ledger entry beside its `certs` row.
extension Market {
    /// Records a certificate the CA just signed. Operators, and the gateway itself (pairing,
    /// XMPP CSRs), may record; the caller hands the certificate out only after this returns.
    ///
    /// `signerIsCurrent` runs first in the same transaction: the caller confirms there that
    /// the CA which signed is still the gateway's CA (an import may have replaced it since).
    public func recordCertificate(_ issue: LedgerEntry.CertificateIssue, actor: Actor,
                                  signerIsCurrent: @escaping @Sendable (ReadTransaction) throws -> Void = { _ in }) async throws -> Accepted {
        let time = clock()
        return try await commit { state in
            try signerIsCurrent(state.txn)
            if actor != .gateway {
                try Self.requireOperator(actor, state, to: "record certificates")
            }
            guard try state.certificate(issue.serial) == nil else {
                throw MarketRefusal.nothingToChange("a certificate with serial \(issue.serial) is already recorded")
            }
            return LedgerEntry(time: time, actor: actor, body: .certIssue(issue))
        }
    }

    /// Revokes a certificate. Operators, or the account the certificate was issued to. `then` runs in the same transaction after the
    /// row is updated — the CA regenerates its CRL there, so the CRL never lags the ledger.
    public func revokeCertificate(serial: String, reason: String, actor: Actor,
                                  then: @escaping @Sendable (WriteTransaction, MarketState) throws -> Void) async throws -> Accepted {
        let time = clock()
        let tables = store.tables
        return try await commit({ state in
            guard let record = try state.certificate(serial) else {
                try Self.requireOperator(actor, state, to: "revoke certificates")
                throw MarketRefusal.invalid(.malformed("serial", serial, reason: "no certificate with this serial was issued here"))
            }
            // An account may revoke its own certificate (a replacement supersedes it); anything else is the operators'.
            if case .account(let jid) = actor, record.issue.subject == jid.description {} else {
                try Self.requireOperator(actor, state, to: "revoke certificates")
            }
            guard !record.revoked else { throw MarketRefusal.nothingToChange("certificate \(serial) is already revoked") }
            return LedgerEntry(time: time, actor: actor, body: .certRevoke(.init(serial: serial, reason: reason)))
        }, then: { txn in try then(txn, MarketState(tables: tables, txn: txn)) })
    }

    /// Records that the gateway adopted an imported CA. Operators only, and only while the
    /// CA has issued nothing: certificates already out there would chain to nothing.
    /// `then` stores the new CA (key, certificate, CRL) in the same transaction.
    public func adoptCertificateAuthority(_ adoption: LedgerEntry.CertificateAuthorityAdoption, actor: Actor,
                                          then: @escaping @Sendable (WriteTransaction) throws -> Void) async throws -> Accepted {
        let time = clock()
        return try await commit({ state in
            try Self.requireOperator(actor, state, to: "replace the certificate authority")
            guard try state.certificates().isEmpty else {
                throw MarketRefusal.forbidden("the CA has already issued certificates; a new CA would orphan them")
            }
            return LedgerEntry(time: time, actor: actor, body: .caAdopt(adoption))
        }, then: then)
    }
}
