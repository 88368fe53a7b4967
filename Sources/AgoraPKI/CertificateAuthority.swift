public import AgoraCore
public import Crypto
#if canImport(Glibc)
internal import Glibc
#endif
internal import _CryptoExtras
internal import FoundationEssentials
internal import SwiftASN1
public import X509

/// The gateway's certificate authority: an ECDSA P-256 key and its CA certificate.
///
/// Pure: it signs and builds, it stores nothing. Recording each issue and revoke on the
/// ledger is the caller's job (`Market+Certificates.swift`), so a certificate is only
/// handed out once its `cert.issue` entry is durable.
public struct CertificateAuthority: Sendable {
    public let certificate: Certificate
    let key: P256.Signing.PrivateKey

    /// The name under which the CA key is sealed in the key store.
    public static let keyStoreName = "ca.key"

    /// Creates a self-signed CA `CN=<name> Agora CA`, valid for `years` from `now`.
    public static func create(name: String, now: Timestamp, years: Int = 10) throws -> CertificateAuthority {
        let key = P256.Signing.PrivateKey()
        let subject = try DistinguishedName {
            OrganizationName("Agora")
            CommonName("\(name) Agora CA")
        }
        let publicKey = Certificate.PublicKey(key.publicKey)
        let certificate = try Certificate(
            version: .v3, serialNumber: randomSerial(), publicKey: publicKey,
            notValidBefore: date(now.adding(days: -1)), notValidAfter: date(now.adding(days: 365 * years)),
            issuer: subject, subject: subject, signatureAlgorithm: .ecdsaWithSHA256,
            extensions: try Certificate.Extensions {
                Critical(BasicConstraints.isCertificateAuthority(maxPathLength: 0))
                Critical(KeyUsage(keyCertSign: true, cRLSign: true))
                SubjectKeyIdentifier(hash: publicKey)
            },
            issuerPrivateKey: Certificate.PrivateKey(key))
        return try CertificateAuthority(certificate: certificate, key: key)
    }

    /// Adopts an existing CA; its certificate must be a CA certificate for this key.
    public init(certificate: Certificate, key: P256.Signing.PrivateKey) throws(CertificateRefusal) {
        guard certificate.publicKey == Certificate.PublicKey(key.publicKey) else {
            throw .badRequest("the CA certificate does not match the private key")
        }
        guard let constraints = try? certificate.extensions.basicConstraints,
              case .isCertificateAuthority = constraints else {
            throw .badRequest("the certificate is not a CA certificate (basicConstraints cA is not set)")
        }
        if let usage = try? certificate.extensions.keyUsage, !(usage.keyCertSign && usage.cRLSign) {
            throw .badRequest("the CA certificate's key usage must allow signing certificates and CRLs (keyCertSign, cRLSign)")
        }
        guard (try? certificate.extensions.subjectKeyIdentifier) != nil else {
            throw .badRequest("the CA certificate has no subject key identifier (RFC 5280 requires one to name it in CRLs)")
        }
        self.certificate = certificate
        self.key = key
    }

    /// A request to have this CA certified by another — a city root (issue 19), so gateways
    /// of one city trust each other's certificates without sharing a key: the CA's own
    /// subject and key, asking for the CA extensions it has (basicConstraints cA, path length
    /// 0; keyCertSign and cRLSign) and for a name constraint to `domain` (RFC 5280 §4.2.1.10:
    /// it and the names under it), so that under the root this CA can certify only its own
    /// gateway — not another gateway of the city.
    public func signingRequest(domain: String) throws -> CertificateSigningRequest {
        let extensions = try Certificate.Extensions {
            Critical(BasicConstraints.isCertificateAuthority(maxPathLength: 0))
            Critical(KeyUsage(keyCertSign: true, cRLSign: true))
            Critical(NameConstraints(permittedDNSDomains: [domain]))
        }
        return try CertificateSigningRequest(
            version: .v1, subject: certificate.subject, privateKey: Certificate.PrivateKey(key),
            attributes: CertificateSigningRequest.Attributes([try .init(ExtensionRequest(extensions: extensions))]),
            signatureAlgorithm: .ecdsaWithSHA256)
    }

