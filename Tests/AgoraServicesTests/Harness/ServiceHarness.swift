import AgoraApp
import AgoraCore
import AgoraMarket
import AgoraReadings
import AgoraServices
import AgoraTestSupport
@testable import AgoraXMPP
import Logging

/// A real gateway (a fresh store in a temporary directory) and its real XMPP server — every
/// Agora service registered, as `agora serve` builds it — driven over in-memory channels
/// (`TestClient`) instead of sockets. The server's work runs in the harness's task group
/// for the length of the test, as `XMPPServer.run` would run it.
///
/// Accounts (password `password-<name>`): `olga` (operator), `bob` (owner of `air-1`, pm25,
/// 2 credits an hour, with 60 readings one a minute from 2026-11-22T08:00Z), `carol`
/// (consumer with 100 credits), `dave` (consumer with none).
struct ServiceHarness: Sendable {
    static let domain = "svc.test"
    let gateway: Gateway
    let server: XMPPServer
    /// The live-readings service on `pubsub.svc.test`, its fan-out running.
    let live: LiveService
    let sensor = try! SensorID("air-1")
    static let readingsStart = "2026-11-22T08:00:00Z"

    static func password(_ name: String) -> String { "password-\(name)" }
    static func jid(_ name: String) -> BareJID { try! BareJID("\(name)@\(domain)") }

    /// Runs `body` against a fresh gateway; everything it started is stopped and removed after.
    static func with(trust: TrustPolicy = TrustPolicy(), live: LiveConfiguration = LiveConfiguration(), _ body: @Sendable (ServiceHarness) async throws -> Void) async throws {
        let directory = try TemporaryDirectory("agora-services")
        defer { directory.remove() }
        let logger = testLogger()
        var configuration = AgoraConfiguration(stateDirectory: directory.file("state"), kekFile: directory.file("agora.kek"))
        configuration.trust = trust
        configuration.live = live
        _ = try await Gateway.initialize(configuration, domain: domain, name: "services", environment: [:], logger: logger)
        let gateway = try Gateway.open(configuration, environment: [:], logger: logger)
        do {
            try await populate(gateway)
            var xmpp = XMPPConfiguration(domain: domain)
            xmpp.tlsRequired = false          // in-memory channels carry no TLS
            xmpp.connectionRatePerIP = 0
            xmpp.softwareVersion = "services-test"
            let (server, live) = try XMPPSetup.server(for: gateway, configuration: xmpp, logger: logger)
            let harness = ServiceHarness(gateway: gateway, server: server, live: live!)
            // The live service's fan-out runs for the test, as `agora serve` runs it.
            let fanOut = Task { try await live!.run() }
            defer { fanOut.cancel() }
            try await server.withoutListeners { try await body(harness) }
        } catch {
            await gateway.close()
            throw error
        }
        await gateway.close()
    }

    private static func populate(_ gateway: Gateway) async throws {
        let desk = GatewayOperatorDesk(gateway: gateway)
        for (name, role) in [("olga", Role.operator), ("bob", .owner), ("carol", .consumer), ("dave", .consumer)] {
            try await desk.addAccount(jid(name), role: role, password: password(name), actor: .operator)
        }
        _ = try await gateway.market.mint(try Credits(100), to: jid("carol"), memo: "test", actor: .operator)
        let sensor = try SensorID("air-1")
        _ = try await gateway.market.registerSensor(.init(
            sensor: sensor, owner: jid("bob"), kind: "pm25", name: "Air 1", unit: "ug/m3", price: try Credits(2), frequency: 60,
            lat: try Coordinate.latitude(35.681236), lon: try Coordinate.longitude(139.767125), url: "https://svc.test/air-1"), actor: .operator)
        let start = try Reading.parseTime(readingsStart)
        let readings = (0..<60).map { Reading(name: "air-1:pm25", time: start + Int64($0) * 60_000_000_000, unit: "ug/m3", value: .number(Double($0) / 4)) }
        _ = try await gateway.ingest(readings, of: sensor)
    }

    /// A client logged in (SCRAM-SHA-256, resource bound) as `name`; with `available`, it has
    /// also sent its initial presence.
    func login(_ name: String, resource: String = "test", available: Bool = false) async throws -> TestClient {
        let client = try await TestClient.connect(to: server, domain: Self.domain)
        try await client.authenticate(username: name, password: Self.password(name))
        try await client.bind(resource: resource)
        if available { try await client.send("<presence/>") }
        return client
    }
}
