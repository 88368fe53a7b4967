@testable import AgoraHTTP
import NIOCore
import NIOEmbedded
import NIOHTTP1

/// `http-request`: the bytes are what a client sends on one connection to the HTTP listener,
/// through the real pipeline (SwiftNIO's HTTP/1.1 codec with pipelining and error handling,
/// then `HTTPRequestAssembler`) on an in-memory channel, delivered in fuzzer-chosen slices
/// (the first byte picks the slice size), each request answered at once.
///
/// Invariants: no crash; every request handed on is within the limits (body, target) and has
/// a path that parsed (starts with `/`, no `..` or `.` segment, no backslash or control
/// byte); whatever the server writes back is a sequence of HTTP/1.1 responses, each with
/// a status line and a content-length its body matches; refusals close the connection.
enum HTTPRequestTarget {
    static let limits: HTTPConfiguration.Limits = {
        var limits = HTTPConfiguration.Limits()
        limits.maxHeaderBytes = 1024
        limits.maxBodyBytes = 256
        limits.maxURIBytes = 200
        return limits
    }()

    /// Answers each whole request with its path, and keeps what it was handed.
    final class Answerer: ChannelInboundHandler {
        typealias InboundIn = HTTPRequest
        typealias OutboundOut = HTTPResponse
        var requests: [HTTPRequest] = []

        func channelRead(context: ChannelHandlerContext, data: NIOAny) {
            let request = unwrapInboundIn(data)
            requests.append(request)
            context.writeAndFlush(wrapOutboundOut(.text(.ok, "seen \(request.path.utf8.count)\n")), promise: nil)
        }
    }

    static func run(_ input: UnsafeRawBufferPointer) -> [String] {
        guard let first = input.first else { return [] }
        let slice = Int(first % 64) + 1
        let bytes = Array(input.dropFirst())
        let channel = EmbeddedChannel()
        let answerer = Answerer()
        do {
            try HTTPServer.addHTTPHandlers(to: channel, limits: limits, metrics: HTTPMetrics(), tls: false)
            try channel.pipeline.syncOperations.addHandler(answerer)
            try channel.connect(to: SocketAddress(ipAddress: "127.0.0.1", port: 1)).wait()
        } catch {
            return ["the pipeline could not be built: \(error)"]
        }
        var written: [UInt8] = []
        func drain() {
            while let buffer = try? channel.readOutbound(as: ByteBuffer.self) { written += buffer.readableBytesView }
        }
        var offset = 0
        while offset < bytes.count, channel.isActive {
            let end = min(bytes.count, offset + slice)
            _ = try? channel.writeInbound(channel.allocator.buffer(bytes: bytes[offset..<end]))
            drain()
            offset = end
        }
        drain()
        _ = try? channel.finish()
        // Every timer (the request deadline) fires and lets go of the pipeline it holds.
        channel.embeddedEventLoop.advanceTime(by: .hours(2))
        var problems: [String] = []
        for request in answerer.requests {
            if request.body.count > limits.maxBodyBytes { problems.append("a body of \(request.body.count) bytes was handed on") }
            if !request.path.hasPrefix("/") { problems.append("a path without a leading slash was handed on") }
            let segments = request.path.split(separator: "/", omittingEmptySubsequences: false)
            if segments.contains(where: { $0 == ".." || $0 == "." }) { problems.append("a path with a dot segment was handed on: \(request.path.prefix(80))") }
            if request.path.utf8.contains(where: { $0 < 0x20 || $0 == 0x7F || $0 == UInt8(ascii: "\\") }) {
                problems.append("a path with a control byte or backslash was handed on")
            }
        }
        problems += responseProblems(written)
        return problems
    }

    /// Whether `bytes` is a run of whole HTTP/1.1 responses with honest content-lengths.
    static func responseProblems(_ bytes: [UInt8]) -> [String] {
        var rest = bytes[...]
        let separator: [UInt8] = Array("\r\n\r\n".utf8)
        while !rest.isEmpty {
            guard let end = rest.firstRange(of: separator) else { return ["a response head never ends: \(String(decoding: rest.prefix(120), as: UTF8.self))"] }
            let head = String(decoding: rest[..<end.lowerBound], as: UTF8.self)
            guard head.hasPrefix("HTTP/1.1 ") || head.hasPrefix("HTTP/1.0 ") else { return ["a response without a status line: \(head.prefix(120))"] }
            let length = head.split(separator: "\r\n").first { $0.lowercased().hasPrefix("content-length:") }
                .flatMap { Int($0.dropFirst("content-length:".count).filter { $0 != " " }) } ?? 0
            rest = rest[end.upperBound...]
            guard rest.count >= length else { return ["a body shorter than its content-length (\(rest.count) < \(length))"] }
            rest = rest.dropFirst(length)
        }
        return []
    }
}
