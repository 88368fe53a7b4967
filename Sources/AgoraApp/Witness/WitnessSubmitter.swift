internal import AgoraCore
internal import AgoraHTTP
internal import AgoraLedger
internal import Logging
internal import ServiceLifecycle
internal import Synchronization

/// Gathers cosignatures for this gateway's checkpoints from the witnesses in
/// `witness.peers` (C2SP `tlog-witness`), in the background of `agora serve`.
///
/// Whenever the newest checkpoint is larger than what a witness last cosigned, it sends
/// that witness the checkpoint with the consistency proof from the witness's size. A 409
/// tells the size the witness really has: the next request proves from there (at once). A
/// cosignature that verifies against the witness's key joins the stored note
/// (`Ledger.addCosignatures`), which receipts then carry. Failures back off per witness
/// (1 s doubling to 60 s). A witness that has cosigned more than this log holds, or says
/// this log's proof does not verify, means the store was rolled back or forked: that is
/// logged as an error, every time it is seen (with a budget).
final class WitnessSubmitter: Service, Sendable {
    let gateway: Gateway
    let peers: [WitnessPeer]
    let required: Int
    private let client: HTTPClient
    private let logger: Logger
    private let alertAfter: Duration
    private let state = Mutex<[String: PeerStatus]>([:])
    private let alerts = LogAllowanceTimer()

    /// How often the newest checkpoint is looked at: a read transaction, nothing more.
    static let pollInterval: Duration = .milliseconds(200)
    static let requestTimeout: Duration = .seconds(10)

    /// What is known of one witness since the process started.
    struct PeerStatus: Sendable {
        var cosignedSize: UInt64 = 0
        var lastCosigned: ContinuousClock.Instant?
        var failures = 0
        var consecutiveFailures = 0
        var lastError: String?
        var retryAt: ContinuousClock.Instant = .now
    }

    init(gateway: Gateway, peers: [WitnessPeer], required: Int, client: HTTPClient, alertAfter: Duration, logger: Logger) {
        self.gateway = gateway
        self.peers = peers
        self.required = required
        self.client = client
        self.alertAfter = alertAfter
        self.logger = logger
    }

    /// A copy of every witness's status (by verifier key).
    var statuses: [String: PeerStatus] { state.withLock { $0 } }

    func run() async throws {
        let recorded = (try? gateway.witnessSizes()) ?? [:]
        state.withLock { state in
            for peer in peers { state[peer.verifier.description] = PeerStatus(cosignedSize: recorded[peer.verifier.description] ?? 0) }
        }
        let started = ContinuousClock.now
        await cancelWhenGracefulShutdown {
            var lackingSince: ContinuousClock.Instant?
            while !Task.isCancelled {
                do {
                    if let newest = try self.gateway.newestCheckpoint() {
                        let due = self.peers.filter { peer in
                            self.state.withLock { state in
                                guard let status = state[peer.verifier.description] else { return false }
                                return status.cosignedSize != newest.checkpoint.size && status.retryAt <= .now
                            }
                        }
                        await withTaskGroup(of: Void.self) { group in
                            for peer in due { group.addTask { await self.submit(newest, to: peer) } }
                        }
                        // The alert: fewer than the required witnesses have cosigned the newest checkpoint.
                        let cosigned = self.state.withLock { $0.values.filter { $0.cosignedSize >= newest.checkpoint.size }.count }
                        if cosigned >= self.required { lackingSince = nil } else {
                            let since = lackingSince ?? started
                            lackingSince = since
                            if ContinuousClock.now - since >= self.alertAfter, self.alerts.due(every: self.alertAfter) {
                                self.logger.warning("witness: the newest checkpoint lacks cosignatures", metadata: [
                                    "ledger.checkpoint_size": "\(newest.checkpoint.size)", "witness.cosigned": "\(cosigned)",
                                    "witness.required": "\(self.required)", "witness.lacking_s": "\(Int((ContinuousClock.now - since).secondsValue))"])
                            }
                        }
                    }
                } catch {
                    self.logger.error("witness: cannot read the newest checkpoint", metadata: ["error": "\(error)"])
                }
                try? await Task.sleep(for: Self.pollInterval)
            }
        }
    }

