import AgoraLedger
import FoundationEssentials

/// `add-checkpoint`: the bytes are a C2SP `add-checkpoint` request body as the witness
/// endpoint reads it, checked against the fuzz corpus's log key twice: as a witness that
/// never saw the log, and as one that cosigned its checkpoint of size 7 (the corpus
/// receipts' checkpoint).
///
/// Invariants: no crash; a parsed request writes and parses back as itself; what is
/// accepted is a checkpoint the log key signed, from old size 0 with no proof for the new
/// witness, and one that extends (or equals) the known tree for the other; a 409 names the
/// size the witness knows.
enum AddCheckpointTarget {
    static let verifier = try! NoteVerifier(parsing: ReceiptTarget.logKey)
    static let known = WitnessCheck.LogState(size: 7, root: Array(Data(base64Encoded: "ghvPuQHn6iewvn+FGtWezVkLarOwhY60hnRRLKscEO0=")!))

    static func run(_ input: UnsafeRawBufferPointer) -> [String] {
        guard let request = try? AddCheckpointRequest(parsing: Array(input)) else { return [] }
        var problems: [String] = []
        if (try? AddCheckpointRequest(parsing: request.body)) != request { problems.append("the request does not write and read back as itself") }
        for state in [nil, known] {
            let verdict: Result<WitnessCheck.Accepted, WitnessCheck.Refusal>
            do {
                verdict = try WitnessCheck.check(request, keys: { $0 == verifier.name ? [verifier] : nil }, latest: { _ in state })
            } catch {
                problems.append("the check threw \(error) with a state that cannot fail to read")
                continue
            }
            switch verdict {
            case .success(let accepted):
                if (try? Checkpoint.open(request.checkpoint, verifier: verifier)) != accepted.checkpoint {
                    problems.append("accepted a checkpoint the log key did not sign")
                }
                if let state {
                    if accepted.checkpoint.size < state.size { problems.append("accepted a rollback from \(state.size) to \(accepted.checkpoint.size)") }
                    if accepted.checkpoint.size == state.size, accepted.checkpoint.root != state.root { problems.append("accepted a fork at the known size") }
                } else if request.oldSize != 0 || !request.proof.isEmpty {
                    problems.append("a witness that never saw the log accepted old size \(request.oldSize) with \(request.proof.count) proof hashes")
                }
            case .failure(let refusal):
                if refusal.status == 409, refusal.body != "\(state?.size ?? 0)\n" { problems.append("a 409 named \(refusal.body), not the known size") }
            }
        }
        return problems
    }
}
