/// Why the CA refused a request. Nothing was signed and nothing was recorded.
///
/// Expected outcomes of the signing policy (a forged CSR, someone else's identity, a weak
/// key) — one line each, fit for a CLI error, an MQTT pairing response or an XMPP `<text>`.
public struct CertificateRefusal: Error, Hashable, Sendable, CustomStringConvertible {
    public enum Code: String, Hashable, Sendable {
        case tooLarge, malformed, badSignature, wrongIdentity, weakKey, unsupportedKey, unknownCriticalExtension, requestsCA, badRequest
    }

    public let code: Code
    public let description: String

    init(_ code: Code, _ description: String) {
        self.code = code
        self.description = description
    }

    public static func tooLarge(_ size: Int, limit: Int) -> CertificateRefusal {
        .init(.tooLarge, "the CSR is \(size) bytes; the limit is \(limit)")
    }
    public static func malformed(_ what: String) -> CertificateRefusal { .init(.malformed, "not a PKCS#10 CSR: \(what)") }
    public static let badSignature = CertificateRefusal(.badSignature, "the CSR's self-signature does not verify (no proof of possession of the key)")
    public static func wrongIdentity(_ found: String, expected: String) -> CertificateRefusal {
        .init(.wrongIdentity, "the CSR names \(found), but the request is for \(expected)")
    }
    public static func weakKey(_ what: String) -> CertificateRefusal { .init(.weakKey, "weak subject key: \(what)") }
    public static func unsupportedKey(_ what: String) -> CertificateRefusal {
        .init(.unsupportedKey, "unsupported subject key \(what); use P-256, P-384, Ed25519 or RSA of at least 2048 bits")
    }
    public static func unknownCriticalExtension(_ oid: String) -> CertificateRefusal {
        .init(.unknownCriticalExtension, "the CSR requests an unknown critical extension \(oid)")
    }
    public static let requestsCA = CertificateRefusal(.requestsCA, "the CSR asks for a CA certificate; Agora issues end-entity certificates only")
    public static func badRequest(_ what: String) -> CertificateRefusal { .init(.badRequest, what) }

    public static func == (lhs: CertificateRefusal, rhs: CertificateRefusal) -> Bool { lhs.code == rhs.code }
    public func hash(into hasher: inout Hasher) { hasher.combine(code) }
}
