@testable import AgoraServices
@testable import AgoraXMPP
import AgoraCore
import NIOEmbedded
import Synchronization
import Testing

/// A session whose connection does not keep up: live items wait in a bounded queue, the
/// oldest are dropped beyond it, and the client is told what it missed before the next item.
@Suite struct LiveOutboxTests {
    /// A connection that records what is written to it.
    final class RecordingConnection: SessionConnection, @unchecked Sendable {
        let written = Mutex<[XMLElement]>([])
        /// When set, the connection's buffer "fills" after each write: the session stalls.
        let stallingSession = Mutex<Session?>(nil)
        func write(stanza: XMLElement) {
            written.withLock { $0.append(stanza) }
            if let session = stallingSession.withLock({ $0 }) { session.writabilityChanged(false, by: self) }
        }
        func abandon() {}
    }

    static func delivery(_ id: UInt64) -> LiveDelivery {
        let stanza = XMLElement("message", namespace: Namespace.client, attributes: [.init("id", "item-\(id)")])
        let second = Int64(1_800_000_000 + id * 60) * 1_000_000_000
        return LiveDelivery(stanza: stanza, node: "sensors/air-1", item: id, span: second...second)
    }

    static func session() throws -> (Session, RecordingConnection) {
        let session = Session(jid: try JID(parsing: "carol@gw.test/watch"), bare: try BareJID("carol@gw.test"), streamID: "s1")
        let connection = RecordingConnection()
        session.attach(connection, on: EmbeddedEventLoop())
        return (session, connection)
    }

    @Test func aWritableSessionGetsEachItemAtOnce() throws {
        let (session, connection) = try Self.session()
        let outbox = LiveOutbox(capacity: 3)
        for id in 1...5 { #expect(outbox.offer(Self.delivery(UInt64(id)), to: session, service: "pubsub.gw.test") == 0) }
        #expect(connection.written.withLock { $0.map { $0[attribute: "id"] } } == (1...5).map { "item-\($0)" })
        #expect(connection.written.withLock { $0.allSatisfy { $0[attribute: "to"] == "carol@gw.test/watch" } })
    }

    @Test func aStalledSessionKeepsTheNewestItemsAndLearnsWhatItMissed() throws {
        let (session, connection) = try Self.session()
        let outbox = LiveOutbox(capacity: 3)
        session.writabilityChanged(false, by: connection)
        var dropped = 0
        for id in 1...7 { dropped += outbox.offer(Self.delivery(UInt64(id)), to: session, service: "pubsub.gw.test") }
        #expect(dropped == 4)
        #expect(connection.written.withLock { $0.isEmpty })
        session.writabilityChanged(true, by: connection)
        let written = connection.written.withLock { $0 }
        #expect(written.count == 4)
        let gap = try #require(written.first?.child("gap", namespace: "urn:agora:live:1"))
        #expect(gap[attribute: "items"] == "4")
        #expect(gap[attribute: "first"] == "1" && gap[attribute: "last"] == "4")
        #expect(gap[attribute: "from"] == Reading.formatTime(Int64(1_800_000_060) * 1_000_000_000))
        #expect(gap[attribute: "to"] == Reading.formatTime(Int64(1_800_000_240) * 1_000_000_000))
        #expect(written.dropFirst().map { $0[attribute: "id"] } == ["item-5", "item-6", "item-7"])
        // Flowing again: the next item goes straight out.
        #expect(outbox.offer(Self.delivery(8), to: session, service: "pubsub.gw.test") == 0)
        #expect(connection.written.withLock { $0.last?[attribute: "id"] } == "item-8")
    }

    @Test func aSessionThatStallsAgainWhileDrainingKeepsTheRestQueued() throws {
        let (session, connection) = try Self.session()
        let outbox = LiveOutbox(capacity: 10)
        session.writabilityChanged(false, by: connection)
        for id in 1...3 { _ = outbox.offer(Self.delivery(UInt64(id)), to: session, service: "pubsub.gw.test") }
        // Writable for one item at a time: each write fills the connection's buffer again.
        connection.stallingSession.withLock { $0 = session }
        session.writabilityChanged(true, by: connection)
        #expect(connection.written.withLock { $0.map { $0[attribute: "id"] } } == ["item-1"])
        session.writabilityChanged(true, by: connection)
        #expect(connection.written.withLock { $0.map { $0[attribute: "id"] } } == ["item-1", "item-2"])
        connection.stallingSession.withLock { $0 = nil }
        session.writabilityChanged(true, by: connection)
        #expect(connection.written.withLock { $0.map { $0[attribute: "id"] } } == ["item-1", "item-2", "item-3"])
    }
}
