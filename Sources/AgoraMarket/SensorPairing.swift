public import AgoraCore
public import AgoraStore

/// Sensor pairing's rules and its `pairing` table (DESIGN.md "MQTT: pairing and ingestion").
///
/// The operator invites a sensor id with its future registration; Agora shows a one-time
/// code and keeps only its hash (`PairingInvitation`). A pairing request for the id names an
/// invitation (`invitation(for:)`: present, readable, unexpired, the id not locked out),
/// proves the code with an HMAC over its CSR (`checkProof`; wrong proofs lock the id for a
/// while), and, once the CA has signed, commits the registration, the certificate and the
/// code's consumption in one transaction (`pair`). Every refusal changes nothing.
///
/// One per process: the lock-out counts live in memory (`PairingLockout`).
public struct SensorPairing: Sendable {
    let market: Market
    let lockout = PairingLockout()

    public init(market: Market) {
        self.market = market
    }

    /// Shortest and longest life of an invitation.
    public static let ttlRange: ClosedRange<Int64> = 60...30 * 86_400

    /// Stores an invitation for `registration.sensor` (replacing an earlier one) and returns
    /// its one-time code. Operators only; the sensor must be new and its owner an account
    /// that may own sensors.
    public func invite(_ requested: LedgerEntry.SensorRegistration, ttlSeconds: Int64, actor: LedgerActor) async throws -> (code: String, expires: Timestamp) {
        let registration: LedgerEntry.SensorRegistration
        do { registration = try Market.checked(requested) } catch { throw MarketRefusal.invalid(error) }
        guard Self.ttlRange.contains(ttlSeconds) else {
            throw MarketRefusal.invalid(.outOfRange("ttl", reason: "an invitation lasts from 1 minute to 30 days"))
        }
        let code = PairingInvitation.newCode()
        let expires = try Timestamp(seconds: Timestamp.now().seconds + ttlSeconds)
        let invitation = PairingInvitation(registration: registration, key: Hex.encode(PairingInvitation.proofKey(code: code)), expires: expires)
        let tables = market.store.tables
        let row = try CanonicalJSON.encode(invitation)
        try await market.store.write { txn in
            let state = MarketState(tables: tables, txn: txn)
            guard try state.isOperator(actor) else { throw MarketRefusal.forbidden("only operators invite sensors") }
            guard try state.sensor(registration.sensor) == nil else { throw MarketRefusal.sensorExists(registration.sensor) }
            guard let owner = try state.account(registration.owner) else { throw MarketRefusal.unknownAccount(registration.owner) }
            guard owner.role.mayOwnSensors else { throw MarketRefusal.forbidden("\(registration.owner) is a consumer; only owners and operators own sensors") }
            try txn.put(tables.pairing, PairingInvitation.tableKey(registration.sensor), row) // a new invitation replaces an old one
        }
        return (code, expires)
    }

    /// Whether `id` has an invitation (unexpired or not): the pairing gate lets requests
    /// for such ids past its shared limit. Runs on the MQTT network thread: one read.
    public func isInvited(_ id: String) -> Bool {
        guard let sensor = try? SensorID(id) else { return false }
        return (try? market.store.read { try $0.get(market.store.tables.pairing, PairingInvitation.tableKey(sensor)) != nil }) ?? false
    }

    /// The invitations not yet used, expired ones included (the operator sees those too: an
    /// expired one is a sensor that was never paired), in sensor id order. Unreadable rows
    /// are skipped; `invitation(for:)` names them when a sensor asks.
    public func pendingInvitations() throws -> [PairingInvitation] {
        let tables = market.store.tables
        return try market.store.read { txn in
            var result: [PairingInvitation] = []
            try txn.scan(tables.pairing) { _, value in
                if let invitation = try? CanonicalJSON.decode(PairingInvitation.self, from: Array(value)) { result.append(invitation) }
                return true
            }
            return result
        }
    }

    /// The invitation a pairing request for `sensor` answers: refused when there is none,
    /// it cannot be read or has expired, or the id is locked after wrong proofs.
    public func invitation(for sensor: SensorID) throws(PairingRefusal) -> PairingInvitation {
        let invitation: PairingInvitation
        do {
            let tables = market.store.tables
            guard let row = try market.store.read({ try $0.get(tables.pairing, PairingInvitation.tableKey(sensor)) }) else {
                throw PairingRefusal.noInvitation(sensor)
            }
            invitation = try CanonicalJSON.decode(PairingInvitation.self, from: row)
        } catch let refusal as PairingRefusal {
            throw refusal
        } catch {
            throw .unreadableInvitation(sensor)
        }
        guard invitation.expires > .now() else { throw .invitationExpired(sensor) }
        if let wait = lockout.remaining(sensor) { throw .lockedOut(sensor, for: wait) }
        return invitation
    }

    /// Checks the request's proof of the code over its CSR; a wrong one counts towards
    /// locking the sensor id.
    public func checkProof(_ proof: [UInt8], over csrDER: [UInt8], for invitation: PairingInvitation) throws(PairingRefusal) {
        guard invitation.accepts(proof: proof, for: csrDER) else {
            lockout.failed(invitation.registration.sensor)
            throw .wrongProof
        }
    }

    /// Registers the invited sensor with its first certificate and consumes the invitation,
    /// in one transaction (`Market.pairSensor`). `signerIsCurrent` runs first in it (the CA
    /// confirms it is still the gateway's). Refused if the invitation was used, replaced or
    /// expired since it was read, so a code pairs once even under concurrent requests.
    public func pair(_ invitation: PairingInvitation, certificate: LedgerEntry.CertificateIssue,
                     signerIsCurrent: @escaping @Sendable (ReadTransaction) throws -> Void) async throws -> (registered: UInt64, issued: UInt64) {
        var registration = invitation.registration
        registration.cert = certificate.serial
        let indices = try await market.pairSensor(registration, certificate: certificate, consuming: invitation, signerIsCurrent: signerIsCurrent)
        lockout.succeeded(registration.sensor)
        return indices
    }
}
