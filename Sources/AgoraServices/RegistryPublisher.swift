internal import AgoraCore
public import AgoraMarket
public import AgoraXMPP
public import Logging
public import ServiceLifecycle

/// `agora serve`'s side of a city-wide XEP-0347 registry (`[registry] jid`): this gateway's
/// sensors, with their meta tags, registered at that JID over federation, each as a node of
/// the gateway (XEP-0347 §3.9) — re-registered when their tags change, unregistered when
/// they are frozen.
///
/// A loop rather than a hook on every ledger change: registration is fire-and-forget over
/// federation (no answer is awaited), so each round compares what the market holds with
/// what was last sent, and every tenth round sends everything again, which heals whatever a
/// registry lost or never got (a restart on either side, a link that failed). Sends are
/// paced so a gateway with many sensors stays under a registry's per-peer rate.
public struct RegistryPublisher: Service {
    let market: Market
    let registry: String
    let interval: Duration
    let send: @Sendable (XMLElement) -> Bool
    let ready: @Sendable () async -> Bool
    let logger: Logger

    /// - Parameters:
    ///   - send: sends a stanza in the server's own name (`XMPPServer.sendAsServer`).
    ///   - ready: waits until the XMPP server listens (false: it never will).
    public init(market: Market, registry: String, interval: Duration, send: @escaping @Sendable (XMLElement) -> Bool,
                ready: @escaping @Sendable () async -> Bool, logger: Logger) {
        self.ready = ready
        self.market = market
        self.registry = registry
        self.interval = interval
        self.send = send
        self.logger = logger
    }

    static let namespace = "urn:xmpp:iot:discovery"
    static let perPause = 200

    public func run() async throws {
        guard await ready() else { return }
        var sent: [String: String] = [:]
        var round = 0
        while !Task.isShuttingDownGracefully, !Task.isCancelled {
            if round % 10 == 0 { sent = [:] }
            round += 1
            do {
                let sensors = try market.read { state in try state.sensors().map { (id: $0.id.rawValue, frozen: $0.frozen, tags: DiscoveryIQ.tags(of: $0)) } }
                let plan = Self.plan(sent: sent, sensors: sensors, full: sent.isEmpty)
                var count = 0
                for stanza in plan.stanzas(to: registry, id: round) {
                    guard send(stanza) else { break }
                    count += 1
                    if count % Self.perPause == 0 { try? await Task.sleep(for: .milliseconds(100)) }
                }
                sent = plan.sent
                if count > 0 { logger.info("sensors sent to the registry", metadata: ["registry": "\(registry)", "stanzas": "\(count)"]) }
            } catch {
                logger.error("registering sensors at the registry failed", metadata: ["registry": "\(registry)", "error": "\(error)"])
            }
            try? await cancelWhenGracefulShutdown { try await Task.sleep(for: interval) }
        }
    }

    /// What one round sends: `register` for each unfrozen sensor whose tags differ from what
    /// was last sent, `unregister` for each frozen one that was sent (or, in a full round,
    /// each frozen one at all, since a restart forgot what was sent).
    struct Plan: Equatable {
        var register: [(id: String, tags: [String: DiscoveryIQ.Tag])]
        var unregister: [String]
        var sent: [String: String]

        static func == (a: Plan, b: Plan) -> Bool {
            a.register.map(\.id) == b.register.map(\.id) && a.unregister == b.unregister && a.sent == b.sent
        }

        func stanzas(to registry: String, id round: Int) -> [XMLElement] {
            var stanzas: [XMLElement] = []
            for (index, (id, tags)) in register.enumerated() {
                var payload = XMLElement("register", namespace: namespace, attributes: [.init("nodeId", id)])
                for (name, value) in tags.sorted(by: { $0.key < $1.key }) {
                    switch value {
                    case .text(let text): payload.append(XMLElement("str", namespace: namespace, attributes: [.init("name", name), .init("value", text)]))
                    case .number(let number): payload.append(XMLElement("num", namespace: namespace, attributes: [.init("name", name), .init("value", String(number))]))
                    }
                }
                stanzas.append(iq(payload, to: registry, id: "reg-\(round)-\(index)"))
            }
            for (index, id) in unregister.enumerated() {
                stanzas.append(iq(XMLElement("unregister", namespace: namespace, attributes: [.init("nodeId", id)]), to: registry, id: "unreg-\(round)-\(index)"))
            }
            return stanzas
        }

        private func iq(_ payload: XMLElement, to registry: String, id: String) -> XMLElement {
            XMLElement("iq", namespace: Namespace.client, attributes: [.init("type", "set"), .init("id", id), .init("to", registry)],
                       children: [.element(payload)])
        }
    }

    static func plan(sent: [String: String], sensors: [(id: String, frozen: Bool, tags: [String: DiscoveryIQ.Tag])], full: Bool) -> Plan {
        var plan = Plan(register: [], unregister: [], sent: sent)
        for var sensor in sensors {
            // What a registry keeps of a tag is bounded (ThingRegistry.Limits): a longer value
            // (a long PURL) is left out rather than have the whole sensor refused.
            sensor.tags = sensor.tags.filter { if case .text(let text) = $0.value { text.utf8.count <= 256 } else { true } }
            if sensor.frozen {
                if full || sent[sensor.id] != nil { plan.unregister.append(sensor.id) }
                plan.sent[sensor.id] = nil
                continue
            }
            let fingerprint = sensor.tags.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: "\u{1}")
            if sent[sensor.id] != fingerprint {
                plan.register.append((sensor.id, sensor.tags))
                plan.sent[sensor.id] = fingerprint
            }
        }
        return plan
    }
}
