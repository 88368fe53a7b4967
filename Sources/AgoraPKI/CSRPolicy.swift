internal import _CryptoExtras
internal import Crypto
internal import SwiftASN1
public import X509

/// The signing policy, checked before anything is signed (DESIGN.md "Certificate authority").
///
/// A request passes when: it is at most 8 KiB of PEM or DER; it parses as PKCS#10; its
/// self-signature verifies (the requester holds the key); every common name and every
/// requested subject alternative name names the identity the caller is entitled to; the
/// key is P-256, P-384, Ed25519 or RSA ≥ 2048; it asks for no CA certificate and for no
/// critical extension Agora does not know. The issued certificate takes only the key from
/// the request: subject, names and usages come from Agora's profile.
public enum CSRPolicy {
    public static let maxSize = 8 * 1024

    /// Extensions a CSR may ask for (their values are ignored: the profile decides).
    static let known: Set<ASN1ObjectIdentifier> = [
        .X509ExtensionID.subjectAlternativeName, .X509ExtensionID.keyUsage,
        .X509ExtensionID.extendedKeyUsage, .X509ExtensionID.basicConstraints,
        .X509ExtensionID.subjectKeyIdentifier,
    ]

    /// Parses and checks `input` (PEM or DER) for `identity`.
    public static func check(_ input: [UInt8], for identity: CertificateIdentity) throws(CertificateRefusal) -> CertificateSigningRequest {
        let request = try parse(input)
        guard request.publicKey.isValidSignature(request.signature, for: request) else { throw .badSignature }
        try checkKey(request.publicKey)
        try checkNames(request, identity)
        try checkExtensions(request, identity)
        return request
    }

    /// PEM (`CERTIFICATE REQUEST`) or DER, at most `maxSize` bytes.
    static func parse(_ input: [UInt8]) throws(CertificateRefusal) -> CertificateSigningRequest {
        guard input.count <= maxSize else { throw .tooLarge(input.count, limit: maxSize) }
        guard !input.isEmpty else { throw .malformed("empty input") }
        var der = input
        if input.starts(with: Array("-----BEGIN".utf8)) {
            guard let text = String(validating: input, as: UTF8.self) else { throw .malformed("PEM is not UTF-8") }
            do {
                let document = try PEMDocument(pemString: text)
                guard document.discriminator == "CERTIFICATE REQUEST" || document.discriminator == "NEW CERTIFICATE REQUEST" else {
                    throw CertificateRefusal.malformed("PEM holds a \(document.discriminator), not a CERTIFICATE REQUEST")
                }
                der = document.derBytes
            } catch let refusal as CertificateRefusal {
                throw refusal
            } catch {
                throw .malformed("unreadable PEM")
            }
        }
        do {
            return try CertificateSigningRequest(derEncoded: der)
        } catch {
            throw .malformed("DER does not decode (\(error is ASN1Error ? "ASN.1 error" : "unsupported content"))")
        }
    }

    static func checkKey(_ key: Certificate.PublicKey) throws(CertificateRefusal) {
        if P256.Signing.PublicKey(key) != nil || P384.Signing.PublicKey(key) != nil || Curve25519.Signing.PublicKey(key) != nil {
            return
        }
        if let rsa = _RSA.Signing.PublicKey(key) {
            guard rsa.keySizeInBits >= 2048 else { throw .weakKey("RSA with \(rsa.keySizeInBits) bits (at least 2048 required)") }
            return
        }
        throw .unsupportedKey("\(key)")
    }

    static func checkNames(_ request: CertificateSigningRequest, _ identity: CertificateIdentity) throws(CertificateRefusal) {
        for rdn in request.subject {
            for attribute in rdn where attribute.type == .RDNAttributeType.commonName {
                let name = String(describing: attribute.value)
                guard name == identity.commonName || (try? CertificateIdentity(parsing: name)) == identity else {
                    throw .wrongIdentity("CN=\(name)", expected: identity.description)
                }
            }
        }
    }

    static func checkExtensions(_ request: CertificateSigningRequest, _ identity: CertificateIdentity) throws(CertificateRefusal) {
        for attribute in request.attributes where attribute.oid == .CSRAttributes.extensionRequest {
            let requested: ExtensionRequest
            do { requested = try ExtensionRequest(attribute) } catch { throw .malformed("unreadable extension request") }
            for ext in requested.extensions {
                switch ext.oid {
                case .X509ExtensionID.subjectAlternativeName:
                    let names: SubjectAlternativeNames
                    do { names = try SubjectAlternativeNames(ext) } catch { throw .malformed("unreadable subject alternative names") }
                    for name in names where !identity.matches(name) {
                        throw .wrongIdentity("the alternative name \(name)", expected: identity.description)
                    }
                case .X509ExtensionID.basicConstraints:
                    if let constraints = try? BasicConstraints(ext), constraints != .notCertificateAuthority { throw .requestsCA }
                default:
                    guard !ext.critical || known.contains(ext.oid) else { throw .unknownCriticalExtension("\(ext.oid)") }
                }
            }
        }
    }
}
