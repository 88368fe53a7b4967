import AgoraCore
@testable import AgoraXMPP
import AgoraStore
import AgoraTestSupport
import Foundation
import NIOCore
import NIOEmbedded
import Testing

/// `C2SConnection` on a testing channel with a real store: SASL's blocking step runs on the
/// context's thread pool while the connection goes on, in order.
@Suite struct C2SConnectionTests {
    static let domain = "gw.test"

    /// One connection to a server whose only account is alice (password "secret"); the
    /// stream counts as encrypted so that PLAIN is offered (no TLS handler: no EXTERNAL).
    final class Rig {
        let directory: TemporaryDirectory
        let store: Store
        let context: XMPPServerContext
        let loop = NIOAsyncTestingEventLoop()
        let channel: NIOAsyncTestingChannel
        var output = ""

        init() async throws {
            directory = try TemporaryDirectory("agora-c2s")
            store = try makeTestStore(in: directory)
            let alice = try BareJID("alice@\(C2SConnectionTests.domain)")
            try await CredentialStore(store: store).set(try SCRAMCredentials.derive(password: "secret"), for: alice)
            var configuration = XMPPConfiguration(domain: C2SConnectionTests.domain)
            configuration.tlsRequired = false
            configuration.plainEnabled = true
            configuration.connectionRatePerIP = 0
            let accounts = XMPPAccountHooks(exists: { $0 == alice }, certificateIdentity: { _ in nil })
            let metrics = XMPPMetrics()
            let router = StanzaRouter(domain: configuration.domain, sessions: SessionRegistry(), iq: IQRouter(), roster: RosterStore(store: store),
                                      offline: OfflineStore(store: store, limit: 10), accountExists: accounts.exists, work: ServerWork(),
                                      metrics: metrics, logger: testLogger())
            context = XMPPServerContext(configuration: configuration, router: router, credentials: CredentialStore(store: store),
                                        accounts: accounts, metrics: metrics, tls: nil, logger: testLogger())
            context.startBlockingWork()
            channel = NIOAsyncTestingChannel(loop: loop)
            try await loop.executeInContext { [context, channel] in
                let decoder = XMPPStreamDecoder(limits: context.configuration.limits)
                try channel.pipeline.syncOperations.addHandlers([decoder, C2SConnection(server: context, decoder: decoder, directTLS: true)])
            }
            try await channel.connect(to: try SocketAddress(ipAddress: "192.0.2.7", port: 5222)).get()
        }

        func send(_ text: String) async throws {
            try await channel.writeInbound(channel.allocator.buffer(string: text))
            await loop.run()
            await drain()
        }

        func drain() async {
            while let buffer = try? await channel.readOutbound(as: ByteBuffer.self) { output += String(buffer: buffer) }
        }

        /// Runs the loop until `text` was written (the pool's outcome hops back to it), or 5 s.
        func waitFor(_ text: String) async -> Bool {
            let deadline = ContinuousClock.now + .seconds(5)
            while !output.contains(text) {
                guard ContinuousClock.now < deadline else { return false }
                try? await Task.sleep(for: .milliseconds(2))
                await loop.run()
                await drain()
            }
            return true
        }

        func close() async {
            try? await channel.close()
            await loop.run()
            await context.stopBlockingWork()
            store.close()
            directory.remove()
        }
    }

    static let header = "<stream:stream xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams' to='gw.test' version='1.0'>"

    static func plain(_ password: String) -> String {
        "<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='PLAIN'>\(Data("\0alice\0\(password)".utf8).base64EncodedString())</auth>"
    }

    @Test func whatFollowsAFailingAuthInTheSameReadIsAnsweredAfterTheFailure() async throws {
        let rig = try await Rig()
        try await rig.send(Self.header + Self.plain("wrong") + "<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='DIGEST-MD5'/>")
        #expect(await rig.waitFor("invalid-mechanism"))
        let failure = try #require(rig.output.range(of: "not-authorized"))
        let refusal = try #require(rig.output.range(of: "invalid-mechanism"))
        #expect(failure.lowerBound < refusal.lowerBound)
        #expect(rig.context.metrics.snapshot.authFailures == 1)
        await rig.close()
    }

    @Test func aRightPasswordSucceedsOffTheLoopAndTheNextStreamOffersBinding() async throws {
        let rig = try await Rig()
        try await rig.send(Self.header + Self.plain("secret"))
        #expect(await rig.waitFor("<success"))
        try await rig.send(Self.header)
        #expect(rig.output.contains("urn:ietf:params:xml:ns:xmpp-bind"))
        #expect(rig.context.metrics.snapshot.logins == 1)
        await rig.close()
    }

    @Test func theBindResultIsFromNobodyUnlessTheClientAddressedTheDomain() async throws {
        // RFC 6120 §8.1.2.1: answering on behalf of the account, the server omits `from`
        // (aioxmpp waits for ever for a result `from` the domain to a request without `to`).
        let rig = try await Rig()
        try await rig.send(Self.header + Self.plain("secret"))
        #expect(await rig.waitFor("<success"))
        try await rig.send(Self.header + "<iq type='set' id='b1'><bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'><resource>r1</resource></bind></iq>")
        #expect(await rig.waitFor("/r1</jid>"))
        let output = rig.output
        let start = try #require(output.range(of: "id=\"b1\"") ?? output.range(of: "id='b1'"), "\(output.suffix(500))")
        let tag = output[..<start.upperBound].split(separator: "<").last.map(String.init) ?? ""
        let rest = output[start.upperBound...].prefix(while: { $0 != ">" })
        #expect(tag.hasPrefix("iq") && !(tag + rest).contains("from="), "\(tag)\(rest)")
        await rig.close()
    }

    @Test func anOutcomeForAConnectionThatClosedMeanwhileIsDropped() async throws {
        let rig = try await Rig()
        // In one turn of the loop, so the outcome cannot come back before the close.
        let bytes = rig.channel.allocator.buffer(string: Self.header + Self.plain("secret"))
        try await rig.loop.executeInContext { [channel = rig.channel] in
            channel.pipeline.fireChannelRead(bytes)
            channel.close(promise: nil)
        }
        try await Task.sleep(for: .milliseconds(300))  // the pool finishes; its outcome waits for the loop
        await rig.loop.run()
        #expect(rig.context.metrics.snapshot.logins == 0)
        await rig.close()
    }

    @Test func floodingAStreamWhileAuthenticationRunsIsAPolicyViolation() async throws {
        let rig = try await Rig()
        let flood = String(repeating: "<presence/>", count: C2SStateMachine.maxHeldEvents + 1)
        try await rig.send(Self.header + Self.plain("secret") + flood)
        #expect(rig.output.contains("policy-violation"))
        try await Task.sleep(for: .milliseconds(300))
        await rig.loop.run()
        #expect(rig.context.metrics.snapshot.logins == 0)
        await rig.close()
    }
}
