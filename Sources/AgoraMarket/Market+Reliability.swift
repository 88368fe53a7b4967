public import AgoraCore

/// Reliability: the gateway's own measure of a sensor, sealed on the ledger (issue 23).
extension Market {
    /// Seals what the gateway measured of `sensor` (actor: the gateway itself). Refused for an
    /// unknown sensor and for figures outside their ranges.
    public func sealReliability(_ measured: LedgerEntry.Reliability) async throws -> Accepted {
        guard (0...1000).contains(measured.reliability), measured.windows.count <= 8,
              measured.windows.allSatisfy({ $0.count == 10 && $0.allSatisfy { $0 >= 0 } }) else {
            throw MarketRefusal.invalid(.outOfRange("reliability", reason: "thousandths 0…1000, at most 8 windows of 10 non-negative counts"))
        }
        let time = clock()
        return try await commit { state in
            guard try state.sensor(measured.sensor) != nil else { throw MarketRefusal.unknownSensor(measured.sensor) }
            return LedgerEntry(time: time, actor: .gateway, body: .reliability(measured))
        }
    }
}
