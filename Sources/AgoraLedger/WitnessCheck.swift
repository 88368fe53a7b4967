/// The checks a C2SP witness makes before it cosigns (https://c2sp.org/tlog-witness,
/// `add-checkpoint`), in the spec's order, with the status each refusal answers.
///
/// Pure: the caller reads the log's state, calls `check`, and — in the same write
/// transaction, so two requests cannot both pass against one old size and roll the
/// state back — stores the accepted checkpoint before it answers with the cosignature.
public enum WitnessCheck {
    /// The newest checkpoint a witness has cosigned for one log.
    public struct LogState: Sendable, Hashable {
        public let size: UInt64
        public let root: [UInt8]
        public init(size: UInt64, root: [UInt8]) { self.size = size; self.root = root }

        /// Stored as the size (8 bytes, big-endian) and the root.
        public var encoded: [UInt8] { withUnsafeBytes(of: size.bigEndian) { Array($0) } + root }
        public init?(encoded bytes: [UInt8]) {
            guard bytes.count == 8 + TreeHash.size else { return nil }
            self.init(size: bytes.prefix(8).reduce(0) { $0 << 8 | UInt64($1) }, root: Array(bytes.dropFirst(8)))
        }
    }

    /// Why a checkpoint was not cosigned: the HTTP status the spec gives, and a body.
    public struct Refusal: Error, Sendable, Hashable, CustomStringConvertible {
        public enum Reason: String, Sendable, CaseIterable {
            case malformed, unknownLog = "unknown_log", badSignature = "bad_signature", oldSizeTooLarge = "old_size_too_large"
            /// 409: the old size is not the size this witness last cosigned.
            case conflict
            /// 409 too: the size it last cosigned, with another root — a fork.
            case forked
            /// 422: the consistency proof does not verify.
            case inconsistent
        }
        public let reason: Reason
        public let status: Int
        public let body: String
        /// `text/x.tlog.size` on a 409, which tells the log the size the witness knows.
        public let contentType: String
        public var description: String { "\(status) \(reason.rawValue): \(body)" }

        /// 400: the body is not an add-checkpoint request at all.
        public static func malformed(_ error: LedgerError) -> Refusal { .plain(.malformed, 400, error.description) }

        static func plain(_ reason: Reason, _ status: Int, _ body: String) -> Refusal {
            Refusal(reason: reason, status: status, body: body + "\n", contentType: "text/plain; charset=utf-8")
        }
        static func conflict(knownSize: UInt64, forked: Bool = false) -> Refusal {
            Refusal(reason: forked ? .forked : .conflict, status: 409, body: "\(knownSize)\n", contentType: "text/x.tlog.size")
        }
    }

    /// What passed: the checkpoint to record as the log's new state, and the note text
    /// to cosign.
    public struct Accepted: Sendable, Hashable {
        public let checkpoint: Checkpoint
        public let text: String
        public var state: LogState { LogState(size: checkpoint.size, root: checkpoint.root) }
    }

    /// A request whose checkpoint a trusted key signed: what `authenticate` found.
    public struct Authenticated: Sendable, Hashable {
        public let request: AddCheckpointRequest
        public let checkpoint: Checkpoint
        public let text: String
    }

    /// The checks that need no state (400 malformed, 404, 403, 400 old size): pure, so a
    /// witness makes them before it takes the store's writer.
    public static func authenticate(_ request: AddCheckpointRequest, keys: (_ origin: String) -> [NoteVerifier]?) -> Result<Authenticated, Refusal> {
        let note: SignedNote
        let checkpoint: Checkpoint
        do {
            note = try SignedNote(parsing: request.checkpoint)
            checkpoint = try Checkpoint(parsing: note.text)
        } catch {
            return .failure(.plain(.malformed, 400, "not a signed checkpoint: \(error)"))
        }
        guard let verifiers = keys(checkpoint.origin) else {
            return .failure(.plain(.unknownLog, 404, "this witness does not witness the log \(checkpoint.origin)"))
        }
        // Signatures by unknown keys are ignored; one valid signature by a trusted key suffices.
        guard verifiers.contains(where: { note.hasValidSignature(by: $0) }) else {
            return .failure(.plain(.badSignature, 403, "no signature by a key this witness trusts for \(checkpoint.origin) verifies"))
        }
        guard request.oldSize <= checkpoint.size else {
            return .failure(.plain(.oldSizeTooLarge, 400, "old size \(request.oldSize) is larger than the checkpoint's \(checkpoint.size)"))
        }
        return .success(Authenticated(request: request, checkpoint: checkpoint, text: note.text))
    }

    /// The checks against what the witness has cosigned for the log (`known`, nil when
    /// never): 409 for another old size or another root at the same size, 422 for a proof
    /// that does not verify. Run in the write transaction that records the result.
    public static func extend(_ authenticated: Authenticated, known: LogState?) -> Result<Accepted, Refusal> {
        let request = authenticated.request, checkpoint = authenticated.checkpoint
        guard request.oldSize == (known?.size ?? 0) else { return .failure(.conflict(knownSize: known?.size ?? 0)) }
        if let known {
            if known.size == checkpoint.size {
                guard known.root == checkpoint.root else { return .failure(.conflict(knownSize: known.size, forked: true)) }
                guard request.proof.isEmpty else {
                    return .failure(.plain(.inconsistent, 422, "the proof must be empty when the old size is the checkpoint's"))
                }
            } else if !MerkleProofs.verifyConsistency(oldSize: known.size, oldRoot: known.root, newSize: checkpoint.size,
                                                      newRoot: checkpoint.root, proof: request.proof) {
                return .failure(.plain(.inconsistent, 422, "the consistency proof from \(known.size) to \(checkpoint.size) does not verify"))
            }
        } else if !request.proof.isEmpty {
            return .failure(.plain(.inconsistent, 422, "the proof must be empty when the old size is 0"))
        }
        return .success(Accepted(checkpoint: checkpoint, text: authenticated.text))
    }

    /// Both steps: checks `request` against the logs the witness knows (origin → its keys)
    /// and the state it has cosigned for that origin (`latest`, nil when never).
    public static func check(_ request: AddCheckpointRequest, keys: (_ origin: String) -> [NoteVerifier]?,
                             latest: (_ origin: String) throws -> LogState?) throws -> Result<Accepted, Refusal> {
        switch authenticate(request, keys: keys) {
        case .failure(let refusal): return .failure(refusal)
        case .success(let authenticated): return extend(authenticated, known: try latest(authenticated.checkpoint.origin))
        }
    }
}
