internal import AgoraCore
internal import AgoraHTTP
internal import AgoraLedger
internal import AgoraMQTT
internal import Logging
internal import ServiceLifecycle
internal import Synchronization

/// Gathers cosignatures for this gateway's checkpoints from the witnesses in
/// `witness.peers` (C2SP `tlog-witness`), in the background of `agora serve`.
///
/// One loop per witness (a slow one delays no other): whenever the newest checkpoint is
/// not the one the witness last cosigned, it sends the checkpoint with the consistency
/// proof from that size. A 409 names the size the witness says it has: the next request
/// proves from there (at once), but that claim is kept in memory only — what is recorded,
/// counted as cosigned and shown is only a size proven by a cosignature that verified
/// against the witness's key. A verified cosignature joins the stored note
/// (`Ledger.addCosignatures`), which receipts then carry. Failures back off per witness
/// (1 s doubling to 60 s). A witness that holds more than this log, or says this log's
/// proof does not verify, or has another tree of the same size, means the store was rolled
/// back or forked: logged as an error each time it is seen (with the back-off).
final class WitnessSubmitter: Service, Sendable {
    let gateway: Gateway
    let peers: [WitnessPeer]
    let required: Int
    private let client: HTTPClient
    private let logger: Logger
    private let alertAfter: Duration
    private let state = Mutex<[String: PeerStatus]>([:])
    /// One lacking-cosignatures warning per `alertAfter`.
    private let alerts: LogAllowance

    /// How often the newest checkpoint is looked at: a read transaction, nothing more.
    static let pollInterval: Duration = .milliseconds(200)
    static let requestTimeout: Duration = .seconds(10)
    /// A cosignature timestamped further ahead than this is refused (verifiers may refuse
    /// cosignatures from the future, and receipts carrying one would fail there).
    static let clockSkew: UInt64 = 600

    /// What is known of one witness.
    struct PeerStatus: Sendable {
        /// The size it last cosigned with a signature that verified (recorded in the store).
        var cosignedSize: UInt64 = 0
        /// The size its last 409 named, until a cosignature proves a size again.
        var reportedSize: UInt64?
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
        self.alerts = LogAllowance(burst: 1, perSecond: 1 / max(alertAfter.secondsValue, 1))
        self.logger = logger
    }

    /// A copy of every witness's status (by verifier key).
    var statuses: [String: PeerStatus] { state.withLock { $0 } }

    func run() async throws {
        let recorded = (try? gateway.witnessSizes()) ?? [:]
        state.withLock { state in
            for peer in peers { state[peer.verifier.description] = PeerStatus(cosignedSize: recorded[peer.verifier.description] ?? 0) }
        }
        await cancelWhenGracefulShutdown {
            await withTaskGroup(of: Void.self) { group in
                for peer in self.peers { group.addTask { await self.serve(peer) } }
                group.addTask { await self.watchQuorum() }
            }
        }
    }

    /// One witness's loop.
    private func serve(_ peer: WitnessPeer) async {
        let key = peer.verifier.description
        while !Task.isCancelled {
            do {
                if let newest = try gateway.newestCheckpoint() {
                    let due = state.withLock { state in
                        guard let status = state[key] else { return false }
                        return status.cosignedSize != newest.checkpoint.size && status.retryAt <= .now
                    }
                    if due { await submit(newest, to: peer) }
                }
            } catch {
                logger.error("witness: cannot read the newest checkpoint", metadata: ["error": "\(error)"])
            }
            try? await Task.sleep(for: Self.pollInterval)
        }
    }

    /// Warns when fewer than the required witnesses have cosigned the newest checkpoint
    /// for longer than `witness.alert_after_s`.
    private func watchQuorum() async {
        var lackingSince: ContinuousClock.Instant?
        let started = ContinuousClock.now
        while !Task.isCancelled {
            if let newest = try? gateway.newestCheckpoint() {
                let cosigned = state.withLock { $0.values.filter { $0.cosignedSize >= newest.checkpoint.size }.count }
                if cosigned >= required { lackingSince = nil } else {
                    let since = lackingSince ?? started
                    lackingSince = since
                    if ContinuousClock.now - since >= alertAfter, alerts.spend() != nil {
                        logger.warning("witness: the newest checkpoint lacks cosignatures", metadata: [
                            "ledger.checkpoint_size": "\(newest.checkpoint.size)", "witness.cosigned": "\(cosigned)",
                            "witness.required": "\(required)", "witness.lacking_s": "\(Int((ContinuousClock.now - since).secondsValue))"])
                    }
                }
            }
            try? await Task.sleep(for: .seconds(1))
        }
    }

