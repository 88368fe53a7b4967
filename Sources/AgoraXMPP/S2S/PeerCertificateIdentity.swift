internal import X509

/// Whether a peer server's certificate names a domain (RFC 6125 §6.4, as XEP-0178 applies
/// it): a DNS SAN equal to it, or a wildcard covering exactly its left-most label. The common
/// name is never consulted. An `id-on-xmppAddr` name is not accepted either: a city root's
/// name constraints (`agora ca csr`) bound DNS names only, so a gateway CA could otherwise
/// certify another gateway's domain as an xmppAddr.
///
/// The chain itself is checked by NIOSSL against the configured trust anchors before this
/// runs; this answers only "for which domain", which TLS libraries leave to the caller on
/// the accepting side.
enum PeerCertificateIdentity {
    /// Whether the DER certificate `der` names `domain` (lower-case ASCII).
    static func names(_ der: [UInt8], domain: String) -> Bool {
        guard let certificate = try? Certificate(derEncoded: der) else { return false }
        guard let names = try? certificate.extensions.subjectAlternativeNames, !names.isEmpty else { return false }
        for name in names {
            switch name {
            case .dnsName(let text):
                if matches(pattern: text.lowercased(), domain: domain) { return true }
            default:
                continue
            }
        }
        return false
    }

    /// RFC 6125 §6.4.3: `*.example.org` covers `a.example.org`, not `example.org` or `a.b.example.org`.
    static func matches(pattern: String, domain: String) -> Bool {
        if pattern == domain { return true }
        guard pattern.hasPrefix("*."), let dot = domain.firstIndex(of: ".") else { return false }
        return domain[domain.index(after: dot)...] == pattern.dropFirst(2) && domain.distance(from: domain.startIndex, to: dot) > 0
    }
}
