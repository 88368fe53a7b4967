import AgoraApp
import AgoraCore
import AgoraMQTT
import ArgumentParser
import Logging
import ServiceLifecycle
#if canImport(Glibc)
import Glibc
#endif

/// `agora device`: the sensor's side of the MQTT protocol (a reference device to pair real
/// hardware against, and to demo and test a gateway with). Runs on the device, not the
/// gateway: it needs no state directory, only the broker and the files it writes.
struct Device: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "A reference sensor: pair over MQTT with a one-time code, then publish SenML readings with the certificate.",
        subcommands: [Pair.self, Publish.self]
    )

    /// Where the broker is, and how long to wait for it.
    struct BrokerOptions: ParsableArguments {
        @Option(help: ArgumentHelp("The broker's listener: for pair the pairing listener (broker-config's --port-pair, default 8884), for publish the certificate listener (--port-tls, default 8883).", valueName: "host:port"))
        var broker: String
        @Option(help: "Topic prefix (broker-config's --prefix).") var prefix = "agora"
        @Option(help: "How long to wait for the broker and the gateway's answers: e.g. 30s, 2m.") var timeout = "30s"

        func validate() throws {
            _ = try address()
            _ = try timeoutDuration()
            guard BrokerConfiguration.isValidPrefix(prefix) else {
                throw ValidationError("--prefix: 1…64 letters, digits, '-', '_' or '/', without a leading or trailing '/'")
            }
        }

        func address() throws -> BrokerAddress {
            do { return try BrokerAddress(parsing: broker) } catch { throw ValidationError(error.description) }
        }

        func timeoutDuration() throws -> Duration { try Device.duration(timeout, field: "timeout") }
    }

    /// `30s`, `2m`, … as a Duration (a usage error otherwise).
    static func duration(_ text: String, field: String) throws -> Duration {
        do { return .seconds(try TimeSpan.seconds(parsing: text, field: field, maxSeconds: 86_400)) } catch {
            throw ValidationError("--\(field): \(error)")
        }
    }

    struct Pair: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Pair with the gateway: make a key and CSR, prove the one-time code over the broker's pairing listener, write key.pem, cert.pem and ca.pem.",
            discussion: """
            Subscribes to <prefix>/pair/<id>/response, then sends {csr, proof} to <prefix>/pair/<id>/request and waits for \
            the gateway's answer. Nothing is written unless a certificate comes back; a refusal prints the gateway's reason.
            """)
        @Argument(help: "Sensor id, as invited (agora sensor invite ID).") var id: String
        @Argument(help: "The one-time code agora sensor invite printed; any case, dashes optional.") var code: String
        @OptionGroup var broker: BrokerOptions
        @Option(help: ArgumentHelp("The CA the broker's certificate chains to (broker-config's ca.pem).", valueName: "file")) var ca: String
        @Option(help: ArgumentHelp("Directory for key.pem, cert.pem and ca.pem; made (0700) if missing, must not hold them yet.", valueName: "dir"))
        var out: String

        func run() async throws {
            let sensor = try Parse.sensor(id)
            let paired = try await SensorDevice.pair(.init(sensor: sensor, code: code, broker: try broker.address(), caFile: ca,
                                                         prefix: broker.prefix, timeout: try broker.timeoutDuration(),
                                                         files: DeviceFiles(directory: out)))
            let files = paired.files
            print("paired sensor \(sensor): wrote \(files.key) (private key), \(files.certificate) (certificate and CA), \(files.ca) (CA)")
            print("certificate serial \(paired.serial), valid until \(paired.expires)")
        }
    }

    struct Publish: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Publish SenML packs over the broker's certificate listener with the identity agora device pair wrote (QoS 1).",
            discussion: """
            Prints a line per PUBACK and a summary; exits 1 unless every line was a SenML pack the gateway accepts and \
            the broker acknowledged every pack (waiting up to --timeout at the end). SIGINT or SIGTERM stops taking \
            packs and waits for the outstanding ones.
            """)
        @Argument(help: "Sensor id (the CN of DIR/cert.pem).") var id: String
        @OptionGroup var broker: BrokerOptions
        @Option(help: ArgumentHelp("Directory agora device pair wrote (key.pem, cert.pem, ca.pem).", valueName: "dir")) var dir: String
        @Option(help: ArgumentHelp("SenML JSON packs, one a line; - for standard input.", valueName: "file")) var senml: String?
        @Option(help: ArgumentHelp("Simulate readings of this kind: \(SimulatedReadings.knownKinds.joined(separator: ", ")).", valueName: "kind"))
        var simulate: String?
        @Option(help: "With --simulate: one reading per period, e.g. 1s, 1m.") var every = "1s"
        @Option(help: "Stop after this many packs.") var count: Int?

        func validate() throws {
            guard (senml == nil) != (simulate == nil) else { throw ValidationError("give --senml FILE (or -) or --simulate KIND") }
            if let count, count < 1 { throw ValidationError("--count must be at least 1") }
            _ = try Device.duration(every, field: "every")
        }

        func run() async throws {
            let sensor = try Parse.sensor(id)
            let source: DevicePublisher.Source
            if let simulate {
                source = .simulated(try SimulatedReadings(kind: simulate, sensor: sensor), every: try Device.duration(every, field: "every"))
            } else {
                source = .senml(path: senml ?? "-")
            }
            let publisher = try DevicePublisher(
                .init(sensor: sensor, broker: try broker.address(), prefix: broker.prefix, files: DeviceFiles(directory: dir),
                      source: source, count: count, timeout: try broker.timeoutDuration())
            ) { report in
                switch report {
                case .acknowledged(let pack): print("pack \(pack) acknowledged by the broker")
                case .summary(let text): print(text)
                case .notice(let text): FileHandleOutput.standardError("agora: " + text)
                }
                fflush(nil) // a line per PUBACK as it happens, also into a pipe
            }
            var logger = Logger(label: "agora.device") { StreamLogHandler.standardError(label: $0) }
            logger.logLevel = .critical // the publisher reports for itself; the group's own lines add nothing
            // The publisher ends by itself (input done, --count reached): that ends the group.
            let group = ServiceGroup(configuration: .init(services: [.init(service: publisher, successTerminationBehavior: .gracefullyShutdownGroup)],
                                                          gracefulShutdownSignals: [.sigterm, .sigint], logger: logger))
            try await group.run()
        }
    }
}
