internal import NIOConcurrencyHelpers

/// Why the listener refused a request or a connection before any route saw it.
public enum HTTPRefusal: String, Sendable, CaseIterable {
    /// The parser could not read the request (bad syntax, a head above 80 KiB).
    case malformed
    /// Request line and headers above `maxHeaderBytes` (431).
    case headerTooLarge = "header_too_large"
    /// Body above `maxBodyBytes` (413).
    case bodyTooLarge = "body_too_large"
    case uriTooLong = "uri_too_long"
    /// A method other than GET and POST (405).
    case method
    /// A target with `..`, an encoded slash, control bytes, or not in origin form (400).
    case badPath = "bad_path"
    /// No complete request within `requestTimeout` (slow client or idle keep-alive).
    case timeout
    /// `maxConnections` were open (for a remote peer: all but the loopback reserve).
    case tooManyConnections = "too_many_connections"
    /// `maxConnectionsPerAddress` were open from the peer's address.
    case tooManyFromAddress = "too_many_from_address"
}

/// The listener's counters, for `/metrics`: requests answered by status code, refusals by
/// reason. One lock: a request costs microseconds of routing anyway.
public final class HTTPMetrics: Sendable {
    public struct Counts: Sendable, Equatable {
        public var responses: [Int: Int] = [:]
        public var refused: [HTTPRefusal: Int] = [:]
        public var connections = 0
    }

    private let counts = NIOLockedValueBox(Counts())

    public init() {}

    public var snapshot: Counts { counts.withLockedValue { $0 } }

    func responded(_ status: Int) { counts.withLockedValue { $0.responses[status, default: 0] += 1 } }
    func refused(_ reason: HTTPRefusal) { counts.withLockedValue { $0.refused[reason, default: 0] += 1 } }
    func accepted() { counts.withLockedValue { $0.connections += 1 } }
}
