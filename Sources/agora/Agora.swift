import AgoraApp
import ArgumentParser
#if canImport(Glibc)
import Glibc
#endif

/// `agora`: the one executable. Commands only parse arguments and print; the work is in
/// the library targets. Exit codes: 0 ok, 1 refused or failed, 2 usage.
struct Agora: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "agora",
        abstract: "Agora smart-city gateway: XMPP, MQTT ingestion, verifiable ledger, certificate authority.",
        subcommands: [
            Init.self, User.self, Credit.self, Sensor.self, Purchase.self, Readings.self, LedgerCommand.self,
            Serve.self, CA.self, BrokerConfig.self, Device.self, VerifyReceipt.self, WitnessCommand.self, Status.self, Version.self, Client.self,
        ]
    )
}

@main
enum Main {
    static func main() async {
        // A parent may have blocked signals (a test runner, some supervisors) and children inherit
        // the mask: make sure SIGTERM and SIGINT reach `agora serve`'s graceful shutdown.
        var signals = sigset_t()
        sigemptyset(&signals)
        sigaddset(&signals, SIGTERM)
        sigaddset(&signals, SIGINT)
        pthread_sigmask(SIG_UNBLOCK, &signals, nil)
        let arguments = Array(CommandLine.arguments.dropFirst())
        let command: any ParsableCommand
        do {
            command = try Agora.parseAsRoot(arguments)
        } catch {
            let code = Agora.exitCode(for: error)
            let message = Agora.fullMessage(for: error)
            if code == .success {
                print(message)
                exit(0)
            }
            FileHandleOutput.standardError(message)
            exit(2)
        }
        do {
            if var asyncCommand = command as? any AsyncParsableCommand {
                try await asyncCommand.run()
            } else {
                var syncCommand = command
                try syncCommand.run()
            }
            exit(0)
        } catch let code as ExitCode {
            exit(code.rawValue)
        } catch {
            // Help requested of a command group, or a usage error found while running.
            switch Agora.exitCode(for: error) {
            case .success:
                print(Agora.fullMessage(for: error))
                exit(0)
            case .validationFailure:
                FileHandleOutput.standardError(Agora.fullMessage(for: error))
                exit(2)
            default:
                FileHandleOutput.standardError("agora: error: " + ErrorMessage.oneLine(error))
                exit(1)
            }
        }
    }
}
