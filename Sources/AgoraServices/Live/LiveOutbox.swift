internal import AgoraCore
internal import AgoraXMPP
internal import Synchronization

/// One live item on its way to one session: the notification, and what a gap marker needs
/// to name it if it is dropped.
struct LiveDelivery: Sendable {
    let stanza: XMLElement
    let node: String
    let item: UInt64
    /// Its readings' times (ns), first and last.
    let span: ClosedRange<Int64>
}

/// What a session missed: counted while its queue overflows, sent as one marker before the
/// next item it gets, so the client knows which ids and times to fetch (readings:1).
struct LiveGap: Sendable {
    let node: String
    var items: Int
    var first: UInt64
    var last: UInt64
    var span: ClosedRange<Int64>

    init(_ dropped: LiveDelivery) {
        node = dropped.node
        items = 1
        first = dropped.item
        last = dropped.item
        span = dropped.span
    }

    mutating func add(_ dropped: LiveDelivery) {
        items += 1
        first = min(first, dropped.item)
        last = max(last, dropped.item)
        span = min(span.lowerBound, dropped.span.lowerBound)...max(span.upperBound, dropped.span.upperBound)
    }

    /// `<message><gap xmlns='urn:agora:live:1' …/></message>` from the service.
    func marker(from service: String) -> XMLElement {
        XMLElement("message", namespace: Namespace.client, attributes: [.init("from", service), .init("type", "headline")], children: [
            .element(XMLElement("gap", namespace: LiveService.liveNamespace, attributes: [
                .init("node", node), .init("items", String(items)), .init("first", String(first)), .init("last", String(last)),
                .init("from", Reading.formatTime(span.lowerBound)), .init("to", Reading.formatTime(span.upperBound)),
            ])),
        ])
    }
}

/// The items waiting for one session whose connection does not keep up (`Session.isWritable`).
/// Bounded: beyond `capacity` the oldest is dropped and counted in the gap of its node, so a
/// reader that stalls costs this queue and nothing else — the fan-out never waits for it.
final class LiveOutbox: Sendable {
    private struct State {
        var queue: [LiveDelivery] = []   // at most `capacity`: removing the first costs little
        var gaps: [String: LiveGap] = [:]
        var waiting = false
    }

    private let state = Mutex(State())
    let capacity: Int

    init(capacity: Int) { self.capacity = max(1, capacity) }

    /// Sends `delivery` now if nothing waits before it and the session can take it, else
    /// queues it. Returns how many items were dropped to make room (0 or 1).
    func offer(_ delivery: LiveDelivery, to session: Session, service: String) -> Int {
        enum Step { case send, wait(dropped: Int, schedule: Bool) }
        let writable = session.isWritable
        let step = state.withLock { state -> Step in
            // Straight out only when nothing is queued or being drained: never past an older item.
            if state.queue.isEmpty, state.gaps.isEmpty, !state.waiting, writable { return .send }
            var dropped = 0
            state.queue.append(delivery)
            if state.queue.count > capacity {
                let oldest = state.queue.removeFirst()
                if state.gaps[oldest.node] != nil { state.gaps[oldest.node]!.add(oldest) } else { state.gaps[oldest.node] = LiveGap(oldest) }
                dropped = 1
            }
            let schedule = !state.waiting
            state.waiting = true
            return .wait(dropped: dropped, schedule: schedule)
        }
        switch step {
        case .send:
            session.deliver(addressed(delivery.stanza, to: session))
            return 0
        case .wait(let dropped, let schedule):
            if schedule { session.whenWritable { self.drain(session, service: service) } }
            return dropped
        }
    }

    /// Writes what waits while the session takes it: gap markers first, then items in order.
    private func drain(_ session: Session, service: String) {
        while true {
            enum Next { case send(XMLElement), stop, wait }
            let next = state.withLock { state -> Next in
                if !session.isWritable { return .wait }
                if let node = state.gaps.keys.first, let gap = state.gaps.removeValue(forKey: node) { return .send(gap.marker(from: service)) }
                if !state.queue.isEmpty { return .send(state.queue.removeFirst().stanza) }
                state.waiting = false
                return .stop
            }
            switch next {
            case .send(let stanza):
                guard session.deliver(addressed(stanza, to: session)) else {
                    state.withLock { $0 = State() }   // the session ended: nothing more goes to it
                    return
                }
            case .stop:
                return
            case .wait:
                session.whenWritable { self.drain(session, service: service) }
                return
            }
        }
    }

    private func addressed(_ stanza: XMLElement, to session: Session) -> XMLElement {
        var stanza = stanza
        stanza[attribute: "to"] = session.jidText
        return stanza
    }
}
