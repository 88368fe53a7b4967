import AgoraCore
import Testing

@Suite struct BareJIDTests {
    @Test func validAddressIsLowercasedAndSplit() throws {
        let jid = try BareJID("Alice@GW1.Example")
        #expect(jid.localpart == "alice")
        #expect(jid.domain == "gw1.example")
        #expect(jid.description == "alice@gw1.example")
    }

    @Test(arguments: [
        "", "alice", "@gw1.example", "alice@", "a@b@c", "al ice@gw1.example", "al/ice@gw1.example",
        "al:ice@gw1.example", "al<ice@gw1.example", "alice@gw1..example", "alice@-gw1.example",
        "alice@gw1.example/resource", "alice@gw_1.example", "caf\u{e9}@gw1.example",
        String(repeating: "a", count: 129) + "@gw1.example",
    ])
    func malformedAddressIsRefusedWithItsReason(_ text: String) {
        #expect(throws: InvalidInput.self) { try BareJID(text) }
    }

    @Test func localpartUpToTheKeyLimitIsAccepted() throws {
        #expect(try BareJID(String(repeating: "a", count: 128) + "@gw1.example").localpart.count == 128)
    }

    @Test func errorMessageIsOneLineAndShortensLongInput() {
        do {
            _ = try BareJID(String(repeating: "x", count: 300))
            Issue.record("accepted a JID without domain")
        } catch {
            #expect(!error.description.contains("\n"))
            #expect(error.description.count < 200)
        }
    }
}

@Suite struct SensorIDTests {
    @Test func safeIdentifiersAreAccepted() throws {
        #expect(try SensorID("temp-1.north_2").rawValue == "temp-1.north_2")
    }

    @Test(arguments: ["", "-lead", "a/b", "a+b", "a#b", "a b", "a:b", String(repeating: "s", count: 65)])
    func unsafeIdentifiersAreRefused(_ text: String) {
        #expect(throws: InvalidInput.self) { try SensorID(text) }
    }
}
