/// Input that does not have the shape a domain value requires.
///
/// The message names the field and says what was expected; it echoes the offending text
/// only when it is short, so that a pasted secret never ends up in a log line in full.
public struct InvalidInput: Error, Hashable, Sendable, CustomStringConvertible {
    public let field: String
    public let reason: String
    private let excerpt: String

    public static func malformed(_ field: String, _ input: String, reason: String) -> InvalidInput {
        InvalidInput(field: field, reason: reason, excerpt: Self.excerpt(of: input))
    }

    public static func outOfRange(_ field: String, reason: String) -> InvalidInput {
        InvalidInput(field: field, reason: reason, excerpt: "")
    }

    public var description: String {
        excerpt.isEmpty ? "invalid \(field): \(reason)" : "invalid \(field) \"\(excerpt)\": \(reason)"
    }

    private static func excerpt(of input: String) -> String {
        let printable = input.unicodeScalars.allSatisfy { $0.value >= 0x20 && $0.value != 0x7F }
        guard printable else { return "…" }
        return input.count <= 64 ? input : String(input.prefix(61)) + "..."
    }
}
