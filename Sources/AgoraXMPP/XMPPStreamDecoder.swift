public import NIOCore

/// Bytes in, stream events out: the expat parser as a channel handler.
///
/// Sits between TLS (when present) and the connection handler. A parse error is passed on
/// as a `StreamError` through `errorCaught`, after the events that completed before it;
/// nothing more is parsed on that stream. `restart()` begins a new XML stream (RFC 6120
/// §4.3.3) — after `<proceed/>` or SASL `<success/>` — and drops whatever the old stream
/// still had buffered, which a conforming client never sends.
public final class XMPPStreamDecoder: ChannelInboundHandler, RemovableChannelHandler {
    public typealias InboundIn = ByteBuffer
    public typealias InboundOut = XMLStreamEvent

    private let parser: XMLStreamParser
    private var events: [XMLStreamEvent] = []
    private var restartRequested = false
    private var failed = false
    /// Inside `channelRead`, passing events on.
    private var delivering = false

    public init(limits: XMLStreamParser.Limits) {
        parser = XMLStreamParser(limits: limits)
    }

    /// Begins a new stream. Called while an event is being passed on (SASL success answered
    /// at once, `<proceed/>`), the rest of that read is dropped after it; called between reads
    /// (SASL success after work off the event loop), the parser starts over at once.
    public func restart() {
        if delivering {
            restartRequested = true
        } else {
            parser.reset()
            events.removeAll(keepingCapacity: true)
        }
    }

    public func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        guard !failed else { return }
        let buffer = unwrapInboundIn(data)
        let error = buffer.withUnsafeReadableBytes { parser.feed($0, into: &events) }
        delivering = true
        defer { delivering = false }
        var index = 0
        while index < events.count {
            let event = events[index]
            index += 1
            context.fireChannelRead(wrapInboundOut(event))
            if restartRequested {
                restartRequested = false
                parser.reset()
                events.removeAll(keepingCapacity: true)
                return
            }
        }
        events.removeAll(keepingCapacity: true)
        if let error {
            failed = true
            context.fireErrorCaught(error)
        }
    }
}
