public import AgoraCore

/// One contact in an account's roster (RFC 6121 §2.1.2).
public struct RosterItem: Sendable, Equatable {
    /// RFC 6121 §2.1.2.5: whose presence flows where.
    public enum Subscription: String, Sendable {
        case none, to, from, both

        var hasTo: Bool { self == .to || self == .both }
        var hasFrom: Bool { self == .from || self == .both }

        func adding(to: Bool = false, from: Bool = false) -> Subscription {
            Self.make(to: hasTo || to, from: hasFrom || from)
        }

        func removing(to: Bool = false, from: Bool = false) -> Subscription {
            Self.make(to: hasTo && !to, from: hasFrom && !from)
        }

        static func make(to: Bool, from: Bool) -> Subscription {
            switch (to, from) {
            case (true, true): .both
            case (true, false): .to
            case (false, true): .from
            case (false, false): .none
            }
        }
    }

    public var contact: BareJID
    public var name: String?
    public var subscription: Subscription
    /// An outbound subscription request is pending (`ask='subscribe'`).
    public var askSubscribe: Bool
    /// An inbound request from the contact awaits the user's answer (not shown in the roster).
    public var pendingIn: Bool
    public var groups: [String]

    public init(contact: BareJID, name: String? = nil, subscription: Subscription = .none,
                askSubscribe: Bool = false, pendingIn: Bool = false, groups: [String] = []) {
        self.contact = contact
        self.name = name
        self.subscription = subscription
        self.askSubscribe = askSubscribe
        self.pendingIn = pendingIn
        self.groups = groups
    }

    /// The `<item/>` of a roster result or push.
    public var element: XMLElement {
        var item = XMLElement("item", namespace: Namespace.roster, attributes: [.init("jid", contact.description), .init("subscription", subscription.rawValue)])
        if let name { item[attribute: "name"] = name }
        if askSubscribe { item[attribute: "ask"] = "subscribe" }
        for group in groups { item.append(XMLElement("group", namespace: Namespace.roster, text: group)) }
        return item
    }

    /// `subscription ‖ 0 ‖ flags digit ‖ 0 ‖ name ‖ 0 ‖ group ‖ 0 …`: a roster item is a handful
    /// of short strings without NUL (XML cannot carry one).
    var encoded: [UInt8] {
        var bytes = Array(subscription.rawValue.utf8) + [0]
        bytes += [UInt8(ascii: "0") + (askSubscribe ? 1 : 0) + (pendingIn ? 2 : 0), 0]
        bytes += Array((name ?? "").utf8) + [0]
        for group in groups { bytes += Array(group.utf8) + [0] }
        return bytes
    }

    init?(contact: BareJID, decoding bytes: [UInt8]) {
        let fields = bytes.split(separator: 0, omittingEmptySubsequences: false).map { String(decoding: $0, as: UTF8.self) }
        guard fields.count >= 4, let subscription = Subscription(rawValue: fields[0]),
              let digit = fields[1].utf8.first, (UInt8(ascii: "0")...UInt8(ascii: "3")).contains(digit) else { return nil }
        let flags = digit - UInt8(ascii: "0")
        self.init(contact: contact, name: fields[2].isEmpty ? nil : fields[2], subscription: subscription,
                  askSubscribe: flags & 1 != 0, pendingIn: flags & 2 != 0, groups: fields[3...].dropLast().map { $0 })
    }
}
