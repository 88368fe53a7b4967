/// The XML namespaces the core server speaks (RFC 6120, RFC 6121 and the XEPs it implements).
public enum Namespace {
    public static let client = "jabber:client"
    /// RFC 6120 §4.8.2: the content namespace of server-to-server streams.
    public static let server = "jabber:server"
    /// XEP-0220 Server Dialback: its elements, and its stream feature.
    public static let dialback = "jabber:server:dialback"
    public static let dialbackFeature = "urn:xmpp:features:dialback"
    public static let streams = "http://etherx.jabber.org/streams"
    public static let streamErrors = "urn:ietf:params:xml:ns:xmpp-streams"
    public static let stanzaErrors = "urn:ietf:params:xml:ns:xmpp-stanzas"
    public static let tls = "urn:ietf:params:xml:ns:xmpp-tls"
    public static let sasl = "urn:ietf:params:xml:ns:xmpp-sasl"
    public static let bind = "urn:ietf:params:xml:ns:xmpp-bind"
    public static let session = "urn:ietf:params:xml:ns:xmpp-session"
    public static let roster = "jabber:iq:roster"
    public static let version = "jabber:iq:version"
    public static let ping = "urn:xmpp:ping"
    public static let discoInfo = "http://jabber.org/protocol/disco#info"
    public static let discoItems = "http://jabber.org/protocol/disco#items"
    public static let streamManagement = "urn:xmpp:sm:3"
    public static let delay = "urn:xmpp:delay"
    /// XEP-0352 Client State Indication.
    public static let clientState = "urn:xmpp:csi:0"
    public static let xml = "http://www.w3.org/XML/1998/namespace"
}
