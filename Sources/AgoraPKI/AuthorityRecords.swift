public import AgoraCore
public import AgoraStore
public import X509

/// Where the gateway's CA keeps its certificate and its CRL: four `meta` keys of the store.
/// (Its private key is sealed in the key store as `CertificateAuthority.keyStoreName`; what
/// it issued and revoked is in the `certs` table, written by the market with the ledger.)
///
/// Every write takes the caller's write transaction, so the CA certificate changes with its
/// `ca.adopt` entry and the CRL with each `cert.revoke`, never apart.
public struct AuthorityRecords: Sendable {
    let meta: Database

    static let certificateKey = StoreKey.text("ca.certificate")
    static let crlKey = StoreKey.text("ca.crl")
    /// The next CRL number (RFC 5280 §5.2.3: monotonically increasing), u64 BE.
    static let crlNumberKey = StoreKey.text("ca.crl_number")
    /// The current CRL's nextUpdate, seconds since 1970, u64 BE.
    static let crlNextUpdateKey = StoreKey.text("ca.crl_next_update")

    public init(tables: Tables) {
        self.meta = tables.meta
    }

    /// The CA certificate (DER), or nil before `agora init` stored one.
    public func certificate(in txn: ReadTransaction) throws(StoreError) -> [UInt8]? {
        try txn.get(meta, Self.certificateKey)
    }

    /// Stores `certificate` as the gateway's CA certificate (init and `ca import`).
    public func storeCertificate(_ certificate: Certificate, in txn: WriteTransaction) throws {
        try txn.put(meta, Self.certificateKey, try CertificateAuthority.der(of: certificate))
    }

    /// A check for a write transaction: refuses when the stored CA is no longer `authority`
    /// (an import replaced it after `authority` signed something).
    public func requireCurrent(_ authority: CertificateAuthority) throws -> @Sendable (ReadTransaction) throws -> Void {
        let caDER = try CertificateAuthority.der(of: authority.certificate)
        let meta = self.meta
        return { txn in
            guard try txn.get(meta, Self.certificateKey) == caDER else {
                throw CertificateRefusal.badRequest("the gateway's CA changed while this certificate was signed; request it again")
            }
        }
    }

    /// The current CRL (DER), or nil before one was signed.
    public func crl(in txn: ReadTransaction) throws(StoreError) -> [UInt8]? {
        try txn.get(meta, Self.crlKey)
    }

    /// When the current CRL's validity ends (0 when there is none).
    public func crlNextUpdate(in txn: ReadTransaction) throws(StoreError) -> Int64 {
        Int64(StoreKey.readU64(try txn.get(meta, Self.crlNextUpdateKey) ?? []) ?? 0)
    }

    /// Signs a CRL of `revoked`, valid for `days`, with the next CRL number, and stores it as the current one.
    public func writeCRL(by authority: CertificateAuthority, revoked: [RevokedCertificate], days: Int, in txn: WriteTransaction) throws {
        let nextUpdate = Timestamp.now().adding(days: days)
        try txn.put(meta, Self.crlKey, try signCRL(by: authority, revoked: revoked, nextUpdate: nextUpdate, in: txn))
        try txn.put(meta, Self.crlNextUpdateKey, StoreKey.u64(UInt64(nextUpdate.seconds)))
    }

    /// A CRL of `revoked` with the next CRL number (RFC 5280 §5.2.3: every CRL this CA
    /// signs, served or broker copy, gets its own increasing number). Not stored.
    public func signCRL(by authority: CertificateAuthority, revoked: [RevokedCertificate], nextUpdate: Timestamp,
                        in txn: WriteTransaction) throws -> [UInt8] {
        let number = StoreKey.readU64(try txn.get(meta, Self.crlNumberKey) ?? []) ?? 1
        try txn.put(meta, Self.crlNumberKey, StoreKey.u64(number + 1))
        return try authority.revocationList(revoked: revoked, number: number, now: .now(), nextUpdate: nextUpdate)
    }
}
