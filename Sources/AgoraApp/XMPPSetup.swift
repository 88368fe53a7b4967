internal import AgoraCore
internal import AgoraMarket
internal import AgoraPKI
internal import FoundationEssentials
public import AgoraServices
internal import AgoraStore
public import AgoraXMPP
public import Logging
internal import SwiftASN1
internal import X509

/// Wires the XMPP server to the gateway: its domain (from the ledger's origin), its TLS
/// files (issued by the Agora CA on first start unless configured), and the account hooks
/// that answer from the market's tables and the CA's certificate records.
public enum XMPPSetup {
    /// The served domain: the origin `agora init` recorded is `<domain>/agora`.
    public static func domain(of gateway: Gateway) -> String {
        let origin = gateway.ledger.origin
        return origin.hasSuffix("/agora") ? String(origin.dropLast("/agora".count)) : origin
    }

    /// The server configuration for `gateway`, with certificate files in place.
    public static func configuration(for gateway: Gateway) async throws -> XMPPConfiguration {
        var configuration = gateway.configuration.xmpp
        configuration.domain = domain(of: gateway)
        configuration.softwareVersion = AgoraVersion.current
        configuration.muc.mayCreateRooms = roomCreators(for: gateway)
        let directory = gateway.configuration.stateDirectory + "/xmpp"
        let service = try GatewayCertificateDesk(gateway: gateway)
        if configuration.certificateChainFile.isEmpty || configuration.keyFile.isEmpty {
            configuration.certificateChainFile = directory + "/server.pem"
            configuration.keyFile = directory + "/server.key"
            if !FileSystem.exists(configuration.certificateChainFile) || !FileSystem.exists(configuration.keyFile) {
                let (issued, keyPEM) = try await service.serverCertificate(dnsNames: [configuration.domain], actor: .gateway)
                try FileSystem.makeDirectory(directory, mode: 0o700)
                try GatewayCertificateDesk.writeListenerFiles(keyPEM: keyPEM, chainPEM: issued.chainPEM, to: directory)
                gateway.logger.notice("issued the XMPP server certificate", metadata: ["serial": "\(issued.serial)", "domain": "\(configuration.domain)"])
            }
        }
        // A CA certified by the city root (`agora ca install-chain`): federation peers are shown
        // the server certificate with the city chain, which they trust; clients keep the
        // self-signed chain they know.
        let cityChain = GatewayCertificateDesk.cityChainFile(in: gateway.configuration.stateDirectory)
        if configuration.s2s.enabled, configuration.s2s.certificateChainFile.isEmpty, configuration.certificateChainFile == directory + "/server.pem",
           FileSystem.exists(cityChain) {
            let server = try PEMDocument.parseMultiple(pemString: String(decoding: try Data(contentsOf: URL(fileURLWithPath: configuration.certificateChainFile)), as: UTF8.self))
            let chain = String(decoding: try Data(contentsOf: URL(fileURLWithPath: cityChain)), as: UTF8.self)
            let cross = try PEMDocument.parseMultiple(pemString: chain).first.map { try Certificate(pemDocument: $0) }
            let authority = try GatewayCertificateDesk(gateway: gateway).authority.certificate
            if let cross, cross.publicKey != authority.publicKey {
                gateway.logger.error("the city chain is for another CA key; federation peers are shown the self-signed chain", metadata: ["file": "\(cityChain)"])
            } else if let leaf = server.first {
                if let cross, Date(timeIntervalSince1970: Double(Timestamp.now().seconds + 30 * 86_400)) > cross.notValidAfter {
                    gateway.logger.warning("the city root's certificate of this CA expires within 30 days: renew it (agora ca csr, install-chain)",
                                           metadata: ["not_after": "\(cross.notValidAfter)"])
                }
                configuration.s2s.certificateChainFile = directory + "/s2s.pem"
                configuration.s2s.keyFile = configuration.keyFile
                try FileSystem.write(Array((leaf.pemString + "\n" + chain).utf8), to: configuration.s2s.certificateChainFile, mode: 0o644)
            }
        }
        let secretFile = gateway.configuration.s2sDialbackSecretFile
        if configuration.s2s.enabled, !secretFile.isEmpty {
            do { configuration.s2s.dialbackSecret = Array(try Data(contentsOf: URL(fileURLWithPath: secretFile))) } catch {
                throw ConfigurationError.key("s2s.dialback_secret_file", source: "config", "cannot read \(secretFile): \(error)")
            }
        }
        try FileSystem.makeDirectory(directory, mode: 0o700)
        configuration.clientCAFile = directory + "/ca.pem"
        try FileSystem.write(Array((try service.authority.certificate.serializeAsPEM().pemString + "\n").utf8), to: configuration.clientCAFile, mode: 0o644)
        return configuration
    }

