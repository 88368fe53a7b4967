public import AgoraCore
public import AgoraMarket
public import AgoraPKI
internal import AgoraStore
internal import Crypto
internal import FoundationEssentials
internal import SwiftASN1
public import X509

/// The gateway's certificate authority at work: policy, signing, ledger, CRL.
///
/// Signs only requests that pass `CSRPolicy`, records each certificate with a `cert.issue`
/// entry before handing it out, and regenerates the CRL in the same transaction as each
/// `cert.revoke`. The CA certificate and the current CRL are kept by AgoraPKI's
/// `AuthorityRecords`; the CA key is sealed in the key store as `ca.key`.
public struct GatewayCertificateDesk: Sendable {
    public let authority: CertificateAuthority
    let gateway: Gateway
    let records: AuthorityRecords

    /// Loads the CA of an opened gateway (its keys must be unlocked).
    public init(gateway: Gateway) throws {
        guard let keys = gateway.keys else { throw GatewayError.noCertificateAuthority("the key store is locked") }
        let records = AuthorityRecords(tables: gateway.store.tables)
        let (der, secret) = try gateway.store.read { txn in
            (try records.certificate(in: txn), try keys.open(CertificateAuthority.keyStoreName, in: txn))
        }
        guard let der else { throw GatewayError.noCertificateAuthority("no CA certificate in the store") }
        self.authority = try CertificateAuthority(certificate: try Certificate(derEncoded: der),
                                                  key: try P256.Signing.PrivateKey(rawRepresentation: secret.bytes))
        self.gateway = gateway
        self.records = records
    }

    /// What a signing returns: the certificate, its PEM chain (leaf then CA) and its ledger entry.
    public struct Issued: Sendable {
        public let certificate: Certificate
        public let chainPEM: String
        public let serial: String
        public let ledgerIndex: UInt64
    }

    /// Checks `csr` against the policy for `identity`, signs it, records it, returns it.
    public func sign(csr: [UInt8], for identity: CertificateIdentity, days: Int? = nil, actor: LedgerActor,
                     held: Market.HeldCertificates = .keep) async throws -> Issued {
        let request = try CSRPolicy.check(csr, for: identity)
        let validity = gateway.configuration.certificateValidity
        let days = days ?? {
            switch identity {
            case .sensor: validity.sensorDays
            case .user: validity.userDays
            }
        }()
        let certificate = try authority.issue(request, for: identity, days: days, now: .now())
        return try await record(certificate, subject: identity.description, actor: actor, held: held)
    }

    /// A key and certificate for one of the gateway's own TLS listeners.
    public func serverCertificate(dnsNames: [String], days: Int? = nil, actor: LedgerActor) async throws -> (issued: Issued, keyPEM: String) {
        for name in dnsNames {
            do { try BareJID.validateDomain(name, original: name, field: "DNS name") } catch { throw CertificateRefusal.badRequest(error.description) }
        }
        let key = P256.Signing.PrivateKey()
        let certificate = try authority.serverCertificate(dnsNames: dnsNames, publicKey: Certificate.PublicKey(key.publicKey),
                                                          days: days ?? gateway.configuration.certificateValidity.serverDays, now: .now())
        let issued = try await record(certificate, subject: "server:\(dnsNames.first ?? "")", actor: actor)
        return (issued, key.pemRepresentation)
    }

    /// A key and client certificate for the gateway's own connection to its broker.
    public func gatewayClientCertificate(commonName: String, days: Int? = nil, actor: LedgerActor) async throws -> (issued: Issued, keyPEM: String) {
        let key = P256.Signing.PrivateKey()
        let certificate = try authority.gatewayClientCertificate(commonName: commonName, publicKey: Certificate.PublicKey(key.publicKey),
                                                                 days: days ?? gateway.configuration.certificateValidity.serverDays, now: .now())
        let issued = try await record(certificate, subject: "gateway:\(commonName)", actor: actor)
        return (issued, key.pemRepresentation)
    }

    /// The `cert.issue` body for `certificate`: serial, subject, fingerprint, expiry and the DER itself.
    static func issueRecord(_ certificate: Certificate, subject: String) throws -> LedgerEntry.CertificateIssue {
        let der = try CertificateAuthority.der(of: certificate)
        return LedgerEntry.CertificateIssue(
            serial: Hex.encode(certificate.serialNumber.bytes), subject: subject, fingerprint: Hex.encode(SHA256.hash(data: der)),
            notAfter: try Timestamp(seconds: Int64(certificate.notValidAfter.timeIntervalSince1970)),
            certificate: Data(der).base64EncodedString())
    }

    /// The PEM chain handed to a subject: its certificate, then the CA's.
    func chainPEM(_ certificate: Certificate) throws -> String {
        try certificate.serializeAsPEM().pemString + "\n" + authority.certificate.serializeAsPEM().pemString + "\n"
    }

