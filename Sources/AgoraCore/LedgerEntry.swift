internal import FoundationEssentials

/// One state change of the gateway, as it is written to the ledger (DESIGN.md "Ledger").
///
/// An entry is stored as compact JSON with sorted keys; the stored bytes are what the
/// Merkle tree hashes, so `encoded()` must be the only way entries become bytes. Common
/// fields `v`, `type`, `time` and `actor` sit beside the fields of the body in one flat
/// object, e.g. `{"actor":"operator","amount":100,"memo":"","salt":"…","time":"…","to":"a@b","type":"credit.mint","v":2}`.
///
/// Two formats (`v`), both read forever because the log keeps every entry it ever held:
/// - **1**: no salt. The leaf hash of a low-entropy entry (a transfer between known
///   accounts) can be brute-forced from any audit path that carries it.
/// - **2**: a random `salt` (≥ 128 bits) inside the hashed bytes, so the leaf hash is
///   unguessable; the salt is in the entry and so reaches only readers who may see the
///   entry (`AccessPolicy.mayReadEntry`). Every new entry is written as version 2.
public struct LedgerEntry: Hashable, Sendable {
    /// The format new entries are written in.
    public static let version = 2
    /// The format without a salt, which old stores hold.
    public static let unsaltedVersion = 1
    /// Entries are small records; anything larger is a bug or an attack.
    public static let maxEncodedSize = 16 * 1024

    public var time: Timestamp
    public var actor: LedgerActor
    public var body: Body
    /// Nil only for version-1 entries (read from an old store, or written by tests that
    /// need one); `init` draws a fresh one.
    public var salt: Salt?

    /// A new entry. `salt` defaults to a fresh random one (a version-2 entry); pass nil
    /// only to reproduce a version-1 entry.
    public init(time: Timestamp, actor: LedgerActor, body: Body, salt: Salt? = .random()) {
        self.time = time
        self.actor = actor
        self.body = body
        self.salt = salt
    }

    /// The format of this entry's bytes: 2 when salted, 1 otherwise.
    public var version: Int { salt == nil ? Self.unsaltedVersion : Self.version }

    public enum Body: Hashable, Sendable {
        case genesis(Genesis)
        case accountOpen(AccountOpen)
        case accountRole(AccountOpen)
        case creditMint(CreditMint)
        case creditTransfer(CreditTransfer)
        case sensorRegister(SensorRegistration)
        case sensorUpdate(SensorUpdate)
        case sensorFreeze(SensorStatusChange)
        case sensorUnfreeze(SensorStatusChange)
        case purchase(Purchase)
        case certIssue(CertificateIssue)
        case certRevoke(CertificateRevocation)
        case caAdopt(CertificateAuthorityAdoption)
        case readingsCommit(ReadingsCommit)
        case rating(Rating)
        case reliability(Reliability)
        case groupOpen(GroupOpen)
        case groupPay(GroupPay)
        case groupComplete(GroupClose)
        case groupRefund(GroupClose)

        /// The `type` field of the entry.
        public var type: String {
            switch self {
            case .genesis: "genesis"
            case .accountOpen: "account.open"
            case .accountRole: "account.role"
            case .creditMint: "credit.mint"
            case .creditTransfer: "credit.transfer"
            case .sensorRegister: "sensor.register"
            case .sensorUpdate: "sensor.update"
            case .sensorFreeze: "sensor.freeze"
            case .sensorUnfreeze: "sensor.unfreeze"
            case .purchase: "purchase"
            case .certIssue: "cert.issue"
            case .certRevoke: "cert.revoke"
            case .caAdopt: "ca.adopt"
            case .readingsCommit: "readings.commit"
            case .rating: "rating"
            case .reliability: "reliability"
            case .groupOpen: "group.open"
            case .groupPay: "group.pay"
            case .groupComplete: "group.complete"
            case .groupRefund: "group.refund"
            }
        }
    }

