import AgoraCore
import AgoraMarket
import AgoraStore
import Testing

/// One good certificate per account at a time (issue 14, finding 3): superseding revokes the
/// held one in the transaction that records the new one; refusing changes nothing.
@Suite struct HeldCertificateTests {
    func issue(_ serial: String, for jid: BareJID) -> LedgerEntry.CertificateIssue {
        .init(serial: serial, subject: jid.description, fingerprint: String(repeating: "0", count: 64),
              notAfter: try! Timestamp(rfc3339: "2027-11-22T10:00:00Z"), certificate: "AA==")
    }

    func good(_ f: MarketFixture, _ jid: BareJID) throws -> [String] {
        try f.market.read { try $0.certificates() }.filter { $0.issue.subject == jid.description && !$0.revoked }.map(\.issue.serial)
    }

    @Test func aNewCertificateSupersedesTheHeldOneInTheSameTransaction() async throws {
        let f = try await MarketFixture()
        defer { f.close() }
        var revokedIn: [UInt64] = []
        for serial in ["01", "02", "03"] {
            let before = try f.ledgerSize
            _ = try await f.market.recordCertificate(issue(serial, for: f.bob), actor: .gateway, held: .supersede,
                                                     signerIsCurrent: { _ in }, afterRevoking: { _, _ in })
            revokedIn.append(try f.ledgerSize - before)
        }
        // The first held nothing (one entry); each later one is an issue and a revocation.
        #expect(revokedIn == [1, 2, 2])
        #expect(try good(f, f.bob) == ["03"])
        // Another account's certificates are not touched.
        _ = try await f.market.recordCertificate(issue("04", for: f.carol), actor: .gateway, held: .supersede,
                                                 signerIsCurrent: { _ in }, afterRevoking: { _, _ in })
        #expect(try good(f, f.bob) == ["03"] && good(f, f.carol) == ["04"])
    }

    @Test func refusingWhileOneIsHeldChangesNothing() async throws {
        let f = try await MarketFixture()
        defer { f.close() }
        _ = try await f.market.recordCertificate(issue("01", for: f.bob), actor: .gateway, held: .refuse,
                                                 signerIsCurrent: { _ in }, afterRevoking: { _, _ in })
        let before = try f.snapshot()
        await #expect(throws: MarketRefusal.certificateHeld("", serial: "")) {
            _ = try await f.market.recordCertificate(issue("02", for: f.bob), actor: .gateway, held: .refuse,
                                                     signerIsCurrent: { _ in }, afterRevoking: { _, _ in })
        }
        #expect(try f.snapshot() == before)
    }
}
