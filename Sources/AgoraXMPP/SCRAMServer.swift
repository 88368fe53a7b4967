internal import FoundationEssentials

/// A SASL failure condition (RFC 6120 §6.5) and why, for the log; the client sees only the
/// condition, so a failure never tells whether the account exists.
public struct SASLFailure: Error, Sendable, Equatable, CustomStringConvertible {
    public enum Condition: String, Sendable {
        case aborted
        case accountDisabled = "account-disabled"
        case encryptionRequired = "encryption-required"
        case incorrectEncoding = "incorrect-encoding"
        case invalidAuthzid = "invalid-authzid"
        case invalidMechanism = "invalid-mechanism"
        case malformedRequest = "malformed-request"
        case notAuthorized = "not-authorized"
        case temporaryAuthFailure = "temporary-auth-failure"
    }

    public let condition: Condition
    public let reason: String

    public init(_ condition: Condition, _ reason: String) {
        self.condition = condition
        self.reason = reason
    }

    public var description: String { "\(condition.rawValue): \(reason)" }

    var element: XMLElement {
        XMLElement("failure", namespace: Namespace.sasl, children: [.element(XMLElement(condition.rawValue, namespace: Namespace.sasl))])
    }
}

/// The server side of one SCRAM exchange (RFC 5802 §5, RFC 7677), from stored keys only.
///
/// No channel binding is offered (no `-PLUS` mechanism), so a client flag `y` is accepted
/// and `p=` refused. An unknown user gets a server-first message with a salt derived from
/// a per-process secret and fails only at the proof, like a wrong password would.
public struct SCRAMServer: Sendable {
    public let hash: SCRAMHash
    private let serverNonce: String
    private var state: State = .initial
    /// The identity the client asked to act as, if it named one; the caller checks it.
    public private(set) var authzid: String?

    private enum State: Sendable {
        case initial
        case challenged(username: String, keys: SCRAMKeys?, gs2Header: String, nonce: String, authMessagePrefix: String)
        case done
    }

    /// - Parameter serverNonce: fixed only by tests (the RFC 7677 vector); random otherwise.
    public init(hash: SCRAMHash, serverNonce: String? = nil) {
        self.hash = hash
        self.serverNonce = serverNonce ?? Self.randomNonce()
    }

    /// Handles client-first; `lookup` returns the stored keys for a username (the localpart).
    /// Returns the username and the server-first message.
    public mutating func start(_ clientFirst: [UInt8], lookup: (String) -> SCRAMKeys?) throws(SASLFailure) -> (username: String, reply: [UInt8]) {
        guard case .initial = state else { throw SASLFailure(.malformedRequest, "unexpected client-first message") }
        guard let message = String(validating: clientFirst, as: UTF8.self) else { throw SASLFailure(.malformedRequest, "client-first is not UTF-8") }
        let parts = message.split(separator: ",", maxSplits: 2, omittingEmptySubsequences: false)
        guard parts.count == 3 else { throw SASLFailure(.malformedRequest, "client-first lacks a GS2 header") }
        switch parts[0] {
        case "n", "y": break
        default: throw SASLFailure(.malformedRequest, "channel binding is not offered")
        }
        let authzid = parts[1]
        guard authzid.isEmpty || authzid.hasPrefix("a=") else { throw SASLFailure(.malformedRequest, "bad authzid field") }
        let bare = String(parts[2])
        if bare.hasPrefix("m=") { throw SASLFailure(.malformedRequest, "mandatory SCRAM extensions are not supported") }
        let attributes = try Self.attributes(bare)
        guard attributes.first?.key == "n", let encodedName = attributes.first?.value,
              attributes.count >= 2, attributes[1].key == "r", let clientNonce = attributes.at(1)?.value, !clientNonce.isEmpty
        else { throw SASLFailure(.malformedRequest, "client-first must start with n= and r=") }
        let username = try Self.decodeSASLName(encodedName)
        // XMPP allows an authzid only when it is the account itself (RFC 6120 §6.3.8).
        if authzid.hasPrefix("a=") { self.authzid = try Self.decodeSASLName(String(authzid.dropFirst(2))) }
        let keys = lookup(username)
        let salt = keys?.salt ?? Self.decoySalt(for: username, hash: hash)
        let iterations = keys?.iterations ?? SCRAMKeys.minimumIterations
        let nonce = clientNonce + serverNonce
        let serverFirst = "r=\(nonce),s=\(Data(salt).base64EncodedString()),i=\(iterations)"
        state = .challenged(username: username, keys: keys, gs2Header: "\(parts[0]),\(parts[1]),", nonce: nonce,
                            authMessagePrefix: bare + "," + serverFirst)
        return (username, Array(serverFirst.utf8))
    }

