internal import AgoraCore
internal import FoundationEssentials
internal import NIOCore
internal import NIOSSL

/// SASL on a c2s stream (RFC 6120 §6): SCRAM from stored keys, PLAIN on TLS when enabled,
/// EXTERNAL from a verified client certificate; throttling per account and per address.
extension C2SConnection {
    func authenticate(mechanism: String, initial: String) {
        guard server.addressThrottle.blocked(address) == nil else {
            server.metrics.record { $0.authThrottled += 1 }
            return write(SASLFailure(.temporaryAuthFailure, "too many failures from this address").element)
        }
        guard let data = Self.decodeBase64(initial) else {
            return write(SASLFailure(.incorrectEncoding, "the initial response is not base64").element)
        }
        switch mechanism {
        case SCRAMHash.sha256.rawValue, SCRAMHash.sha1.rawValue:
            let hash = SCRAMHash(rawValue: mechanism)!
            var exchange = SCRAMServer(hash: hash)
            do {
                let (username, reply) = try exchange.start(data) { [server] username in server.scramKeys(username: username, hash: hash) }
                if let refusal = throttled(username: username) { return write(refusal.element) }
                pendingUsername = username
                scram = exchange
                negotiation.authenticationStarted()
                write(XMLElement("challenge", namespace: Namespace.sasl, text: Data(reply).base64EncodedString()))
            } catch {
                authenticationFailed(error, username: nil)
            }
        case "PLAIN":
            let parts = data.split(separator: 0, maxSplits: 2, omittingEmptySubsequences: false)
            guard parts.count == 3, let username = String(validating: parts[1], as: UTF8.self),
                  let password = String(validating: parts[2], as: UTF8.self) else {
                return authenticationFailed(SASLFailure(.malformedRequest, "PLAIN needs authzid NUL authcid NUL password"), username: nil)
            }
            if let refusal = throttled(username: username) { return write(refusal.element) }
            guard parts[0].isEmpty || String(decoding: parts[0], as: UTF8.self) == "\(username)@\(server.domain)" else {
                return authenticationFailed(SASLFailure(.invalidAuthzid, "authzid must be empty or the account itself"), username: username)
            }
            // An unknown account costs the same PBKDF2 as a known one, so timing tells nothing.
            let keys = server.scramKeys(username: username, hash: .sha256)
                ?? SCRAMKeys(hash: .sha256, salt: SCRAMServer.decoySalt(for: username, hash: .sha256),
                             iterations: SCRAMKeys.minimumIterations, storedKey: [], serverKey: [])
            guard keys.matches(password: password), let jid = try? BareJID("\(username)@\(server.domain)") else {
                return authenticationFailed(SASLFailure(.notAuthorized, "wrong password or unknown account"), username: username)
            }
            succeed(jid, additionalData: nil)
        case "EXTERNAL":
            guard let jid = certificateIdentity() else {
                return authenticationFailed(SASLFailure(.notAuthorized, "the client certificate names no account here"), username: nil)
            }
            if !data.isEmpty, String(decoding: data, as: UTF8.self) != jid.description {
                return authenticationFailed(SASLFailure(.invalidAuthzid, "the certificate does not name that account"), username: jid.localpart)
            }
            succeed(jid, additionalData: nil)
        default:
            write(SASLFailure(.invalidMechanism, "mechanism not offered").element)
        }
    }

    func continueSCRAM(_ response: String) {
        guard var exchange = scram else { return }
        scram = nil
        guard let data = Self.decodeBase64(response) else {
            return authenticationFailed(SASLFailure(.incorrectEncoding, "the response is not base64"), username: nil)
        }
        do {
            let (username, serverFinal) = try exchange.finish(data)
            guard let jid = try? BareJID("\(username)@\(server.domain)") else {
                return authenticationFailed(SASLFailure(.notAuthorized, "not an account address"), username: nil)
            }
            if let authzid = exchange.authzid, !authzid.isEmpty, (try? BareJID(authzid)) != jid {
                return authenticationFailed(SASLFailure(.invalidAuthzid, "an account can act only as itself"), username: username)
            }
            succeed(jid, additionalData: serverFinal)
        } catch {
            authenticationFailed(error, username: pendingUsername)
        }
    }

    func throttled(username: String) -> SASLFailure? {
        guard server.accountThrottle.blocked(username.lowercased()) != nil else { return nil }
        server.metrics.record { $0.authThrottled += 1 }
        negotiation.authenticationFailed()
        return SASLFailure(.temporaryAuthFailure, "too many failures for this account; try again later")
    }

    func authenticationFailed(_ failure: SASLFailure, username: String?) {
        negotiation.authenticationFailed()
        server.metrics.record { $0.authFailures += 1 }
        server.addressThrottle.failed(address)
        if let name = username ?? pendingUsername { server.accountThrottle.failed(name.lowercased()) }
        pendingUsername = nil
        server.logRefusal("authentication failed", budget: server.authFailureLog, metadata: ["address": "\(address)", "reason": "\(failure.reason)"])
        write(failure.element)
    }

    func succeed(_ jid: BareJID, additionalData: [UInt8]?) {
        pendingUsername = nil
        server.accountThrottle.succeeded(jid.localpart)
        server.metrics.record { $0.logins += 1 }
        negotiation.authenticated(jid)
        let payload = additionalData.map { Data($0).base64EncodedString() } ?? ""
        write(XMLElement("success", namespace: Namespace.sasl, children: payload.isEmpty ? [] : [.text(payload)]))
        headerSent = false
        decoder.restart()
    }

    func certificateIdentity() -> BareJID? {
        guard let context, let handler = try? context.pipeline.syncOperations.handler(type: NIOSSLServerHandler.self),
              let certificate = handler.peerCertificate, let der = try? certificate.toDERBytes() else { return nil }
        return server.accounts.certificateIdentity(der)
    }

    /// SASL carries base64; `=` is an empty response (RFC 6120 §6.4.2).
    static func decodeBase64(_ text: String) -> [UInt8]? {
        let trimmed = text.filter { !$0.isWhitespace }
        if trimmed.isEmpty || trimmed == "=" { return [] }
        return Data(base64Encoded: trimmed).map(Array.init)
    }
}
