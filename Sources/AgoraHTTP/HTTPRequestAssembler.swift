internal import NIOCore
internal import NIOHTTP1
internal import NIOSSL

/// Turns SwiftNIO's request parts into whole `HTTPRequest`s within the listener's limits,
/// and `HTTPResponse`s back into parts: the pipeline's end, below `NIOAsyncChannel`.
///
/// Every refusal happens here, before anything asynchronous runs: a method other than GET
/// or POST, a head, target or body above its limit, a target that does not parse, or no
/// complete request within `requestTimeout`. The refused request is answered with its
/// status and `connection: close`, counted, and the connection closed; nothing else on
/// the listener notices. Event-loop bound, like every handler.
final class HTTPRequestAssembler: ChannelDuplexHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias InboundOut = HTTPRequest
    typealias OutboundIn = HTTPResponse
    typealias OutboundOut = HTTPServerResponsePart

    private enum State {
        /// Between requests: the deadline runs.
        case waiting
        case receiving(HTTPRequest, version: HTTPVersion)
        /// A request was handed on; its response is awaited (no deadline: the route is ours).
        case responding(keepAlive: Bool, version: HTTPVersion)
        /// A refusal was written or the connection is closing: the rest is ignored.
        case closing
    }

    private var state = State.waiting
    private let limits: HTTPConfiguration.Limits
    private let metrics: HTTPMetrics
    private let progress: HTTPReadMarker
    private let tls: Bool
    private var deadline: Scheduled<Void>?

    init(limits: HTTPConfiguration.Limits, metrics: HTTPMetrics, progress: HTTPReadMarker, tls: Bool) {
        self.limits = limits
        self.metrics = metrics
        self.progress = progress
        self.tls = tls
    }

    func handlerAdded(context: ChannelHandlerContext) {
        if context.channel.isActive { armDeadline(context) }
    }

    func channelActive(context: ChannelHandlerContext) {
        armDeadline(context)
        context.fireChannelActive()
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        deadline?.cancel()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch (unwrapInboundIn(data), state) {
        case (_, .closing), (_, .responding):
            // Pipelined requests wait in HTTPServerPipelineHandler, so nothing arrives while
            // responding; after a refusal the rest of the request is dropped.
            return
        case (.head(let head), .waiting):
            if let (status, reason) = refusal(of: head) {
                refuse(context, status: status, reason: reason, version: head.version)
                return
            }
            guard let (path, query) = HTTPPath.parse(head.uri) else {
                refuse(context, status: .badRequest, reason: .badPath, version: head.version)
                return
            }
            let peer = context.channel.remoteAddress?.ipAddress ?? ""
            state = .receiving(HTTPRequest(method: head.method, path: path, query: query, headers: head.headers,
                                           peerAddress: peer, keepAlive: head.isKeepAlive), version: head.version)
        case (.body(var buffer), .receiving(var request, let version)):
            guard request.body.count + buffer.readableBytes <= limits.maxBodyBytes else {
                refuse(context, status: .payloadTooLarge, reason: .bodyTooLarge, version: version)
                return
            }
            state = .closing  // no copy-on-write of the body while it is appended to
            request.body += buffer.readBytes(length: buffer.readableBytes) ?? []
            state = .receiving(request, version: version)
        case (.end, .receiving(var request, let version)):
            deadline?.cancel()
            deadline = nil
            progress.reset()
            if tls, let handler = try? context.pipeline.syncOperations.handler(type: NIOSSLServerHandler.self),
               let certificate = handler.peerCertificate {
                request.clientCertificate = try? certificate.toDERBytes()
            }
            state = .responding(keepAlive: request.keepAlive, version: version)
            context.fireChannelRead(wrapInboundOut(request))
        case (.body, .waiting), (.end, .waiting), (.head, .receiving):
            refuse(context, status: .badRequest, reason: .malformed, version: .http1_1)
        }
    }

    /// Whether `head` is refused before its body is read, and with what.
    private func refusal(of head: HTTPRequestHead) -> (HTTPResponseStatus, HTTPRefusal)? {
        guard head.method == .GET || head.method == .POST else { return (.methodNotAllowed, .method) }
        guard head.uri.utf8.count <= limits.maxURIBytes else { return (.uriTooLong, .uriTooLong) }
        let headerBytes = head.headers.reduce(head.uri.utf8.count + 16) { $0 + $1.name.utf8.count + $1.value.utf8.count + 4 }
        guard headerBytes <= limits.maxHeaderBytes else { return (.requestHeaderFieldsTooLarge, .headerTooLarge) }
        if let length = head.headers.first(name: "content-length").flatMap(Int.init), length > limits.maxBodyBytes {
            return (.payloadTooLarge, .bodyTooLarge)
        }
        if head.headers.contains(name: "transfer-encoding"), head.method == .GET { return (.badRequest, .malformed) }
        return nil
    }

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        guard case .responding(let keepAlive, let version) = state else {
            promise?.fail(ChannelError.ioOnClosedChannel)
            return
        }
        let response = unwrapOutboundIn(data)
        metrics.responded(Int(response.status.code))
        // The state moves on before the response is written: writing its end makes SwiftNIO's
        // pipelining handler hand on the next buffered request at once, within `send`.
        state = keepAlive ? .waiting : .closing
        if keepAlive { armDeadline(context) }
        send(context, response, version: version, keepAlive: keepAlive, promise: promise)
        if !keepAlive { context.close(promise: nil) }
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        if error is HTTPParserError {
            // HTTPServerProtocolErrorHandler answered 400 and closes the connection. After
            // a refusal, the parser choking on the rest of the refused request is no news.
            if case .closing = state {} else { metrics.refused(.malformed) }
            state = .closing
        }
        context.fireErrorCaught(error)
    }

    private func refuse(_ context: ChannelHandlerContext, status: HTTPResponseStatus, reason: HTTPRefusal, version: HTTPVersion) {
        metrics.refused(reason)
        metrics.responded(Int(status.code))
        state = .closing
        deadline?.cancel()
        var response = HTTPResponse.text(status, "\(status.code) \(status.reasonPhrase)\n")
        if reason == .method { response.headers.add(name: "allow", value: "GET, POST") }
        send(context, response, version: version, keepAlive: false, promise: nil)
        context.close(promise: nil)
    }

    private func send(_ context: ChannelHandlerContext, _ response: HTTPResponse, version: HTTPVersion,
                      keepAlive: Bool, promise: EventLoopPromise<Void>?) {
        var headers = response.headers
        headers.replaceOrAdd(name: "content-length", value: "\(response.body.count)")
        headers.replaceOrAdd(name: "connection", value: keepAlive ? "keep-alive" : "close")
        HTTPSecurityHeaders.add(to: &headers, tls: tls)
        context.write(wrapOutboundOut(.head(HTTPResponseHead(version: version, status: response.status, headers: headers))), promise: nil)
        if !response.body.isEmpty {
            context.write(wrapOutboundOut(.body(.byteBuffer(context.channel.allocator.buffer(bytes: response.body)))), promise: nil)
        }
        context.writeAndFlush(wrapOutboundOut(.end(nil)), promise: promise)
    }

    private func armDeadline(_ context: ChannelHandlerContext) {
        deadline?.cancel()
        deadline = context.eventLoop.assumeIsolated().scheduleTask(in: TimeAmount(limits.requestTimeout)) { [self] in
            deadline = nil
            switch state {
            case .receiving(_, let version):
                refuse(context, status: .requestTimeout, reason: .timeout, version: version)
            case .waiting:
                // Bytes of a head that never completed: a slow client. None: an idle keep-alive.
                if progress.bytesSeen { metrics.refused(.timeout) }
                state = .closing
                context.close(promise: nil)
            case .responding, .closing:
                break
            }
        }
    }
}

