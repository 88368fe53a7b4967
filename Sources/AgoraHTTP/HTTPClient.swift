internal import NIOConcurrencyHelpers
internal import NIOCore
public import NIOHTTP1
internal import NIOPosix
internal import NIOSSL

/// A minimal HTTP/1.1 client for what the gateway itself asks of other servers: one
/// POST at a time to a C2SP witness (`add-checkpoint`), over TLS with certificate and host
/// name verification against the trust it is given.
///
/// Written on SwiftNIO's own client codec rather than with AsyncHTTPClient: the gateway
/// sends a few small requests a second to a handful of known peers, and AsyncHTTPClient
/// would bring a connection pool, redirects, cookies, compression and proxies (and several
/// packages) into a binary that must stay small. Each request opens its own connection.
public struct HTTPClient: Sendable {
    /// What the server answered.
    public struct Response: Sendable {
        public let status: Int
        public let headers: HTTPHeaders
        public let body: [UInt8]
        public var contentType: String? { headers.first(name: "content-type") }
    }

    /// Why a request got no answer.
    public struct Failure: Error, Sendable, CustomStringConvertible {
        public let description: String
    }

    /// PEM trust anchors for TLS (nil: the system's store).
    private let tls: NIOSSLContext?
    private let group: any EventLoopGroup
    /// The largest response body read.
    public static let maxBody = 64 * 1024

    /// - Parameter trustRoots: PEM files of the CAs trusted for servers; empty: the system's.
    public init(trustRoots: [String]) throws(Failure) {
        var configuration = TLSConfiguration.makeClientConfiguration()
        configuration.minimumTLSVersion = .tlsv12
        do {
            if !trustRoots.isEmpty {
                configuration.trustRoots = .certificates(try trustRoots.flatMap { try NIOSSLCertificate.fromPEMFile($0) })
            }
            tls = try NIOSSLContext(configuration: configuration)
        } catch {
            throw Failure(description: "cannot load the TLS trust roots \(trustRoots): \(error)")
        }
        self.group = MultiThreadedEventLoopGroup.singleton
    }

    /// POSTs `body` to `path` on `host` (certificate checked against `host`), connecting to
    /// `address` (default `host`) at `port`; gives up after `timeout`.
    public func post(host: String, port: Int, address: String? = nil, useTLS: Bool, path: String, body: [UInt8],
                     contentType: String, timeout: Duration) async throws(Failure) -> Response {
        let tls = useTLS ? self.tls : nil
        let target = address ?? host
        do {
            let channelBox = ChannelBox()
            // Whatever ends the request (an answer, the timeout, the caller's cancellation),
            // its connection is closed.
            defer { channelBox.close() }
            return try await withThrowingTaskGroup(of: Response?.self) { group in
                group.addTask {
                    let channel = try await ClientBootstrap(group: self.group)
                        .connectTimeout(.init(timeout))
                        .connect(host: target, port: port) { channel in
                            channel.eventLoop.makeCompletedFuture {
                                if let tls {
                                    let handler = try NIOSSLClientHandler(context: tls, serverHostname: Self.isAddress(host) ? nil : host)
                                    try channel.pipeline.syncOperations.addHandler(handler)
                                }
                                try channel.pipeline.syncOperations.addHTTPClientHandlers()
                                return try NIOAsyncChannel<HTTPClientResponsePart, HTTPClientRequestPart>(wrappingChannelSynchronously: channel)
                            }
                        }
                    channelBox.set(channel.channel)
                    return try await channel.executeThenClose { inbound, outbound in
                        var head = HTTPRequestHead(version: .http1_1, method: .POST, uri: path)
                        let name = host.contains(":") ? "[\(host)]" : host
                        head.headers.add(name: "host", value: port == (useTLS ? 443 : 80) ? name : "\(name):\(port)")
                        head.headers.add(name: "content-type", value: contentType)
                        head.headers.add(name: "content-length", value: String(body.count))
                        head.headers.add(name: "connection", value: "close")
                        head.headers.add(name: "user-agent", value: "agora")
                        try await outbound.write(contentsOf: [.head(head), .body(.byteBuffer(ByteBuffer(bytes: body))), .end(nil)])
                        var status = 0, headers = HTTPHeaders(), received: [UInt8] = []
                        for try await part in inbound {
                            switch part {
                            case .head(let response):
                                status = Int(response.status.code); headers = response.headers
                            case .body(let buffer):
                                guard received.count + buffer.readableBytes <= Self.maxBody else {
                                    throw Failure(description: "the response body is larger than \(Self.maxBody) bytes")
                                }
                                received += buffer.readableBytesView
                            case .end:
                                return Response(status: status, headers: headers, body: received)
                            }
                        }
                        throw Failure(description: "the connection closed before the response was complete")
                    }
                }
                group.addTask {
                    try await Task.sleep(for: timeout)
                    channelBox.close()
                    return nil
                }
                defer { group.cancelAll() }
                guard let first = try await group.next(), let response = first else {
                    throw Failure(description: "no answer within \(timeout)")
                }
                return response
            }
        } catch let failure as Failure {
            throw failure
        } catch {
            throw Failure(description: "\(error)")
        }
    }

    static func isAddress(_ host: String) -> Bool {
        host.contains(":") || host.split(separator: ".").allSatisfy { UInt8($0) != nil }
    }
}

/// The request's channel, so the timeout can close it.
private final class ChannelBox: @unchecked Sendable {
    // @unchecked: `channel` is only touched under `lock`.
    private let lock = NIOLock()
    private var channel: (any Channel)?
    private var closed = false

    func set(_ channel: any Channel) {
        let close = lock.withLock { () -> Bool in self.channel = channel; return closed }
        if close { channel.close(promise: nil) }
    }

    func close() {
        let channel = lock.withLock { () -> (any Channel)? in closed = true; return self.channel }
        channel?.close(promise: nil)
    }
}
