internal import AgoraCore
public import AgoraLedger
internal import AgoraStore
internal import Crypto

/// The witness use cases: cosigning other gateways' checkpoints, and gathering cosignatures
/// for this gateway's own.
extension Gateway {
    /// The witness key, opened from the key store; made and sealed there on first use (a
    /// store initialised before witnessing existed has none yet).
    public func witnessCosigner() async throws -> Cosigner {
        guard let keys else { throw GatewayError.noCertificateAuthority("the key store is locked") }
        let name = configuration.witness.cosignerName(domain: XMPPSetup.domain(of: self))
        let tables = store.tables
        let existing = try store.read { txn -> SecretBytes? in
            try txn.contains(tables.keys, StoreKey.text(Cosigner.keyStoreName)) ? try keys.open(Cosigner.keyStoreName, in: txn) : nil
        }
        if let existing { return try Cosigner(name: name, rawPrivateKey: existing.bytes) }
        let fresh = SecretBytes(Array(Curve25519.Signing.PrivateKey().rawRepresentation))
        let sealed = try await store.write { txn -> SecretBytes in
            // Another caller may have sealed one meanwhile: that one wins.
            if try txn.contains(tables.keys, StoreKey.text(Cosigner.keyStoreName)) { return try keys.open(Cosigner.keyStoreName, in: txn) }
            try keys.seal(fresh, as: Cosigner.keyStoreName, in: txn)
            return fresh
        }
        logger.notice("witness key created", metadata: ["witness.name": "\(name)"])
        return try Cosigner(name: name, rawPrivateKey: sealed.bytes)
    }

    /// As a witness (C2SP `add-checkpoint`): authenticates `body` (pure: parsing, the log's
    /// signature), then, in one write transaction, checks it against the log's recorded
    /// state and records it; once that is durable, answers with this witness's cosignature
    /// line. A refusal writes nothing, and so does a checkpoint the witness already holds.
    func addCheckpoint(_ body: [UInt8], cosigner: Cosigner, now: () -> UInt64) async throws -> Result<String, WitnessCheck.Refusal> {
        let request: AddCheckpointRequest
        do { request = try AddCheckpointRequest(parsing: body) } catch { return .failure(.malformed(error)) }
        let logs = Dictionary(configuration.witness.logs.map { ($0.origin, [$0.verifier]) }, uniquingKeysWith: +)
        let authenticated: WitnessCheck.Authenticated
        switch WitnessCheck.authenticate(request, keys: { logs[$0] }) {
        case .failure(let refusal): return .failure(refusal)
        case .success(let passed): authenticated = passed
        }
        let table = store.tables.witnessLogs
        let key = StoreKey.text(authenticated.checkpoint.origin)
        let verdict = try await store.write { txn -> Result<WitnessCheck.Accepted, WitnessCheck.Refusal> in
            var known: WitnessCheck.LogState?
            if let stored = try txn.get(table, key) {
                // A record that does not decode must not read as "never cosigned": that would accept a rollback.
                guard let state = WitnessCheck.LogState(encoded: stored) else {
                    throw LedgerError.tampered("the witness record of \(authenticated.checkpoint.origin) is corrupt", index: nil)
                }
                known = state
            }
            let verdict = WitnessCheck.extend(authenticated, known: known)
            if case .success(let accepted) = verdict, accepted.state != known {
                try txn.put(table, key, accepted.state.encoded)
            }
            return verdict
        }
        switch verdict {
        case .success(let accepted): return .success(try cosigner.cosign(accepted.text, time: now()).line)
        case .failure(let refusal): return .failure(refusal)
        }
    }

    /// As a witness: the newest checkpoint cosigned for each log witnessed.
    public func witnessedLogs() throws -> [(origin: String, size: UInt64)] {
        let table = store.tables.witnessLogs
        return try store.read { txn in
            var result: [(String, UInt64)] = []
            try txn.scan(table) { key, value in
                if let state = WitnessCheck.LogState(encoded: Array(value)) { result.append((String(decoding: key, as: UTF8.self), state.size)) }
                return true
            }
            return result
        }
    }

    // MARK: This gateway's log, witnessed by others

    /// The newest signed checkpoint of this gateway's log, parsed.
    func newestCheckpoint() throws -> (checkpoint: Checkpoint, note: String)? {
        try store.read { txn in
            guard let latest = try ledger.latestCheckpoint(in: txn) else { return nil }
            return (try Checkpoint(parsing: try SignedNote(parsing: latest.note).text), latest.note)
        }
    }

