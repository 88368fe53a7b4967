internal import AgoraServices

/// The `[live]` keys (issue 21): the publish-subscribe service that pushes each sensor's
/// readings to its subscribers as they are committed. Read like every other key
/// (`AgoraConfiguration+Reader.swift`).
///
/// | key | default | meaning |
/// |---|---|---|
/// | `live.enabled` | true | run the service (on the XMPP server; off when `xmpp.enabled` is false) |
/// | `live.address` | "" | its JID; empty: `pubsub.<domain>` |
/// | `live.offline_items` | 1000 | items kept per account while it has no available resource (the oldest go beyond) |
/// | `live.queue_items` | 256 | items waiting per session whose connection does not keep up (the oldest go beyond, and a gap marker says so) |
/// | `live.max_subscriptions` | 100 | live subscriptions one account may hold |
extension AgoraConfiguration {
    static let liveKeys: [Key] = [
        Key(name: "live.enabled") { c, v, s throws(ConfigurationError) in c.live.enabled = try boolean(v, "live.enabled", s) },
        Key(name: "live.address") { c, v, s throws(ConfigurationError) in
            let text = try string(v, "live.address", s, nonEmpty: false)
            guard text.isEmpty || (text.contains(".") && !text.contains("@") && !text.contains("/") && text.utf8.count <= 1023) else {
                throw .key("live.address", source: s, "expected a domain such as pubsub.gw.example, not \"\(text.prefix(40))\"")
            }
            c.live.address = text
        },
        Key(name: "live.offline_items") { c, v, s throws(ConfigurationError) in c.live.offlineItems = try integer(v, "live.offline_items", s, min: 1, max: 1_000_000) },
        Key(name: "live.queue_items") { c, v, s throws(ConfigurationError) in c.live.queueItems = try integer(v, "live.queue_items", s, min: 1, max: 100_000) },
        Key(name: "live.max_subscriptions") { c, v, s throws(ConfigurationError) in
            c.live.maxSubscriptions = try integer(v, "live.max_subscriptions", s, min: 0, max: 100_000)
        },
    ]
}
