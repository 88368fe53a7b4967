import AgoraCore
@testable import AgoraXMPP
import AgoraStore
import AgoraTestSupport
import Testing

/// Nicknames, the history a client asks for on entering, and rooms in LMDB.
@Suite struct MUCRoomTests {
    @Test func nicknamesThatDifferByCaseOrSurroundingSpacesAreTheSame() {
        #expect(MUCNick.key("Alice") == MUCNick.key(" alice "))
        #expect(MUCNick.key("Alice") != MUCNick.key("Alice2"))
        #expect(!MUCNick.isValid("   "))
        #expect(!MUCNick.isValid("a\u{7}b"))
        #expect(!MUCNick.isValid("ali\u{200B}ce"))  // zero-width space: a look-alike of "alice"
        #expect(!MUCNick.isValid(String(repeating: "n", count: 65)))
        #expect(MUCNick.isValid("Ödön the 2nd"))
    }

    func entries(_ count: Int, ageSeconds: [Int64]? = nil) -> [MUCHistoryEntry] {
        let now = Timestamp.now().seconds
        return (0..<count).map { index in
            MUCHistoryEntry(sequence: UInt64(index + 1), stamp: try! Timestamp(seconds: now - (ageSeconds?[index] ?? 0)),
                            message: XMLElement("message", namespace: Namespace.client, children: [
                                .element(XMLElement("body", namespace: Namespace.client, text: "m\(index)")),
                            ]), bytes: 60)
        }
    }

    func bodies(_ selected: [MUCHistoryEntry]) -> [String] { selected.map { $0.message.child("body")?.text ?? "" } }

    @Test func theHistoryAskedForIsTheNewestWithinEachLimit() {
        let history = entries(5, ageSeconds: [500, 400, 30, 20, 10])
        #expect(bodies(MUCService.history(history, asked: nil)) == ["m0", "m1", "m2", "m3", "m4"])
        let two = XMLElement("history", namespace: MUCNamespace.muc, attributes: [.init("maxstanzas", "2")])
        #expect(bodies(MUCService.history(history, asked: two)) == ["m3", "m4"])
        let none = XMLElement("history", namespace: MUCNamespace.muc, attributes: [.init("maxchars", "0")])
        #expect(MUCService.history(history, asked: none).isEmpty)
        let recent = XMLElement("history", namespace: MUCNamespace.muc, attributes: [.init("seconds", "60")])
        #expect(bodies(MUCService.history(history, asked: recent)) == ["m2", "m3", "m4"])
        let oneMessage = XMLWriter.string(history[4].message).utf8.count
        let chars = XMLElement("history", namespace: MUCNamespace.muc, attributes: [.init("maxchars", String(oneMessage * 2 + 1))])
        #expect(bodies(MUCService.history(history, asked: chars)) == ["m3", "m4"])
    }

    @Test func aStoredRoomComesBackWithItsAffiliationsAndItsNewestHistoryOnly() async throws {
        let dir = try TemporaryDirectory("agora-muc")
        defer { dir.remove() }
        let store = try Store(path: dir.file("agora.mdb"), logger: testLogger())
        defer { store.close() }
        let rooms = MUCRoomStore(store: store)
        let (olga, bob) = (try BareJID("olga@gw.test"), try BareJID("bob@gw.test"))
        var settings = MUCRoomSettings()
        settings.membersOnly = true
        var room = MUCRoom(localpart: "group", settings: settings, affiliations: [olga: .owner, bob: .outcast], subject: "air",
                           subjectBy: "Olga", creator: olga, locked: false)
        try await rooms.put(room)
        let written = (0..<6).map { _ in room.remember(XMLElement("message", namespace: Namespace.client), bytes: 30, limit: 3) }
        try await rooms.append(written.map { ("group", $0, 3) })
        // History of a room that is gone is not written (a new room of that name would show it).
        let stray = MUCHistoryEntry(sequence: 1, stamp: .now(), message: XMLElement("message", namespace: Namespace.client), bytes: 30)
        try await rooms.append([("gone", stray, 3)])
        let loaded = try rooms.load(historyLimit: 50)
        #expect(loaded.count == 1)
        let back = try #require(loaded.first)
        #expect(back.settings == settings && back.subject == "air" && back.creator == olga)
        #expect(back.affiliations == [olga: .owner, bob: .outcast])
        #expect(back.history.map(\.sequence) == [4, 5, 6])
        #expect(back.nextSequence == 7)
        try await rooms.remove("group")
        #expect(try rooms.load(historyLimit: 50).isEmpty)
        let leftover = try store.read { try $0.count(store.tables.mucHistory) }
        #expect(leftover == 0)
    }

    @Test func aRoomsHistoryKeepsToItsByteBoundWhateverItsLength() {
        var room = MUCRoom(localpart: "r", settings: MUCRoomSettings(), affiliations: [:], creator: try! BareJID("o@gw.test"), locked: false)
        let big = MUCConfiguration.maxHistoryBytes / 4 + 1
        for _ in 0..<10 { _ = room.remember(XMLElement("message", namespace: Namespace.client), bytes: big, limit: 50) }
        #expect(room.history.count == 3)
        #expect(room.historyBytes == 3 * big && room.historyBytes <= MUCConfiguration.maxHistoryBytes)
        #expect(room.history.map(\.sequence) == [8, 9, 10])
        _ = room.remember(XMLElement("message", namespace: Namespace.client), bytes: 10, limit: 2)
        #expect(room.history.map(\.sequence) == [10, 11] && room.historyBytes == big + 10)
    }
}
