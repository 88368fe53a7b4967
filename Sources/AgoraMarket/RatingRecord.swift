public import AgoraCore
internal import AgoraStore

/// A purchase's current rating, as the trust model reads it: a row of `ratings`, under three
/// keys (see `MarketKeys.rating…`): by purchase (is it rated, may it be revised), by sensor
/// and by owner (their interaction logs, oldest first).
///
/// Rows are a fixed binary layout rather than JSON: the trust query reads every rating of a
/// sensor, and decoding 100 rows of JSON costs more than the whole query should.
/// `u64 ledger index ‖ u64 first rated (seconds) ‖ u16 satisfaction ‖ u8 weight ‖ u8 revision ‖ rater (UTF-8)`.
public struct RatingRecord: Hashable, Sendable {
    /// Index of the rating entry in force (the revision, once there is one).
    public var ledgerIndex: UInt64
    /// When the purchase was first rated (seconds): the interaction's time for fading, kept
    /// by a revision so revising does not make an old interaction new.
    public var firstRated: Int64
    /// Thousandths.
    public var satisfaction: Int
    public var weight: Int
    public var revision: Int
    public var rater: BareJID

    public init(ledgerIndex: UInt64, firstRated: Int64, satisfaction: Int, weight: Int, revision: Int, rater: BareJID) {
        self.ledgerIndex = ledgerIndex
        self.firstRated = firstRated
        self.satisfaction = satisfaction
        self.weight = weight
        self.revision = revision
        self.rater = rater
    }

    var row: [UInt8] {
        var key = StoreKey(capacity: 20 + rater.description.utf8.count)
        key.append(ledgerIndex)
        key.append(UInt64(bitPattern: firstRated))
        key.append(UInt8(satisfaction >> 8))
        key.append(UInt8(satisfaction & 0xFF))
        key.append(UInt8(weight))
        key.append(UInt8(revision))
        return key.bytes + Array(rater.description.utf8)
    }

    init(row: UnsafeRawBufferPointer) throws(StoreError) {
        let fields = try Self.fields(of: row)
        guard let rater = try? BareJID(fields.rater) else { throw .corrupted("a row of ratings names no valid rater") }
        self.init(ledgerIndex: fields.ledgerIndex, firstRated: fields.firstRated, satisfaction: fields.satisfaction,
                  weight: fields.weight, revision: fields.revision, rater: rater)
    }

    /// The row's fields with the rater as stored text: what both this type and the scoring
    /// loop read (the latter without re-validating the address, for speed).
    static func fields(of row: UnsafeRawBufferPointer) throws(StoreError)
        -> (ledgerIndex: UInt64, firstRated: Int64, satisfaction: Int, weight: Int, revision: Int, rater: String) {
        guard row.count > 20, let index = StoreKey.readU64(row), let first = StoreKey.readU64(row, at: 8) else {
            throw .corrupted("a row of ratings cannot be read")
        }
        return (index, Int64(bitPattern: first), Int(row[16]) << 8 | Int(row[17]), Int(row[18]), Int(row[19]),
                String(decoding: row[20...], as: UTF8.self))
    }
}

extension MarketKeys {
    /// `ratings` holds three kinds of key, told apart by their first segment:
    /// `p ‖ 0 ‖ purchase`, `s ‖ 0 ‖ sensor ‖ 0 ‖ first rated (u64 BE) ‖ purchase` and
    /// `o ‖ 0 ‖ owner ‖ 0 ‖ first rated ‖ purchase`, each → the same `RatingRecord` row, so a
    /// sensor's or an owner's ratings are one prefix scan in the order they were first made.
    static func rating(purchase: String) -> [UInt8] {
        var key = StoreKey()
        key.append(text: "p")
        return key.bytes + Array(purchase.utf8)
    }

    static func ratingPrefix(sensor: SensorID) -> [UInt8] { ratingPrefix("s", sensor.rawValue) }
    static func ratingPrefix(owner: BareJID) -> [UInt8] { ratingPrefix("o", owner.description) }

    static func rating(prefix: [UInt8], firstRated: Int64, purchase: String) -> [UInt8] {
        prefix + StoreKey.u64(UInt64(bitPattern: firstRated)) + Array(purchase.utf8)
    }

    private static func ratingPrefix(_ kind: String, _ name: String) -> [UInt8] {
        var key = StoreKey()
        key.append(text: kind)
        key.append(text: name)
        return key.bytes
    }
}

extension MarketState {
    /// The rating in force of purchase `id`, if it was rated.
    public func rating(ofPurchase id: String) throws -> RatingRecord? {
        try txn.withValue(tables.ratings, MarketKeys.rating(purchase: id)) { row throws(StoreError) in
            try row.map { row throws(StoreError) in try RatingRecord(row: row) }
        }
    }

    /// Every rating in force of `sensor`'s purchases, oldest first.
    public func ratings(ofSensor sensor: SensorID) throws -> [RatingRecord] {
        try ratings(prefix: MarketKeys.ratingPrefix(sensor: sensor))
    }

    /// Every rating in force of purchases of `owner`'s sensors (owner when first rated), oldest first.
    public func ratings(ofOwner owner: BareJID) throws -> [RatingRecord] {
        try ratings(prefix: MarketKeys.ratingPrefix(owner: owner))
    }

    private func ratings(prefix: [UInt8]) throws -> [RatingRecord] {
        var found: [RatingRecord] = []
        try txn.scan(tables.ratings, prefix: prefix) { _, value in
            found.append(try RatingRecord(row: value))
            return true
        }
        return found
    }
}