    /// This CA with `certificate` in place of its own: the same key and subject, certified
    /// by someone else (a city root answering `signingRequest()`). Everything the CA issued
    /// stays valid — same issuer name, same key — and now also chains to that root.
    ///
    /// It must be as narrow as the request asked: path length 0, the same subject key
    /// identifier (or chains built by OpenSSL break), and a name constraint that permits
    /// `domain` and nothing but names under it — without one, this CA could certify any
    /// gateway of the city to the others.
    public func recertified(by certificate: Certificate, domain: String) throws(CertificateRefusal) -> CertificateAuthority {
        guard certificate.subject == self.certificate.subject else {
            throw .badRequest("the new CA certificate names another subject than this CA (\(self.certificate.subject))")
        }
        guard certificate.issuer != certificate.subject else {
            throw .badRequest("the new CA certificate is self-signed; install the one the city root issued")
        }
        guard case .isCertificateAuthority(maxPathLength: 0)? = try? certificate.extensions.basicConstraints else {
            throw .badRequest("the new CA certificate must have basicConstraints cA with path length 0")
        }
        guard (try? certificate.extensions.subjectKeyIdentifier) == (try? self.certificate.extensions.subjectKeyIdentifier) else {
            throw .badRequest("the new CA certificate's subject key identifier differs from this CA's")
        }
        let permitted = (try? certificate.extensions.nameConstraints)?.permittedSubtrees ?? []
        let dnsNames = permitted.compactMap { if case .dnsName(let name) = $0 { name.lowercased() } else { nil } }
        guard !dnsNames.isEmpty, dnsNames.count == permitted.count,
              dnsNames.allSatisfy({ $0 == domain || $0.hasSuffix("." + domain) || $0 == "." + domain }) else {
            throw .badRequest("the new CA certificate must be name-constrained to \(domain) (nameConstraints permitted;DNS:\(domain)), or it could certify other gateways")
        }
        return try CertificateAuthority(certificate: certificate, key: key)
    }

    /// How long certificates of each profile are valid.
    public struct Validity: Sendable {
        public var sensorDays: Int
        public var userDays: Int
        public var serverDays: Int
        public init(sensorDays: Int = 365, userDays: Int = 90, serverDays: Int = 365) {
            self.sensorDays = sensorDays; self.userDays = userDays; self.serverDays = serverDays
        }
    }

    /// Signs a client certificate for `identity` with the key of a request that passed `CSRPolicy`.
    public func issue(_ request: CertificateSigningRequest, for identity: CertificateIdentity, days: Int, now: Timestamp) throws -> Certificate {
        // RSA keys may also encipher keys (TLS 1.2 RSA key exchange); EC and Ed25519 keys only sign.
        let usage: KeyUsage = _RSA.Signing.PublicKey(request.publicKey) != nil
            ? KeyUsage(digitalSignature: true, keyEncipherment: true)
            : KeyUsage(digitalSignature: true)
        return try endEntity(commonName: identity.commonName, publicKey: request.publicKey, usage: usage, purpose: .clientAuth,
                             names: [try identity.subjectAlternativeName()], days: days, now: now)
    }

    /// A server certificate for the gateway's own TLS listeners (XMPP, MQTT broker).
    public func serverCertificate(dnsNames: [String], publicKey: Certificate.PublicKey, days: Int, now: Timestamp) throws -> Certificate {
        guard let first = dnsNames.first else { throw CertificateRefusal.badRequest("a server certificate needs at least one DNS name") }
        return try endEntity(commonName: first, publicKey: publicKey, usage: KeyUsage(digitalSignature: true), purpose: .serverAuth,
                             names: dnsNames.map(Self.subjectName), days: days, now: now)
    }

