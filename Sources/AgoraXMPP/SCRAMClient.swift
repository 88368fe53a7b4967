internal import FoundationEssentials

/// The client side of SCRAM (RFC 5802, RFC 7677), for `agora client`: client-first,
/// client-final with the proof, and the check of the server's signature — so a client learns
/// that the server knew its keys, not only that it said "success".
///
/// Beside `SCRAMServer` because both stand on `SCRAMHash`'s primitives (Hi, HMAC, H); no
/// SASL library for Swift fits a binary that already has these.
public struct SCRAMClient: Sendable {
    public let hash: SCRAMHash
    private let username: String
    private let password: String
    private let clientNonce: String
    private var state: State = .initial

    private enum State: Sendable {
        case initial
        case sentFirst(bare: String)
        case sentFinal(serverSignature: [UInt8])
        case done
    }

    /// - Parameters:
    ///   - username: the account's localpart (RFC 6120 §6.3.7: the simple user name).
    ///   - nonce: fixed only by tests (the RFC 7677 vector); random otherwise.
    public init(hash: SCRAMHash = .sha256, username: String, password: String, nonce: String? = nil) {
        self.hash = hash
        self.username = username
        self.password = password
        self.clientNonce = nonce ?? SCRAMServer.randomNonce()
    }

    /// client-first: `n,,n=<name>,r=<nonce>` (no channel binding, no authzid).
    public mutating func first() -> [UInt8] {
        let name = username.replacingOccurrences(of: "=", with: "=3D").replacingOccurrences(of: ",", with: "=2C")
        let bare = "n=\(name),r=\(clientNonce)"
        state = .sentFirst(bare: bare)
        return Array(("n,," + bare).utf8)
    }

    /// client-final for the server-first `challenge`.
    public mutating func final(_ challenge: [UInt8]) throws(SASLFailure) -> [UInt8] {
        guard case .sentFirst(let bare) = state else { throw SASLFailure(.malformedRequest, "a SCRAM challenge out of turn") }
        guard let serverFirst = String(validating: challenge, as: UTF8.self) else { throw SASLFailure(.incorrectEncoding, "server-first is not UTF-8") }
        let attributes = try SCRAMServer.attributes(serverFirst)
        guard attributes.count >= 3, attributes[0].key == "r", attributes[1].key == "s", attributes[2].key == "i",
              let salt = Data(base64Encoded: attributes[1].value), let iterations = Int(attributes[2].value)
        else { throw SASLFailure(.malformedRequest, "server-first must be r=,s=,i=") }
        let nonce = attributes[0].value
        guard nonce.hasPrefix(clientNonce), nonce.count > clientNonce.count else {
            throw SASLFailure(.notAuthorized, "the server's nonce does not extend ours")
        }
        // A server asking for fewer rounds than RFC 7677 requires would make a stolen
        // exchange cheap to attack; one asking for millions would make the client hang.
        guard (SCRAMKeys.minimumIterations...1_000_000).contains(iterations) else {
            throw SASLFailure(.notAuthorized, "the server asks for \(iterations) iterations, outside 4096…1000000")
        }
        let salted: [UInt8]
        do { salted = try hash.saltedPassword(Array(password.utf8), salt: Array(salt), iterations: iterations) } catch {
            throw SASLFailure(.temporaryAuthFailure, "cannot derive the salted password")
        }
        let clientKey = hash.hmac(key: salted, Array("Client Key".utf8))
        let storedKey = hash.hash(clientKey)
        let withoutProof = "c=\(Data("n,,".utf8).base64EncodedString()),r=\(nonce)"
        let authMessage = Array((bare + "," + serverFirst + "," + withoutProof).utf8)
        let clientSignature = hash.hmac(key: storedKey, authMessage)
        let proof = zip(clientKey, clientSignature).map { $0 ^ $1 }
        let serverKey = hash.hmac(key: salted, Array("Server Key".utf8))
        state = .sentFinal(serverSignature: hash.hmac(key: serverKey, authMessage))
        return Array((withoutProof + ",p=" + Data(proof).base64EncodedString()).utf8)
    }

    /// Checks server-final (`v=…`, sent with `<success/>`): the server proves it knew the keys.
    public mutating func verify(_ serverFinal: [UInt8]) throws(SASLFailure) {
        guard case .sentFinal(let expected) = state else { throw SASLFailure(.malformedRequest, "a SCRAM success out of turn") }
        state = .done
        guard let text = String(validating: serverFinal, as: UTF8.self), text.hasPrefix("v="),
              let signature = Data(base64Encoded: String(text.dropFirst(2))), constantTimeEqual(Array(signature), expected)
        else { throw SASLFailure(.notAuthorized, "the server's signature is wrong: it does not know this account's keys") }
    }
}

extension String {
    fileprivate func replacingOccurrences(of target: String, with replacement: String) -> String {
        split(separator: Character(target), omittingEmptySubsequences: false).joined(separator: replacement)
    }
}
