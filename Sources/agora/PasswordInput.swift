import ArgumentParser
#if canImport(Glibc)
import Glibc
#endif

/// Reads a password from stdin, never from the command line (where `ps` would show it).
enum PasswordInput {
    static func readLine() throws -> String {
        guard let line = Swift.readLine(strippingNewline: true), !line.isEmpty else {
            throw ValidationError("--password-stdin: no password on stdin")
        }
        return line.hasSuffix("\r") ? String(line.dropLast()) : line
    }
}