    /// `genesis`: the first entry, binding the log to its origin and key.
    public struct Genesis: Hashable, Sendable, Codable {
        public var origin: String
        public var name: String
        /// The log's verifier key (`name+hexid+base64`), so the log names its own signer.
        public var logKey: String
        /// SHA-256 fingerprint of the CA certificate, hex; empty until a CA exists.
        public var caFingerprint: String
        public var checkpointInterval: Int
        public init(origin: String, name: String, logKey: String, caFingerprint: String = "", checkpointInterval: Int) {
            self.origin = origin; self.name = name; self.logKey = logKey
            self.caFingerprint = caFingerprint; self.checkpointInterval = checkpointInterval
        }
    }

    /// `account.open` and `account.role`.
    public struct AccountOpen: Hashable, Sendable, Codable {
        public var jid: BareJID
        public var role: Role
        public init(jid: BareJID, role: Role) { self.jid = jid; self.role = role }
    }

    /// `credit.mint`: new credits for an account; only operators mint.
    public struct CreditMint: Hashable, Sendable, Codable {
        public var to: BareJID
        public var amount: Credits
        public var memo: String
        public init(to: BareJID, amount: Credits, memo: String) { self.to = to; self.amount = amount; self.memo = memo }
    }

    /// `credit.transfer`.
    public struct CreditTransfer: Hashable, Sendable, Codable {
        public var from: BareJID
        public var to: BareJID
        public var amount: Credits
        public init(from: BareJID, to: BareJID, amount: Credits) { self.from = from; self.to = to; self.amount = amount }
    }

    /// `sensor.register`: the sensor's contract — what it measures, where, and its price.
    public struct SensorRegistration: Hashable, Sendable, Codable {
        public var sensor: SensorID
        public var owner: BareJID
        public var kind: String
        public var name: String
        public var unit: String
        /// Credits per started hour of data.
        public var price: Credits
        /// Seconds between readings, as the owner declares it; 0 when unknown.
        public var frequency: UInt32
        public var lat: Coordinate?
        public var lon: Coordinate?
        public var url: String
        /// Serial of the sensor's certificate (hex); empty for a pre-provisioned sensor.
        public var cert: String
        public init(sensor: SensorID, owner: BareJID, kind: String, name: String, unit: String, price: Credits,
                    frequency: UInt32, lat: Coordinate?, lon: Coordinate?, url: String, cert: String = "") {
            self.sensor = sensor; self.owner = owner; self.kind = kind; self.name = name; self.unit = unit
            self.price = price; self.frequency = frequency; self.lat = lat; self.lon = lon; self.url = url; self.cert = cert
        }
    }

    /// `sensor.update`: only the fields that changed are present.
    public struct SensorUpdate: Hashable, Sendable, Codable {
        public var sensor: SensorID
        public var price: Credits?
        public var url: String?
        public var owner: BareJID?
        public var name: String?
        public var lat: Coordinate?
        public var lon: Coordinate?
        public init(sensor: SensorID, price: Credits? = nil, url: String? = nil, owner: BareJID? = nil,
                    name: String? = nil, lat: Coordinate? = nil, lon: Coordinate? = nil) {
            self.sensor = sensor; self.price = price; self.url = url; self.owner = owner
            self.name = name; self.lat = lat; self.lon = lon
        }
    }

    /// `sensor.freeze` and `sensor.unfreeze`.
    public struct SensorStatusChange: Hashable, Sendable, Codable {
        public var sensor: SensorID
        public var reason: String
        public init(sensor: SensorID, reason: String) { self.sensor = sensor; self.reason = reason }
    }

    /// `purchase`: a buyer paid for the window `[from, to)` of a sensor's data.
    public struct Purchase: Hashable, Sendable, Codable {
        public var id: String
        public var buyer: BareJID
        public var sensor: SensorID
        public var from: Timestamp
        public var to: Timestamp
        public var amount: Credits
        /// The client's request id; a repeated one returns this purchase instead of a new one.
        public var request: String
        public init(id: String, buyer: BareJID, sensor: SensorID, from: Timestamp, to: Timestamp, amount: Credits, request: String) {
            self.id = id; self.buyer = buyer; self.sensor = sensor; self.from = from; self.to = to
            self.amount = amount; self.request = request
        }
    }

