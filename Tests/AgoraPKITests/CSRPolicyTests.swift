import AgoraCore
import AgoraPKI
import Foundation
import Testing

/// Every refusal the policy owes: one line, the right reason, nothing signed.
@Suite struct CSRPolicyTests {
    let sensor = try! CertificateIdentity(parsing: "sensor:air-7")

    func refusal(_ input: [UInt8], for identity: CertificateIdentity) -> CertificateRefusal? {
        do {
            _ = try CSRPolicy.check(input, for: identity)
            return nil
        } catch {
            #expect(!error.description.contains("\n"))
            return error
        }
    }

    @Test func aSignatureAlteredByOneByteIsRefused() throws {
        let peer = try OpenSSLPeer()
        defer { peer.close() }
        _ = try peer.request(key: "ec:P-256", subject: "/CN=air-7", name: "s")
        let der = Array(try peer.openssl(["req", "-in", peer.dir.file("s.csr"), "-outform", "DER", "-out", peer.dir.file("s.der")]).status == 0
                        ? try Data(contentsOf: URL(fileURLWithPath: peer.dir.file("s.der"))) : Data())
        #expect((try? CSRPolicy.check(der, for: sensor)) != nil)
        // The signature BIT STRING is the DER's tail: flip a byte inside the ECDSA r value.
        var altered = der
        altered[der.count - 10] ^= 0x01
        #expect(refusal(altered, for: sensor)?.code == .badSignature)
    }

    @Test func aCommonNameOrAlternativeNameForAnotherIdentityIsRefused() throws {
        let peer = try OpenSSLPeer()
        defer { peer.close() }
        let otherCN = try peer.request(key: "ec:P-256", subject: "/CN=air-8", name: "a")
        #expect(refusal(otherCN, for: sensor)?.code == .wrongIdentity)
        let otherSAN = try peer.request(key: "ec:P-256", subject: "/CN=air-7", addext: ["subjectAltName=URI:urn:agora:sensor:air-8"], name: "b")
        #expect(refusal(otherSAN, for: sensor)?.code == .wrongIdentity)
        let dnsSAN = try peer.request(key: "ec:P-256", subject: "/CN=air-7", addext: ["subjectAltName=DNS:bank.example"], name: "c")
        #expect(refusal(dnsSAN, for: sensor)?.code == .wrongIdentity)
        let user = try CertificateIdentity(parsing: "alice@gw1.example")
        let otherJID = try peer.request(key: "ec:P-256", subject: "/CN=alice@gw1.example",
                                        addext: ["subjectAltName=otherName:1.3.6.1.5.5.7.8.5;UTF8:mallory@gw1.example"], name: "d")
        #expect(refusal(otherJID, for: user)?.code == .wrongIdentity)
    }

    @Test func weakAndUnsupportedKeysAreRefused() throws {
        let peer = try OpenSSLPeer()
        defer { peer.close() }
        let rsa1024 = try peer.request(key: "rsa:1024", subject: "/CN=air-7", name: "r")
        let code = refusal(rsa1024, for: sensor)?.code
        #expect(code == .weakKey || code == .malformed, "RSA-1024 must be refused (\(String(describing: code)))")
        let p521 = try peer.request(key: "ec:P-521", subject: "/CN=air-7", name: "p")
        #expect(refusal(p521, for: sensor) != nil)
    }

    @Test func oversizedGarbageAndEveryTruncationAreRefused() throws {
        let peer = try OpenSSLPeer()
        defer { peer.close() }
        #expect(refusal([UInt8](repeating: 0x30, count: 9 * 1024), for: sensor)?.code == .tooLarge)
        #expect(refusal(Array("-----BEGIN CERTIFICATE REQUEST-----\nnot base64 at all\n-----END CERTIFICATE REQUEST-----\n".utf8), for: sensor)?.code == .malformed)
        #expect(refusal(Array("hello".utf8), for: sensor)?.code == .malformed)
        #expect(refusal([], for: sensor)?.code == .malformed)
        _ = try peer.request(key: "ec:P-256", subject: "/CN=air-7", name: "t")
        #expect(try peer.openssl(["req", "-in", peer.dir.file("t.csr"), "-outform", "DER", "-out", peer.dir.file("t.der")]).status == 0)
        let der = Array(try Data(contentsOf: URL(fileURLWithPath: peer.dir.file("t.der"))))
        var accepted: [Int] = []
        for length in 0..<der.count where (try? CSRPolicy.check(Array(der[0..<length]), for: sensor)) != nil {
            accepted.append(length)
        }
        #expect(accepted.isEmpty, "truncations accepted at lengths \(accepted)")
    }

    @Test func unknownCriticalExtensionsAndCARequestsAreRefused() throws {
        let peer = try OpenSSLPeer()
        defer { peer.close() }
        let critical = try peer.request(key: "ec:P-256", subject: "/CN=air-7", addext: ["1.3.6.1.4.1.99999.1=critical,DER:05:00"], name: "x")
        #expect(refusal(critical, for: sensor)?.code == .unknownCriticalExtension)
        let harmless = try peer.request(key: "ec:P-256", subject: "/CN=air-7", addext: ["1.3.6.1.4.1.99999.1=DER:05:00"], name: "y")
        #expect(refusal(harmless, for: sensor) == nil)
        let ca = try peer.request(key: "ec:P-256", subject: "/CN=air-7", addext: ["basicConstraints=critical,CA:TRUE"], name: "z")
        #expect(refusal(ca, for: sensor)?.code == .requestsCA)
    }
}
