internal import NIOConcurrencyHelpers

/// Durable writes that need not hold up who made them (room history, archived messages):
/// entries queue here and one job on the server's work writes everything queued so far in
/// one call, round after round, so a busy room or chat costs one store transaction per
/// round rather than one per message.
final class CoalescingWriter<Entry: Sendable>: Sendable {
    private struct State {
        var entries: [Entry] = []
        var writing = false
        /// Entries ever queued, and ever handed to `write` (written, or failed and logged).
        var queued: UInt64 = 0
        var written: UInt64 = 0
    }

    private let state = NIOLockedValueBox(State())

    init() {}

    /// Queues `entries`, starting the writer on `work` when none runs.
    /// - Parameter write: writes one round (reporting its own failures); the call that starts
    ///   the writer supplies the one it uses, so the writer holds no reference to its owner.
    func append(_ entries: [Entry], on work: ServerWork, write: @escaping @Sendable ([Entry]) async -> Void) {
        let startWriter = state.withLockedValue { state -> Bool in
            state.entries += entries
            state.queued += UInt64(entries.count)
            guard !state.writing else { return false }
            state.writing = true
            return true
        }
        guard startWriter else { return }
        let started = work.start { [self] in
            while true {
                let round = state.withLockedValue { state -> [Entry] in
                    defer { state.entries = [] }
                    if state.entries.isEmpty { state.writing = false }
                    return state.entries
                }
                if round.isEmpty { return }
                await write(round)
                state.withLockedValue { $0.written += UInt64(round.count) }
            }
        }
        if !started { state.withLockedValue { $0 = State() } }  // the server is stopping
    }

    /// Waits (at most a second) until what was queued before the call is written, without
    /// waiting for a writer that later traffic keeps busy.
    func flushed() async {
        let target = state.withLockedValue { $0.queued }
        for _ in 0..<500 where state.withLockedValue({ $0.written < target && $0.writing }) {
            try? await Task.sleep(for: .milliseconds(2))
        }
    }
}
