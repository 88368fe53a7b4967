import AgoraApp
import ArgumentParser

struct Status: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Show the gateway's health, identity, ledger, market and store use.",
        discussion: "Exits with status 1 when a health check fails; `agora ledger verify --replay` is the thorough check.")
    @OptionGroup var global: GlobalOptions
    @Flag(help: "Print JSON.") var json = false

    func run() async throws {
        let status = try await global.withGateway(unlockKeys: false) { try GatewayStatus(gateway: $0) }
        if json {
            print(try JSONOutput.line(status))
        } else {
            print(text(status))
        }
        if !status.problems.isEmpty { throw ExitCode(1) }
    }

    private func text(_ status: GatewayStatus) -> String {
        """
        health       \(status.problems.isEmpty ? "ok" : status.problems.joined(separator: "; "))
        gateway      \(status.name) (\(status.origin))
        log key      \(status.logKey)
        ledger       \(status.ledgerEntries) entries, latest checkpoint at \(status.checkpointSize)
        accounts     \(status.accounts)
        sensors      \(status.sensors) (\(status.frozenSensors) frozen)
        purchases    \(status.purchases)
        readings     \(status.readings)
        credits      \(status.totalMinted) minted, \(status.sumOfBalances) in balances
        store        \(status.usedBytes / 1024) KiB used of a \(status.mapSize / 1_048_576) MiB map (may grow to \(status.maxMapSize / 1_048_576) MiB)
        last run     \(status.lastRun.map { "stopped \($0.stoppedAt) (its counters: agora status --json)" } ?? "none stopped cleanly yet")
        """
    }
}

struct Version: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Print the version.")
    /// Accepted like everywhere else, though the version needs no store.
    @OptionGroup var global: GlobalOptions
    func run() throws { print("agora \(AgoraVersion.current)") }
}