    /// The XMPP server of `gateway`, with every Agora service registered: what `agora serve`
    /// runs, and what tests drive over in-memory channels.
    ///
    /// With `[live] enabled`, also the live-readings service on its own address: the server
    /// and the service share the session registry, and the caller runs the service and
    /// feeds it the ingester's commits.
    public static func server(for gateway: Gateway, configuration: XMPPConfiguration, logger: Logger) throws -> (server: XMPPServer, live: LiveService?) {
        var iq = IQRouter()
        let settings = gateway.configuration.registry
        var limits = ThingRegistry.Limits()
        limits.maxThings = settings.maxThings
        limits.maxThingsPerDomain = settings.maxThingsPerGateway
        let registry = settings.enabled ? ThingRegistry(store: gateway.store, limits: limits, members: .init(settings.members)) : nil
        let context = IQContext(market: gateway.market, store: gateway.store, ledger: gateway.ledger, logger: logger,
                                quotas: AccountQuotas(limits: gateway.configuration.quotas), trust: gateway.configuration.trust, registry: registry)
        AgoraServices.register(into: &iq, context: context,
                               domain: configuration.domain, certificates: try GatewayCertificateDesk(gateway: gateway),
                               operators: GatewayOperatorDesk(gateway: gateway))
        let sessions = SessionRegistry()
        let live = gateway.configuration.live.enabled
            ? try LiveService(context: context, sessions: sessions, domain: configuration.domain, configuration: gateway.configuration.live) : nil
        let server = try XMPPServer(configuration: configuration, store: gateway.store, accounts: accountHooks(for: gateway), services: iq,
                                    sessions: sessions, components: live.map { [$0.component] } ?? [],
                                    serverRequests: registry?.serverRequests ?? [:], logger: logger)
        return (server, live)
    }

    /// Who may create rooms, by role (`muc.creators`): operators and owners by default.
    static func roomCreators(for gateway: Gateway) -> @Sendable (BareJID) -> Bool {
        let market = gateway.market, creators = gateway.configuration.roomCreators
        return { account in
            guard let role = (try? market.read { try $0.account(account) })??.role else { return false }
            switch creators {
            case .everyone: return true
            case .owners: return role == .operator || role == .owner
            case .operators: return role == .operator
            }
        }
    }

    public static func accountHooks(for gateway: Gateway) -> XMPPAccountHooks {
        let market = gateway.market
        return XMPPAccountHooks(
            exists: { jid in (try? market.read { try $0.hasAccount(jid) }) == true },
            certificateIdentity: { der in
                // NIOSSL already checked the chain to the Agora CA; here: the name, and not revoked.
                guard let certificate = try? Certificate(derEncoded: der),
                      let names = try? certificate.extensions.subjectAlternativeNames else { return nil }
                let serial = Hex.encode(certificate.serialNumber.bytes)
                guard let record = try? market.read({ try $0.certificate(serial) }), !record.revoked else { return nil }
                for name in names {
                    guard case .otherName(let other) = name, other.typeID == CertificateIdentity.xmppAddrOID,
                          let value = other.value, let text = try? ASN1UTF8String(asn1Any: value),
                          let jid = try? BareJID(String(text)) else { continue }
                    return (try? market.read { try $0.hasAccount(jid) }) == true ? jid : nil
                }
                return nil
            })
    }
}
