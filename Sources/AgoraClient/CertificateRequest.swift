internal import AgoraCore
internal import AgoraXMPP
internal import Crypto
internal import X509
#if canImport(Glibc)
internal import Glibc
#endif

/// `agora client csr`: a key made here, a CSR naming the account, signed by the gateway's CA
/// over `urn:agora:pki:1` — the certificate that then logs in with SASL EXTERNAL. The key
/// never leaves this machine; it is written 0600 before the request is sent.
public struct CertificateRequest {
    let client: XMPPClient

    public init(client: XMPPClient) { self.client = client }

    /// What was issued.
    public struct Issued: Sendable {
        public let serial: String
        public let ledgerIndex: String
        /// The account's certificate, then the CA's (PEM).
        public let chain: String
    }

    /// Makes a P-256 key at `keyFile` (0600), has the gateway sign a CSR for the account, and
    /// writes the chain to `certificateFile` (0644: a certificate is public).
    public func request(keyFile: String, certificateFile: String) async throws(XMPPClientError) -> Issued {
        let key = P256.Signing.PrivateKey()
        let pem: String
        do {
            let csr = try CertificateSigningRequest(
                version: .v1, subject: try DistinguishedName { CommonName(client.options.jid.description) },
                privateKey: Certificate.PrivateKey(key), attributes: CertificateSigningRequest.Attributes(),
                signatureAlgorithm: .ecdsaWithSHA256)
            pem = try csr.serializeAsPEM().pemString
        } catch {
            throw .protocolViolation("cannot make the CSR: \(error)")
        }
        try Self.write(key.pemRepresentation + "\n", to: keyFile, mode: 0o600)
        guard let answer = try await client.request("set", XMLElement("csr", namespace: ClientNamespace.pki, text: pem)),
              answer.name == "certificate", answer.text.contains("BEGIN CERTIFICATE") else {
            throw .protocolViolation("the CSR's answer carries no certificate")
        }
        try Self.write(answer.text.hasSuffix("\n") ? answer.text : answer.text + "\n", to: certificateFile, mode: 0o644)
        return Issued(serial: answer[attribute: "serial"] ?? "", ledgerIndex: answer[attribute: "ledger-index"] ?? "", chain: answer.text)
    }

    static func write(_ text: String, to path: String, mode: mode_t) throws(XMPPClientError) {
        let fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, mode)
        guard fd >= 0 else { throw .protocolViolation("cannot write \(path): \(systemErrorText(errno))") }
        defer { close(fd) }
        _ = fchmod(fd, mode)
        let bytes = Array(text.utf8)
        guard bytes.withUnsafeBytes({ Glibc.write(fd, $0.baseAddress, $0.count) }) == bytes.count else {
            throw .protocolViolation("cannot write \(path): \(systemErrorText(errno))")
        }
    }
}
