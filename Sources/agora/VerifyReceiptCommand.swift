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
        let keyText = logKey.contains("+") ? logKey : String(decoding: try readFile(logKey, limit: 4096), as: UTF8.self)
        let verifier = try NoteVerifier(parsing: keyText)
        let receipt = try Receipt(json: try readFile(file, limit: Receipt.maxSize + 1))
        let entryBytes = try receipt.verify(with: verifier)
        let summary = (try? LedgerEntry(decoding: entryBytes)).map { "\($0.body.type) by \($0.actor) at \($0.time)" } ?? "undecodable entry"
        print("ok: entry \(receipt.index) (\(summary)) is in \(verifier.name) at tree size \(receipt.treeSize)")
        print(String(decoding: entryBytes, as: UTF8.self))
    }

    private func readFile(_ path: String, limit: Int) throws -> [UInt8] {
        let file = path == "-" ? fdopen(dup(0), "r") : fopen(path, "r")
        guard let file else { throw CLIUsageError(description: "cannot read \(path): \(String(cString: strerror(errno)))") }
        defer { fclose(file) }
        var bytes: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 65_536)
        while bytes.count <= limit {
            let n = fread(&buffer, 1, buffer.count, file)
            if n == 0 { break }
            bytes.append(contentsOf: buffer[0..<n])
        }
        guard bytes.count <= limit else { throw CLIUsageError(description: "\(path) is larger than \(limit) bytes") }
        return bytes
    }
}