    /// An address literal is an iPAddress name (RFC 5280 §4.2.1.6), which clients that check
    /// `127.0.0.1` against the certificate look for; anything else is a dNSName.
    static func subjectName(_ name: String) -> GeneralName {
        var v4 = in_addr()
        if inet_pton(AF_INET, name, &v4) == 1 {
            return .ipAddress(ASN1OctetString(contentBytes: withUnsafeBytes(of: &v4) { ArraySlice($0) }))
        }
        var v6 = in6_addr()
        if inet_pton(AF_INET6, name, &v6) == 1 {
            return .ipAddress(ASN1OctetString(contentBytes: withUnsafeBytes(of: &v6) { ArraySlice($0) }))
        }
        return .dnsName(name)
    }

    /// The gateway's own client certificate (to its MQTT broker): `CN=<cn>`, clientAuth.
    public func gatewayClientCertificate(commonName: String, publicKey: Certificate.PublicKey, days: Int, now: Timestamp) throws -> Certificate {
        try endEntity(commonName: commonName, publicKey: publicKey, usage: KeyUsage(digitalSignature: true), purpose: .clientAuth,
                      names: [.uniformResourceIdentifier("urn:agora:gateway")], days: days, now: now)
    }

    /// The one end-entity profile all three share: CA:FALSE, the given usages and names, a
    /// random serial, SKI and AKI, valid from now for `days` (capped at the CA's expiry).
    private func endEntity(commonName: String, publicKey: Certificate.PublicKey, usage: KeyUsage,
                           purpose: ExtendedKeyUsage.Usage, names: [GeneralName], days: Int, now: Timestamp) throws -> Certificate {
        try Certificate(
            version: .v3, serialNumber: Self.randomSerial(), publicKey: publicKey,
            notValidBefore: Self.date(now.adding(days: 0)), notValidAfter: try notAfter(now, days: days),
            issuer: certificate.subject, subject: try DistinguishedName { CommonName(commonName) },
            signatureAlgorithm: .ecdsaWithSHA256,
            extensions: try Certificate.Extensions {
                Critical(BasicConstraints.notCertificateAuthority)
                Critical(usage)
                try ExtendedKeyUsage([purpose])
                SubjectAlternativeNames(names)
                SubjectKeyIdentifier(hash: publicKey)
                AuthorityKeyIdentifier(keyIdentifier: try certificate.extensions.subjectKeyIdentifier?.keyIdentifier)
            },
            issuerPrivateKey: Certificate.PrivateKey(key))
    }

    /// Whether the CA certificate is valid at `time` (an imported root may have expired).
    public func isValid(at time: Timestamp) -> Bool {
        let date = Self.date(time)
        return certificate.notValidBefore <= date && date < certificate.notValidAfter
    }

    /// `now + days`, refused outside 1…3650 days and capped at the CA's own expiry (a
    /// certificate cannot outlive its issuer).
    func notAfter(_ now: Timestamp, days: Int) throws -> Date {
        guard (1...3650).contains(days) else { throw CertificateRefusal.badRequest("validity must be 1…3650 days") }
        return min(Self.date(now.adding(days: days)), certificate.notValidAfter)
    }

    /// The CA key's raw bytes, for sealing in the key store only.
    public var sealableKey: [UInt8] { Array(key.rawRepresentation) }

    /// The DER encoding of `certificate` (what fingerprints and the ledger's entries hash).
    public static func der(of certificate: Certificate) throws -> [UInt8] {
        var serializer = DER.Serializer()
        try serializer.serialize(certificate)
        return serializer.serializedBytes
    }

    /// 128 random bits. `SerialNumber` holds the unsigned magnitude and adds the 0x00 that
    /// keeps the DER INTEGER positive; a draw whose first byte is zero is drawn again so every
    /// serial is exactly 16 bytes.
    static func randomSerial() -> Certificate.SerialNumber {
        var generator = SystemRandomNumberGenerator()
        var bytes: [UInt8]
        repeat {
            bytes = (0..<16).map { _ in UInt8.random(in: 0...255, using: &generator) }
        } while bytes[0] == 0
        return Certificate.SerialNumber(bytes: bytes)
    }

    static func date(_ time: Timestamp) -> Date { Date(timeIntervalSince1970: Double(time.seconds)) }
}
