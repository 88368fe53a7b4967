import AgoraCore
import AgoraPKI
import Foundation
import Testing
import X509

/// Certificates and CRLs from `CertificateAuthority`, judged by OpenSSL.
@Suite struct CertificateAuthorityInteropTests {
    let now = try! Timestamp(rfc3339: "2026-11-22T10:00:00Z")

    @Test(arguments: ["ec:P-256", "ec:P-384", "ed25519", "rsa:2048"])
    func sensorCSRFromOpenSSLIsSignedAndPassesOpenSSLVerify(_ keyType: String) throws {
        let peer = try OpenSSLPeer()
        defer { peer.close() }
        let ca = try CertificateAuthority.create(name: "gw1", now: Timestamp.now())
        let caPath = try peer.write(ca.certificate, as: "ca.pem")
        let identity = try CertificateIdentity(parsing: "sensor:air-7")
        let csr = try peer.request(key: keyType, subject: "/CN=air-7", addext: ["subjectAltName=URI:urn:agora:sensor:air-7"], name: "s")
        let request = try CSRPolicy.check(csr, for: identity)
        let certificate = try ca.issue(request, for: identity, days: 365, now: Timestamp.now())
        let path = try peer.write(certificate, as: "sensor.pem")

        let verified = try peer.openssl(["verify", "-CAfile", caPath, path])
        #expect(verified.status == 0, "\(verified.stdout) \(verified.stderr)")
        let text = try peer.openssl(["x509", "-in", path, "-noout", "-text"]).stdout
        #expect(text.contains("URI:urn:agora:sensor:air-7"))
        #expect(text.contains("CN = air-7"))
        #expect(text.contains("TLS Web Client Authentication"))
        #expect(text.contains("Digital Signature"))
        #expect(text.contains("CA:FALSE"))
        // 128 random bits: a 16-byte magnitude.
        #expect(certificate.serialNumber.bytes.count == 16)
    }

    @Test func userCSRGetsAnXmppAddrOtherName() throws {
        let peer = try OpenSSLPeer()
        defer { peer.close() }
        let ca = try CertificateAuthority.create(name: "gw1", now: Timestamp.now())
        let caPath = try peer.write(ca.certificate, as: "ca.pem")
        let identity = try CertificateIdentity(parsing: "alice@gw1.example")
        let csr = try peer.request(key: "ec:P-256", subject: "/CN=alice@gw1.example",
                                   addext: ["subjectAltName=otherName:1.3.6.1.5.5.7.8.5;UTF8:alice@gw1.example"], name: "u")
        let certificate = try ca.issue(try CSRPolicy.check(csr, for: identity), for: identity, days: 90, now: Timestamp.now())
        let path = try peer.write(certificate, as: "user.pem")
        #expect(try peer.openssl(["verify", "-CAfile", caPath, path]).status == 0)
        let text = try peer.openssl(["x509", "-in", path, "-noout", "-text"]).stdout
        #expect(text.contains("alice@gw1.example"))
        #expect(text.lowercased().contains("othername"))
        // The validity is the profile's, not the CSR's.
        let days = (certificate.notValidAfter.timeIntervalSince(certificate.notValidBefore) / 86_400).rounded()
        #expect(days == 90)
    }

    @Test func serverProfileCarriesDNSNamesAndServerAuth() throws {
        let peer = try OpenSSLPeer()
        defer { peer.close() }
        let ca = try CertificateAuthority.create(name: "gw1", now: Timestamp.now())
        let caPath = try peer.write(ca.certificate, as: "ca.pem")
        let key = Certificate.PrivateKey(P256Key.make())
        let certificate = try ca.serverCertificate(dnsNames: ["gw1.example", "localhost"], publicKey: key.publicKey, days: 365, now: Timestamp.now())
        let path = try peer.write(certificate, as: "server.pem")
        #expect(try peer.openssl(["verify", "-CAfile", caPath, "-purpose", "sslserver", path]).status == 0)
        let text = try peer.openssl(["x509", "-in", path, "-noout", "-text"]).stdout
        #expect(text.contains("DNS:gw1.example, DNS:localhost"))
        #expect(text.contains("TLS Web Server Authentication"))
    }

