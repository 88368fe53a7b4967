import AgoraCore
import AgoraLedger
import ArgumentParser
#if canImport(Glibc)
import Glibc
#endif

struct VerifyReceipt: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "verify-receipt",
        abstract: "Verify a receipt offline: checkpoint signature and inclusion proof. Needs no store."
    )
    /// Accepted like everywhere else, though this command never opens a store.
    @OptionGroup var global: GlobalOptions
    @Argument(help: "Receipt JSON file ('-' for stdin).") var file: String
    @Option(name: .customLong("log-key"), help: "The log's verifier key (name+hexid+base64), or a file holding it.") var logKey: String
    @Option(name: .customLong("witness"), help: "A witness's verifier key (or a file holding it) whose cosignature counts; repeat for each.")
    var witnesses: [String] = []
    @Option(name: .customLong("min-witnesses"), help: "How many of the --witness keys must have cosigned the receipt's checkpoint (default: all given).")
    var minWitnesses: Int?

    func run() throws {
        let verifier = try NoteVerifier(parsing: try Self.key(logKey))
        let witnessKeys = try witnesses.map { try CosignerVerifier(parsing: try Self.key($0)) }
        let required = minWitnesses ?? witnessKeys.count
        guard required >= 0, required <= witnessKeys.count else {
            throw CLIUsageError(description: "--min-witnesses \(required) needs at least that many --witness keys (\(witnessKeys.count) given)")
        }
        let receipt = try Receipt(json: try InputFile.read(file, limit: Receipt.maxSize + 1))
        let (entryBytes, cosigned) = try receipt.verify(with: verifier, witnesses: witnessKeys, minimum: required)
        let summary = (try? LedgerEntry(decoding: entryBytes)).map { "\($0.body.type) by \($0.actor) at \($0.time)" } ?? "undecodable entry"
        let witnessed = witnessKeys.isEmpty ? "" : ", cosigned by \(cosigned.count) of \(Set(witnessKeys).count) witnesses ("
            + cosigned.keys.map(\.name).sorted().joined(separator: ", ") + ")"
        print("ok: entry \(receipt.index) (\(summary)) is in \(verifier.name) at tree size \(receipt.treeSize)\(witnessed)")
        print(String(decoding: entryBytes, as: UTF8.self))
    }

    /// A key given inline (it has the `+` separators) or in a file.
    static func key(_ text: String) throws -> String {
        text.contains("+") ? text : String(decoding: try InputFile.read(text, limit: 4096), as: UTF8.self)
    }
}
