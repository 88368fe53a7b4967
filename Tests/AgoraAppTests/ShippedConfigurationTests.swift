@testable import AgoraApp
import Foundation
import Testing

/// The configuration a user reads — the shipped `Packaging/agora.toml` and the README's
/// block — says what the code does: every key of the reader's table is in both, and each
/// value shown is the default `AgoraConfiguration()` has.
@Suite struct ShippedConfigurationTests {
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    /// Keys with no default in the code: `agora serve` uses what `broker-config` recorded
    /// unless one of these overrides it, so the files show examples, not defaults.
    static let recordedElsewhere: Set<String> = ["mqtt.host", "mqtt.port", "mqtt.prefix", "mqtt.ca_file", "mqtt.cert_file", "mqtt.key_file"]

    @Test func shippedConfigFileListsEveryKeyWithItsDefault() throws {
        // Every key is shipped commented out: uncomment `# key = value` lines to read them.
        let text = try String(contentsOf: Self.root.appendingPathComponent("Packaging/agora.toml"), encoding: .utf8)
        let shown = try Self.parse(text, name: "Packaging/agora.toml", uncommenting: true)
        try Self.check(shown, compared: Set(shown.values.keys).subtracting(Self.recordedElsewhere), in: "Packaging/agora.toml")
    }

    @Test func readmeConfigurationBlockListsEveryKeyWithItsDefault() throws {
        let readme = try String(contentsOf: Self.root.appendingPathComponent("README.md"), encoding: .utf8)
        let block = try #require(readme.components(separatedBy: "```toml\n").dropFirst().first?.components(separatedBy: "```").first,
                                 "README.md has no ```toml block")
        // Keys set in the block are defaults; keys shown commented out are examples (documented, not compared).
        let set = try Self.parse(block, name: "README.md", uncommenting: false)
        let shown = try Self.parse(block, name: "README.md", uncommenting: true)
        try Self.check(shown, compared: Set(set.values.keys).subtracting(Self.recordedElsewhere), in: "README.md")
    }

    static func parse(_ text: String, name: String, uncommenting: Bool) throws -> ConfigFile {
        let lines = text.split(separator: "\n", omittingEmptySubsequences: false).map { line -> Substring in
            guard uncommenting, line.hasPrefix("# "), line.dropFirst(2).first?.isLowercase == true, line.contains(" = ") else { return line }
            return line.dropFirst(2)
        }
        return try ConfigFile(parsing: lines.joined(separator: "\n"), name: name)
    }

    /// Every key of the reader's table is in `file` and nothing else is; each key in
    /// `compared`, applied to the defaults, leaves them as they are.
    static func check(_ file: ConfigFile, compared: Set<String>, in name: String) throws {
        let known = Set(AgoraConfiguration.keys.map(\.name))
        let listed = Set(file.values.keys)
        #expect(known.subtracting(listed).sorted() == [], "keys the code reads but \(name) does not list")
        #expect(listed.subtracting(known).sorted() == [], "keys \(name) lists but the code does not read")
        let defaults = describe(AgoraConfiguration())
        for key in AgoraConfiguration.keys where compared.contains(key.name) {
            guard let value = file.values[key.name] else { continue }
            var configuration = AgoraConfiguration()
            try key.apply(&configuration, value, name)
            #expect(describe(configuration) == defaults, "\(name) shows \(key.name) = \(value), which is not the default")
        }
    }

    static func describe(_ configuration: AgoraConfiguration) -> String {
        var text = ""
        dump(configuration, to: &text)
        return text
    }
}
