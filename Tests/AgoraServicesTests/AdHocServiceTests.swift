@testable import AgoraXMPP
import Testing

/// XEP-0050 commands: operators see and run them; nobody else does.
@Suite struct AdHocServiceTests {
    static let commands = "http://jabber.org/protocol/commands"

    @Test func anOperatorListsTheCommandsAndOthersSeeNone() async throws {
        try await ServiceHarness.with { harness in
            let olga = try await harness.login("olga")
            let listed = try await olga.iq("get", "<query xmlns='http://jabber.org/protocol/disco#items' node='\(Self.commands)'/>")
            let nodes = Set(listed.child("query")?.elements.compactMap { $0[attribute: "node"] } ?? [])
            #expect(nodes.isSuperset(of: ["add-user", "invite-sensor", "mint", "freeze-sensor", "unfreeze-sensor", "status"]))
            let carol = try await harness.login("carol")
            let hidden = try await carol.iq("get", "<query xmlns='http://jabber.org/protocol/disco#items' node='\(Self.commands)'/>")
            #expect(hidden.child("query")?.elementCount == 0)
        }
    }

    @Test func anOperatorMintsWithATwoStepFormAndTheBalanceChanges() async throws {
        try await ServiceHarness.with { harness in
            let olga = try await harness.login("olga")
            let form = try await olga.iq("set", "<command xmlns='\(Self.commands)' node='mint' action='execute'/>")
            let command = try #require(form.child("command"))
            #expect(command[attribute: "status"] == "executing")
            let session = try #require(command[attribute: "sessionid"])
            let done = try await olga.iq("set", """
                <command xmlns='\(Self.commands)' node='mint' sessionid='\(session)' action='complete'><x xmlns='jabber:x:data' type='submit'>\
                <field var='jid'><value>dave@svc.test</value></field><field var='amount'><value>25</value></field>\
                <field var='memo'><value>welcome</value></field></x></command>
                """)
            #expect(done.child("command")?[attribute: "status"] == "completed")
            let dave = try await harness.login("dave")
            #expect(try await MarketServiceTests.balance(dave) == 25)
        }
    }

    @Test func aConsumerExecutingACommandIsForbiddenAndNothingIsMinted() async throws {
        try await ServiceHarness.with { harness in
            let carol = try await harness.login("carol")
            let reply = try await carol.iq("set", "<command xmlns='\(Self.commands)' node='mint' action='execute'/>")
            #expect(reply.errorCondition == "forbidden")
            #expect(try await MarketServiceTests.balance(carol) == 100)
        }
    }

    @Test func theStatusCommandReportsTheLedgerAndAccounts() async throws {
        try await ServiceHarness.with { harness in
            let olga = try await harness.login("olga")
            let reply = try await olga.iq("set", "<command xmlns='\(Self.commands)' node='status' action='execute'/>")
            let form = try #require(reply.child("command")?.child("x", namespace: "jabber:x:data"))
            var fields: [String: String] = [:]
            for field in form.elements where field.name == "field" {
                if let label = field[attribute: "label"] { fields[label] = field.child("value")?.text }
            }
            #expect(fields["health"] == "ok")
            #expect(fields["accounts"] == "4")
            #expect(fields["sensors"] == "1 (0 frozen)")
            #expect(fields["readings"] == "60")
        }
    }
}