    /// Refuses inside a write if the CA in the store is no longer `authority` (an import replaced it).
    func signerIsCurrent() throws -> @Sendable (ReadTransaction) throws -> Void {
        try records.requireCurrent(authority)
    }

    private func record(_ certificate: Certificate, subject: String, actor: LedgerActor, held: Market.HeldCertificates = .keep) async throws -> Issued {
        let issue = try Self.issueRecord(certificate, subject: subject)
        let serial = issue.serial
        let (authority, records, crlDays) = (self.authority, self.records, gateway.configuration.crlDays)
        let accepted = try await gateway.market.recordCertificate(issue, actor: actor, held: held, signerIsCurrent: try signerIsCurrent()) { txn, state in
            try records.writeCRL(by: authority, revoked: try Self.revocations(in: state), days: crlDays, in: txn)
        }
        return Issued(certificate: certificate, chainPEM: try chainPEM(certificate), serial: serial, ledgerIndex: accepted.index)
    }

    /// Revokes `serial` and regenerates the CRL in the same transaction; then refreshes the
    /// broker's copy of the CRL, if `broker-config` set one up.
    public func revoke(serial: String, reason: RevocationReason, actor: LedgerActor) async throws -> Market.Accepted {
        let (authority, records, crlDays) = (self.authority, self.records, gateway.configuration.crlDays)
        let accepted = try await gateway.market.revokeCertificate(serial: serial.lowercased(), reason: reason.rawValue, actor: actor) { txn, state in
            try records.writeCRL(by: authority, revoked: try Self.revocations(in: state), days: crlDays, in: txn)
        }
        if let file = try BrokerSetup.recordedEndpoint(in: gateway)?.brokerCRLFile {
            do {
                let pem = PEMDocument(type: "X509 CRL", derBytes: try await brokerCRL()).pemString + "\n"
                try FileSystem.write(Array(pem.utf8), to: file, mode: 0o644)
            } catch {
                gateway.logger.error("the broker's CRL could not be refreshed", metadata: ["file": "\(file)", "error": "\(error)"])
            }
        }
        return accepted
    }

    /// A CRL for the broker's `crlfile`: the same revocations, valid for ten years.
    ///
    /// Mosquitto reads its CRL at start and refuses every client once that CRL's
    /// nextUpdate passes; a broker the gateway cannot re-sign for must not lock everyone
    /// out after a week. Freshness comes from `ca revoke` rewriting the file (the broker
    /// applies it when it restarts or reloads).
    public func brokerCRL() async throws -> [UInt8] {
        let (authority, records, tables) = (self.authority, self.records, gateway.store.tables)
        return try await gateway.store.write { txn in
            try records.signCRL(by: authority, revoked: try Self.revocations(in: MarketState(tables: tables, txn: txn)),
                                nextUpdate: Timestamp.now().adding(days: 3650), in: txn)
        }
    }

    /// Replaces the CA created at init with an imported one (PEM certificate and PEM P-256
    /// key, PKCS#8 or SEC1): the certificate must be a CA certificate for that key, and
    /// nothing may have been issued yet. Records a `ca.adopt` entry; the key is sealed and
    /// a fresh CRL is signed in the same transaction.
    public static func importAuthority(certificatePEM: String, keyPEM: String, into gateway: Gateway, actor: LedgerActor) async throws -> (CertificateAuthority, Market.Accepted) {
        guard let keys = gateway.keys else { throw GatewayError.noCertificateAuthority("the key store is locked") }
        let certificate: Certificate
        do { certificate = try Certificate(pemEncoded: certificatePEM) } catch {
            throw CertificateRefusal.badRequest("the CA certificate is not a PEM certificate")
        }
        let key: P256.Signing.PrivateKey
        do { key = try P256.Signing.PrivateKey(pemRepresentation: keyPEM) } catch {
            throw CertificateRefusal.badRequest("the CA key is not a PEM ECDSA P-256 private key (the only CA key type Agora signs with)")
        }
        let authority = try CertificateAuthority(certificate: certificate, key: key)
        guard authority.isValid(at: .now()) else { throw CertificateRefusal.badRequest("the CA certificate is expired or not yet valid") }
        let der = try CertificateAuthority.der(of: certificate)
        let tables = gateway.store.tables
        let records = AuthorityRecords(tables: tables)
        let crlDays = gateway.configuration.crlDays
        let sealed = SecretBytes(authority.sealableKey)
        // A new CA key: a cross-certificate for the old one would chain the wrong key.
        FileSystem.remove(cityChainFile(in: gateway.configuration.stateDirectory))
        let accepted = try await gateway.market.adoptCertificateAuthority(
            .init(fingerprint: Hex.encode(SHA256.hash(data: der)), certificate: Data(der).base64EncodedString()), actor: actor) { txn in
            try keys.replace(CertificateAuthority.keyStoreName, with: sealed, in: txn)
            try records.storeCertificate(certificate, in: txn)
            try records.writeCRL(by: authority, revoked: try revocations(in: MarketState(tables: tables, txn: txn)), days: crlDays, in: txn)
        }
        return (authority, accepted)
    }

