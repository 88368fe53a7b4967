import AgoraApp
import AgoraCore
import AgoraLedger
import AgoraMarket
import ArgumentParser
import FoundationEssentials
#if canImport(Glibc)
import Glibc
#endif

struct LedgerCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "ledger",
        abstract: "Audit the ledger, show entries, checkpoints, receipts and consistency proofs.",
        subcommands: [Verify.self, Show.self, Checkpoint.self, ReceiptCommand.self, Consistency.self]
    )

    struct Verify: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Recompute every hash, check every checkpoint; with --replay, rebuild the tables and compare.",
            discussion: "Prints progress on stderr when the check takes more than a second."
        )
        @OptionGroup var global: GlobalOptions
        @Flag(help: "Also rebuild every ledger-derived table from the entries and compare byte for byte.") var replay = false
        @Option(name: .customLong("log-key"), help: "The log verifier key you trust (from agora init or a published checkpoint); without it the key named in the genesis entry is believed.")
        var logKey: String?
        @Option(name: .customLong("against"), help: "A checkpoint of this log signed by its key (a witness's or a receipt's, '-' for stdin): report a fork or a rollback against it, with both checkpoints as evidence.")
        var against: String?

        func run() async throws {
            if let against {
                let note = String(decoding: try InputFile.read(against, limit: 64 * 1024), as: UTF8.self)
                let trusted = try logKey.map { try NoteVerifier(parsing: $0) }
                let comparison = try await global.withGateway(unlockKeys: false) { gateway in try gateway.compare(against: note, trusted: trusted) }
                let theirs = comparison.theirs
                switch comparison.verdict {
                case .consistent:
                    print("ok: at size \(theirs.size) this log has the checkpoint's root \(Data(theirs.root).base64EncodedString())")
                    return
                case .rolledBack(let local):
                    print("ROLLED BACK: the checkpoint covers \(theirs.size) entries; this log holds \(local)")
                case .forked(let root):
                    print("FORKED: at size \(theirs.size) this log's root is \(Data(root).base64EncodedString()); the checkpoint's is \(Data(theirs.root).base64EncodedString())")
                }
                print("\n# the checkpoint held against this log:\n\(note)")
                if let ours = comparison.ours { print("# this log's own checkpoint:\n\(ours)") }
                throw ExitCode(1)
            }
            let started = ContinuousClock.now
            let progress: (String) -> (UInt64, UInt64) -> Void = { phase in
                { done, total in
                    if ContinuousClock.now - started > .seconds(1) {
                        FileHandleOutput.standardError("\(phase): \(done)/\(total) entries")
                    }
                }
            }
            let trusted = try logKey.map { try NoteVerifier(parsing: $0) }
            try await global.withGateway(unlockKeys: false) { gateway in
                let report = try gateway.verifyLedger(trusted: trusted, progress: progress("verify"))
                let anchor = trusted == nil ? " (named by the genesis entry; pass --log-key to pin it)" : " (the trusted key)"
                print("ok: \(report.entries) entries, \(report.checkpoints) signed checkpoints verified; log key \(report.verifier?.description ?? "?")\(anchor)")
                if replay {
                    let scratch = try ScratchDirectory()
                    defer { scratch.remove() }
                    let result = try await gateway.replayLedger(scratchDirectory: scratch.path, progress: progress("replay"))
                    print("ok: replay of \(result.entries) entries reproduces \(result.tablesCompared.joined(separator: ", ")) byte for byte")
                }
            }
        }
    }

    struct Show: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Print ledger entries.")
        @OptionGroup var global: GlobalOptions
        @Option(help: "First index.") var from: UInt64 = 0
        @Option(help: "Most entries to print.") var limit: UInt64 = 100
        @Flag(help: "Print one JSON array of {index, entry}.") var json = false

        func run() async throws {
            let entries = try await global.withGateway(unlockKeys: false) { gateway in try gateway.entries(from: from, limit: limit) }
            if json {
                // Entries are JSON already: embed their exact bytes.
                let items = entries.map { "{\"entry\":\(String(decoding: $0.1, as: UTF8.self)),\"index\":\($0.0)}" }
                print("[" + items.joined(separator: ",") + "]")
            } else {
                for (index, bytes) in entries { print("\(index)\t\(String(decoding: bytes, as: UTF8.self))") }
            }
        }
    }

    struct Checkpoint: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Print the latest signed checkpoint (a C2SP signed note).")
        @OptionGroup var global: GlobalOptions

        func run() async throws {
            let note = try await global.withGateway { gateway in try await gateway.latestCheckpoint() }
            guard let note else { throw LedgerError.noCheckpoint(covering: 0) }
            print(note, terminator: "")
        }
    }

    struct ReceiptCommand: AsyncParsableCommand {
        static let configuration = CommandConfiguration(commandName: "receipt", abstract: "Print the receipt JSON of an entry.")
        @OptionGroup var global: GlobalOptions
        @Argument(help: "Ledger index.") var index: UInt64

        func run() async throws {
            let receipt = try await global.withGateway { gateway in try await gateway.receipt(for: index) }
            print(try JSONOutput.line(receipt))
        }
    }

    struct Consistency: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Print the RFC 9162 consistency proof between two tree sizes as JSON.")
        @OptionGroup var global: GlobalOptions
        @Argument(help: "Older tree size.") var old: UInt64
        @Argument(help: "Newer tree size.") var new: UInt64

        struct Output: Codable { let oldSize: UInt64, newSize: UInt64, oldRoot: String, newRoot: String, proof: [String] }

        func run() async throws {
            guard old <= new else { throw CLIUsageError(description: "OLD (\(old)) must not be larger than NEW (\(new))") }
            let consistency = try await global.withGateway(unlockKeys: false) { gateway in try gateway.consistency(old: old, new: new) }
            let output = Output(oldSize: old, newSize: new, oldRoot: Data(consistency.oldRoot).base64EncodedString(),
                                newRoot: Data(consistency.newRoot).base64EncodedString(),
                                proof: consistency.proof.map { Data($0).base64EncodedString() })
            print(try JSONOutput.line(output))
        }
    }
}

/// A private temporary directory (mode 0700) for replay's scratch store.
struct ScratchDirectory {
    let path: String

    init() throws {
        let base = GlobalOptions.environment["TMPDIR"].flatMap { $0.isEmpty ? nil : $0 } ?? "/tmp"
        var template = Array("\(base)/agora-replay-XXXXXX".utf8CString)
        guard let made = template.withUnsafeMutableBufferPointer({ mkdtemp($0.baseAddress!) }) else {
            throw CLIUsageError(description: "cannot create a scratch directory in \(base)")
        }
        path = String(cString: made)
    }

    func remove() { rmdir(path) }
}
