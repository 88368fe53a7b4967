public import AgoraCore
internal import AgoraStore

/// A sensor's newest sealed reliability R′ (`reliability` ledger entry), as scores read it: a
/// row of `ratings` under `r ‖ 0 ‖ sensor`, `u64 ledger index ‖ u64 until (s) ‖ u16 thousandths`.
public struct SealedReliability: Hashable, Sendable {
    public var ledgerIndex: UInt64
    public var thousandths: Int
    public var until: Int64

    public init(ledgerIndex: UInt64, thousandths: Int, until: Int64) {
        self.ledgerIndex = ledgerIndex
        self.thousandths = thousandths
        self.until = until
    }

    public var value: Double { Double(thousandths) / 1000 }

    var row: [UInt8] {
        var key = StoreKey(capacity: 18)
        key.append(ledgerIndex)
        key.append(UInt64(bitPattern: until))
        key.append(UInt8(thousandths >> 8))
        key.append(UInt8(thousandths & 0xFF))
        return key.bytes
    }

    init(row: UnsafeRawBufferPointer) throws(StoreError) {
        guard row.count == 18, let index = StoreKey.readU64(row), let until = StoreKey.readU64(row, at: 8) else {
            throw .corrupted("a reliability row of ratings cannot be read")
        }
        self.init(ledgerIndex: index, thousandths: Int(row[16]) << 8 | Int(row[17]), until: Int64(bitPattern: until))
    }
}

extension MarketKeys {
    static func reliability(sensor: SensorID) -> [UInt8] {
        var key = StoreKey()
        key.append(text: "r")
        return key.bytes + Array(sensor.rawValue.utf8)
    }
}

extension MarketState {
    /// The newest reliability the gateway sealed for `sensor`, if any.
    public func sealedReliability(of sensor: SensorID) throws -> SealedReliability? {
        try txn.withValue(tables.ratings, MarketKeys.reliability(sensor: sensor)) { row throws(StoreError) in
            try row.map { row throws(StoreError) in try SealedReliability(row: row) }
        }
    }
}