    /// A broker reached as 127.0.0.1 or ::1: clients that check the address against the
    /// certificate (OpenSSL -verify_ip, Python's ssl) need iPAddress names, not dNSNames.
    @Test func addressLiteralsBecomeIPAddressNamesThatOpenSSLAccepts() throws {
        let peer = try OpenSSLPeer()
        defer { peer.close() }
        let ca = try CertificateAuthority.create(name: "gw1", now: Timestamp.now())
        let caPath = try peer.write(ca.certificate, as: "ca.pem")
        let key = Certificate.PrivateKey(P256Key.make())
        let certificate = try ca.serverCertificate(dnsNames: ["127.0.0.1", "gw1.example", "::1"], publicKey: key.publicKey, days: 365, now: Timestamp.now())
        let path = try peer.write(certificate, as: "server.pem")
        #expect(try peer.openssl(["verify", "-CAfile", caPath, "-verify_ip", "127.0.0.1", path]).status == 0)
        #expect(try peer.openssl(["verify", "-CAfile", caPath, "-verify_ip", "::1", path]).status == 0)
        #expect(try peer.openssl(["verify", "-CAfile", caPath, "-verify_hostname", "gw1.example", path]).status == 0)
        #expect(try peer.openssl(["verify", "-CAfile", caPath, "-verify_ip", "127.0.0.2", path]).status != 0)
        let text = try peer.openssl(["x509", "-in", path, "-noout", "-text"]).stdout
        #expect(text.contains("IP Address:127.0.0.1") && !text.contains("DNS:127.0.0.1"))
    }

    @Test(arguments: 0..<4)
    func revokedCertificateIsRefusedByOpenSSLWithTheCRL(_ attempt: Int) throws {
        // Several rounds: half of all serials have their top bit set and need a 0x00 in the CRL.
        let peer = try OpenSSLPeer()
        defer { peer.close() }
        let ca = try CertificateAuthority.create(name: "gw1", now: Timestamp.now())
        let caPath = try peer.write(ca.certificate, as: "ca.pem")
        let identity = try CertificateIdentity(parsing: "sensor:s1")
        let csr = try peer.request(key: "ec:P-256", subject: "/CN=s1", name: "s1")
        let revoked = try ca.issue(try CSRPolicy.check(csr, for: identity), for: identity, days: 365, now: Timestamp.now())
        let kept = try ca.issue(try CSRPolicy.check(csr, for: identity), for: identity, days: 365, now: Timestamp.now())
        let revokedPath = try peer.write(revoked, as: "revoked.pem"), keptPath = try peer.write(kept, as: "kept.pem")

        let empty = try ca.revocationList(revoked: [], number: 1, now: Timestamp.now(), nextUpdate: Timestamp.now().adding(days: 7))
        let emptyPath = try peer.writePEM(empty, discriminator: "X509 CRL", as: "empty.crl")
        #expect(try peer.openssl(["verify", "-crl_check", "-CAfile", caPath, "-CRLfile", emptyPath, revokedPath]).status == 0)

        let crl = try ca.revocationList(revoked: [RevokedCertificate(serial: Array(revoked.serialNumber.bytes), revoked: Timestamp.now(), reason: .keyCompromise),
                                                  RevokedCertificate(serial: [0x01, 0x02], revoked: Timestamp.now(), reason: .unspecified)],
                                        number: 2, now: Timestamp.now(), nextUpdate: Timestamp.now().adding(days: 7))
        let crlPath = try peer.writePEM(crl, discriminator: "X509 CRL", as: "agora.crl")
        let parsed = try peer.openssl(["crl", "-in", crlPath, "-noout", "-text", "-CAfile", caPath])
        #expect(parsed.status == 0, "\(parsed.stderr)")
        #expect(parsed.stdout.contains("Key Compromise"))
        // RFC 5280 §5.3.1: no reasonCode extension for unspecified — one reason in the list.
        #expect(parsed.stdout.components(separatedBy: "CRL Reason Code").count == 2)
        #expect(parsed.stdout.contains("X509v3 CRL Number"))
        #expect(parsed.stderr.contains("verify OK"), "the CRL's signature does not verify against the CA")
        let refused = try peer.openssl(["verify", "-crl_check", "-CAfile", caPath, "-CRLfile", crlPath, revokedPath])
        #expect(refused.status != 0)
        #expect((refused.stdout + refused.stderr).contains("certificate revoked"))
        #expect(try peer.openssl(["verify", "-crl_check", "-CAfile", caPath, "-CRLfile", crlPath, keptPath]).status == 0)
    }
}

import Crypto
enum P256Key { static func make() -> P256.Signing.PrivateKey { P256.Signing.PrivateKey() } }
