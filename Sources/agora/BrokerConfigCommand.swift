import AgoraApp
import AgoraMQTT
import ArgumentParser

struct BrokerConfig: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "broker-config",
        abstract: "Write a Mosquitto config, ACLs and TLS files for Agora's broker, and record where `agora serve` connects.",
        discussion: """
        Run `mosquitto -c DIR/mosquitto.conf` (or include it). The TLS listener requires client certificates from \
        the Agora CA and pins each sensor to <prefix>/sensors/<its id>/#; the bootstrap listener allows pairing topics only.
        """)
    @OptionGroup var global: GlobalOptions
    @Option(help: "Output directory for the broker's files.") var out: String
    @Option(name: .customLong("port-tls"), help: "Port of the client-certificate listener.") var portTLS = 8883
    @Option(name: .customLong("port-pair"), help: "Port of the pairing (bootstrap) listener.") var portPair = 8884
    @Option(help: "Topic prefix.") var prefix = "agora"
    @Option(help: "Address the listeners bind to.") var bind = "127.0.0.1"
    @Option(help: "Host name clients (and agora serve) use to reach the broker; it is in the broker's certificate.") var host = "localhost"
    @Option(name: .customLong("dns"), parsing: .upToNextOption, help: "More DNS names for the broker's certificate.") var dnsNames: [String] = []

    func validate() throws {
        guard (1...65535).contains(portTLS), (1...65535).contains(portPair), portTLS != portPair else {
            throw ValidationError("--port-tls and --port-pair must be two different ports")
        }
    }

    func run() async throws {
        let template = BrokerConfiguration(bindAddress: bind, sensorPort: portTLS, pairingPort: portPair, prefix: prefix, directory: out)
        let result = try await global.withGateway { gateway in
            try await BrokerSetup.write(into: out, host: host, dnsNames: dnsNames, configuration: template, gateway: gateway)
        }
        print("wrote \(out)/mosquitto.conf; start the broker with: mosquitto -c \(out)/mosquitto.conf")
        print("agora serve will connect to \(result.endpoint.host):\(result.endpoint.port) as \(BrokerConfiguration.gatewayUsername)")
    }
}
