public import AgoraXMPP

/// The gateway's application namespaces, registered on the XMPP server's IQ router before it
/// starts. One file per namespace; each lists its operations in its doc comment, and
/// `PROTOCOL.md` has an example of each.
public enum AgoraServices {
    public static func register(into iq: inout IQRouter, context: ServiceContext, domain: String,
                                certificates: any CertificateDesk, operators: any OperatorDesk) {
        MarketService.register(into: &iq, context: context)
        LedgerService.register(into: &iq, context: context)
        ReadingsService.register(into: &iq, context: context)
        DiscoveryService.register(into: &iq, context: context, domain: domain)
        SensorDataService.register(into: &iq, context: context)
        PKIService.register(into: &iq, context: context, desk: certificates)
        AdHocService.register(into: &iq, context: context, desk: operators, domain: domain)
    }
}