/// Notes that bytes of a request arrived before SwiftNIO's parser produced its head, so the
/// request deadline can tell a slow client from an idle connection. Sits at the front of
/// the pipeline (after TLS); shares its flag with the `HTTPRequestAssembler` of the same
/// channel, on the same event loop.
final class HTTPReadMarker: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = ByteBuffer
    typealias InboundOut = ByteBuffer
    private(set) var bytesSeen = false

    func reset() { bytesSeen = false }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        bytesSeen = true
        context.fireChannelRead(data)
    }
}

/// Headers on every answer of the listener: no sniffing, no framing, no caching, no
/// cross-site referrer, a same-origin content policy; HSTS when the listener speaks TLS.
enum HTTPSecurityHeaders {
    static func add(to headers: inout HTTPHeaders, tls: Bool) {
        headers.replaceOrAdd(name: "x-content-type-options", value: "nosniff")
        headers.replaceOrAdd(name: "x-frame-options", value: "DENY")
        // same-origin, not no-referrer: under no-referrer browsers send `Origin: null` with a form
        // POST, and the login checks the Origin.
        headers.replaceOrAdd(name: "referrer-policy", value: "same-origin")
        if !headers.contains(name: "cache-control") { headers.add(name: "cache-control", value: "no-store") }
        if !headers.contains(name: "content-security-policy") {
            headers.add(name: "content-security-policy",
                        value: "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; frame-ancestors 'none'; form-action 'self'")
        }
        if tls { headers.replaceOrAdd(name: "strict-transport-security", value: "max-age=31536000") }
    }
}
