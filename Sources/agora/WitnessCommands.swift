import AgoraApp
import ArgumentParser

/// `agora witness`: this gateway as a C2SP witness of other gateways' logs.
struct WitnessCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "witness",
        abstract: "This gateway as a witness of other logs (C2SP tlog-witness).",
        subcommands: [Key.self]
    )

    struct Key: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Print the witness's verifier key (made and sealed in the key store on first use).",
            discussion: "Give it to the logs this gateway witnesses: they list it in witness.peers, and their receipts' verifiers pass it to --witness."
        )
        @OptionGroup var global: GlobalOptions

        func run() async throws {
            let key = try await global.withGateway { gateway in try await gateway.witnessCosigner().verifier.description }
            print(key)
        }
    }
}
