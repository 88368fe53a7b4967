internal import AgoraXMPP
internal import NIOCore

/// Hands the stream's events (the header, each top-level element, the end) to the task that
/// drives the client, through an `AsyncThrowingStream`: the client asks and waits, one
/// exchange at a time, so a sequential reader is all it needs. A channel error (TLS, a parse
/// error) ends the stream with that error; the channel closing ends it cleanly.
final class ClientStreamHandler: ChannelInboundHandler, Sendable {
    typealias InboundIn = XMLStreamEvent

    let continuation: AsyncThrowingStream<XMLStreamEvent, any Error>.Continuation

    init(continuation: AsyncThrowingStream<XMLStreamEvent, any Error>.Continuation) {
        self.continuation = continuation
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        continuation.yield(unwrapInboundIn(data))
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        continuation.finish(throwing: error)
        context.close(promise: nil)
    }

    func channelInactive(context: ChannelHandlerContext) {
        continuation.finish()
        context.fireChannelInactive()
    }
}