    /// Where `installCityChain` keeps the CA's certificate as the city root issued it.
    public static func cityChainFile(in stateDirectory: String) -> String { stateDirectory + "/xmpp/city-chain.pem" }

    /// Installs this CA's certificate as a city root issued it (`agora ca install-chain`),
    /// with any intermediates after it: a cross-certificate — same key and subject as the
    /// CA's own, so everything it issued, and everything it will issue, also chains to the
    /// city root. The self-signed certificate stays the anchor of the gateway's own clients
    /// and sensors (nothing they trust changes); the city chain is what the XMPP server
    /// shows to federation peers (`s2s`), who trust the city root.
    public static func installCityChain(pem: String, into gateway: Gateway) throws -> Certificate {
        let current = try GatewayCertificateDesk(gateway: gateway).authority
        let certificates: [Certificate]
        do { certificates = try PEMDocument.parseMultiple(pemString: pem).map { try Certificate(pemDocument: $0) } } catch {
            throw CertificateRefusal.badRequest("the chain is not a series of PEM certificates")
        }
        guard let first = certificates.first else { throw CertificateRefusal.badRequest("the chain holds no certificate") }
        let authority = try current.recertified(by: first, domain: XMPPSetup.domain(of: gateway))
        guard authority.isValid(at: .now()) else { throw CertificateRefusal.badRequest("the CA certificate is expired or not yet valid") }
        // Intermediates up to (not including) the root: peers hold the root themselves.
        let chain = [first] + certificates.dropFirst().filter { $0.issuer != $0.subject }
        let text = try chain.map { try $0.serializeAsPEM().pemString + "\n" }.joined()
        try FileSystem.makeDirectory(gateway.configuration.stateDirectory + "/xmpp", mode: 0o700)
        try FileSystem.write(Array(text.utf8), to: cityChainFile(in: gateway.configuration.stateDirectory), mode: 0o644)
        return first
    }

    /// The current CRL (DER). Signs a fresh one first when more than half of the stored
    /// one's validity has passed, so a gateway without revocations never serves an
    /// expired CRL (which would make every client certificate fail `-crl_check`).
    public func currentCRL() async throws -> [UInt8] {
        let store = gateway.store
        let (authority, records, tables, crlDays) = (self.authority, self.records, store.tables, gateway.configuration.crlDays)
        let nextUpdate = try store.read { try records.crlNextUpdate(in: $0) }
        if nextUpdate - Timestamp.now().seconds < Int64(crlDays) * 86_400 / 2 {
            try await store.write { txn in
                try records.writeCRL(by: authority, revoked: try Self.revocations(in: MarketState(tables: tables, txn: txn)), days: crlDays, in: txn)
            }
        }
        guard let crl = try store.read({ try records.crl(in: $0) }) else {
            throw GatewayError.noCertificateAuthority("no CRL in the store")
        }
        return crl
    }

    /// Every revoked certificate, as CRL entries.
    static func revocations(in state: MarketState) throws -> [RevokedCertificate] {
        try state.certificates().filter(\.revoked).map { record in
            RevokedCertificate(serial: Hex.decode(record.issue.serial) ?? [], revoked: record.revokedAt ?? record.issued,
                               reason: RevocationReason(rawValue: record.revocationReason) ?? .unspecified)
        }
    }

    /// SHA-256 of the CA certificate as `AA:BB:…`, the way OpenSSL prints fingerprints.
    public func caFingerprint() throws -> String {
        let hex = Array(Hex.encode(SHA256.hash(data: try CertificateAuthority.der(of: authority.certificate))).uppercased())
        return stride(from: 0, to: hex.count, by: 2).map { String(hex[$0..<$0 + 2]) }.joined(separator: ":")
    }

    /// Writes `DIR/server.key` (mode 0600) and `DIR/server.pem` (chain, 0644) for a TLS listener.
    public static func writeListenerFiles(keyPEM: String, chainPEM: String, to directory: String) throws {
        try FileSystem.makeDirectory(directory, mode: 0o755)
        try FileSystem.write(Array(keyPEM.utf8), to: directory + "/server.key", mode: 0o600)
        try FileSystem.write(Array(chainPEM.utf8), to: directory + "/server.pem", mode: 0o644)
    }
}
