public import AgoraCore

/// The certificate authority as the XMPP services need it. AgoraApp's `GatewayCertificateDesk`
/// provides it (it holds the CA key, which stays out of this target).
public protocol CertificateDesk: Sendable {
    /// Checks `csr` (PEM or DER) against the signing policy for `account`, signs it, records the
    /// `cert.issue` entry; returns the PEM chain (leaf, then CA), the serial and the entry index.
    func signCSR(_ csr: [UInt8], for account: BareJID) async throws -> (chainPEM: String, serial: String, ledgerIndex: UInt64)
    /// The CA certificate, PEM.
    func authorityPEM() throws -> String
    /// The current CRL, DER.
    func revocationList() async throws -> [UInt8]
}
