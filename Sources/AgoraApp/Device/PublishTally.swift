/// What a publishing device has sent and what the broker has acknowledged (QoS 1 PUBACKs),
/// by message id: the publisher's exit status rests on it, so a pack counts as delivered
/// only once its PUBACK has come back.
///
/// Message ids are 16-bit and libmosquitto reuses one once it is acknowledged; an entry is
/// removed at its PUBACK, so a reused id always means the newer pack. A PUBACK for an id not
/// outstanding (a copy libmosquitto resent of a pack also sent again here) counts nothing.
struct PublishTally: Sendable {
    private(set) var published = 0
    private(set) var acknowledged = 0
    /// Lines that were not SenML packs the gateway accepts, and so were not sent.
    private(set) var invalid = 0
    /// Message id → the pack's number (1, 2, …).
    private var outstanding: [Int32: Int] = [:]

    var unacknowledged: Int { outstanding.count }

    mutating func sent(pack: Int, messageID: Int32) {
        published += 1
        outstanding[messageID] = pack
    }

    /// The pack the PUBACK acknowledges, or nil when it acknowledges nothing outstanding.
    mutating func acknowledge(messageID: Int32) -> Int? {
        guard let pack = outstanding.removeValue(forKey: messageID) else { return nil }
        acknowledged += 1
        return pack
    }

    mutating func rejected() { invalid += 1 }

    /// Whether everything taken was sent and acknowledged.
    var isComplete: Bool { outstanding.isEmpty && invalid == 0 }

    /// "published 10 packs, 10 acknowledged by the broker", and what is missing.
    func summary(held: Int, waited seconds: Int64) -> String {
        var text = "published \(published) pack\(published == 1 ? "" : "s"), \(acknowledged) acknowledged by the broker"
        if unacknowledged > 0 { text += "; \(unacknowledged) not acknowledged within \(seconds) s" }
        if held > 0 { text += "; \(held) not sent: no connection to the broker" }
        if invalid > 0 { text += "; \(invalid) line\(invalid == 1 ? "" : "s") not sent: not a SenML pack the gateway accepts" }
        return text
    }
}
