import AgoraCore
import AgoraPKI
import SwiftASN1
import X509

/// `csr`: the bytes are a certificate request as `agora ca sign`, the pairing service and
/// the XMPP PKI service receive it (PEM or DER).
///
/// Invariants: no crash; the policy either refuses or returns a request whose key it
/// accepts; an accepted request is signable for that identity, and the certificate issued
/// carries the request's key, parses back, and verifies under the CA.
final class CSRTarget: Sendable {
    static let shared = CSRTarget()

    let authority: CertificateAuthority
    let identities: [CertificateIdentity]
    let now: Timestamp

    init() {
        now = try! Timestamp(seconds: 1_795_341_600)
        authority = try! CertificateAuthority.create(name: "fuzz", now: now)
        identities = [.sensor(try! SensorID("air-1")), .user(try! BareJID("alice@fuzz.example"))]
    }

    func run(_ input: UnsafeRawBufferPointer) -> [String] {
        let bytes = Array(input)
        var problems: [String] = []
        for identity in identities {
            guard let request = try? CSRPolicy.check(bytes, for: identity) else { continue }
            do {
                let certificate = try authority.issue(request, for: identity, days: 365, now: now)
                if certificate.publicKey != request.publicKey { problems.append("the certificate for \(identity) does not carry the request's key") }
                var serializer = DER.Serializer()
                try serializer.serialize(certificate)
                let back = try Certificate(derEncoded: serializer.serializedBytes)
                if back != certificate { problems.append("the certificate for \(identity) does not parse back as itself") }
                if !authority.certificate.publicKey.isValidSignature(certificate.signature, for: certificate) {
                    problems.append("the certificate for \(identity) does not verify under the CA")
                }
            } catch {
                problems.append("a request the policy accepted for \(identity) could not be signed: \(error)")
            }
        }
        return problems
    }
}
