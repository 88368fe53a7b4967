public import NIOHTTP1

/// One complete request, as routes see it: its head was within the limits, its body was
/// read to the end, and its path was checked (`HTTPPath`).
public struct HTTPRequest: Sendable {
    public var method: HTTPMethod
    /// The path without its query, percent-decoded, starting with `/`.
    public var path: String
    /// The query's `name=value` pairs, percent-decoded, in order.
    public var query: [(String, String)]
    public var headers: HTTPHeaders
    public var body: [UInt8]
    /// The peer's IP address (`127.0.0.1`, `::1`, …); empty when unknown.
    public var peerAddress: String
    /// The DER of the client certificate the TLS handshake verified against the configured
    /// CA, if the client presented one.
    public var clientCertificate: [UInt8]?
    public var keepAlive: Bool

    public init(method: HTTPMethod, path: String, query: [(String, String)] = [], headers: HTTPHeaders = [:],
                body: [UInt8] = [], peerAddress: String = "", clientCertificate: [UInt8]? = nil, keepAlive: Bool = true) {
        self.method = method
        self.path = path
        self.query = query
        self.headers = headers
        self.body = body
        self.peerAddress = peerAddress
        self.clientCertificate = clientCertificate
        self.keepAlive = keepAlive
    }

    public var isFromLoopback: Bool { HTTPConfiguration.isLoopback(peerAddress) }

    public func queryValue(_ name: String) -> String? { query.first { $0.0 == name }?.1 }

    /// The value of cookie `name`, if the request carries exactly one `Cookie` header that has it.
    public func cookie(_ name: String) -> String? {
        for header in headers[canonicalForm: "cookie"] {
            for pair in header.split(separator: ";") {
                let trimmed = pair.drop { $0 == " " }
                guard let equals = trimmed.firstIndex(of: "=") else { continue }
                if trimmed[..<equals] == name { return String(trimmed[trimmed.index(after: equals)...]) }
            }
        }
        return nil
    }

    /// The fields of an `application/x-www-form-urlencoded` body.
    public var formFields: [(String, String)] { HTTPPath.decodePairs(body[...]) }

    public func formValue(_ name: String) -> String? { formFields.first { $0.0 == name }?.1 }
}
