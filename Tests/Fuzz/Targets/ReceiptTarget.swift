import AgoraCore
import AgoraLedger

/// `receipt`: the bytes are receipt JSON as `agora verify-receipt` reads it, checked against
/// the log key of the store that produced the corpus receipts (`agora ledger receipt`).
///
/// Invariants: no crash; a parsed receipt writes and parses back as itself; one that
/// verifies yields an entry the ledger wrote, which decodes.
final class ReceiptTarget: Sendable {
    static let shared = ReceiptTarget()
    static let logKey = "fuzz.example/agora+827cb3bf+AV++3pAWng2c8h2ukPTx9ux1TYq2QshQdvXPTQFjiiM4"

    let verifier = try! NoteVerifier(parsing: ReceiptTarget.logKey)

    func run(_ input: UnsafeRawBufferPointer) -> [String] {
        guard let receipt = try? Receipt(json: Array(input)) else { return [] }
        var problems: [String] = []
        do {
            if try Receipt(json: try receipt.json()) != receipt { problems.append("the receipt does not write and read back as itself") }
        } catch {
            problems.append("a parsed receipt does not write and read back: \(error)")
        }
        guard let entry = try? receipt.verify(with: verifier) else { return problems }
        if (try? LedgerEntry(decoding: entry)) == nil {
            problems.append("receipt \(receipt.index) verifies but its entry is not a ledger entry")
        }
        return problems
    }
}
