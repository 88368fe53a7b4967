import AgoraApp
import AgoraCore
import AgoraMarket
import ArgumentParser

struct User: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Manage accounts.",
        subcommands: [Add.self, AddMany.self, Passwd.self, List.self]
    )

    struct Add: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Open an account (a ledger entry) with an XMPP password.",
            discussion: "The password is read from stdin with --password-stdin; otherwise one is generated and printed once. Only its SCRAM keys are stored.")
        @OptionGroup var global: GlobalOptions
        @Argument(help: "Bare JID of the account, e.g. alice@gw1.example.") var jid: String
        @Option(help: "operator, owner or consumer.") var role: String
        @Flag(name: .customLong("password-stdin"), help: "Read the password from the first line of stdin.") var passwordStdin = false
        @Flag(help: "The account lives on another XMPP server (a federated consumer): opened without a password, since it cannot log in here.")
        var remote = false

        func run() async throws {
            let jid = try Parse.jid(jid)
            let role = try Parse.role(role)
            if remote {
                guard !passwordStdin else { throw ValidationError("a --remote account has no password here; drop --password-stdin") }
                let index = try await global.withGateway { try await $0.openRemoteAccount(jid, role: role, actor: .operator) }
                print("opened remote account \(jid) as \(role) (ledger entry \(index)); it logs in at its own server")
                return
            }
            let password = passwordStdin ? try PasswordInput.readLine() : Gateway.generatePassword()
            try Gateway.checkPassword(password)
            let index = try await global.withGateway { gateway in
                try await gateway.openLocalAccount(jid, role: role, password: password, actor: .operator)
            }
            print("opened \(jid) as \(role) (ledger entry \(index))")
            if !passwordStdin { print("password: \(password)") }
        }
    }

    struct AddMany: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "add-many",
            abstract: "Open PREFIX0…PREFIX<N-1>@DOMAIN accounts sharing one password from stdin (test and benchmark set-ups).")
        @OptionGroup var global: GlobalOptions
        @Option(help: "Localpart prefix.") var prefix: String
        @Option(help: "How many accounts.") var count: Int
        @Option(help: "operator, owner or consumer.") var role: String
        @Flag(name: .customLong("password-stdin"), help: "Read the password from the first line of stdin (required).") var passwordStdin = false

        func run() async throws {
            guard passwordStdin else { throw ValidationError("add-many needs --password-stdin") }
            guard (1...100_000).contains(count) else { throw ValidationError("--count must be 1…100000") }
            let role = try Parse.role(role)
            let password = try PasswordInput.readLine()
            try Gateway.checkPassword(password)
            let opened = try await global.withGateway { gateway in
                let domain = XMPPSetup.domain(of: gateway)
                let jids = try (0..<count).map { try Parse.jid("\(prefix)\($0)@\(domain)") }
                try await withThrowingTaskGroup(of: Void.self) { group in
                    for chunk in stride(from: 0, to: jids.count, by: 64) {
                        group.addTask {
                            for jid in jids[chunk..<min(chunk + 64, jids.count)] {
                                _ = try await gateway.market.openAccount(jid, role: role, actor: .operator)
                                try await gateway.setPassword(password, for: jid)
                            }
                        }
                    }
                    try await group.waitForAll()
                }
                return jids.count
            }
            print("opened \(opened) accounts")
        }
    }

    struct Passwd: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Set an account's XMPP password (from stdin with --password-stdin, else generated and printed).")
        @OptionGroup var global: GlobalOptions
        @Argument(help: "Bare JID of the account.") var jid: String
        @Flag(name: .customLong("password-stdin"), help: "Read the password from the first line of stdin.") var passwordStdin = false

        func run() async throws {
            let jid = try Parse.jid(jid)
            let password = passwordStdin ? try PasswordInput.readLine() : Gateway.generatePassword()
            try Gateway.checkPassword(password)
            try await global.withGateway { try await $0.setPassword(password, for: jid) }
            print("password set for \(jid)")
            if !passwordStdin { print("password: \(password)") }
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
