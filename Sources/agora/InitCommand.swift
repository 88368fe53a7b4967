import AgoraApp
import ArgumentParser

struct Init: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Create the store, the log key and the genesis entry; print the log's verifier key.",
        discussion: "Creates the key-encryption key (mode 0600) when it does not exist. Refuses a state directory that already holds a store."
    )

    @OptionGroup var global: GlobalOptions

    @Option(help: "The gateway's domain; the ledger's origin becomes DOMAIN/agora.")
    var domain: String

    @Option(help: "Display name of the gateway (default: the domain).")
    var name: String?

    func run() async throws {
        let configuration = try global.configuration()
        let result = try await Gateway.initialize(configuration, domain: domain, name: name,
                                                  environment: GlobalOptions.environment, logger: global.logger(configuration))
        if result.kekCreated {
            FileHandleOutput.standardError("created key-encryption key \(result.kekFile) (mode 0600); back it up: without it the store's keys cannot be opened")
        }
        FileHandleOutput.standardError("initialized ledger \(result.origin); its verifier key:")
        print(result.verifierKey.description)
    }
}
