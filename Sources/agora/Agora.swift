import AgoraApp
import ArgumentParser
import Dispatch
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
    /// Synchronous on purpose. Swift's `async` main parks the main thread in `dispatch_main()`,
    /// which ends it with `pthread_exit` — a forced unwind through glibc that reads the unwind
    /// tables of every frame on the way. Running the command on the global executor while the
    /// main thread waits keeps unwinding out of every normal run, so the release build can
    /// leave the unwind tables out (5 MB; Packaging/drop-unwind-tables.py). Nothing in Agora
    /// runs on the main actor.
    static func main() {
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
            if let asyncCommand = command as? any AsyncParsableCommand {
                try runBlocking(asyncCommand)
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

    /// Runs an async command on the global executor and blocks the calling thread until it
    /// returns or throws.
    private static func runBlocking(_ command: any AsyncParsableCommand) throws {
        let run = CommandRun(command)
        let done = DispatchSemaphore(value: 0)
        Task.detached {
            await run.start()
            done.signal()
        }
        done.wait()
        if let failure = run.failure { throw failure }
    }
}

/// The command and its outcome, handed to the task that runs it. `@unchecked Sendable`: the
/// task alone touches it until it signals the semaphore, and the main thread reads `failure`
/// only after waiting on that semaphore, which orders the two.
private final class CommandRun: @unchecked Sendable {
    private var command: any AsyncParsableCommand
    private(set) var failure: (any Error)?

    init(_ command: any AsyncParsableCommand) { self.command = command }

    func start() async {
        do { try await command.run() } catch { failure = error }
    }
}
