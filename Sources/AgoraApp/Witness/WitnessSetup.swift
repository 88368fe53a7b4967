internal import AgoraHTTP
internal import AgoraLedger
internal import Logging

/// The witness parts of a running gateway: the endpoint when it witnesses other logs, the
/// submitter when its own log has witnesses.
struct Witnessing: Sendable {
    let endpoint: WitnessEndpoint?
    let submitter: WitnessSubmitter?
}

/// Wires `[witness]` to the gateway.
enum WitnessSetup {
    static func make(for gateway: Gateway, logger: Logger) async throws -> Witnessing {
        let settings = gateway.configuration.witness
        var endpoint: WitnessEndpoint?
        if !settings.logs.isEmpty {
            let cosigner = try await gateway.witnessCosigner()
            endpoint = WitnessEndpoint(gateway: gateway, cosigner: cosigner, perSecond: settings.maxRequestsPerSecond, logger: logger)
            logger.notice("witnessing", metadata: ["witness.name": "\(cosigner.verifier.name)", "witness.logs": "\(settings.logs.map(\.origin))"])
        }
        var submitter: WitnessSubmitter?
        if !settings.peers.isEmpty {
            // The peers' HTTPS is trusted as configured, else by the gateway's own CA (a city
            // whose gateways share a root, or peers whose CAs were put in witness.ca_file).
            let roots = settings.caFile.isEmpty ? [gateway.configuration.stateDirectory + "/xmpp/ca.pem"] : [settings.caFile]
            let client: HTTPClient
            do { client = try HTTPClient(trustRoots: roots) } catch {
                throw GatewayError.file(roots[0], error.description)
            }
            submitter = WitnessSubmitter(gateway: gateway, peers: settings.peers, required: settings.required, client: client,
                                         alertAfter: settings.alertAfter, logger: logger)
            logger.notice("witnessed by", metadata: ["witness.peers": "\(settings.peers.map(\.url))", "witness.required": "\(settings.required)"])
        }
        return Witnessing(endpoint: endpoint, submitter: submitter)
    }
}