    /// Handles client-final; returns the username, the authzid (if any), and server-final (`v=…`).
    public mutating func finish(_ clientFinal: [UInt8]) throws(SASLFailure) -> (username: String, serverFinal: [UInt8]) {
        guard case .challenged(let username, let keys, let gs2Header, let nonce, let prefix) = state else {
            throw SASLFailure(.malformedRequest, "unexpected client-final message")
        }
        state = .done
        guard let message = String(validating: clientFinal, as: UTF8.self) else { throw SASLFailure(.malformedRequest, "client-final is not UTF-8") }
        // Every attribute value here is base64 or a nonce, so commas only separate fields.
        let fields = message.split(separator: ",", omittingEmptySubsequences: false)
        guard fields.count >= 3, let proofField = fields.last, proofField.hasPrefix("p=") else {
            throw SASLFailure(.malformedRequest, "client-final lacks a proof")
        }
        let withoutProof = fields.dropLast().joined(separator: ",")
        let attributes = try Self.attributes(withoutProof)
        guard attributes.count >= 2, attributes[0].key == "c", attributes[1].key == "r" else {
            throw SASLFailure(.malformedRequest, "client-final must start with c= and r=")
        }
        guard attributes[0].value == Data(gs2Header.utf8).base64EncodedString() else {
            throw SASLFailure(.notAuthorized, "channel-binding data does not repeat the GS2 header")
        }
        guard attributes[1].value == nonce else { throw SASLFailure(.notAuthorized, "nonce mismatch") }
        guard let proof = Data(base64Encoded: String(proofField.dropFirst(2))).map(Array.init), proof.count == hash.byteCount else {
            throw SASLFailure(.incorrectEncoding, "the proof is not base64 of the hash size")
        }
        guard let keys else { throw SASLFailure(.notAuthorized, "no such account") }
        let authMessage = Array((prefix + "," + withoutProof).utf8)
        let clientSignature = hash.hmac(key: keys.storedKey, authMessage)
        let clientKey = zip(proof, clientSignature).map { $0 ^ $1 }
        guard constantTimeEqual(hash.hash(clientKey), keys.storedKey) else { throw SASLFailure(.notAuthorized, "wrong password") }
        let serverSignature = hash.hmac(key: keys.serverKey, authMessage)
        return (username, Array("v=\(Data(serverSignature).base64EncodedString())".utf8))
    }

    /// `k=v` pairs in order; values may contain `=`.
    static func attributes(_ text: String) throws(SASLFailure) -> [(key: Substring, value: String)] {
        var result: [(key: Substring, value: String)] = []
        for field in text.split(separator: ",", omittingEmptySubsequences: false) {
            guard field.count >= 2, field.dropFirst().first == "=" else { throw SASLFailure(.malformedRequest, "malformed SCRAM attribute") }
            result.append((field.prefix(1), String(field.dropFirst(2))))
        }
        return result
    }

    /// RFC 5802 §5.1: `=2C` is a comma, `=3D` an equals sign, any other `=` is malformed.
    static func decodeSASLName(_ encoded: String) throws(SASLFailure) -> String {
        guard encoded.contains("=") else { return encoded }
        var result = ""
        var rest = Substring(encoded)
        while let index = rest.firstIndex(of: "=") {
            result += rest[..<index]
            let escape = rest[index...].prefix(3)
            switch escape {
            case "=2C": result += ","
            case "=3D": result += "="
            default: throw SASLFailure(.malformedRequest, "bad escape in username")
            }
            rest = rest[index...].dropFirst(3)
        }
        return result + rest
    }

    static func randomNonce() -> String {
        var generator = SystemRandomNumberGenerator()
        let bytes = (0..<18).map { _ in UInt8.random(in: .min ... .max, using: &generator) }
        return Data(bytes).base64EncodedString()
    }

    /// Salt for an unknown user: stable per username for this process, so repeated probes
    /// see the same salt as they would for a real account.
    static let decoySecret: [UInt8] = {
        var generator = SystemRandomNumberGenerator()
        return (0..<32).map { _ in UInt8.random(in: .min ... .max, using: &generator) }
    }()

    static func decoySalt(for username: String, hash: SCRAMHash) -> [UInt8] {
        Array(SCRAMHash.sha256.hmac(key: decoySecret, Array((hash.rawValue + username).utf8)).prefix(16))
    }
}

extension Array {
    func at(_ index: Int) -> Element? { indices.contains(index) ? self[index] : nil }
}
