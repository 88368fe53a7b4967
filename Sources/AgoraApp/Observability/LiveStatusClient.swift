internal import AgoraCore
internal import AgoraHTTP
internal import FoundationEssentials
internal import NIOCore
internal import NIOHTTP1
internal import NIOPosix
internal import NIOSSL

/// Asks the `agora serve` running on a state directory for its live counters
/// (`GET /status.json` on its HTTP listener), for `agora status`.
///
/// It goes to the listener the configuration names: on loopback when it is bound there or
/// to every address, else to its address with TLS (trusting the gateway's CA, by chain:
/// the certificate names the domain, not the address) and the bearer token, which an
/// operator who can read the state directory can read too.
public enum LiveStatusClient {
    public static func fetch(for gateway: Gateway, timeout: Duration = .seconds(3)) async -> Result<LiveStatus, LiveStatusUnavailable> {
        let http = gateway.configuration.http
        guard http.port > 0 else { return .failure(.init("the HTTP listener is off (http.port = 0)")) }
        let wildcard = http.bindAddress == "0.0.0.0" || http.bindAddress == "::"
        let host = wildcard ? (http.bindAddress == "::" ? "::1" : "127.0.0.1") : http.bindAddress
        var token: String?
        var tls: NIOSSLContext?
        if !http.isLoopbackOnly {
            var configuration = TLSConfiguration.makeClientConfiguration()
            configuration.certificateVerification = .noHostnameVerification
            let caFile = http.clientCAFile.isEmpty ? gateway.configuration.stateDirectory + "/xmpp/ca.pem" : http.clientCAFile
            do {
                configuration.trustRoots = .certificates(try NIOSSLCertificate.fromPEMFile(caFile))
                tls = try NIOSSLContext(configuration: configuration)
            } catch {
                return .failure(.init("the gateway's CA (\(caFile)) cannot be read to check the listener's certificate: \(error)"))
            }
            if !HTTPConfiguration.isLoopback(host) {
                let path = gateway.configuration.httpTokenPath
                guard let text = try? AgoraConfiguration.readText(path) else { return .failure(.init("the bearer token \(path) cannot be read")) }
                token = String(text.filter { !$0.isWhitespace })
            }
        }
        let (bearer, context) = (token, tls)
        do {
            let body = try await withThrowingTaskGroup(of: [UInt8]?.self) { group in
                group.addTask { try await get("/status.json", host: host, port: http.port, tls: context, token: bearer) }
                group.addTask {
                    try await Task.sleep(for: timeout)
                    return nil
                }
                defer { group.cancelAll() }
                guard let first = try await group.next(), let body = first else {
                    throw LiveStatusUnavailable("no answer from \(host):\(http.port) within \(timeout)")
                }
                return body
            }
            return .success(try JSONDecoder().decode(LiveStatus.self, from: Data(body)))
        } catch let unavailable as LiveStatusUnavailable {
            return .failure(unavailable)
        } catch {
            return .failure(.init(error is NIOConnectionError || error is IOError
                                  ? "no server answers on \(host):\(http.port) (is agora serve running?)"
                                  : "asking \(host):\(http.port) failed: \(error)"))
        }
    }

    private static func get(_ path: String, host: String, port: Int, tls: NIOSSLContext?, token: String?) async throws -> [UInt8] {
        let channel = try await ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .connectTimeout(.seconds(2))
            .connect(host: host, port: port) { channel in
                channel.eventLoop.makeCompletedFuture {
                    if let tls { try channel.pipeline.syncOperations.addHandler(NIOSSLClientHandler(context: tls, serverHostname: nil)) }
                    try channel.pipeline.syncOperations.addHTTPClientHandlers()
                    return try NIOAsyncChannel<HTTPClientResponsePart, HTTPClientRequestPart>(wrappingChannelSynchronously: channel)
                }
            }
        return try await channel.executeThenClose { inbound, outbound in
            var headers: HTTPHeaders = ["host": host, "connection": "close"]
            if let token { headers.add(name: "authorization", value: "Bearer \(token)") }
            try await outbound.write(.head(HTTPRequestHead(version: .http1_1, method: .GET, uri: path, headers: headers)))
            try await outbound.write(.end(nil))
            var status: HTTPResponseStatus?
            var body: [UInt8] = []
            for try await part in inbound {
                switch part {
                case .head(let head): status = head.status
                case .body(var buffer):
                    body += buffer.readBytes(length: buffer.readableBytes) ?? []
                    guard body.count <= 4 << 20 else { throw LiveStatusUnavailable("the answer is larger than 4 MiB") }
                case .end:
                    guard status == .ok else {
                        throw LiveStatusUnavailable("the server answered \(status.map { "\($0.code)" } ?? "nothing"): \(String(decoding: body.prefix(200), as: UTF8.self))")
                    }
                    return body
                }
            }
            throw LiveStatusUnavailable("the server closed the connection before answering")
        }
    }
}

/// Why the live counters could not be read (said in `agora status`; not a failure of it).
public struct LiveStatusUnavailable: Error, CustomStringConvertible, Sendable {
    public let description: String
    init(_ description: String) { self.description = description }
}
