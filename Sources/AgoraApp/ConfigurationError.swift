/// A configuration problem, naming the file and line or the key at fault.
public struct ConfigurationError: Error, Hashable, Sendable, CustomStringConvertible {
    public let description: String

    public static func file(_ name: String, line: Int, _ problem: String) -> ConfigurationError {
        .init(description: line > 0 ? "\(name):\(line): \(problem)" : "\(name): \(problem)")
    }

    public static func key(_ key: String, source: String, _ problem: String) -> ConfigurationError {
        .init(description: "configuration key \(key) (\(source)): \(problem)")
    }

    public static func unknownKey(_ key: String, source: String) -> ConfigurationError {
        .init(description: "unknown configuration key \(key) in \(source)")
    }

    /// An `AGORA_<SECTION>_…` variable that names no key of that section.
    public static func unknownVariable(_ name: String, known: [String]) -> ConfigurationError {
        .init(description: "unknown configuration variable \(name) in the environment; this section's are \(known.joined(separator: ", "))")
    }

    public static func unreadable(_ path: String, _ reason: String) -> ConfigurationError {
        .init(description: "cannot read configuration \(path): \(reason)")
    }
}
