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
            var indices: [UInt64] = []
            for entry in [LedgerEntry(time: time, actor: .gateway, body: .sensorRegister(registration)),
                          LedgerEntry(time: time, actor: .gateway, body: .certIssue(certificate))] {
                let encoded = try entry.encoded()
                let index = try ledger.append(encoded: encoded, in: txn)
                try projection.apply(entry, encoded: encoded, index: index, in: txn)
                indices.append(index)
            }
            try then(txn)
            return (indices[0], indices[1])
        }
    }
}
