/// Why `agora client` could not do what it was asked, in words for the person at the
/// terminal: the server's own reason (`<text>`) where it gave one, never key material.
public enum XMPPClientError: Error, Sendable, CustomStringConvertible {
    /// No TCP connection to the server.
    case unreachable(host: String, port: Int, reason: String)
    /// TLS failed: a certificate that does not chain to the trust given, or names another host.
    case tls(String)
    /// The server refused the credentials (a SASL failure condition and its text).
    case authentication(condition: String, text: String)
    /// The server answered a request with a stanza error.
    case refused(condition: String, text: String)
    /// The server closed the stream, with a stream error when it sent one.
    case streamClosed(String)
    /// The server said something this client cannot use.
    case protocolViolation(String)
    /// No answer within the time allowed.
    case timedOut(String)
    /// A proof, a receipt or a key did not check out: the answer is not to be trusted.
    case verification(String)

    public var description: String {
        switch self {
        case .unreachable(let host, let port, let reason): "cannot connect to \(host):\(port): \(reason)"
        case .tls(let reason): "TLS: \(reason)"
        case .authentication(let condition, let text): "login refused (\(condition))\(text.isEmpty ? "" : ": \(text)")"
        case .refused(let condition, let text): "the gateway refused (\(condition))\(text.isEmpty ? "" : ": \(text)")"
        case .streamClosed(let reason): "the server closed the connection: \(reason)"
        case .protocolViolation(let reason): "unexpected answer from the server: \(reason)"
        case .timedOut(let what): "no answer within the time allowed: \(what)"
        case .verification(let reason): "verification failed: \(reason)"
        }
    }
}
