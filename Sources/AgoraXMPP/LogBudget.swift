internal import NIOConcurrencyHelpers
internal import NIOCore

/// Limits how often one kind of refusal is logged (DESIGN: "logged once, rate-limited"), so
/// a scan or a password-guessing run cannot flood the journal. Each window allows a few
/// lines; the first line of the next window says how many were left out. The counts
/// themselves are never lost: they are in `XMPPMetrics`.
final class LogBudget: Sendable {
    private struct Window {
        var start: NIODeadline
        var used = 0
        var suppressed = 0
    }

    private let linesPerWindow: Int
    private let window: TimeAmount
    private let state: NIOLockedValueBox<Window>

    init(linesPerWindow: Int = 20, window: TimeAmount = .seconds(10)) {
        self.linesPerWindow = linesPerWindow
        self.window = window
        self.state = NIOLockedValueBox(Window(start: .now()))
    }

    /// Whether to log now, and how many lines were suppressed since the last one logged.
    func spend(now: NIODeadline = .now()) -> (allowed: Bool, suppressed: Int) {
        state.withLockedValue { state in
            if now - state.start >= window {
                let suppressed = state.suppressed
                state = Window(start: now, used: 1)
                return (true, suppressed)
            }
            guard state.used < linesPerWindow else {
                state.suppressed += 1
                return (false, 0)
            }
            state.used += 1
            return (true, 0)
        }
    }
}
