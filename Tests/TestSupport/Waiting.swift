import Foundation

/// A readiness wait that ran out of time: what was awaited and what the peer said meanwhile.
public struct WaitTimedOut: Error, CustomStringConvertible {
    public let description: String
    public init(description: String) { self.description = description }
}

/// Polls `condition` every `interval` seconds until it holds or `timeout` seconds have passed;
/// whether it held. For assertions: `#expect(try eventually { … }, "what did not happen")`.
/// The poll interval paces the checks only; nothing waits a fixed time for a peer.
public func eventually(timeout: Double = 20, interval: Double = 0.05, _ condition: () throws -> Bool) rethrows -> Bool {
    let deadline = Date().addingTimeInterval(timeout)
    while true {
        if try condition() { return true }
        if Date() >= deadline { return false }
        Thread.sleep(forTimeInterval: interval)
    }
}

/// A readiness wait: `eventually`, and when `condition` never holds, `WaitTimedOut` naming
/// `what` was awaited followed by `details()` (typically the tail of the peer's log).
public func waitUntil(_ what: String, timeout: Double = 20, interval: Double = 0.05, details: () -> String = { "" },
                      _ condition: () throws -> Bool) throws {
    guard try eventually(timeout: timeout, interval: interval, condition) else {
        throw WaitTimedOut(description: "timed out after \(timeout) s waiting until \(what)\n\(details())")
    }
}

/// The text of a file, or "" when it does not exist (yet): for logs that a peer writes.
public func fileText(_ path: String) -> String {
    (try? String(contentsOfFile: path, encoding: .utf8)) ?? ""
}

/// The text a peer appended to `path` since `offset` bytes: what this start of it logged.
public func fileText(_ path: String, from offset: UInt64) -> String {
    guard let handle = FileHandle(forReadingAtPath: path) else { return "" }
    defer { try? handle.close() }
    do {
        try handle.seek(toOffset: offset)
        return String(decoding: try handle.readToEnd() ?? Data(), as: UTF8.self)
    } catch {
        return ""
    }
}

/// The size of a file in bytes (0 when it does not exist): where the next start of a peer
/// begins in a log it appends to.
public func fileSize(_ path: String) -> UInt64 {
    ((try? FileManager.default.attributesOfItem(atPath: path))?[.size] as? NSNumber)?.uint64Value ?? 0
}
