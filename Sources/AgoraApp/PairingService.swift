public import AgoraCore
internal import AgoraMarket
internal import AgoraPKI
internal import AgoraStore
internal import FoundationEssentials
internal import SwiftASN1
internal import X509

/// Sensor pairing (DESIGN.md "MQTT: pairing and ingestion").
///
/// The operator invites a sensor id with its future registration; Agora shows a one-time
/// code. The sensor sends `{csr, proof}` on `<prefix>/pair/<id>/request`, where `proof` is
/// HMAC-SHA256 over the CSR's DER keyed with `PairingInvitation.proofKey(code)`. If the
/// invitation is valid, the proof right and the CSR passes the policy for `sensor:<id>`,
/// the registration, the certificate and the code's consumption commit in one
/// transaction, and the response carries the certificate chain. Every failure is an
/// error response with a reason, and changes nothing.
public struct PairingService: Sendable {
    let gateway: Gateway
    let certificates: CertificateService
    /// Ids locked after repeated wrong proofs (a guessed or brute-forced code).
    let lockout: PairingLockout

    public static let maxRequestSize = 16 * 1024

    public init(gateway: Gateway) throws {
        self.gateway = gateway
        self.certificates = try CertificateService(gateway: gateway)
        self.lockout = PairingLockout()
    }

    /// Whether `id` has an invitation (unexpired or not): the pairing gate lets requests
    /// for such ids past its shared limit. Runs on the MQTT network thread: one read.
    public func isInvited(_ id: String) -> Bool {
        guard let sensor = try? SensorID(id) else { return false }
        let tables = gateway.store.tables
        return (try? gateway.store.read { try $0.get(tables.pairing, PairingInvitation.tableKey(sensor)) != nil }) ?? false
    }

    /// Stores an invitation for `registration.sensor` and returns its one-time code.
    public func invite(_ registration: LedgerEntry.SensorRegistration, ttlSeconds: Int64, actor: Actor) async throws -> (code: String, expires: Timestamp) {
        let registration = try Self.validated(registration)
        guard (60...30 * 86_400).contains(ttlSeconds) else {
            throw MarketRefusal.invalid(.outOfRange("ttl", reason: "an invitation lasts from 1 minute to 30 days"))
        }
        let code = PairingInvitation.newCode()
        let expires = try Timestamp(seconds: Timestamp.now().seconds + ttlSeconds)
        let invitation = PairingInvitation(registration: registration, key: Hex.encode(PairingInvitation.proofKey(code: code)), expires: expires)
        let tables = gateway.store.tables
        let row = try CanonicalJSON.encode(invitation)
        try await gateway.store.write { txn in
            let state = MarketState(tables: tables, txn: txn)
            guard try state.isOperator(actor) else { throw MarketRefusal.forbidden("only operators invite sensors") }
            guard try state.sensor(registration.sensor) == nil else { throw MarketRefusal.sensorExists(registration.sensor) }
            guard let owner = try state.account(registration.owner) else { throw MarketRefusal.unknownAccount(registration.owner) }
            guard owner.role.mayOwnSensors else { throw MarketRefusal.forbidden("\(registration.owner) is a consumer; only owners and operators own sensors") }
            try txn.put(tables.pairing, PairingInvitation.tableKey(registration.sensor), row) // a new invitation replaces an old one
        }
        return (code, expires)
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
        let tables = gateway.store.tables
        let invitation: PairingInvitation
        do {
            guard let row = try gateway.store.read({ try $0.get(tables.pairing, PairingInvitation.tableKey(sensor)) }) else {
                return .error("no invitation for \(sensor)")
            }
            invitation = try CanonicalJSON.decode(PairingInvitation.self, from: row)
        } catch {
            return .error("the invitation for \(sensor) is unreadable")
        }
        guard invitation.expires > .now() else { return .error("the invitation for \(sensor) has expired") }
        if let wait = lockout.remaining(sensor) {
            return .error("too many wrong proofs for \(sensor): try again in \(wait.components.seconds + 1) s")
        }
        guard let der = Self.der(ofCSR: request.csr) else { return .error("csr is not a PEM CERTIFICATE REQUEST") }
        do {
            let identity = CertificateIdentity.sensor(sensor)
            let csr = try CSRPolicy.check(der, for: identity)
            guard invitation.accepts(proof: Array(proof), for: der) else {
                lockout.failed(sensor)
                return .error("wrong proof: the code does not match")
            }
            let certificate = try certificates.authority.issue(csr, for: identity, days: gateway.configuration.certificateValidity.sensorDays, now: .now())
            let issue = try CertificateService.issueRecord(certificate, subject: identity.description)
            var registration = invitation.registration
            registration.cert = issue.serial
            let signerIsCurrent = try certificates.signerIsCurrent()
            let key = PairingInvitation.tableKey(sensor)
            _ = try await gateway.market.pairSensor(registration, certificate: issue, check: { txn in
                try signerIsCurrent(txn)
                // The invitation must still be the one that was checked, and unexpired: a code pairs once.
                guard let row = try txn.get(tables.pairing, key), let current = try? CanonicalJSON.decode(PairingInvitation.self, from: row),
                      current == invitation, current.expires > .now() else {
                    throw MarketRefusal.nothingToChange("the invitation for \(sensor) was used or replaced meanwhile")
                }
            }, then: { txn in
                try txn.delete(tables.pairing, key)
            })
            lockout.succeeded(sensor)
            gateway.logger.notice("sensor paired", metadata: ["sensor.id": "\(sensor)", "cert.serial": "\(issue.serial)"])
            return Response(status: "ok", cert: try certificates.chainPEM(certificate),
                            ca: try certificates.authority.certificate.serializeAsPEM().pemString, reason: nil)
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

    static func validated(_ registration: LedgerEntry.SensorRegistration) throws -> LedgerEntry.SensorRegistration {
        do { return try Market.checked(registration) } catch { throw MarketRefusal.invalid(error) }
    }
}
