import AgoraApp
import AgoraMQTT
import ArgumentParser
import FoundationEssentials

struct BrokerConfig: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "broker-config",
        abstract: "Write a Mosquitto config, ACLs and TLS files for Agora's broker, and record where `agora serve` connects.",
        discussion: """
        With --out DIR, run `mosquitto -c DIR/mosquitto.conf`. With --install, the files go to /etc/mosquitto/agora and \
        the listeners to /etc/mosquitto/conf.d/agora.conf, which Debian's mosquitto.conf includes; then restart \
        mosquitto. The TLS listener requires client certificates from the Agora CA and pins each sensor to \
        <prefix>/sensors/<its id>/#; the bootstrap listener allows pairing topics only.
        """)
    @OptionGroup var global: GlobalOptions
    @Option(help: "Output directory for the broker's files (default with --install: <mosquitto-dir>/agora).") var out: String?
    @Flag(help: "Wire the system's Mosquitto (Debian layout): files in <mosquitto-dir>/agora, listeners in <mosquitto-dir>/conf.d/agora.conf.")
    var install = false
    @Option(name: .customLong("mosquitto-dir"), help: "Mosquitto's configuration directory, for --install.") var mosquittoDirectory = "/etc/mosquitto"
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
        guard out != nil || install else { throw ValidationError("give --out DIR, or --install to wire the system's Mosquitto") }
    }

    func run() async throws {
        let out = out ?? mosquittoDirectory + "/agora"
        var confPath: String?
        if install {
            let includeDirectory = mosquittoDirectory + "/conf.d"
            var isDirectory = false
            guard FileManager.default.fileExists(atPath: includeDirectory, isDirectory: &isDirectory), isDirectory else {
                throw ValidationError("\(includeDirectory) does not exist: is Debian's mosquitto package installed? (or use --out DIR)")
            }
            confPath = includeDirectory + "/agora.conf"
        }
        // Installed, the broker persists where Debian's mosquitto.conf says; it refuses a second location.
        let template = BrokerConfiguration(bindAddress: bind, sensorPort: portTLS, pairingPort: portPair, prefix: prefix,
                                           directory: out, ownPersistence: !install)
        let result = try await global.withGateway { gateway in
            try await BrokerSetup.write(into: out, confPath: confPath, host: host, dnsNames: dnsNames, configuration: template, gateway: gateway)
        }
        if let confPath {
            print("wrote \(out) and \(confPath); restart the broker: systemctl restart mosquitto")
        } else {
            print("wrote \(out)/mosquitto.conf; start the broker with: mosquitto -c \(out)/mosquitto.conf")
        }
        print("agora serve will connect to \(result.endpoint.host):\(result.endpoint.port) as \(BrokerConfiguration.gatewayUsername)")
    }
}
