@testable import AgoraXMPP
import Foundation
import Testing

/// SCRAM against the published test vectors: RFC 7677 §3 (SHA-256) and RFC 5802 §5 (SHA-1).
struct SCRAMTests {
    struct Vector: Sendable {
        let hash: SCRAMHash
        let clientFirst: String
        let serverNonce: String
        let salt: String
        let serverFirst: String
        let clientFinal: String
        let serverFinal: String
    }

    static let vectors = [
        Vector(hash: .sha256, clientFirst: "n,,n=user,r=rOprNGfwEbeRWgbNEkqO", serverNonce: "%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0",
               salt: "W22ZaJ0SNY7soEsUEjb6gQ==",
               serverFirst: "r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096",
               clientFinal: "c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=",
               serverFinal: "v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4="),
        Vector(hash: .sha1, clientFirst: "n,,n=user,r=fyko+d2lbbFgONRv9qkxdawL", serverNonce: "3rfcNHYJY1ZVvWVs7j",
               salt: "QSXCR+Q6sek8bf92",
               serverFirst: "r=fyko+d2lbbFgONRv9qkxdawL3rfcNHYJY1ZVvWVs7j,s=QSXCR+Q6sek8bf92,i=4096",
               clientFinal: "c=biws,r=fyko+d2lbbFgONRv9qkxdawL3rfcNHYJY1ZVvWVs7j,p=v0X8v3Bz2T0CJGbJQyF0X+HI4Ts=",
               serverFinal: "v=rmF9pqV8S7suAoZWja4dJRkFsKQ="),
    ]

    func keys(_ vector: Vector) throws -> SCRAMKeys {
        try SCRAMKeys.derive(password: "pencil", hash: vector.hash, salt: Array(Data(base64Encoded: vector.salt)!), iterations: 4096)
    }

    @Test(arguments: vectors)
    func theServerSideOfTheRFCExchangeMatchesByteForByte(_ vector: Vector) throws {
        let keys = try keys(vector)
        var server = SCRAMServer(hash: vector.hash, serverNonce: vector.serverNonce)
        let (username, first) = try server.start(Array(vector.clientFirst.utf8)) { $0 == "user" ? keys : nil }
        #expect(username == "user")
        #expect(String(decoding: first, as: UTF8.self) == vector.serverFirst)
        let (_, final) = try server.finish(Array(vector.clientFinal.utf8))
        #expect(String(decoding: final, as: UTF8.self) == vector.serverFinal)
    }

    @Test(arguments: vectors)
    func aWrongProofIsNotAuthorized(_ vector: Vector) throws {
        let keys = try SCRAMKeys.derive(password: "pencil2", hash: vector.hash, salt: Array(Data(base64Encoded: vector.salt)!), iterations: 4096)
        var server = SCRAMServer(hash: vector.hash, serverNonce: vector.serverNonce)
        _ = try server.start(Array(vector.clientFirst.utf8)) { _ in keys }
        #expect(throws: SASLFailure(.notAuthorized, "wrong password")) { try server.finish(Array(vector.clientFinal.utf8)) }
    }

    @Test func anUnknownUserGetsAPlausibleChallengeAndFailsOnlyAtTheProof() throws {
        var server = SCRAMServer(hash: .sha256, serverNonce: "n")
        let (_, first) = try server.start(Array("n,,n=nobody,r=abc".utf8)) { _ in nil }
        let text = String(decoding: first, as: UTF8.self)
        #expect(text.hasPrefix("r=abcn,s=") && text.hasSuffix(",i=4096"))
        var again = SCRAMServer(hash: .sha256, serverNonce: "n")
        #expect(try again.start(Array("n,,n=nobody,r=abc".utf8)) { _ in nil }.reply == first)  // a stable decoy salt
        let proof = Data(repeating: 1, count: 32).base64EncodedString()
        #expect(throws: SASLFailure.self) { try server.finish(Array("c=biws,r=abcn,p=\(proof)".utf8)) }
    }

    @Test func channelBindingAndBadEscapesAreMalformed() {
        var server = SCRAMServer(hash: .sha256)
        #expect(throws: SASLFailure.self) { try server.start(Array("p=tls-unique,,n=user,r=abc".utf8)) { _ in nil } }
        var other = SCRAMServer(hash: .sha256)
        #expect(throws: SASLFailure.self) { try other.start(Array("n,,n=us=er,r=abc".utf8)) { _ in nil } }
    }

    @Test func usernamesAreUnescaped() throws {
        #expect(try SCRAMServer.decodeSASLName("a=2Cb=3Dc") == "a,b=c")
    }

    @Test func credentialsRoundTripAndPlainChecksThePassword() throws {
        let credentials = try SCRAMCredentials.derive(password: "correct horse")
        #expect(SCRAMCredentials(decoding: credentials.encoded) == credentials)
        #expect(SCRAMCredentials(decoding: Array(credentials.encoded.dropLast())) == nil)
        #expect(credentials.sha256.matches(password: "correct horse"))
        #expect(!credentials.sha256.matches(password: "correct horse!"))
        #expect(credentials.sha256.iterations >= 4096 && credentials.sha1.salt != credentials.sha256.salt)
    }
}

/// `SCRAMClient` (what `agora client` logs in with) against the same vectors, and a server
/// that does not know the password.
struct SCRAMClientTests {
    @Test(arguments: SCRAMTests.vectors)
    func theClientSideOfTheRFCExchangeMatchesByteForByte(_ vector: SCRAMTests.Vector) throws {
        let clientNonce = String(vector.clientFirst.split(separator: "=").last!)
        var client = SCRAMClient(hash: vector.hash, username: "user", password: "pencil", nonce: clientNonce)
        #expect(String(decoding: client.first(), as: UTF8.self) == vector.clientFirst)
        #expect(String(decoding: try client.final(Array(vector.serverFirst.utf8)), as: UTF8.self) == vector.clientFinal)
        try client.verify(Array(vector.serverFinal.utf8))
    }

    @Test func aServerWithoutTheKeysCannotFakeSuccessNorCutTheIterations() throws {
        let vector = SCRAMTests.vectors[0]
        let clientNonce = String(vector.clientFirst.split(separator: "=").last!)
        var client = SCRAMClient(hash: .sha256, username: "user", password: "pencil", nonce: clientNonce)
        _ = client.first()
        _ = try client.final(Array(vector.serverFirst.utf8))
        #expect(throws: SASLFailure.self) { try client.verify(Array("v=AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=".utf8)) }

        var cheap = SCRAMClient(hash: .sha256, username: "user", password: "pencil", nonce: clientNonce)
        _ = cheap.first()
        let weak = vector.serverFirst.replacingOccurrences(of: "i=4096", with: "i=1")
        #expect(throws: SASLFailure.self) { _ = try cheap.final(Array(weak.utf8)) }
        var foreign = SCRAMClient(hash: .sha256, username: "user", password: "pencil", nonce: "mine")
        _ = foreign.first()
        #expect(throws: SASLFailure.self, "a nonce that does not extend the client's") { _ = try foreign.final(Array(vector.serverFirst.utf8)) }
    }
}
