public import AgoraCore
internal import AgoraMarket
internal import AgoraPKI
internal import FoundationEssentials
internal import SwiftASN1
internal import X509

/// Sensor pairing over MQTT (DESIGN.md "MQTT: pairing and ingestion"): decodes a request
/// on `<prefix>/pair/<id>/request`, has the market's pairing rules (`SensorPairing`) and the
/// CA answer it, and encodes the response. The rules — invitations, codes, proofs, lock-outs,
/// the one transaction that registers and consumes — live in AgoraMarket.
///
/// The sensor sends `{csr, proof}`, where `proof` is HMAC-SHA256 over the CSR's DER keyed
/// with `PairingInvitation.proofKey(code)`. Every failure is an error response with a
/// reason, and changes nothing.
public struct PairingResponder: Sendable {
    let gateway: Gateway
    let certificates: GatewayCertificateDesk
    let pairing: SensorPairing

    public static let maxRequestSize = 16 * 1024

    public init(gateway: Gateway) throws {
        self.gateway = gateway
        self.certificates = try GatewayCertificateDesk(gateway: gateway)
        self.pairing = SensorPairing(market: gateway.market)
    }

    /// Whether `id` has an invitation (see `SensorPairing.isInvited`).
    public func isInvited(_ id: String) -> Bool {
        pairing.isInvited(id)
    }

    /// Stores an invitation for `registration.sensor` and returns its one-time code.
    public func invite(_ registration: LedgerEntry.SensorRegistration, ttlSeconds: Int64, actor: LedgerActor) async throws -> (code: String, expires: Timestamp) {
        try await pairing.invite(registration, ttlSeconds: ttlSeconds, actor: actor)
    }

    /// The response published on `<prefix>/pair/<id>/response`.
    public struct Response: Codable, Sendable, Equatable {
        public var status: String
        public var cert: String?
        public var ca: String?
        public var reason: String?

        static func error(_ reason: String) -> Response { Response(status: "error", cert: nil, ca: nil, reason: reason) }
    }

    struct Request: Decodable {
        var csr: String
        var proof: String
    }

    /// Handles one pairing request for the sensor id in its topic. Never throws: every
    /// outcome is a response.
    public func handle(sensorID text: String, payload: [UInt8]) async -> Response {
        guard payload.count <= Self.maxRequestSize else { return .error("request larger than \(Self.maxRequestSize) bytes") }
        guard let sensor = try? SensorID(text) else { return .error("invalid sensor id in the topic") }
        let request: Request
        do { request = try CanonicalJSON.decode(Request.self, from: payload) } catch {
            return .error("not a pairing request: \(CanonicalJSON.summary(of: error))")
        }
        guard let proof = Data(base64Encoded: request.proof) else { return .error("proof is not base64") }
        do {
            let invitation = try pairing.invitation(for: sensor)
            guard let der = Self.der(ofCSR: request.csr) else { return .error("csr is not a PEM CERTIFICATE REQUEST") }
            let identity = CertificateIdentity.sensor(sensor)
            let csr = try CSRPolicy.check(der, for: identity)
            try pairing.checkProof(Array(proof), over: der, for: invitation)
            let certificate = try certificates.authority.issue(csr, for: identity, days: gateway.configuration.certificateValidity.sensorDays, now: .now())
            let issue = try GatewayCertificateDesk.issueRecord(certificate, subject: identity.description)
            _ = try await pairing.pair(invitation, certificate: issue, signerIsCurrent: try certificates.signerIsCurrent())
            gateway.logger.notice("sensor paired", metadata: ["sensor.id": "\(sensor)", "cert.serial": "\(issue.serial)"])
            return Response(status: "ok", cert: try certificates.chainPEM(certificate),
                            ca: try certificates.authority.certificate.serializeAsPEM().pemString, reason: nil)
        } catch let refusal as PairingRefusal {
            return .error(refusal.description)
        } catch let refusal as CertificateRefusal {
            return .error(refusal.description)
        } catch let refusal as MarketRefusal {
            return .error(refusal.description)
        } catch {
            gateway.logger.error("pairing failed", metadata: ["sensor.id": "\(sensor)", "error": "\(error)"])
            return .error("the gateway could not complete the pairing; try again")
        }
    }

    static func der(ofCSR pem: String) -> [UInt8]? {
        guard pem.utf8.count <= CSRPolicy.maxSize, let document = try? PEMDocument(pemString: pem),
              document.discriminator == "CERTIFICATE REQUEST" || document.discriminator == "NEW CERTIFICATE REQUEST" else { return nil }
        return document.derBytes
    }
}
