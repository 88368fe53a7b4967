import AgoraApp
import ArgumentParser

struct Serve: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Run the gateway: connect to the broker recorded by broker-config and ingest readings until SIGTERM.")
    @OptionGroup var global: GlobalOptions
    @Option(name: .customLong("client-id"), help: "MQTT client id (the broker keeps this session's queue).") var clientID = "agora-gateway"

    func run() async throws {
        try await global.withGateway { gateway in try await GatewayServer.run(gateway, clientID: clientID) }
    }
}
