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

    func run() throws {
        let keyText = logKey.contains("+") ? logKey : String(decoding: try InputFile.read(logKey, limit: 4096), as: UTF8.self)
        let verifier = try NoteVerifier(parsing: keyText)
        let receipt = try Receipt(json: try InputFile.read(file, limit: Receipt.maxSize + 1))
        let entryBytes = try receipt.verify(with: verifier)
        let summary = (try? LedgerEntry(decoding: entryBytes)).map { "\($0.body.type) by \($0.actor) at \($0.time)" } ?? "undecodable entry"
        print("ok: entry \(receipt.index) (\(summary)) is in \(verifier.name) at tree size \(receipt.treeSize)")
        print(String(decoding: entryBytes, as: UTF8.self))
    }
}
