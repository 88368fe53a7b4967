/// A bare XMPP address, `localpart@domainpart` (RFC 7622 §3), the identity of every account.
///
/// Validation is deliberately stricter than RFC 7622 allows: the localpart is limited to
/// printable ASCII minus the characters RFC 7622 §3.3.1 forbids, and the domain to
/// LDH labels, both lower-cased. Full PRECIS (RFC 8264) would need ICU, which the static
/// binary leaves out; an operator who needs non-ASCII addresses can lift this later.
public struct BareJID: Hashable, Sendable, Comparable, CustomStringConvertible, TextCodable {
    public let localpart: String
    public let domain: String

    /// RFC 7622 allows 1023 bytes per part; Agora caps the localpart at 128 so that every
    /// key built from a JID (e.g. sensor ‖ buyer ‖ time ‖ purchase id in `grants`) stays
    /// under LMDB's 511-byte key limit. Real addresses are far shorter (e-mail allows 64).
    public static let maxLocalpartLength = 128

    public init(_ text: String) throws(InvalidInput) {
        let parts = text.split(separator: "@", omittingEmptySubsequences: false)
        guard parts.count == 2 else {
            throw .malformed("JID", text, reason: "expected exactly one '@' in localpart@domain")
        }
        let local = String(parts[0]).lowercased()
        let domain = String(parts[1]).lowercased()
        guard !local.isEmpty, local.utf8.count <= Self.maxLocalpartLength else {
            throw .malformed("JID", text, reason: "the part before @ must be 1…\(Self.maxLocalpartLength) bytes")
        }
        for byte in local.utf8 {
            // RFC 7622 §3.3.1 forbids " & ' / : < > @; we also refuse space, controls and non-ASCII.
            guard byte > 0x20, byte < 0x7F, !Array("\"&'/:<>@".utf8).contains(byte) else {
                throw .malformed("JID", text, reason: "localpart contains a forbidden character")
            }
        }
        try Self.validateDomain(domain, original: text, field: "JID")
        self.localpart = local
        self.domain = domain
    }

    /// A DNS-style domain: dot-separated labels of letters, digits and hyphens.
    public static func validateDomain(_ domain: String, original: String, field: String = "domain") throws(InvalidInput) {
        guard !domain.isEmpty, domain.utf8.count <= 253 else {
            throw .malformed(field, original, reason: "the domain must be 1…253 bytes")
        }
        for label in domain.split(separator: ".", omittingEmptySubsequences: false) {
            guard !label.isEmpty, label.utf8.count <= 63,
                  label.utf8.first != UInt8(ascii: "-"), label.utf8.last != UInt8(ascii: "-"),
                  label.utf8.allSatisfy({ $0.isASCIIAlphanumeric || $0 == UInt8(ascii: "-") })
            else {
                throw .malformed(field, original, reason: "each domain label must be 1…63 letters, digits or inner hyphens")
            }
        }
    }

    public var description: String { "\(localpart)@\(domain)" }

    public static func < (lhs: BareJID, rhs: BareJID) -> Bool { lhs.description < rhs.description }

    public init(validating text: String) throws(InvalidInput) { try self.init(text) }
    public var text: String { description }
}

extension UInt8 {
    @inlinable var isASCIIAlphanumeric: Bool {
        (0x30...0x39).contains(self) || (0x41...0x5A).contains(self) || (0x61...0x7A).contains(self)
    }
}
