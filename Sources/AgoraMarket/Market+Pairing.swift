public import AgoraCore
public import AgoraStore

/// Pairing: a sensor's registration and its first certificate, committed together.
extension Market {
    /// Appends `sensor.register` and `cert.issue` in one transaction. `check` runs first
    /// (the caller re-validates the invitation there, so a code cannot be used twice even
    /// by two concurrent requests); `then` runs last (the caller consumes the invitation).
    public func pairSensor(_ registration: LedgerEntry.SensorRegistration, certificate: LedgerEntry.CertificateIssue,
                           check: @escaping @Sendable (ReadTransaction) throws -> Void,
                           then: @escaping @Sendable (WriteTransaction) throws -> Void) async throws -> (registered: UInt64, issued: UInt64) {
        let time = clock()
        let tables = store.tables
        return try await store.write { [ledger, projection] txn in
            try check(txn)
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
            try then(txn)
            return (registered, issued)
        }
    }
}
