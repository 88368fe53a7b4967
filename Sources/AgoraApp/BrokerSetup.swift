internal import AgoraCore
public import AgoraMQTT
internal import AgoraStore
internal import FoundationEssentials
internal import SwiftASN1
#if canImport(Glibc)
internal import Glibc
#endif

/// `agora broker-config`: everything a local Mosquitto needs to be Agora's broker, and the
/// endpoint `agora serve` will connect to.
///
/// Writes into the output directory the broker's config, ACLs, the CA certificate and CRL,
/// and a server certificate and key from the Agora CA. Writes the gateway's own client key
/// and certificate into `<state dir>/mqtt/` (key 0600). Records the endpoint in `meta`.
public enum BrokerSetup {
    /// Where `agora serve` connects, as recorded by `broker-config` (meta `mqtt.endpoint`).
    public struct Endpoint: Codable, Sendable, Equatable {
        public var host: String
        public var port: Int
        public var pairingPort: Int
        public var prefix: String
        public var caFile: String
        public var certificateFile: String
        public var keyFile: String
        /// The broker's `crlfile`, rewritten by `ca revoke`.
        public var brokerCRLFile: String?
        /// The client id `serve` presents. Absent in endpoints recorded before client ids were
        /// bound to certificates: such a broker still has the gateway's session under the old
        /// id, and `serve` keeps using it so an upgrade strands no queued readings.
        public var clientID: String?
    }

    /// The gateway's client id before broker-config bound ids to certificates.
    public static let legacyClientID = "agora-gateway"

    static let endpointKey = StoreKey.text("mqtt.endpoint")

    public struct Result: Sendable {
        public let configuration: BrokerConfiguration
        public let endpoint: Endpoint
        public let files: [String]
    }

    /// - Parameter confPath: where the broker's config goes; by default `<directory>/mosquitto.conf`,
    ///   for `--install` Debian's `/etc/mosquitto/conf.d/agora.conf`.
    public static func write(into directory: String, confPath: String? = nil, host: String, dnsNames: [String],
                             configuration template: BrokerConfiguration, gateway: Gateway) async throws -> Result {
        guard BrokerConfiguration.isValidPrefix(template.prefix) else {
            throw GatewayError.file(template.prefix, "a topic prefix uses letters, digits, '-', '_' and inner '/'")
        }
        let service = try GatewayCertificateDesk(gateway: gateway)
        let names = Array(Set(dnsNames + [host])).sorted()
        let (server, serverKey) = try await service.serverCertificate(dnsNames: names, actor: .operator)
        let (client, clientKey) = try await service.gatewayClientCertificate(commonName: BrokerConfiguration.gatewayUsername, actor: .operator)

        try FileSystem.makeDirectory(directory, mode: 0o755)
        let mosquittoGroup = FileSystem.groupID(named: "mosquitto")
        if let persistence = template.persistenceDirectory {
            try FileSystem.makeDirectory(persistence, mode: 0o770)
            try FileSystem.changeGroup(persistence, to: mosquittoGroup)
        }
        let caPEM = try service.authority.certificate.serializeAsPEM().pemString + "\n"
        let crlPEM = PEMDocument(type: "X509 CRL", derBytes: try await service.brokerCRL()).pemString + "\n"
        try FileSystem.write(Array(caPEM.utf8), to: template.caFile, mode: 0o644)
        try FileSystem.write(Array(crlPEM.utf8), to: template.crlFile, mode: 0o644)
        try FileSystem.write(Array(server.chainPEM.utf8), to: template.certificateFile, mode: 0o644)
        // The broker runs as its own user: its key is readable by the mosquitto group only.
        try FileSystem.write(Array(serverKey.utf8), to: template.keyFile, mode: 0o640)
        try FileSystem.changeGroup(template.keyFile, to: mosquittoGroup)
        try FileSystem.write(Array(template.acl.utf8), to: template.aclFile, mode: 0o644)
        try FileSystem.write(Array(template.bootstrapACL.utf8), to: template.bootstrapACLFile, mode: 0o644)
        let confPath = confPath ?? directory + "/mosquitto.conf"
        try FileSystem.write(Array(template.mosquittoConf.utf8), to: confPath, mode: 0o644)

        let mqttDirectory = gateway.configuration.stateDirectory + "/mqtt"
        try FileSystem.makeDirectory(mqttDirectory, mode: 0o700)
        let endpoint = Endpoint(host: host, port: template.sensorPort, pairingPort: template.pairingPort, prefix: template.prefix,
                                caFile: mqttDirectory + "/ca.pem", certificateFile: mqttDirectory + "/gateway.pem",
                                keyFile: mqttDirectory + "/gateway.key", brokerCRLFile: template.crlFile,
                                clientID: BrokerConfiguration.gatewayClientID)
        try FileSystem.write(Array(caPEM.utf8), to: endpoint.caFile, mode: 0o644)
        try FileSystem.write(Array(client.chainPEM.utf8), to: endpoint.certificateFile, mode: 0o644)
        try FileSystem.write(Array(clientKey.utf8), to: endpoint.keyFile, mode: 0o600)
        let encoded = try CanonicalJSON.encode(endpoint)
        try await gateway.store.write { txn in try txn.put(gateway.store.tables.meta, endpointKey, encoded) }
        return Result(configuration: template, endpoint: endpoint,
                      files: [confPath, template.aclFile, template.bootstrapACLFile, template.caFile, template.crlFile,
                              template.certificateFile, template.keyFile, endpoint.certificateFile, endpoint.keyFile])
    }

    /// The endpoint `serve` uses: the recorded one with the configuration's `mqtt.*` keys on top
    /// (all six keys alone also make an endpoint, for a broker Agora did not configure).
    public static func endpoint(for gateway: Gateway) throws -> Endpoint? {
        let o = gateway.configuration.mqtt
        let recorded = try recordedEndpoint(in: gateway)
        guard let base = recorded ?? {
            guard let host = o.host, let port = o.port, let ca = o.caFile, let cert = o.certificateFile, let key = o.keyFile else { return nil }
            return Endpoint(host: host, port: port, pairingPort: 0, prefix: o.prefix ?? "agora", caFile: ca, certificateFile: cert, keyFile: key,
                            clientID: BrokerConfiguration.gatewayClientID)
        }() else { return nil }
        var endpoint = base
        if let host = o.host { endpoint.host = host }
        if let port = o.port { endpoint.port = port }
        if let prefix = o.prefix { endpoint.prefix = prefix }
        if let ca = o.caFile { endpoint.caFile = ca }
        if let cert = o.certificateFile { endpoint.certificateFile = cert }
        if let key = o.keyFile { endpoint.keyFile = key }
        return endpoint
    }

    /// The endpoint `broker-config` recorded, if any.
    public static func recordedEndpoint(in gateway: Gateway) throws -> Endpoint? {
        try gateway.store.read { txn in
            try txn.get(gateway.store.tables.meta, endpointKey).map { try CanonicalJSON.decode(Endpoint.self, from: $0) }
        }
    }
}
