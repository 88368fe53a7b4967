import AgoraCore
import AgoraPKI
import Crypto
import Foundation
import Testing
import X509

/// A gateway CA certified by a city root (issue 19): OpenSSL plays the city, signs the CA's
/// own CSR, and then judges that a server certificate the gateway CA issues chains to the root
/// through that cross-certificate, while the self-signed CA still anchors it on its own.
struct CityRootTests {
    @Test func aCACertifiedByTheCityRootIssuesCertificatesThatChainToTheRoot() throws {
        let peer = try OpenSSLPeer()
        defer { peer.close() }
        let now = Timestamp.now()
        let ca = try CertificateAuthority.create(name: "gw1.test", now: now)
        // The city: a root of its own.
        try peer.openssl(["req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-days", "2", "-subj", "/CN=City Root",
                          "-keyout", peer.dir.file("root.key"), "-out", peer.dir.file("root.pem"),
                          "-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign,cRLSign"])
        let csrPath = peer.dir.file("ca.csr")
        try ca.signingRequest(domain: "gw1.test").serializeAsPEM().pemString.write(toFile: csrPath, atomically: true, encoding: .utf8)
        // The request is well formed, asks to be a CA and to be bound to its domain, as OpenSSL reads it.
        let shown = try peer.openssl(["req", "-in", csrPath, "-noout", "-text", "-verify"])
        #expect(shown.status == 0 && shown.stdout.contains("CA:TRUE") && shown.stdout.contains("Certificate Sign")
                && shown.stdout.contains("DNS:gw1.test"), "\(shown.stdout)\(shown.stderr)")
        func sign(_ extensions: String, as name: String) throws -> Certificate {
            try extensions.write(toFile: peer.dir.file(name + ".ext"), atomically: true, encoding: .utf8)
            let signed = try peer.openssl(["x509", "-req", "-in", csrPath, "-CA", peer.dir.file("root.pem"), "-CAkey", peer.dir.file("root.key"),
                                           "-CAcreateserial", "-days", "2", "-extfile", peer.dir.file(name + ".ext"), "-out", peer.dir.file(name + ".pem")])
            #expect(signed.status == 0, "\(signed.stderr)")
            return try Certificate(pemEncoded: String(contentsOfFile: peer.dir.file(name + ".pem"), encoding: .utf8))
        }
        let base = "basicConstraints=critical,CA:TRUE,pathlen:0\nkeyUsage=critical,keyCertSign,cRLSign\nsubjectKeyIdentifier=hash\n"
        // Signed outside the expectations: a failing openssl must not pass for a refusal.
        let open = try sign(base, as: "open")
        let elsewhere = try sign(base + "nameConstraints=critical,permitted;DNS:gw2.test\n", as: "elsewhere")
        // Without a name constraint the CA could certify any gateway of the city: refused.
        #expect(throws: CertificateRefusal.self) { try ca.recertified(by: open, domain: "gw1.test") }
        // Constrained to another gateway's domain: refused too.
        #expect(throws: CertificateRefusal.self) { try ca.recertified(by: elsewhere, domain: "gw1.test") }
        let cross = try sign(base + "nameConstraints=critical,permitted;DNS:gw1.test\n", as: "cross")
        let recertified = try ca.recertified(by: cross, domain: "gw1.test")
        #expect(recertified.certificate.issuer != recertified.certificate.subject)

        // A server certificate issued afterwards (or before: same key and name) chains to the root…
        let server = try ca.serverCertificate(dnsNames: ["gw1.test"], publicKey: Certificate.PublicKey(P256Key.make().publicKey), days: 30, now: now)
        let serverPath = try peer.write(server, as: "server.pem")
        let viaCity = try peer.openssl(["verify", "-CAfile", peer.dir.file("root.pem"), "-untrusted", peer.dir.file("cross.pem"), serverPath])
        #expect(viaCity.status == 0, "\(viaCity.stdout)\(viaCity.stderr)")
        // …and still to the self-signed CA the gateway's own clients trust.
        let caPath = try peer.write(ca.certificate, as: "ca.pem")
        let viaSelf = try peer.openssl(["verify", "-CAfile", caPath, serverPath])
        #expect(viaSelf.status == 0, "\(viaSelf.stdout)\(viaSelf.stderr)")
        // A certificate for another gateway's domain, made with the same CA key, fails under the root.
        let forged = try ca.serverCertificate(dnsNames: ["gw2.test"], publicKey: Certificate.PublicKey(P256Key.make().publicKey), days: 30, now: now)
        let forgedPath = try peer.write(forged, as: "forged.pem")
        let refused = try peer.openssl(["verify", "-CAfile", peer.dir.file("root.pem"), "-untrusted", peer.dir.file("cross.pem"), forgedPath])
        #expect(refused.status != 0, "a gw2.test certificate from gw1's CA verified under the city root: \(refused.stdout)")
    }

    @Test func onlyTheCAsOwnNameAndKeyCertifiedBySomeoneElseIsAccepted() throws {
        let now = Timestamp.now()
        let ca = try CertificateAuthority.create(name: "gw1.test", now: now)
        let other = try CertificateAuthority.create(name: "gw2.test", now: now)
        #expect(throws: CertificateRefusal.self) { try ca.recertified(by: ca.certificate, domain: "gw1.test") }      // self-signed: not a city's
        #expect(throws: CertificateRefusal.self) { try ca.recertified(by: other.certificate, domain: "gw1.test") }   // another CA's name and key
    }
}
