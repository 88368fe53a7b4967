import AgoraCore
@testable import AgoraXMPP
import AgoraStore
import AgoraTestSupport
import Testing

/// The bounds of offline storage against a real LMDB store (issue 14, finding 6).
@Suite struct OfflineStoreTests {
    func message(_ body: String) -> XMLElement {
        XMLElement("message", namespace: "jabber:client", attributes: [.init("type", "chat")],
                   children: [.element(XMLElement("body", namespace: "jabber:client", text: body))])
    }

    @Test func oneSenderFillsOnlyItsShareAndOthersStillGetThrough() async throws {
        let dir = try TemporaryDirectory("agora-offline")
        defer { dir.remove() }
        let store = try Store(path: dir.file("agora.mdb"), logger: testLogger())
        defer { store.close() }
        let offline = OfflineStore(store: store, limit: 100, maxBytes: 10_000, maxBytesPerSender: 3_000)
        let (victim, mallory, alice) = (try BareJID("bob@gw.test"), try BareJID("mallory@gw.test"), try BareJID("alice@gw.test"))
        let big = message(String(repeating: "x", count: 1_000))
        var refusals: [OfflineStore.Bound] = []
        for _ in 0..<10 {
            do { try await offline.store(big, for: victim, from: mallory) } catch let refusal as OfflineStore.Refusal { refusals.append(refusal.bound) }
        }
        // About 1 KB each: two fit in mallory's 3 000-byte share, the other eight are refused.
        #expect(refusals == Array(repeating: .senderBytes, count: 8))
        try await offline.store(message("hello"), for: victim, from: alice)
        let pending = offline.pending(for: victim)
        #expect(pending.count == 3)
        // What comes back is the stanza alone, without the sender header.
        #expect(pending.allSatisfy { $0.stanza.first == UInt8(ascii: "<") })
    }

    @Test func theAccountsByteBoundHoldsAcrossSendersAndOldValuesStillCount() async throws {
        let dir = try TemporaryDirectory("agora-offline")
        defer { dir.remove() }
        let store = try Store(path: dir.file("agora.mdb"), logger: testLogger())
        defer { store.close() }
        let victim = try BareJID("bob@gw.test")
        // A value from before senders were kept: the stanza bytes alone.
        let legacy = Array(repeating: UInt8(ascii: "y"), count: 2_500)
        try await store.write { txn in
            try txn.put(store.tables.offline, OfflineStore.prefix(victim) + StoreKey.u64(1), Array("<message>".utf8) + legacy)
        }
        let offline = OfflineStore(store: store, limit: 100, maxBytes: 4_000, maxBytesPerSender: 3_000)
        let kilobyte = message(String(repeating: "x", count: 1_000))
        try await offline.store(kilobyte, for: victim, from: try BareJID("a@gw.test"))
        await #expect(throws: OfflineStore.Refusal.self) {
            try await offline.store(kilobyte, for: victim, from: try BareJID("c@gw.test"))
        }
        #expect(offline.pending(for: victim).count == 2)
        #expect(offline.pending(for: victim).first?.stanza.starts(with: Array("<message>".utf8)) == true)
        // What the server puts back for a closed session (no sender) was accepted already: only the count bounds it.
        try await offline.store(kilobyte, for: victim, from: nil)
        #expect(offline.pending(for: victim).count == 3)
    }
}