    /// `group.open`: members agree to buy the window `[from, to)` of a sensor's data
    /// together, each paying its share by `deadline`; nothing moves yet.
    public struct GroupOpen: Hashable, Sendable, Codable {
        public var id: String
        public var organizer: BareJID
        /// The room the group talks in (XEP-0045 JID), or empty.
        public var room: String
        public var sensor: SensorID
        public var from: Timestamp
        public var to: Timestamp
        /// The window's price when the group opened: the sum of the shares.
        public var amount: Credits
        public var deadline: Timestamp
        public var shares: GroupShares
        /// The organizer's request id (idempotency, as for purchases).
        public var request: String
        public init(id: String, organizer: BareJID, room: String, sensor: SensorID, from: Timestamp, to: Timestamp, amount: Credits,
                    deadline: Timestamp, shares: GroupShares, request: String) {
            self.id = id; self.organizer = organizer; self.room = room; self.sensor = sensor; self.from = from; self.to = to
            self.amount = amount; self.deadline = deadline; self.shares = shares; self.request = request
        }
    }

    /// `group.pay`: a member's share moves from its balance into the group's escrow.
    public struct GroupPay: Hashable, Sendable, Codable {
        public var id: String
        public var member: BareJID
        public var amount: Credits
        public init(id: String, member: BareJID, amount: Credits) { self.id = id; self.member = member; self.amount = amount }
    }

    /// `group.complete` (every share paid: the escrow goes to the sensor's owner and every
    /// member may read the window) and `group.refund` (the deadline passed first: every
    /// paid share goes back).
    public struct GroupClose: Hashable, Sendable, Codable {
        public var id: String
        public init(id: String) { self.id = id }
    }

    /// `cert.issue`: the CA signed a certificate. The certificate itself is in the entry, so
    /// the ledger is a complete, verifiable record of everything the CA ever issued.
    public struct CertificateIssue: Hashable, Sendable, Codable {
        /// Serial number, lower-case hex.
        public var serial: String
        /// `sensor:<id>`, a bare JID, or `server:<first DNS name>`.
        public var subject: String
        /// SHA-256 of the DER certificate, lower-case hex.
        public var fingerprint: String
        public var notAfter: Timestamp
        /// The DER certificate, base64.
        public var certificate: String
        public init(serial: String, subject: String, fingerprint: String, notAfter: Timestamp, certificate: String) {
            self.serial = serial; self.subject = subject; self.fingerprint = fingerprint
            self.notAfter = notAfter; self.certificate = certificate
        }
    }

    /// `ca.adopt`: the gateway replaced the CA created at init with an imported one (a city's
    /// own root), before issuing anything. The entry names the CA from here on.
    public struct CertificateAuthorityAdoption: Hashable, Sendable, Codable {
        /// SHA-256 of the CA certificate's DER, lower-case hex.
        public var fingerprint: String
        /// The DER CA certificate, base64.
        public var certificate: String
        public init(fingerprint: String, certificate: String) { self.fingerprint = fingerprint; self.certificate = certificate }
    }

    /// `readings.commit`: seals one batch of a sensor's readings. The readings stay in the
    /// `readings` table (and may be pruned); the ledger keeps this commitment, so any
    /// reading of the batch can later be proven with a Merkle path to `root`.
    public struct ReadingsCommit: Hashable, Sendable, Codable {
        public var sensor: SensorID
        /// Times of the first and last reading, RFC 3339 with nanoseconds.
        public var first: String
        public var last: String
        public var count: Int
        /// RFC 9162 Merkle root over `SHA-256(0x00 ‖ canonical record)` of the batch's readings in key order, base64.
        public var root: String
        public init(sensor: SensorID, first: String, last: String, count: Int, root: String) {
            self.sensor = sensor; self.first = first; self.last = last; self.count = count; self.root = root
        }
    }

