internal import SwiftASN1
internal import X509

/// Whether a peer server's certificate names a domain, as XEP-0178 §3 and RFC 6125 §6.4 ask:
/// an `id-on-xmppAddr` otherName equal to the domain, or a DNS SAN equal to it or a
/// wildcard covering exactly its left-most label. The common name is not consulted when
/// SANs are present (RFC 6125 §6.4.4), and never for wildcards.
///
/// The chain itself is checked by NIOSSL against the configured trust anchors before this
/// runs; this answers only "for which domain", which TLS libraries leave to the caller on
/// the accepting side.
enum PeerCertificateIdentity {
    /// id-on-xmppAddr, RFC 6120 §13.7.1.4.
    static let xmppAddrOID: ASN1ObjectIdentifier = [1, 3, 6, 1, 5, 5, 7, 8, 5]

    /// Whether the DER certificate `der` names `domain` (lower-case ASCII).
    static func names(_ der: [UInt8], domain: String) -> Bool {
        guard let certificate = try? Certificate(derEncoded: der) else { return false }
        guard let names = try? certificate.extensions.subjectAlternativeNames, !names.isEmpty else { return false }
        for name in names {
            switch name {
            case .dnsName(let text):
                if matches(pattern: text.lowercased(), domain: domain) { return true }
            case .otherName(let other) where other.typeID == xmppAddrOID:
                if let value = other.value, let text = try? ASN1UTF8String(asn1Any: value), String(text).lowercased() == domain { return true }
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
