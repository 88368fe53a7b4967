@testable import AgoraApp
import AgoraCore
import AgoraPKI
import AgoraTestSupport
import Crypto
import Foundation
import Testing

@Suite struct CertificateServiceTests {
    @Test func aCertificateSignedByACAReplacedMeanwhileIsNotRecorded() async throws {
        let dir = try TemporaryDirectory("agora-service")
        defer { dir.remove() }
        var configuration = AgoraConfiguration(stateDirectory: dir.file("state"))
        configuration.writer = .init(maxBatch: 64, window: .zero, quietGap: .zero)
        _ = try await Gateway.initialize(configuration, domain: "gw1.example", name: nil, environment: [:], logger: testLogger())
        let gateway = try Gateway.open(configuration, environment: [:], logger: testLogger())
        let stale = try GatewayCertificateDesk(gateway: gateway)
        // Meanwhile the operator adopts the city's root (nothing issued yet, so it is allowed).
        let city = try CertificateAuthority.create(name: "City", now: .now())
        let keyPEM = try P256.Signing.PrivateKey(rawRepresentation: city.sealableKey).pemRepresentation
        _ = try await GatewayCertificateDesk.importAuthority(certificatePEM: try city.certificate.serializeAsPEM().pemString,
                                                         keyPEM: keyPEM, into: gateway, actor: .operator)
        let peer = try runProcess("/usr/bin/openssl", ["req", "-new", "-nodes", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256",
                                                       "-keyout", dir.file("s.key"), "-out", dir.file("s.csr"), "-subj", "/CN=s1"])
        #expect(peer.status == 0)
        let csr = Array(try Data(contentsOf: URL(fileURLWithPath: dir.file("s.csr"))))
        await #expect(throws: CertificateRefusal.self) {
            _ = try await stale.sign(csr: csr, for: try CertificateIdentity(parsing: "sensor:s1"), actor: .operator)
        }
        #expect(try gateway.market.read { try $0.certificates() }.isEmpty)
        // A service loaded now signs with the adopted CA.
        let issued = try await GatewayCertificateDesk(gateway: gateway).sign(csr: csr, for: try CertificateIdentity(parsing: "sensor:s1"), actor: .operator)
        #expect(issued.certificate.issuer == city.certificate.subject)
        await gateway.close()
    }
}