    /// The size each witness last cosigned (by its verifier key): only sizes proven by a
    /// cosignature that verified are recorded.
    func witnessSizes() throws -> [String: UInt64] {
        let table = store.tables.witnessPeers
        return try store.read { txn in
            var sizes: [String: UInt64] = [:]
            try txn.scan(table) { key, value in
                if let size = StoreKey.readU64(value) { sizes[String(decoding: key, as: UTF8.self)] = size }
                return true
            }
            return sizes
        }
    }

    /// The add-checkpoint request for `checkpoint`, with the consistency proof from
    /// `oldSize` (what the witness last cosigned).
    func addCheckpointRequest(for checkpoint: (checkpoint: Checkpoint, note: String), from oldSize: UInt64) throws -> AddCheckpointRequest {
        let proof = oldSize == 0 || oldSize >= checkpoint.checkpoint.size ? [] : try store.read { txn in
            try ledger.tree.consistencyProof(oldSize: oldSize, newSize: checkpoint.checkpoint.size, in: txn)
        }
        return AddCheckpointRequest(oldSize: oldSize, proof: proof, checkpoint: checkpoint.note)
    }

    /// Records a witness's cosignature of the checkpoint of `size` whose note text is
    /// `text` (verified by the caller against that text): it joins the stored note, and the
    /// witness's recorded size moves on.
    func recordCosignature(_ signature: SignedNote.Signature, of witness: CosignerVerifier, size: UInt64, text: String) async throws {
        let tables = store.tables, ledger = self.ledger
        _ = try await store.write { txn in
            try txn.put(tables.witnessPeers, StoreKey.text(witness.description), StoreKey.u64(size))
            return try ledger.addCosignatures([signature], toCheckpointOf: size, text: text, in: txn)
        }
    }
}

/// What `agora ledger verify --against` found when it held this log against a checkpoint
/// of it from elsewhere (a witness's, a receipt's).
public struct CheckpointComparison: Sendable {
    public enum Verdict: Sendable, Equatable {
        /// This log, at the checkpoint's size, has the checkpoint's root.
        case consistent
        /// This log holds fewer entries than the checkpoint: rolled back.
        case rolledBack(localSize: UInt64)
        /// This log, at the checkpoint's size, has another root: forked.
        case forked(localRoot: [UInt8])
    }
    public let verdict: Verdict
    /// The checkpoint compared against (signed by this log's key: so the log did sign it).
    public let theirs: Checkpoint
    /// This log's own signed checkpoint of the same size, when it stored one (the other
    /// half of the evidence), else its newest.
    public let ours: String?
}

extension Gateway {
    /// Holds this log against `note`, a checkpoint of it signed by its log key (`trusted`,
    /// or the key the genesis entry names) — e.g. the cosigned checkpoint a witness or a
    /// receipt holds. Its signature must verify: evidence a log never signed proves nothing.
    public func compare(against note: String, trusted: NoteVerifier?) throws -> CheckpointComparison {
        let verifier = try trusted ?? genesisLogKey()
        let theirs = try Checkpoint.open(note, verifier: verifier)
        return try store.read { txn in
            let size = try ledger.size(in: txn)
            let stored = try txn.get(store.tables.ledgerCheckpoints, StoreKey.u64(theirs.size)).map { String(decoding: $0, as: UTF8.self) }
            guard theirs.size <= size else {
                return CheckpointComparison(verdict: .rolledBack(localSize: size), theirs: theirs, ours: try ledger.latestCheckpoint(in: txn)?.note)
            }
            let root = try ledger.tree.root(size: theirs.size, in: txn)
            return CheckpointComparison(verdict: root == theirs.root ? .consistent : .forked(localRoot: root), theirs: theirs,
                                        ours: try stored ?? ledger.latestCheckpoint(in: txn)?.note)
        }
    }

    /// The log key the genesis entry names.
    func genesisLogKey() throws -> NoteVerifier {
        let tables = store.tables
        let named = try store.read { txn -> String? in
            guard let bytes = try txn.get(tables.ledgerEntries, StoreKey.u64(0)), case .genesis(let genesis) = try LedgerEntry(decoding: bytes).body else { return nil }
            return genesis.logKey
        }
        guard let named else { throw LedgerError.notInitialized }
        return try NoteVerifier(parsing: named)
    }
}
