import Dispatch

/// Runs async work to completion from synchronous code (a libFuzzer callback).
///
/// Blocks the calling thread, so it must not be called from a Swift-concurrency thread:
/// libFuzzer calls from its own thread, and `FuzzRegressionTests` runs each input on a
/// thread of its own for this reason.
func blocking<T: Sendable>(_ body: @escaping @Sendable () async throws -> T) throws -> T {
    let box = ResultBox<T>()
    let done = DispatchSemaphore(value: 0)
    Task {
        do { box.result = .success(try await body()) } catch { box.result = .failure(error) }
        done.signal()
    }
    done.wait()
    return try box.result!.get()
}

/// `@unchecked Sendable`: written once by the task before it signals, read only after the wait.
private final class ResultBox<T: Sendable>: @unchecked Sendable {
    var result: Result<T, any Error>?
}