    /// `rating`: the buyer of a purchase says how satisfied it was (M-Sec's interaction log:
    /// satisfaction s and weight w; the fading factor is the reader's, not the entry's).
    /// A purchase is rated once and may be revised once within the gateway's revision period:
    /// the revision is a second entry with `revision` 1 that supersedes the first.
    public struct Rating: Hashable, Sendable, Codable {
        public var purchase: String
        public var rater: BareJID
        /// The purchase's sensor and that sensor's owner when rated, so the entry says by
        /// itself which service and which seller it rates.
        public var sensor: SensorID
        public var owner: BareJID
        /// s in thousandths: 0 (not at all satisfied) … 1000 (fully). Fixed-point, so the
        /// hashed bytes never depend on how a float is printed.
        public var satisfaction: Int
        /// w: how much the purchase mattered to the rater, 1 … the gateway's `[trust] max_weight`.
        public var weight: Int
        public var comment: String
        /// 0 for the rating, 1 for its revision.
        public var revision: Int
        public init(purchase: String, rater: BareJID, sensor: SensorID, owner: BareJID, satisfaction: Int, weight: Int,
                    comment: String, revision: Int) {
            self.purchase = purchase; self.rater = rater; self.sensor = sensor; self.owner = owner
            self.satisfaction = satisfaction; self.weight = weight; self.comment = comment; self.revision = revision
        }
    }

    /// `reliability`: what the gateway measured of a sensor's delivery, sealed so a buyer can
    /// later prove what the gateway said at the time (M-Sec's reliability R′, measured from
    /// the data instead of asked of anyone).
    public struct Reliability: Hashable, Sendable, Codable {
        public var sensor: SensorID
        /// The end of every window measured.
        public var until: Timestamp
        /// R′ in thousandths: the 24-hour window's figure, the one scores use.
        public var reliability: Int
        /// One row per window (1 h, 24 h, 30 d), integers in this order: the window's length as
        /// observed (s; shorter for a sensor registered within it, or for a walk cut short),
        /// readings expected at the declared frequency, delivered on time, gaps, longest gap
        /// (s), seconds in gaps, readings range-checked, out of range, delivered late, and 1
        /// when the walk stopped at its read budget.
        public var windows: [[Int64]]
        public init(sensor: SensorID, until: Timestamp, reliability: Int, windows: [[Int64]]) {
            self.sensor = sensor; self.until = until; self.reliability = reliability; self.windows = windows
        }
    }

    /// `cert.revoke`: the certificate with this serial is revoked for `reason` (RFC 5280 §5.3.1 name).
    public struct CertificateRevocation: Hashable, Sendable, Codable {
        public var serial: String
        public var reason: String
        public init(serial: String, reason: String) { self.serial = serial; self.reason = reason }
    }
}

// MARK: - Canonical JSON

extension LedgerEntry: Codable {
    private enum CommonKeys: String, CodingKey { case v, type, time, actor, salt }

    public init(from decoder: any Decoder) throws {
        let common = try decoder.container(keyedBy: CommonKeys.self)
        let version = try common.decode(Int.self, forKey: .v)
        switch version {
        case Self.unsaltedVersion:
            // A salt in a version-1 entry would be dropped on re-encoding: refuse the mix.
            guard !common.contains(.salt) else {
                throw DecodingError.dataCorruptedError(forKey: .salt, in: common, debugDescription: "a version-1 entry has no salt")
            }
            salt = nil
        case Self.version:
            let text = try common.decode(String.self, forKey: .salt)
            guard let salt = Salt(hex: text) else {
                throw DecodingError.dataCorruptedError(forKey: .salt, in: common, debugDescription:
                    "the salt must be \(Salt.minimumByteCount)–\(Salt.maximumByteCount) bytes of lower-case hex")
            }
            self.salt = salt
        default:
            throw DecodingError.dataCorruptedError(forKey: .v, in: common, debugDescription: "unsupported entry version \(version)")
        }
        time = try common.decode(Timestamp.self, forKey: .time)
        actor = try common.decode(LedgerActor.self, forKey: .actor)
        let type = try common.decode(String.self, forKey: .type)
        switch type {
        case "genesis": body = .genesis(try Genesis(from: decoder))
        case "account.open": body = .accountOpen(try AccountOpen(from: decoder))
        case "account.role": body = .accountRole(try AccountOpen(from: decoder))
        case "credit.mint": body = .creditMint(try CreditMint(from: decoder))
        case "credit.transfer": body = .creditTransfer(try CreditTransfer(from: decoder))
        case "sensor.register": body = .sensorRegister(try SensorRegistration(from: decoder))
        case "sensor.update": body = .sensorUpdate(try SensorUpdate(from: decoder))
        case "sensor.freeze": body = .sensorFreeze(try SensorStatusChange(from: decoder))
        case "sensor.unfreeze": body = .sensorUnfreeze(try SensorStatusChange(from: decoder))
        case "purchase": body = .purchase(try Purchase(from: decoder))
        case "cert.issue": body = .certIssue(try CertificateIssue(from: decoder))
        case "cert.revoke": body = .certRevoke(try CertificateRevocation(from: decoder))
        case "ca.adopt": body = .caAdopt(try CertificateAuthorityAdoption(from: decoder))
        case "readings.commit": body = .readingsCommit(try ReadingsCommit(from: decoder))
        case "rating": body = .rating(try Rating(from: decoder))
        case "reliability": body = .reliability(try Reliability(from: decoder))
        case "group.open": body = .groupOpen(try GroupOpen(from: decoder))
        case "group.pay": body = .groupPay(try GroupPay(from: decoder))
        case "group.complete": body = .groupComplete(try GroupClose(from: decoder))
        case "group.refund": body = .groupRefund(try GroupClose(from: decoder))
        default:
            throw DecodingError.dataCorruptedError(forKey: .type, in: common, debugDescription: "unknown entry type \(type)")
        }
    }

