/// The HTTP listener's settings, with the defaults a gateway ships with (`[http]` keys,
/// listed in AgoraApp's configuration reader).
public struct HTTPConfiguration: Sendable {
    /// Address the listener binds to. Beyond loopback, TLS is required.
    public var bindAddress = "127.0.0.1"
    /// 0: no listener.
    public var port = 8080
    /// PEM files of the server certificate chain and its key; empty: plain HTTP, which is
    /// refused at start unless `bindAddress` is a loopback address.
    public var certificateChainFile = ""
    public var keyFile = ""
    /// PEM of the CA whose client certificates are accepted (optional, never required).
    public var clientCAFile = ""
    public var limits = Limits()

    /// What one connection may ask of the listener. A request beyond a limit is answered
    /// with its 4xx status and the connection closed; nothing reaches a route.
    public struct Limits: Sendable, Equatable {
        /// Open connections across the listener; more are closed at once. The last
        /// `loopbackReserve` of them only loopback peers may take, so local health checks
        /// and scrapes get through while remote clients hold the rest.
        public var maxConnections = 64
        public var loopbackReserve = 8
        /// Open connections from one address.
        public var maxConnectionsPerAddress = 16
        /// Bytes of the request line and headers together (431 above it). SwiftNIO's parser
        /// stops any head at 80 KiB before this is checked.
        public var maxHeaderBytes = 8 << 10
        /// Bytes of a request body (413 above it).
        public var maxBodyBytes = 64 << 10
        /// Bytes of the path and query (414 above it).
        public var maxURIBytes = 2 << 10
        /// A complete request must arrive within this time of the connection opening or of
        /// the previous response, or the connection is closed: this is what ends a slow
        /// client (slowloris) and an idle keep-alive connection alike.
        public var requestTimeout: Duration = .seconds(10)
        public init() {}
    }

    public init() {}

    /// Whether `address` (a listener's bind address or a peer's) is a loopback address.
    public static func isLoopback(_ address: String) -> Bool {
        address == "::1" || address == "localhost" || address.hasPrefix("127.") || address.hasPrefix("::ffff:127.")
    }

    public var isLoopbackOnly: Bool { Self.isLoopback(bindAddress) }
    public var hasTLS: Bool { !certificateChainFile.isEmpty && !keyFile.isEmpty }
}
