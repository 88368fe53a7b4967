public import AgoraLedger
internal import AgoraCore
internal import AgoraXMPP
internal import FoundationEssentials
#if canImport(Glibc)
internal import Glibc
#endif

/// The gateway's log verifier key, as this client trusts it.
///
/// Every proof a consumer checks is only as good as the key it checks it with, and the
/// gateway publishes its own (`<log-key/>`, disco#info). So the key is pinned: given out of
/// band (`--log-key`, from the operator), or trusted on first use and written to a pin file
/// (`~/.config/agora/known-logs`, one `origin key` line per gateway, like ssh's known_hosts).
/// From then on a gateway presenting another key for the same origin is refused — that is a
/// gateway replaced, a store restored from elsewhere, or someone in between.
public struct LogKeyPin: Sendable {
    public let origin: String
    public let key: String
    public let verifier: NoteVerifier
    /// How this key came to be trusted, for the person at the terminal.
    public let source: String

    /// What the gateway says its key is, checked for consistency: its genesis receipt
    /// verifies under that key and the genesis entry names it.
    public static func announced(by client: XMPPClient) async throws(XMPPClientError) -> (origin: String, key: String) {
        guard let answer = try await client.request("get", XMLElement("log-key", namespace: ClientNamespace.ledger)),
              let origin = answer[attribute: "origin"], let key = answer[attribute: "key"],
              let receiptText = answer.child("receipt", namespace: ClientNamespace.ledger)?.text
        else { throw .protocolViolation("the <log-key/> answer lacks its origin, key or receipt") }
        do {
            let verifier = try NoteVerifier(parsing: key)
            let entry = try Receipt(json: Array(receiptText.utf8)).verify(with: verifier)
            guard case .genesis(let genesis) = try LedgerEntry(decoding: entry).body, genesis.logKey == key, genesis.origin == origin else {
                throw XMPPClientError.verification("the gateway's genesis entry does not name the key it announces")
            }
        } catch let error as XMPPClientError {
            throw error
        } catch {
            throw .verification("the gateway's log key does not verify its own genesis receipt: \(error)")
        }
        return (origin, key)
    }

    /// The key to verify with: `explicit` when given (and the gateway must announce the same),
    /// else the pinned one (likewise), else the announced one, pinned now.
    public static func resolve(client: XMPPClient, explicit: String?, pinFile: String) async throws(XMPPClientError) -> LogKeyPin {
        let announced = try await announced(by: client)
        func pin(_ key: String, _ source: String) throws(XMPPClientError) -> LogKeyPin {
            do { return LogKeyPin(origin: announced.origin, key: key, verifier: try NoteVerifier(parsing: key), source: source) } catch {
                throw .verification("the log key \(key) is not a verifier key: \(error)")
            }
        }
        if let explicit {
            guard explicit == announced.key else {
                throw .verification("the gateway announces log key \(announced.key), not the one given with --log-key: do not trust its proofs")
            }
            return try pin(explicit, "given with --log-key")
        }
        let known = readPins(pinFile)
        if let pinned = known[announced.origin] {
            guard pinned == announced.key else {
                throw .verification("""
                    the gateway's log key for \(announced.origin) changed: pinned \(pinned) in \(pinFile), announced \(announced.key). \
                    If the operator confirms the new key, remove the old line from \(pinFile).
                    """)
            }
            return try pin(pinned, "pinned in \(pinFile)")
        }
        let result = try pin(announced.key, "trusted on first use, now pinned in \(pinFile)")
        appendPin(origin: announced.origin, key: announced.key, to: pinFile)
        return result
    }

    /// `~/.config/agora/known-logs` (or under `$XDG_CONFIG_HOME`).
    public static func defaultPinFile(environment: [String: String]) -> String {
        let base = environment["XDG_CONFIG_HOME"].flatMap { $0.isEmpty ? nil : $0 } ?? ((environment["HOME"] ?? "/root") + "/.config")
        return base + "/agora/known-logs"
    }

    static func readPins(_ path: String) -> [String: String] {
        guard let data = FileManager.default.contents(atPath: path) else { return [:] }
        var pins: [String: String] = [:]
        for line in String(decoding: data, as: UTF8.self).split(separator: "\n") where !line.hasPrefix("#") {
            let parts = line.split(separator: " ")
            if parts.count == 2 { pins[String(parts[0])] = String(parts[1]) }
        }
        return pins
    }

    private static func appendPin(origin: String, key: String, to path: String) {
        let directory = String(path[..<(path.lastIndex(of: "/") ?? path.startIndex)])
        if !directory.isEmpty { _ = try? FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true) }
        let fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0o600)
        guard fd >= 0 else { return }
        defer { close(fd) }
        let line = Array("\(origin) \(key)\n".utf8)
        _ = line.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
    }
}

/// The gateway's namespaces, as the client speaks them.
enum ClientNamespace {
    static let market = "urn:agora:market:1"
    static let trust = "urn:agora:trust:1"
    static let ledger = "urn:agora:ledger:1"
    static let readings = "urn:agora:readings:1"
    static let pki = "urn:agora:pki:1"
    static let discovery = "urn:xmpp:iot:discovery"
    static let rsm = "http://jabber.org/protocol/rsm"
}
