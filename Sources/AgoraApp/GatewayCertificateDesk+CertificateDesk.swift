public import AgoraCore
internal import AgoraPKI
internal import AgoraMarket
public import AgoraServices
internal import SwiftASN1
internal import X509

/// The CA behind `urn:agora:pki:1`: an account's CSR for itself is signed by the gateway
/// (the ledger's actor; the entry's subject names the account) once the policy has checked
/// that it names only that account; anyone may fetch the CA certificate and the CRL.
extension GatewayCertificateDesk: CertificateDesk {
    /// An account holds one good certificate at a time (`ca.user_certificate_exists`): with
    /// `replace` the one it held is revoked (superseded) in the transaction that records the
    /// new one; with `refuse` the request is refused while one is good.
    public func signCSR(_ csr: [UInt8], for account: BareJID) async throws -> (chainPEM: String, serial: String, ledgerIndex: UInt64) {
        let held: Market.HeldCertificates = gateway.configuration.userCertificateExists == .refuse ? .refuse : .supersede
        let issued = try await sign(csr: csr, for: .user(account), actor: .gateway, held: held)
        return (issued.chainPEM, issued.serial, issued.ledgerIndex)
    }

    public func authorityPEM() throws -> String {
        try authority.certificate.serializeAsPEM().pemString + "\n"
    }

    public func revocationList() async throws -> [UInt8] {
        try await currentCRL()
    }
}
