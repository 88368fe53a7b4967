public import AgoraCore
public import SwiftASN1
public import X509

/// Whom a certificate names: a sensor (`sensor:<id>`) or a user (a bare JID).
///
/// Sensors carry `URI:urn:agora:sensor:<id>` and `CN=<id>`; users carry an
/// `otherName id-on-xmppAddr` (RFC 6120 §13.7.1.4) and `CN=<jid>`.
public enum CertificateIdentity: Hashable, Sendable, CustomStringConvertible {
    case sensor(SensorID)
    case user(BareJID)

    /// id-on-xmppAddr, RFC 6120 §13.7.1.4.
    public static let xmppAddrOID: ASN1ObjectIdentifier = [1, 3, 6, 1, 5, 5, 7, 8, 5]
    static let sensorURIPrefix = "urn:agora:sensor:"

    /// Parses `sensor:<id>` or a bare JID.
    public init(parsing text: String) throws(InvalidInput) {
        if text.hasPrefix("sensor:") {
            self = .sensor(try SensorID(String(text.dropFirst("sensor:".count))))
        } else {
            self = .user(try BareJID(text))
        }
    }

    /// `sensor:<id>` or the JID, as written in `cert.issue` entries and the CLI.
    public var description: String {
        switch self {
        case .sensor(let id): "sensor:\(id)"
        case .user(let jid): jid.description
        }
    }

    public var commonName: String {
        switch self {
        case .sensor(let id): id.rawValue
        case .user(let jid): jid.description
        }
    }

    public func subjectAlternativeName() throws -> GeneralName {
        switch self {
        case .sensor(let id):
            return .uniformResourceIdentifier(Self.sensorURIPrefix + id.rawValue)
        case .user(let jid):
            let value = try ASN1Any(erasing: ASN1UTF8String(jid.description))
            return .otherName(.init(typeID: Self.xmppAddrOID, value: value))
        }
    }

    /// Whether `name` (a SAN a CSR asks for) names this identity.
    func matches(_ name: GeneralName) -> Bool {
        switch (self, name) {
        case (.sensor(let id), .uniformResourceIdentifier(let uri)):
            return uri == Self.sensorURIPrefix + id.rawValue
        case (.user(let jid), .otherName(let other)):
            guard other.typeID == Self.xmppAddrOID, let value = other.value,
                  let text = try? ASN1UTF8String(asn1Any: value) else { return false }
            return (try? BareJID(String(text))) == jid
        default:
            return false
        }
    }
}
