public import AgoraXMPP

/// The gateway's application namespaces, registered on the XMPP server's IQ router before it
/// starts. One file per namespace; each lists its operations in its doc comment, and
/// `PROTOCOL.md` has an example of each.
public enum AgoraServices {
    public static func register(into iq: inout IQRouter, context: IQContext, domain: String,
                                certificates: any CertificateDesk, operators: any OperatorDesk) {
        MarketIQ.register(into: &iq, context: context)
        TrustIQ.register(into: &iq, context: context)
        LedgerIQ.register(into: &iq, context: context)
        ReadingsIQ.register(into: &iq, context: context)
        DiscoveryIQ.register(into: &iq, context: context, domain: domain)
        SensorDataIQ.register(into: &iq, context: context)
        CertificatesIQ.register(into: &iq, context: context, desk: certificates)
        CommandsIQ.register(into: &iq, context: context, desk: operators, domain: domain)
    }
}
