public import AgoraCore
public import AgoraLedger
internal import AgoraXMPP
internal import FoundationEssentials

/// A consumer's live subscription to a sensor (XEP-0060 on the gateway's `pubsub.<domain>`):
/// subscribes, then turns what the service pushes into readings (verified when proofs were
/// asked for), gap markers and the end of the subscription.
public struct LiveWatch {
    static let pubsub = "http://jabber.org/protocol/pubsub"
    static let event = "http://jabber.org/protocol/pubsub#event"
    static let live = "urn:agora:live:1"

    let client: XMPPClient
    public let sensor: SensorID
    public var service: String { "pubsub." + client.serviceDomain }
    public var node: String { "sensors/" + sensor.rawValue }

    public init(client: XMPPClient, sensor: SensorID) {
        self.client = client
        self.sensor = sensor
    }

    /// What arrived.
    public enum Event: Sendable {
        /// One committed batch's readings this account may see (verified with a verifier).
        case readings(commit: UInt64, [VerifiedReadings.Item])
        /// Items the gateway had to drop for this session: fetch [from, to] with readings:1.
        case gap(items: Int, from: String, to: String)
        /// The subscription ended (its windows are over).
        case ended
    }

    /// Subscribes this account (again: a subscription is kept per account, and resubscribing
    /// only sets the options), then sends presence so pushes reach this resource.
    public func subscribe(proofs: Bool) async throws(XMPPClientError) {
        let form = XMLElement("x", namespace: "jabber:x:data", attributes: [.init("type", "submit")], children: [
            .element(Self.field("FORM_TYPE", "http://jabber.org/protocol/pubsub#subscribe_options")),
            .element(Self.field("agora#proofs", proofs ? "true" : "false")),
        ])
        try await client.request("set", XMLElement("pubsub", namespace: Self.pubsub, children: [
            .element(XMLElement("subscribe", namespace: Self.pubsub, attributes: [.init("node", node), .init("jid", client.options.jid.description)])),
            .element(XMLElement("options", namespace: Self.pubsub, children: [.element(form)])),
        ]), to: service)
        try await client.sendPresence()
    }

    /// Ends this account's subscription (all its resources stop receiving).
    public func unsubscribe() async throws(XMPPClientError) {
        try await client.request("set", XMLElement("pubsub", namespace: Self.pubsub, children: [
            .element(XMLElement("unsubscribe", namespace: Self.pubsub, attributes: [.init("node", node), .init("jid", client.options.jid.description)])),
        ]), to: service)
    }

    /// The next event for this sensor, waiting at most `timeout`. With a `verifier`, every
    /// reading's proof is checked before it is returned (an item without proofs is refused).
    public func next(timeout: Duration, verifier: NoteVerifier?) async throws(XMPPClientError) -> Event {
        while true {
            let stanza = try await client.receive(timeout: timeout)
            guard stanza.name == "message", stanza[attribute: "from"] == service else { continue }
            if let gap = stanza.child("gap", namespace: Self.live), gap[attribute: "node"] == node {
                return .gap(items: gap[attribute: "items"].flatMap { Int($0) } ?? 0, from: gap[attribute: "from"] ?? "", to: gap[attribute: "to"] ?? "")
            }
            guard let event = stanza.child("event", namespace: Self.event) else { continue }
            if let state = event.child("subscription", namespace: Self.event), state[attribute: "node"] == node, state[attribute: "subscription"] == "none" {
                return .ended
            }
            guard let items = event.child("items", namespace: Self.event), items[attribute: "node"] == node,
                  let item = items.child("item", namespace: Self.event), let commit = item[attribute: "id"].flatMap({ UInt64($0) }),
                  let readings = item.child("readings", namespace: ClientNamespace.readings) else { continue }
            return .readings(commit: commit, try Self.readings(in: readings, sensor: sensor, verifier: verifier))
        }
    }

    /// The readings of one item's `readings:1` payload.
    static func readings(in payload: XMLElement, sensor: SensorID, verifier: NoteVerifier?) throws(XMPPClientError) -> [VerifiedReadings.Item] {
        let rows = payload.elements.filter { $0.name == "r" }
        guard let verifier else { return try rows.map { row throws(XMPPClientError) in try VerifiedReadings.unverified(row) } }
        var receipts: [UInt64: Receipt] = [:]
        for element in payload.elements where element.name == "receipt" {
            guard let index = element[attribute: "index"].flatMap({ UInt64($0) }), let receipt = try? Receipt(json: Array(element.text.utf8)) else {
                throw .verification("an unreadable receipt in a live item")
            }
            receipts[index] = receipt
        }
        var commits: [UInt64: LedgerEntry.ReadingsCommit] = [:]
        return try rows.map { row throws(XMPPClientError) in
            try VerifiedReadings.verified(row, sensor: sensor, receipts: receipts, verifier: verifier, commits: &commits, keepProofs: false)
        }
    }

    static func field(_ name: String, _ value: String) -> XMLElement {
        XMLElement("field", namespace: "jabber:x:data", attributes: [.init("var", name)], children: [
            .element(XMLElement("value", namespace: "jabber:x:data", text: value)),
        ])
    }
}

extension VerifiedReadings {
    /// A reading as the gateway sent it, without proof (a live item without `agora#proofs`).
    static func unverified(_ row: XMLElement) throws(XMPPClientError) -> Item {
        guard let t = row[attribute: "t"], let n = row[attribute: "n"], let commit = row[attribute: "commit"].flatMap({ UInt64($0) }) else {
            throw .protocolViolation("a reading without t, n or commit")
        }
        return Item(t: t, n: n, u: row[attribute: "u"], v: row[attribute: "v"].flatMap(Double.init), vs: row[attribute: "vs"],
                    vb: row[attribute: "vb"].map { $0 == "true" }, vd: row[attribute: "vd"], s: row[attribute: "s"].flatMap(Double.init),
                    commit: commit, record: nil, leaf: nil, size: nil, path: nil)
    }
}
