import AgoraApp
import AgoraCore
import AgoraMarket
import ArgumentParser

struct Credit: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Mint credits and show balances.",
        subcommands: [Mint.self, Balance.self]
    )

    struct Mint: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Create credits on an account (operators only; a ledger entry).")
        @OptionGroup var global: GlobalOptions
        @Argument(help: "Bare JID of the account.") var jid: String
        @Argument(parsing: .allUnrecognized, help: ArgumentHelp("Whole number of credits.", valueName: "amount")) var amount: [String] = []
        @Option(help: "Why the credits were minted (kept in the ledger).") var memo: String = ""

        func run() async throws {
            guard amount.count == 1 else { throw CLIUsageError(description: "expected one AMOUNT, got \(amount.count) values") }
            let jid = try Parse.jid(jid)
            let amount = try Parse.amount(amount[0])
            let (accepted, balance) = try await global.withGateway { gateway in
                let accepted = try await gateway.market.mint(amount, to: jid, memo: memo, actor: .operator)
                return (accepted, try gateway.market.read { try $0.balance(jid) })
            }
            print("minted \(amount) credits to \(jid) (ledger entry \(accepted.index)); balance \(balance)")
        }
    }

    struct Balance: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Print an account's balance.")
        @OptionGroup var global: GlobalOptions
        @Argument(help: "Bare JID of the account.") var jid: String

        func run() async throws {
            let jid = try Parse.jid(jid)
            let balance = try await global.withGateway(unlockKeys: false) { gateway in
                try gateway.market.read { state in
                    guard try state.account(jid) != nil else { throw MarketRefusal.unknownAccount(jid) }
                    return try state.balance(jid)
                }
            }
            print(balance)
        }
    }
}
