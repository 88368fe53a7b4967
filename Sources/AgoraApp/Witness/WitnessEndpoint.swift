internal import AgoraCore
internal import AgoraHTTP
internal import AgoraLedger
internal import AgoraMQTT
internal import Logging
internal import Synchronization

/// `POST /add-checkpoint`: this gateway as a C2SP witness for the logs in `witness.logs`.
///
/// Anyone may submit (the spec authenticates nothing but the log's signature). Two limits
/// bound what a flood costs: refused submissions spend a small bucket per source address
/// (so junk from one address cannot starve the logs that submit real checkpoints), and
/// all requests share one bucket (`witness.max_requests_per_second`) that bounds signature
/// checks and store writes. Parsing and the log's signature are checked before the store's
/// writer is asked for anything. Every answer is counted by outcome. A refusal that may be
/// evidence of a misbehaving log (a fork at a known size, a proof that does not verify) is
/// logged.
final class WitnessEndpoint: Sendable {
    let gateway: Gateway
    let cosigner: Cosigner
    private let logger: Logger
    private let outcomes = OutcomeCounts(["cosigned"])
    private let bucket: Mutex<TokenBucket>
    /// Per source address: refused submissions (10 at once, then 1 a second).
    private let refusals = Mutex<[String: TokenBucket]>([:])
    static let maxTrackedAddresses = 4096
    private let evidenceWarnings = LogAllowance()

    /// - Parameter perSecond: requests a second sustained (`witness.max_requests_per_second`),
    ///   with a burst of twice that, before `429 Too Many Requests`.
    init(gateway: Gateway, cosigner: Cosigner, perSecond: Int, logger: Logger) {
        self.gateway = gateway
        self.cosigner = cosigner
        self.logger = logger
        bucket = Mutex(TokenBucket(capacity: 2 * perSecond, perSecond: Double(perSecond), now: .now))
    }

    /// Requests answered so far, by outcome: `cosigned`, a `WitnessCheck.Refusal.Reason`,
    /// `rate_limited` or `failed`.
    var counts: [String: Int] { outcomes.counts }

    func respond(to request: HTTPRequest) async -> HTTPResponse {
        let now = ContinuousClock.now
        let address = request.peerAddress
        let refusedTooOften = refusals.withLock { $0[address].map { !$0.hasToken(now: now) } ?? false }
        guard !refusedTooOften, bucket.withLock({ $0.take(now: now) }) else {
            count("rate_limited")
            return .text(.tooManyRequests, "too many checkpoints submitted; try again shortly\n")
        }
        do {
            let verdict = try await gateway.addCheckpoint(request.body, cosigner: cosigner) { UInt64(max(0, Timestamp.now().seconds)) }
            switch verdict {
            case .success(let line):
                count("cosigned")
                return .text(.ok, line)
            case .failure(let refusal):
                count(refusal.reason.rawValue)
                spendRefusal(of: address, now: now)
                if refusal.reason == .inconsistent || refusal.reason == .forked, let suppressed = evidenceWarnings.spend() {
                    logger.warning("witness: refused a checkpoint that does not extend what was cosigned", metadata: [
                        "witness.refusal": "\(refusal.reason.rawValue)", "http.peer": "\(request.peerAddress)",
                        "witness.detail": "\(refusal.body.prefix(200).filter { !$0.isNewline })", "log.suppressed": "\(suppressed)"])
                }
                return .text(.init(statusCode: refusal.status), refusal.body, contentType: refusal.contentType)
            }
        } catch {
            count("failed")
            logger.error("witness: cannot record a checkpoint", metadata: ["error": "\(error)"])
            return .text(.serviceUnavailable, "the witness cannot record checkpoints right now\n")
        }
    }

    private func count(_ outcome: String) { outcomes.record(outcome) }

    private func spendRefusal(of address: String, now: ContinuousClock.Instant) {
        refusals.withLock { buckets in
            if buckets[address] == nil, buckets.count >= Self.maxTrackedAddresses {
                // Forget the addresses whose buckets have refilled; if none has, start over.
                buckets = buckets.filter { !$0.value.isFull(now: now) }
                if buckets.count >= Self.maxTrackedAddresses { buckets.removeAll() }
            }
            var bucket = buckets[address] ?? TokenBucket(capacity: 10, perSecond: 1, now: now)
            _ = bucket.take(now: now)
            buckets[address] = bucket
        }
    }
}
