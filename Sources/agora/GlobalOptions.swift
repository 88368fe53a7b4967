import AgoraApp
import ArgumentParser
import Logging
#if canImport(Glibc)
import Glibc
#endif

/// Flags every command accepts.
struct GlobalOptions: ParsableArguments {
    @Option(name: .customLong("state-dir"), help: ArgumentHelp("State directory (default: $AGORA_STATE_DIR or /var/lib/agora).", valueName: "dir"))
    var stateDirectory: String?

    @Option(name: .customLong("config"), help: ArgumentHelp("Configuration file (default: $AGORA_CONFIG).", valueName: "file"))
    var configFile: String?

    @Option(name: .customLong("kek-file"), help: ArgumentHelp("Key-encryption key file (default: systemd credential agora.kek, else <state-dir>/agora.kek).", valueName: "file"))
    var kekFile: String?

    /// The process environment as a dictionary.
    static var environment: [String: String] {
        var result: [String: String] = [:]
        var pointer = environ
        while let entry = pointer.pointee {
            let text = String(cString: entry)
            if let equals = text.firstIndex(of: "=") {
                result[String(text[..<equals])] = String(text[text.index(after: equals)...])
            }
            pointer += 1
        }
        return result
    }

    /// Defaults < config file < environment < flags.
    func configuration() throws -> AgoraConfiguration {
        let environment = Self.environment
        var configuration = try AgoraConfiguration.load(file: configFile ?? environment["AGORA_CONFIG"], environment: environment)
        if let stateDirectory { configuration.stateDirectory = stateDirectory }
        if let kekFile { configuration.kekFile = kekFile }
        return configuration
    }

    func logger(_ configuration: AgoraConfiguration) -> Logger {
        var logger = Logger(label: "agora") { StreamLogHandler.standardError(label: $0) }
        logger.logLevel = configuration.logLevel
        return logger
    }

    /// Opens the gateway, runs `body`, and closes it (sealing a final checkpoint).
    func withGateway<T>(unlockKeys: Bool = true, _ body: (Gateway) async throws -> T) async throws -> T {
        let configuration = try configuration()
        let gateway = try Gateway.open(configuration, environment: Self.environment, unlockKeys: unlockKeys, logger: logger(configuration))
        do {
            let result = try await body(gateway)
            await gateway.close()
            return result
        } catch {
            await gateway.close()
            throw error
        }
    }
}
