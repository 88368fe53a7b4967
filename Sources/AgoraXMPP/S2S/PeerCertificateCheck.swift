internal import NIOConcurrencyHelpers
internal import NIOCore
internal import NIOSSL
internal import X509

/// What a server-to-server peer's TLS certificate proved: checked in NIOSSL's custom
/// verification callback against the configured trust anchors (RFC 5280 path validation
/// by swift-certificates), then read by the connection once the handshake is done.
///
/// The handshake is accepted whatever the outcome: a peer whose certificate does not chain
/// can still authenticate by dialback (XEP-0220), which it could not if TLS refused it. What
/// the certificate proves decides only whether SASL EXTERNAL (XEP-0178) can succeed; with
/// `s2s.require_certificates`, it is also the only way in.
final class PeerCertificateCheck: Sendable {
    struct Outcome: Sendable {
        /// The leaf, DER, when its chain validated against the trust anchors.
        var trustedLeaf: [UInt8]?
    }

    private let outcome = NIOLockedValueBox(Outcome())

    /// The leaf certificate, if it chained to a trust anchor.
    var trustedLeaf: [UInt8]? { outcome.withLockedValue { $0.trustedLeaf } }

    /// The NIOSSL callback for one connection: validates off the event loop (the verifier is
    /// async), then lets the handshake go on — unless `required` names the domain the
    /// certificate must chain and be issued to (outbound, with `s2s.require_certificates`).
    static func callback(trust: CertificateStore?, recordingInto check: PeerCertificateCheck, required domain: String? = nil) -> NIOSSLCustomVerificationCallback {
        { chain, promise in
            let refusal: NIOSSLVerificationResult = domain == nil ? .certificateVerified : .failed
            guard let trust, let leafDER = try? chain.first?.toDERBytes(), let leaf = try? Certificate(derEncoded: leafDER) else {
                promise.succeed(refusal)
                return
            }
            // At most 5 intermediates: path building over a crafted bag of them costs CPU.
            let intermediates = CertificateStore(chain.dropFirst().prefix(5).compactMap { try? Certificate(derEncoded: $0.toDERBytes()) })
            promise.completeWithTask {
                var verifier = Verifier(rootCertificates: trust) { RFC5280Policy() }
                guard case .validCertificate = await verifier.validate(leaf: leaf, intermediates: intermediates) else { return refusal }
                check.outcome.withLockedValue { $0.trustedLeaf = leafDER }
                if let domain, !PeerCertificateIdentity.names(leafDER, domain: domain) { return .failed }
                return .certificateVerified
            }
        }
    }
}