    /// One round with one witness: at most two requests (the second after a 409).
    private func submit(_ newest: (checkpoint: Checkpoint, note: String), to peer: WitnessPeer) async {
        let key = peer.verifier.description
        var oldSize = state.withLock { $0[key].map { $0.reportedSize ?? $0.cosignedSize } ?? 0 }
        for _ in 0..<2 {
            if oldSize > newest.checkpoint.size {
                state.withLock { $0[key]?.reportedSize = nil }
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
            let said = Self.printable(text.prefix(200))
            switch response.status {
            case 200:
                do {
                    let signatures = try SignedNote.Signature.parseLines(text)
                    let noteText = try SignedNote(parsing: newest.note).text
                    let now = UInt64(max(0, Timestamp.now().seconds))
                    guard let valid = signatures.first(where: { signature in
                        peer.verifier.cosignatureTime(of: noteText, among: [signature]).map { $0 <= now + Self.clockSkew } ?? false
                    }) else {
                        fail(peer, "the witness answered without a valid, current cosignature by its key")
                        return
                    }
                    try await gateway.recordCosignature(valid, of: peer.verifier, size: newest.checkpoint.size, text: noteText)
                    succeed(peer, size: newest.checkpoint.size)
                } catch {
                    fail(peer, "its answer: \(error)")
                }
                return
            case 409 where response.contentType?.hasPrefix("text/x.tlog.size") == true:
                guard let known = UInt64(text.prefix { $0 != "\n" }) else { fail(peer, "a 409 without a size"); return }
                if known == oldSize {
                    // Same size, and still a conflict: it cosigned another tree of that size.
                    state.withLock { $0[key]?.reportedSize = nil }
                    fail(peer, "the witness cosigned another tree of size \(known): this log was forked", evidence: true)
                    return
                }
                state.withLock { $0[key]?.reportedSize = known }
                oldSize = known
            case 422:
                state.withLock { $0[key]?.reportedSize = nil }
                fail(peer, "the witness says the consistency proof from \(oldSize) does not verify: this log's history differs "
                     + "from what it cosigned (\(said))", evidence: true)
                return
            default:
                fail(peer, "HTTP \(response.status): \(said)")
                return
            }
        }
        fail(peer, "the witness named another size twice in a row")
    }

    private func succeed(_ peer: WitnessPeer, size: UInt64) {
        state.withLock { state in
            let key = peer.verifier.description
            state[key]?.cosignedSize = size
            state[key]?.reportedSize = nil
            state[key]?.lastCosigned = .now
            state[key]?.consecutiveFailures = 0
            state[key]?.lastError = nil
            state[key]?.retryAt = .now
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

    /// What a witness wrote, fit for one log line and a terminal: newlines become spaces,
    /// other control and format characters are dropped.
    static func printable(_ text: Substring) -> String {
        var scalars = String.UnicodeScalarView()
        for scalar in text.unicodeScalars {
            if scalar == "\n" || scalar == "\r" || scalar == "\t" { scalars.append(" ") } else if ![.control, .format].contains(scalar.properties.generalCategory) {
                scalars.append(scalar)
            }
        }
        return String(scalars).trimmingSpaces
    }

    static func split(_ route: String, defaultPort: Int) -> (String, Int) {
        guard let colon = route.lastIndex(of: ":"), let port = Int(route[route.index(after: colon)...]) else { return (route, defaultPort) }
        return (String(route[..<colon]), port)
    }
}

extension String {
    /// Without leading and trailing spaces.
    var trimmingSpaces: String {
        String(drop { $0 == " " }.reversed().drop { $0 == " " }.reversed())
    }
}