    public func encode(to encoder: any Encoder) throws {
        // The body's fields and the common fields share one JSON object.
        switch body {
        case .genesis(let b): try b.encode(to: encoder)
        case .accountOpen(let b), .accountRole(let b): try b.encode(to: encoder)
        case .creditMint(let b): try b.encode(to: encoder)
        case .creditTransfer(let b): try b.encode(to: encoder)
        case .sensorRegister(let b): try b.encode(to: encoder)
        case .sensorUpdate(let b): try b.encode(to: encoder)
        case .sensorFreeze(let b), .sensorUnfreeze(let b): try b.encode(to: encoder)
        case .purchase(let b): try b.encode(to: encoder)
        case .certIssue(let b): try b.encode(to: encoder)
        case .certRevoke(let b): try b.encode(to: encoder)
        case .caAdopt(let b): try b.encode(to: encoder)
        case .readingsCommit(let b): try b.encode(to: encoder)
        case .rating(let b): try b.encode(to: encoder)
        case .reliability(let b): try b.encode(to: encoder)
        case .groupOpen(let b): try b.encode(to: encoder)
        case .groupPay(let b): try b.encode(to: encoder)
        case .groupComplete(let b), .groupRefund(let b): try b.encode(to: encoder)
        }
        var common = encoder.container(keyedBy: CommonKeys.self)
        try common.encode(version, forKey: .v)
        try common.encodeIfPresent(salt?.hex, forKey: .salt)
        try common.encode(body.type, forKey: .type)
        try common.encode(time, forKey: .time)
        try common.encode(actor, forKey: .actor)
    }

    /// The canonical bytes of this entry: compact JSON, keys sorted (see `CanonicalEntryWriter`).
    public func encoded() throws(EntryCodingError) -> [UInt8] {
        let bytes = canonicalBytes()
        guard bytes.count <= Self.maxEncodedSize else {
            throw EntryCodingError(reason: "\(body.type) entry is \(bytes.count) bytes, over the \(Self.maxEncodedSize)-byte limit")
        }
        return bytes
    }

    /// Decodes stored entry bytes. Refuses anything over `maxEncodedSize`.
    public init(decoding bytes: some Collection<UInt8>) throws(EntryCodingError) {
        guard bytes.count <= Self.maxEncodedSize else {
            throw EntryCodingError(reason: "entry of \(bytes.count) bytes is over the \(Self.maxEncodedSize)-byte limit")
        }
        do { self = try CanonicalJSON.decoder.decode(LedgerEntry.self, from: Data(bytes)) } catch {
            throw EntryCodingError(reason: "not a valid ledger entry: \(CanonicalJSON.summary(of: error))")
        }
    }
}

/// Why entry bytes could not be produced or read.
public struct EntryCodingError: Error, Hashable, Sendable, CustomStringConvertible {
    public let reason: String
    public var description: String { reason }
}
