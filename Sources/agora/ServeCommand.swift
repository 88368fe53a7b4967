import AgoraApp
import ArgumentParser

struct Serve: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Run the gateway until SIGTERM: the XMPP server, and MQTT ingestion when broker-config recorded a broker.",
        discussion: "Under systemd (Type=notify) it sends READY=1 once listening and WATCHDOG=1 when WatchdogSec is set.")
    @OptionGroup var global: GlobalOptions
    @Option(name: .customLong("client-id"),
            help: "MQTT client id (the broker keeps this session's queue); default: the one broker-config recorded. A broker set up by broker-config takes only ids that begin with 'client:' and then uses the certificate's CN (agora:gateway) as the id.")
    var clientID: String?

    func run() async throws {
        let started = ContinuousClock.now
        try await global.withGateway { gateway in
            try await GatewayServer.run(gateway, clientID: clientID, environment: GlobalOptions.environment, started: started)
        }
    }
}
