public import AgoraCore
public import AgoraStore

/// Pairing: a sensor's registration and its first certificate, committed together.
extension Market {
    /// Appends `sensor.register` and `cert.issue` and deletes the sensor's invitation, in one
    /// transaction. `signerIsCurrent` runs first; then the stored invitation must still be
    /// `invitation` and unexpired (a code cannot be used twice, even by two concurrent requests).
    func pairSensor(_ registration: LedgerEntry.SensorRegistration, certificate: LedgerEntry.CertificateIssue,
                    consuming invitation: PairingInvitation,
                    signerIsCurrent: @escaping @Sendable (ReadTransaction) throws -> Void) async throws -> (registered: UInt64, issued: UInt64) {
        let time = clock()
        let tables = store.tables
        let key = PairingInvitation.tableKey(registration.sensor)
        return try await store.write { [ledger, projection] txn in
            try signerIsCurrent(txn)
            guard let row = try txn.get(tables.pairing, key), let current = try? CanonicalJSON.decode(PairingInvitation.self, from: row),
                  current == invitation, current.expires > .now() else {
                throw MarketRefusal.nothingToChange("the invitation for \(registration.sensor) was used or replaced meanwhile")
            }
            let state = MarketState(tables: tables, txn: txn)
            guard try state.sensor(registration.sensor) == nil else { throw MarketRefusal.sensorExists(registration.sensor) }
            guard let owner = try state.account(registration.owner), owner.role.mayOwnSensors else {
                throw MarketRefusal.unknownAccount(registration.owner)
            }
            guard try state.certificate(certificate.serial) == nil else {
                throw MarketRefusal.nothingToChange("a certificate with serial \(certificate.serial) is already recorded")
            }
            let registered = try projection.append(LedgerEntry(time: time, actor: .gateway, body: .sensorRegister(registration)), to: ledger, in: txn)
            let issued = try projection.append(LedgerEntry(time: time, actor: .gateway, body: .certIssue(certificate)), to: ledger, in: txn)
            try txn.delete(tables.pairing, key)
            return (registered, issued)
        }
    }
}
