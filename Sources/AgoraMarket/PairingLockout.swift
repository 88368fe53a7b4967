internal import AgoraCore
internal import Synchronization

/// Locks a sensor id's pairing after repeated wrong proofs, for a back-off that doubles
/// with each lock (1 minute, 2, 4, … at most an hour), so a one-time code cannot be
/// guessed online. A right proof is still refused while the lock lasts — that is the
/// price: someone who knows a sensor id can delay its pairing, never take it over.
///
/// In memory: a restart forgets the locks, which an attacker cannot cause, and only ids
/// with an invitation are ever checked, so the table is as small as the invitations.
final class PairingLockout: Sendable {
    static let freeFailures = 5
    static let firstLock: Duration = .seconds(60)
    static let longestLock: Duration = .seconds(3600)

    private struct Entry {
        var failures = 0
        var locks = 0
        var lockedUntil: ContinuousClock.Instant?
    }

    private let entries = Mutex<[SensorID: Entry]>([:])

    /// How long `sensor` stays locked, or nil when it is not.
    func remaining(_ sensor: SensorID, now: ContinuousClock.Instant = .now) -> Duration? {
        entries.withLock { entries in
            guard let until = entries[sensor]?.lockedUntil, until > now else { return nil }
            return until - now
        }
    }

    func failed(_ sensor: SensorID, now: ContinuousClock.Instant = .now) {
        entries.withLock { entries in
            var entry = entries[sensor] ?? Entry()
            entry.failures += 1
            if entry.failures >= Self.freeFailures {
                let lock = min(Self.firstLock * (1 << min(entry.locks, 10)), Self.longestLock)
                entry.lockedUntil = now + lock
                entry.locks += 1
                entry.failures = 0
            }
            entries[sensor] = entry
        }
    }

    func succeeded(_ sensor: SensorID) {
        _ = entries.withLock { $0.removeValue(forKey: sensor) }
    }
}
