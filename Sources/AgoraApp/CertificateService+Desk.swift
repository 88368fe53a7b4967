public import AgoraCore
internal import AgoraPKI
internal import AgoraMarket
public import AgoraServices
internal import SwiftASN1
internal import X509

/// The CA behind `urn:agora:pki:1`: an account's CSR for itself is signed by the gateway
/// (the ledger's actor; the entry's subject names the account) once the policy has checked
/// that it names only that account; anyone may fetch the CA certificate and the CRL.
extension CertificateService: CertificateDesk {
    /// An account holds one good certificate at a time (`ca.user_certificate_exists`): with
    /// `replace` the ones it held are revoked (superseded) once the new one is recorded;
    /// with `refuse` the request is refused while one is good. Either way repeated CSRs
    /// cannot pile up valid certificates for one identity.
    public func signCSR(_ csr: [UInt8], for account: BareJID) async throws -> (chainPEM: String, serial: String, ledgerIndex: UInt64) {
        let subject = CertificateIdentity.user(account).description
        let now = Timestamp.now()
        let held = try gateway.market.read { try $0.certificates() }
            .filter { $0.issue.subject == subject && !$0.revoked && $0.issue.notAfter > now }.map(\.issue.serial)
        if !held.isEmpty, gateway.configuration.userCertificateExists == .refuse {
            throw CertificateRefusal.alreadyHeld(subject, serial: held[0])
        }
        let issued = try await sign(csr: csr, for: .user(account), actor: .gateway)
        for serial in held {
            do { _ = try await revoke(serial: serial, reason: .superseded, actor: .account(account)) } catch let refusal as MarketRefusal where refusal.code == .nothingToChange {
                continue  // revoked meanwhile
            }
        }
        return (issued.chainPEM, issued.serial, issued.ledgerIndex)
    }

    public func authorityPEM() throws -> String {
        try authority.certificate.serializeAsPEM().pemString + "\n"
    }

    public func revocationList() async throws -> [UInt8] {
        try await currentCRL()
    }
}
