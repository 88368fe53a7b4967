public import AgoraCore

/// Any XMPP address (RFC 7622): a domain, a bare account address, or either with a
/// resource. Accounts reuse `BareJID`'s (deliberately strict) validation; resources are
/// 1…1023 bytes of UTF-8 without control characters.
public struct JID: Hashable, Sendable, CustomStringConvertible {
    public let localpart: String?
    public let domain: String
    public let resource: String?

    public static let maxResourceBytes = 1023

    public init(domain: String, resource: String? = nil) {
        self.localpart = nil
        self.domain = domain
        self.resource = resource
    }

    public init(_ bare: BareJID, resource: String? = nil) {
        self.localpart = bare.localpart
        self.domain = bare.domain
        self.resource = resource
    }

    public init(parsing text: String) throws(InvalidInput) {
        guard text.utf8.count <= 3071 else { throw .malformed("JID", String(text.prefix(32)), reason: "longer than 3071 bytes") }
        var rest = Substring(text)
        var resource: String?
        if let slash = rest.firstIndex(of: "/") {
            let candidate = String(rest[rest.index(after: slash)...])
            guard Self.isValidResource(candidate) else {
                throw .malformed("JID", String(text.prefix(64)), reason: "the resource must be 1…1023 bytes without control characters")
            }
            resource = candidate
            rest = rest[..<slash]
        }
        if rest.contains("@") {
            let bare = try BareJID(String(rest))
            self.init(bare, resource: resource)
        } else {
            let domain = String(rest).lowercased()
            try BareJID.validateDomain(domain, original: String(text.prefix(64)))
            self.init(domain: domain, resource: resource)
        }
    }

    static func isValidResource(_ resource: String) -> Bool {
        !resource.isEmpty && resource.utf8.count <= maxResourceBytes && resource.unicodeScalars.allSatisfy { $0.value >= 0x20 && $0.value != 0x7F }
    }

    /// The account part, when this address names one.
    public var bare: BareJID? {
        guard let localpart else { return nil }
        return try? BareJID("\(localpart)@\(domain)")
    }

    public var withoutResource: JID { JID(localpart: localpart, domain: domain, resource: nil) }

    private init(localpart: String?, domain: String, resource: String?) {
        self.localpart = localpart
        self.domain = domain
        self.resource = resource
    }

    public var description: String {
        var text = localpart.map { $0 + "@" } ?? ""
        text += domain
        if let resource { text += "/" + resource }
        return text
    }
}
