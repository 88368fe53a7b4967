public import AgoraCore
public import AgoraStore

/// Certificates: every issue and revoke of the CA is a ledger entry beside its `certs` row.
extension Market {
    /// Records a certificate the CA just signed. Operators, and the gateway itself (pairing,
    /// XMPP CSRs), may record; the caller hands the certificate out only after this returns.
    public func recordCertificate(_ issue: LedgerEntry.CertificateIssue, actor: Actor) async throws -> Accepted {
        let time = clock()
        return try await commit { state in
            if actor != .gateway {
                try Self.requireOperator(actor, state, to: "record certificates")
            }
            guard try state.certificate(issue.serial) == nil else {
                throw MarketRefusal.nothingToChange("a certificate with serial \(issue.serial) is already recorded")
            }
            return LedgerEntry(time: time, actor: actor, body: .certIssue(issue))
        }
    }

    /// Revokes a certificate. Operators only. `then` runs in the same transaction after the
    /// row is updated — the CA regenerates its CRL there, so the CRL never lags the ledger.
    public func revokeCertificate(serial: String, reason: String, actor: Actor,
                                  then: @escaping @Sendable (WriteTransaction, MarketState) throws -> Void) async throws -> Accepted {
        let time = clock()
        let tables = store.tables
        return try await commit({ state in
            try Self.requireOperator(actor, state, to: "revoke certificates")
            guard let record = try state.certificate(serial) else {
                throw MarketRefusal.invalid(.malformed("serial", serial, reason: "no certificate with this serial was issued here"))
            }
            guard !record.revoked else { throw MarketRefusal.nothingToChange("certificate \(serial) is already revoked") }
            return LedgerEntry(time: time, actor: actor, body: .certRevoke(.init(serial: serial, reason: reason)))
        }, then: { txn in try then(txn, MarketState(tables: tables, txn: txn)) })
    }
}
