import AgoraApp
import AgoraCore
import AgoraMarket
import ArgumentParser

struct User: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Manage accounts.",
        subcommands: [Add.self, List.self]
    )

    struct Add: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Open an account (a ledger entry).")
        @OptionGroup var global: GlobalOptions
        @Argument(help: "Bare JID of the account, e.g. alice@gw1.example.") var jid: String
        @Option(help: "operator, owner or consumer.") var role: String

        func run() async throws {
            let jid = try Parse.jid(jid)
            let role = try Parse.role(role)
            let accepted = try await global.withGateway { try await $0.market.openAccount(jid, role: role, actor: .operator) }
            print("opened \(jid) as \(role) (ledger entry \(accepted.index))")
        }
    }

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List accounts with role and balance.")
        @OptionGroup var global: GlobalOptions
        @Flag(help: "Print JSON.") var json = false

        struct Row: Codable { let jid: String; let role: String; let balance: UInt64; let opened: String }

        func run() async throws {
            let rows = try await global.withGateway(unlockKeys: false) { gateway in
                try gateway.market.read { state in
                    try state.accounts().map { Row(jid: $0.jid.description, role: $0.role.rawValue, balance: try state.balance($0.jid).value, opened: $0.opened.rfc3339) }
                }
            }
            if json {
                print(try JSONOutput.line(rows))
            } else {
                for row in rows { print("\(row.jid)\t\(row.role)\t\(row.balance)") }
            }
        }
    }
}
