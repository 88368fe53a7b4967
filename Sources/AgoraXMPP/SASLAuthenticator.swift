internal import AgoraCore
internal import FoundationEssentials

/// The result of one step of a SASL exchange, fed to the stream's state machine.
enum SASLOutcome<Identity: Sendable>: Sendable {
    /// SCRAM's first step (RFC 5802 §5): send server-first; the exchange goes on.
    case challenge(SCRAMServer, account: String, serverFirst: [UInt8])
    /// Authenticated; SCRAM's server-final message rides along as additional data.
    case success(Identity, additionalData: [UInt8]?)
    /// A failed attempt: counted against the address and, when one is named, the account.
    case failure(SASLFailure, account: String?)
    /// Refused without looking at the credentials: the address or account is backing off.
    case throttled(SASLFailure)
    /// Refused without counting (bad encoding, mechanism not offered, server stopping).
    case refused(SASLFailure)
}

/// SASL on a c2s stream (RFC 6120 §6): SCRAM from stored keys, PLAIN on TLS when enabled,
/// EXTERNAL from a verified client certificate; account throttling.
///
/// `start` blocks — it reads LMDB (`accounts.exists`, the stored keys, the certificate's
/// account) and PLAIN runs PBKDF2 — so the connection runs it on the server context's
/// thread pool, never on an event loop. `finish` (SCRAM's proof check: a few HMACs, no
/// look-up) is cheap and runs on the loop.
struct SASLAuthenticator: Sendable {
    let server: XMPPServerContext

    /// The mechanism's first step, with the decoded initial response and, for EXTERNAL,
    /// the DER of the verified client certificate.
    func start(mechanism: String, initialResponse data: [UInt8], certificate: [UInt8]?) -> SASLOutcome<BareJID> {
        switch mechanism {
        case SCRAMHash.sha256.rawValue, SCRAMHash.sha1.rawValue:
            guard let hash = SCRAMHash(rawValue: mechanism) else { break }
            var exchange = SCRAMServer(hash: hash)
            do {
                let (username, reply) = try exchange.start(data) { [server] username in server.scramKeys(username: username, hash: hash) }
                if let refusal = throttled(username: username) { return .throttled(refusal) }
                return .challenge(exchange, account: username, serverFirst: reply)
            } catch {
                return .failure(error, account: nil)
            }
        case "PLAIN":
            let parts = data.split(separator: 0, maxSplits: 2, omittingEmptySubsequences: false)
            guard parts.count == 3, let username = String(validating: parts[1], as: UTF8.self),
                  let password = String(validating: parts[2], as: UTF8.self) else {
                return .failure(SASLFailure(.malformedRequest, "PLAIN needs authzid NUL authcid NUL password"), account: nil)
            }
            if let refusal = throttled(username: username) { return .throttled(refusal) }
            guard parts[0].isEmpty || String(decoding: parts[0], as: UTF8.self) == "\(username)@\(server.domain)" else {
                return .failure(SASLFailure(.invalidAuthzid, "authzid must be empty or the account itself"), account: username)
            }
            // An unknown account costs the same PBKDF2 as a known one, so timing tells nothing.
            let keys = server.scramKeys(username: username, hash: .sha256)
                ?? SCRAMKeys(hash: .sha256, salt: SCRAMServer.decoySalt(for: username, hash: .sha256),
                             iterations: SCRAMKeys.minimumIterations, storedKey: [], serverKey: [])
            guard keys.matches(password: password), let jid = try? BareJID("\(username)@\(server.domain)") else {
                return .failure(SASLFailure(.notAuthorized, "wrong password or unknown account"), account: username)
            }
            return .success(jid, additionalData: nil)
        case "EXTERNAL":
            guard let certificate, let jid = server.accounts.certificateIdentity(certificate) else {
                return .failure(SASLFailure(.notAuthorized, "the client certificate names no account here"), account: nil)
            }
            if !data.isEmpty, String(decoding: data, as: UTF8.self) != jid.description {
                return .failure(SASLFailure(.invalidAuthzid, "the certificate does not name that account"), account: jid.localpart)
            }
            return .success(jid, additionalData: nil)
        default:
            break
        }
        return .refused(SASLFailure(.invalidMechanism, "mechanism not offered"))
    }

    /// SCRAM's client-final message: checks the proof. A failure without an account counts
    /// against the one the exchange named (the state machine remembers it).
    func finish(_ exchange: SCRAMServer, response: String) -> SASLOutcome<BareJID> {
        var exchange = exchange
        guard let data = Self.decodeBase64(response) else {
            return .failure(SASLFailure(.incorrectEncoding, "the response is not base64"), account: nil)
        }
        do {
            let (username, serverFinal) = try exchange.finish(data)
            guard let jid = try? BareJID("\(username)@\(server.domain)") else {
                return .failure(SASLFailure(.notAuthorized, "not an account address"), account: nil)
            }
            if let authzid = exchange.authzid, !authzid.isEmpty, (try? BareJID(authzid)) != jid {
                return .failure(SASLFailure(.invalidAuthzid, "an account can act only as itself"), account: username)
            }
            return .success(jid, additionalData: serverFinal)
        } catch {
            return .failure(error, account: nil)
        }
    }

    /// The refusal for an account that is backing off, or nil when it may try.
    func throttled(username: String) -> SASLFailure? {
        guard server.accountThrottle.blocked(username.lowercased()) != nil else { return nil }
        return SASLFailure(.temporaryAuthFailure, "too many failures for this account; try again later")
    }

    /// SASL carries base64; `=` is an empty response (RFC 6120 §6.4.2).
    static func decodeBase64(_ text: String) -> [UInt8]? {
        let trimmed = text.filter { !$0.isWhitespace }
        if trimmed.isEmpty || trimmed == "=" { return [] }
        return Data(base64Encoded: trimmed).map(Array.init)
    }
}
