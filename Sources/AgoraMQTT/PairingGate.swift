internal import AgoraCore
internal import Synchronization

/// Which pairing requests reach the pairing service, decided on libmosquitto's network
/// thread before anything is queued.
///
/// Anyone may publish on the bootstrap listener, and an anonymous flood once filled the
/// pairing queue so that a device holding a valid code got no answer until the flood
/// stopped. Requests for ids with a live invitation — the only ones that can succeed —
/// pass a per-id bucket only; requests for any other id also share one small bucket for
/// the whole gateway, and beyond it are dropped unanswered (counted, logged on a budget).
/// A flood of made-up ids therefore costs a look-up each and never crowds out a real
/// device; a flood aimed at an invited id meets its per-id bucket and the pairing
/// service's lock-out after repeated wrong proofs.
public final class PairingGate: Sendable {
    public struct Limits: Sendable {
        /// Requests one id may send at once, then per second.
        public var perIDBurst = 10
        public var perIDPerSecond = 1.0
        /// Requests for ids without an invitation, all together, at once and per second.
        public var uninvitedBurst = 20
        public var uninvitedPerSecond = 5.0
        /// Ids whose buckets are remembered; beyond it requests for uninvited ids are dropped.
        public var trackedIDs = 4096
        public init() {}
    }

    public struct Counts: Sendable, Equatable {
        public var admitted = 0
        public var rateLimited = 0
    }

    private struct State {
        var perID: [String: TokenBucket] = [:]
        var uninvited: TokenBucket
        var counts = Counts()
    }

    private let limits: Limits
    private let isInvited: @Sendable (String) -> Bool
    private let state: Mutex<State>

    /// - Parameter isInvited: whether `id` has a live invitation (a store read; cheap).
    public init(limits: Limits = Limits(), isInvited: @escaping @Sendable (String) -> Bool) {
        self.limits = limits
        self.isInvited = isInvited
        self.state = Mutex(State(uninvited: TokenBucket(capacity: limits.uninvitedBurst, perSecond: limits.uninvitedPerSecond, now: .now)))
    }

    public var counts: Counts { state.withLock { $0.counts } }

    /// Whether a request for `id` may be handled now.
    public func admit(_ id: String, now: ContinuousClock.Instant = .now) -> Bool {
        let invited = isInvited(id)
        let limits = self.limits
        return state.withLock { state in
            if !invited, !state.uninvited.take(now: now) {
                state.counts.rateLimited += 1
                return false
            }
            if state.perID[id] == nil, state.perID.count >= limits.trackedIDs {
                state.perID = state.perID.filter { !$0.value.isFull(now: now) }
                if state.perID.count >= limits.trackedIDs, !invited {
                    state.counts.rateLimited += 1
                    return false
                }
            }
            var bucket = state.perID[id] ?? TokenBucket(capacity: limits.perIDBurst, perSecond: limits.perIDPerSecond, now: now)
            let admitted = bucket.take(now: now)
            state.perID[id] = bucket
            if admitted { state.counts.admitted += 1 } else { state.counts.rateLimited += 1 }
            return admitted
        }
    }
}
