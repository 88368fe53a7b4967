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
        try ca.signingRequest().serializeAsPEM().pemString.write(toFile: csrPath, atomically: true, encoding: .utf8)
        // The request is well formed and asks to be a CA, as OpenSSL reads it.
        let shown = try peer.openssl(["req", "-in", csrPath, "-noout", "-text", "-verify"])
        #expect(shown.status == 0 && shown.stdout.contains("CA:TRUE") && shown.stdout.contains("Certificate Sign"), "\(shown.stdout)\(shown.stderr)")
        try "basicConstraints=critical,CA:TRUE,pathlen:0\nkeyUsage=critical,keyCertSign,cRLSign\nsubjectKeyIdentifier=hash\n"
            .write(toFile: peer.dir.file("ca.ext"), atomically: true, encoding: .utf8)
        let signed = try peer.openssl(["x509", "-req", "-in", csrPath, "-CA", peer.dir.file("root.pem"), "-CAkey", peer.dir.file("root.key"),
                                       "-CAcreateserial", "-days", "2", "-extfile", peer.dir.file("ca.ext"), "-out", peer.dir.file("cross.pem")])
        #expect(signed.status == 0, "\(signed.stderr)")
        let cross = try Certificate(pemEncoded: String(contentsOfFile: peer.dir.file("cross.pem"), encoding: .utf8))
        let recertified = try ca.recertified(by: cross)
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
    }

    @Test func onlyTheCAsOwnNameAndKeyCertifiedBySomeoneElseIsAccepted() throws {
        let now = Timestamp.now()
        let ca = try CertificateAuthority.create(name: "gw1.test", now: now)
        let other = try CertificateAuthority.create(name: "gw2.test", now: now)
        #expect(throws: CertificateRefusal.self) { try ca.recertified(by: ca.certificate) }      // self-signed: not a city's
        #expect(throws: CertificateRefusal.self) { try ca.recertified(by: other.certificate) }   // another CA's name and key
    }
}
