@testable import AgoraXMPP
import Foundation
import Testing

/// Dialback keys (XEP-0185), certificate names (RFC 6125 as XEP-0178 applies it), DNS
/// answers and SRV order (RFC 1035, RFC 2782).
struct S2SPiecesTests {
    /// Computed independently, as Prosody's mod_dialback does: HMAC-SHA256 keyed with the hex
    /// of SHA-256(secret), over "receiving originating id" (Python's hmac and hashlib).
    @Test func dialbackKeysAreXEP0185sAndVerifyOnlyForTheirOwnStream() {
        let key = DialbackKey(secret: Array("s3cr3tf0rd14lb4ck".utf8))
        let made = key.make(receiving: "example.net", originating: "example.com", streamID: "D60000229F")
        #expect(made == "008c689ff366b50c63d69a3e2d2c0e0e1f8404b0118eb688a0102c87cb691bdc")
        #expect(key.verify(made, receiving: "example.net", originating: "example.com", streamID: "D60000229F"))
        #expect(key.verify(made.uppercased(), receiving: "example.net", originating: "example.com", streamID: "D60000229F"))
        #expect(!key.verify(made, receiving: "example.net", originating: "example.com", streamID: "D60000229G"))
        #expect(!key.verify(made, receiving: "example.org", originating: "example.com", streamID: "D60000229F"))
        #expect(!DialbackKey(secret: Array("another".utf8)).verify(made, receiving: "example.net", originating: "example.com", streamID: "D60000229F"))
    }

    @Test func wildcardsCoverExactlyOneLeftmostLabel() {
        #expect(PeerCertificateIdentity.matches(pattern: "gw1.city.test", domain: "gw1.city.test"))
        #expect(PeerCertificateIdentity.matches(pattern: "*.city.test", domain: "gw1.city.test"))
        #expect(!PeerCertificateIdentity.matches(pattern: "*.city.test", domain: "city.test"))
        #expect(!PeerCertificateIdentity.matches(pattern: "*.city.test", domain: "a.gw1.city.test"))
        #expect(!PeerCertificateIdentity.matches(pattern: "*.test", domain: "evilcity.test.example"))
        #expect(!PeerCertificateIdentity.matches(pattern: "gw*.city.test", domain: "gw1.city.test"))
    }

    /// A hand-made answer: question _xmpp-server._tcp.city.test SRV, two SRV records whose
    /// targets are compressed pointers and a plain name.
    @Test func srvAnswersAreReadWithCompressionAndOrderedByPriority() {
        var message: [UInt8] = [0x12, 0x34, 0x81, 0x80, 0, 1, 0, 2, 0, 0, 0, 0]
        let questionOffset = message.count
        message += name("_xmpp-server._tcp.city.test") + [0, 33, 0, 1]
        let cityOffset = questionOffset + "_xmpp-server".utf8.count + 1 + "_tcp".utf8.count + 1
        func srv(priority: UInt16, weight: UInt16, port: UInt16, target: [UInt8]) -> [UInt8] {
            let data = bytes(priority) + bytes(weight) + bytes(port) + target
            return [0xC0, UInt8(questionOffset)] + [0, 33, 0, 1, 0, 0, 0, 60] + bytes(UInt16(data.count)) + data
        }
        message += srv(priority: 20, weight: 0, port: 5270, target: name("backup.city.test"))
        message += srv(priority: 10, weight: 5, port: 5269, target: Array("\u{4}xmpp".utf8) + [0xC0, UInt8(cityOffset)])
        let answers = DNSResolver.parseForTests(message)
        #expect(answers.count == 2 && answers.allSatisfy { $0.type == 33 })
        let records = DNSResolver.srvRecords(in: message)
        #expect(records.map(\.target).sorted() == ["backup.city.test", "xmpp.city.test"])
        #expect(DNSResolver.ordered(records).map(\.port) == [5269, 5270])
        // A message cut short, or a pointer loop, yields nothing rather than a crash.
        #expect(DNSResolver.srvRecords(in: Array(message.prefix(message.count - 3))).count == 1)
        var loop = message
        loop[loop.count - 2] = 0xC0
        loop[loop.count - 1] = UInt8(loop.count - 2)
        _ = DNSResolver.srvRecords(in: loop)
    }

    @Test func weightsDecideTheOrderWithinAPriority() {
        let records = [DNSResolver.SRVRecord(priority: 1, weight: 0, port: 1, target: "a"), .init(priority: 1, weight: 100, port: 2, target: "b")]
        // The draw lands past the weightless record: the heavy one goes first.
        #expect(DNSResolver.ordered(records, random: { _ in 50 }).map(\.target) == ["b", "a"])
        #expect(DNSResolver.ordered(records, random: { _ in 0 }).map(\.target) == ["a", "b"])
    }

    func name(_ text: String) -> [UInt8] {
        text.split(separator: ".").flatMap { [UInt8($0.utf8.count)] + Array($0.utf8) } + [0]
    }

    func bytes(_ value: UInt16) -> [UInt8] { [UInt8(value >> 8), UInt8(value & 0xFF)] }
}

/// Dialback verification never connects to a domain written as an address.
struct S2SAddressDomainTests {
    @Test func numericDomainsAreAddressesAndNamesAreNot() {
        #expect(S2SFederation.isAddressLiteral("10.0.0.5"))
        #expect(S2SFederation.isAddressLiteral("127.0.0.1"))
        #expect(!S2SFederation.isAddressLiteral("gw1.test"))
        #expect(!S2SFederation.isAddressLiteral("10.0.0.example"))
    }
}
