import AgoraApp
import AgoraLedger
import AgoraMarket
import AgoraStore
import ArgumentParser

/// The one table from errors to exit codes and messages: usage problems are 2 (the
/// argument parser reports those itself), every refusal or failure is 1.
enum ExitCodes {
    static func code(for error: any Error) -> Int32 {
        switch error {
        case is ValidationError: 2
        default: 1
        }
    }

    /// The error's message on a single line (refusals never span lines).
    static func oneLine(_ error: any Error) -> String {
        let text: String
        switch error {
        case let refusal as MarketRefusal: text = refusal.description
        case let store as StoreError: text = store.description
        case let usage as CLIUsageError: text = usage.description
        default: text = String(describing: error)
        }
        return text.split(whereSeparator: \.isNewline).joined(separator: " ")
    }
}

/// A command was used in a way its flags cannot catch (exit 1, e.g. a bad value read later).
struct CLIUsageError: Error, CustomStringConvertible {
    let description: String
}

/// Writes to stderr without Foundation.
enum FileHandleOutput {
    static func standardError(_ line: String) {
        var text = line
        if !text.hasSuffix("\n") { text += "\n" }
        _ = text.withCString { write(2, $0, strlen($0)) }
    }
}

#if canImport(Glibc)
import Glibc
#endif
