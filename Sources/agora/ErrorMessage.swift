import AgoraApp
import AgoraLedger
import AgoraMarket
import AgoraStore
import ArgumentParser

/// Messages for the errors `Main` maps to exit code 1 (refused or failed); usage
/// problems (exit 2) and help (exit 0) are recognised by the argument parser itself.
enum ErrorMessage {
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
