import AgoraClient
import AgoraCore
import ArgumentParser
import FoundationEssentials
#if canImport(Glibc)
import Glibc
#endif

/// `agora client rate` and `agora client scores`: ratings and the trust model (urn:agora:trust:1).
extension Client {
    struct Rate: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Rate one of your purchases: how satisfied you were, and how much it mattered.",
            discussion: """
                The rating goes on the gateway's ledger; its receipt is verified and saved. Rating the same purchase \
                again within the gateway's revision period revises it, once; after that it is final.
                """)
        @OptionGroup var connection: Connection
        @Argument(help: "The purchase id (agora client purchases lists them).") var purchase: String
        @Option(help: "From 0 (not at all) to 1 (fully), at most three decimals, e.g. 0.875.") var satisfaction: String
        @Option(help: "How much the purchase mattered, 1 … the gateway's scale (5 unless its operator changed it).") var weight: Int
        @Option(help: "A short comment (280 bytes).") var comment = ""
        @Option(help: ArgumentHelp("Where to save the receipt (default: rating-<ledger index>.json).", valueName: "file")) var receipt: String?

        func validate() throws {
            guard Thousandths.parse(satisfaction) != nil else {
                throw ValidationError("--satisfaction is a decimal from 0 to 1 with at most three decimals, e.g. 0.875")
            }
            guard weight >= 1 else { throw ValidationError("--weight is 1 or more") }
        }

        func run() async throws {
            let rated = try await connection.with { client in
                let pin = try await connection.pin(client)
                return try await TrustRequests(client: client).rate(purchase: purchase, satisfaction: satisfaction, weight: weight,
                                                                    comment: comment, verifier: pin.verifier)
            }
            let file = receipt ?? "rating-\(rated.ledgerIndex).json"
            guard let handle = fopen(file, "w"), fputs(rated.receipt + "\n", handle) >= 0, fclose(handle) == 0 else {
                throw CLIUsageError(description: "the rating is recorded, but its receipt could not be saved to \(file): \(systemErrorText(errno))")
            }
            print("\(rated.revision == 0 ? "rated" : "revised the rating of") purchase \(purchase) (ledger entry \(rated.ledgerIndex)); receipt verified and saved to \(file)")
        }
    }

    struct Scores: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "What the gateway's trust model says of a sensor, or of an owner: trust, reputation, dependability.",
            discussion: """
                trust is yours (from your own ratings), reputation everyone else's, both M-Sec's mean minus deviation; \
                dependability is a·trust + b·reputation + c·reliability + d·popularity with the gateway's weights \
                or --weights a,b,c,d.
                """)
        @OptionGroup var connection: Connection
        @Option(help: "The sensor id.") var sensor: String?
        @Option(help: "An owner's JID: the scores of everything it sells.") var owner: String?
        @Option(help: "Weights a,b,c,d of dependability (≥ 0, summing to 1).") var weights: String?
        @Flag(help: "Print JSON.") var json = false

        func validate() throws {
            guard (sensor == nil) != (owner == nil) else { throw ValidationError("give exactly one of --sensor and --owner") }
        }

        func run() async throws {
            let scores = try await connection.with { try await TrustRequests(client: $0).scores(sensor: sensor, owner: owner, weights: weights) }
            if json { print(try JSONOutput.line(scores)); return }
            func fixed(_ x: Double) -> String { String((x * 1000).rounded() / 1000) }
            print("""
                \(scores.subject): dependability \(fixed(scores.dependability)) (weights \(scores.weights))
                  trust \(fixed(scores.trust)) from \(scores.ownRatings) of your ratings, reputation \(fixed(scores.reputation)) from \(scores.ratings - scores.ownRatings) others'
                  reliability \(scores.reliability.map(fixed) ?? "not measured yet"), popularity \(fixed(scores.popularity)) (\(scores.purchases) purchases)\
                \(scores.newcomer ? "\n  a newcomer: too few ratings to judge" : "")\(scores.blacklisted ? "\n  blacklisted: rated badly and often" : "")
                """)
        }
    }
}