    /// One round with one witness: at most two requests (the second after a 409).
    private func submit(_ newest: (checkpoint: Checkpoint, note: String), to peer: WitnessPeer) async {
        let key = peer.verifier.description
        var oldSize = state.withLock { $0[key]?.cosignedSize ?? 0 }
        for _ in 0..<2 {
            if oldSize > newest.checkpoint.size {
                fail(peer, "the witness has cosigned \(oldSize) entries of this log, which holds \(newest.checkpoint.size): "
                     + "the store was rolled back or replaced", evidence: true)
                return
            }
            let response: HTTPClient.Response
            do {
                let request = try gateway.addCheckpointRequest(for: newest, from: oldSize)
                let route = gateway.configuration.witness.routes[peer.host]
                let (address, port) = route.map { Self.split($0, defaultPort: peer.port) } ?? (nil, peer.port)
                response = try await client.post(host: peer.host, port: port, address: address, useTLS: peer.tls, path: peer.path,
                                                 body: request.body, contentType: "text/plain; charset=utf-8", timeout: Self.requestTimeout)
            } catch {
                fail(peer, "\(error)")
                return
            }
            let text = String(decoding: response.body.prefix(4096), as: UTF8.self)
            // One line in the log, whatever the witness wrote.
            let said = String(text.prefix(200).map { $0.isNewline ? " " : $0 }).trimmingSpaces
            switch response.status {
            case 200:
                do {
                    let signatures = try SignedNote.Signature.parseLines(text)
                    let noteText = try SignedNote(parsing: newest.note).text
                    guard let valid = signatures.first(where: { peer.verifier.cosignatureTime(of: noteText, among: [$0]) != nil }) else {
                        fail(peer, "the witness answered without a valid cosignature by its key")
                        return
                    }
                    try await gateway.recordCosignature(valid, of: peer.verifier, size: newest.checkpoint.size)
                    succeed(peer, size: newest.checkpoint.size)
                } catch {
                    fail(peer, "its answer: \(error)")
                }
                return
            case 409 where response.contentType?.hasPrefix("text/x.tlog.size") == true:
                guard let known = UInt64(text.prefix { $0 != "\n" }) else { fail(peer, "a 409 without a size"); return }
                if known == oldSize {
                    // Same size, and still a conflict: it cosigned another tree of that size.
                    fail(peer, "the witness cosigned another tree of size \(known): this log was forked", evidence: true)
                    return
                }
                try? await gateway.recordWitnessSize(known, of: peer.verifier)
                state.withLock { $0[key]?.cosignedSize = known }
                // Ask again from its size; if that is this checkpoint's, the witness compares the roots.
                oldSize = known
            case 422:
                fail(peer, "the witness says the consistency proof from \(oldSize) does not verify: this log's history differs "
                     + "from what it cosigned (\(said))", evidence: true)
                return
            default:
                fail(peer, "HTTP \(response.status): \(said)")
                return
            }
        }
    }

    private func succeed(_ peer: WitnessPeer, size: UInt64) {
        state.withLock { state in
            state[peer.verifier.description]?.cosignedSize = size
            state[peer.verifier.description]?.lastCosigned = .now
            state[peer.verifier.description]?.consecutiveFailures = 0
            state[peer.verifier.description]?.lastError = nil
            state[peer.verifier.description]?.retryAt = .now
        }
    }

    private func fail(_ peer: WitnessPeer, _ reason: String, evidence: Bool = false) {
        let first = state.withLock { state -> Bool in
            var status = state[peer.verifier.description] ?? PeerStatus()
            status.failures += 1
            status.consecutiveFailures += 1
            let first = status.lastError != reason
            status.lastError = reason
            let backoff = min(60, 1 << min(status.consecutiveFailures - 1, 6))
            status.retryAt = .now + .seconds(backoff)
            state[peer.verifier.description] = status
            return first
        }
        guard first || evidence else { return }
        let metadata: Logger.Metadata = ["witness": "\(peer.verifier.name)", "witness.url": "\(peer.url)", "witness.error": "\(reason)"]
        if evidence {
            logger.error("witness: the log's history is disputed", metadata: metadata)
        } else {
            logger.warning("witness: no cosignature", metadata: metadata)
        }
    }

    static func split(_ route: String, defaultPort: Int) -> (String, Int) {
        guard let colon = route.lastIndex(of: ":"), let port = Int(route[route.index(after: colon)...]) else { return (route, defaultPort) }
        return (String(route[..<colon]), port)
    }
}

/// Lets a repeated warning through once per period.
final class LogAllowanceTimer: Sendable {
    private let last = Mutex<ContinuousClock.Instant?>(nil)
    func due(every period: Duration) -> Bool {
        last.withLock { last in
            if let previous = last, ContinuousClock.now - previous < period { return false }
            last = .now
            return true
        }
    }
}

extension String {
    /// Without leading and trailing spaces.
    var trimmingSpaces: String {
        String(drop { $0 == " " }.reversed().drop { $0 == " " }.reversed())
    }
}
