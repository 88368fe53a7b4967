public import AgoraCore
public import AgoraStore

/// Certificates: every issue and revoke of the CA is a ledger entry beside its `certs` row.
extension Market {
    /// Records a certificate the CA just signed. Operators, and the gateway itself (pairing,
    /// XMPP CSRs), may record; the caller hands the certificate out only after this returns.
    ///
    /// `signerIsCurrent` runs first in the same transaction: the caller confirms there that
    /// the CA which signed is still the gateway's CA (an import may have replaced it since).
    public func recordCertificate(_ issue: LedgerEntry.CertificateIssue, actor: LedgerActor,
                                  signerIsCurrent: @escaping @Sendable (ReadTransaction) throws -> Void = { _ in }) async throws -> Accepted {
        try await recordCertificate(issue, actor: actor, held: .keep, signerIsCurrent: signerIsCurrent, afterRevoking: { _, _ in })
    }

    /// What recording a certificate does to the good certificates its subject already holds.
    public enum HeldCertificates: Sendable {
        /// Nothing: a subject may hold several (sensors, the gateway's own).
        case keep
        /// Revoke them (`superseded`) in the same transaction: one good certificate at a time.
        case supersede
        /// Refuse the new one while one is good.
        case refuse
    }

    /// Records `issue` and, per `held`, supersedes or refuses on the subject's good
    /// certificates — all in one write request, so two requests at once cannot both see
    /// "none held" and a crash cannot leave two good ones. `afterRevoking` runs in the same
    /// transaction when something was revoked (the CA regenerates its CRL there).
    public func recordCertificate(_ issue: LedgerEntry.CertificateIssue, actor: LedgerActor, held: HeldCertificates,
                                  signerIsCurrent: @escaping @Sendable (ReadTransaction) throws -> Void,
                                  afterRevoking: @escaping @Sendable (WriteTransaction, MarketState) throws -> Void) async throws -> Accepted {
        let time = clock()
        let tables = store.tables
        return try await store.write { [ledger, projection] txn in
            let state = MarketState(tables: tables, txn: txn)
            try signerIsCurrent(txn)
            if actor != .gateway {
                try Self.requireOperator(actor, state, to: "record certificates")
            }
            guard try state.certificate(issue.serial) == nil else {
                throw MarketRefusal.nothingToChange("a certificate with serial \(issue.serial) is already recorded")
            }
            var superseded: [String] = []
            if held != .keep {
                let good = try state.certificates().filter { $0.issue.subject == issue.subject && !$0.revoked && $0.issue.notAfter > time }
                if held == .refuse, let first = good.first {
                    throw MarketRefusal.certificateHeld(issue.subject, serial: first.issue.serial)
                }
                superseded = good.map(\.issue.serial)
            }
            let entry = LedgerEntry(time: time, actor: actor, body: .certIssue(issue))
            let index = try projection.append(entry, to: ledger, in: txn)
            for serial in superseded {
                let revocation = LedgerEntry(time: time, actor: actor, body: .certRevoke(.init(serial: serial, reason: "superseded")))
                _ = try projection.append(revocation, to: ledger, in: txn)
            }
            if !superseded.isEmpty { try afterRevoking(txn, state) }
            return Accepted(index: index, entry: entry)
        }
    }

    /// Revokes a certificate. Operators only. `then` runs in the same transaction after the
    /// row is updated — the CA regenerates its CRL there, so the CRL never lags the ledger.
    public func revokeCertificate(serial: String, reason: String, actor: LedgerActor,
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

    /// Records that the gateway adopted an imported CA. Operators only, and only while the
    /// CA has issued nothing: certificates already out there would chain to nothing.
    /// `then` stores the new CA (key, certificate, CRL) in the same transaction.
    public func adoptCertificateAuthority(_ adoption: LedgerEntry.CertificateAuthorityAdoption, actor: LedgerActor,
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
