/// The named databases of Agora's one LMDB environment (DESIGN.md "Storage").
///
/// Three kinds of table:
/// - the log itself: `ledger.entries`, `ledger.nodes`, `ledger.checkpoints`;
/// - views of the log (`derivedFromLedger`: `accounts`, `balances`, `sensors`, `purchases`,
///   `grants`, `certs`, `ratings`, `groups`), which replay must rebuild byte for byte;
/// - witnessing: `witness.logs` (what this gateway cosigned for others), `ledger.cosigned`
///   and `witness.peers` (cosignatures gathered for its own checkpoints);
/// - state the log does not hold: `readings` (the data; the log holds each batch's Merkle
///   root), `pairing` (pending one-time invitations), `keys`, `meta`, and the XMPP server's
///   `xmpp.credentials`, `xmpp.roster`, `xmpp.offline`, `xmpp.blocklist`, `xmpp.archive`,
///   `xmpp.private`, `xmpp.pep` — passwords' SCRAM keys, rosters, queued messages, blocked
///   addresses, message archives and clients' own data are private chatter, not market facts, so they never go on the ledger;
///   likewise `live.subscriptions` and `live.pending`, the publish-subscribe service's, and
///   `muc.rooms` and `muc.history`, the multi-user chat service's, and `registry.things`,
///   what other gateways registered here as a XEP-0347 Thing Registry.
///
/// `balances` is split out of `accounts` because it is the hottest value in the store (two
/// writes per purchase) and a fixed 8-byte counter needs no decoding.
public struct Tables: Sendable {
    public let ledgerEntries: Database
    public let ledgerNodes: Database
    public let ledgerCheckpoints: Database
    public let accounts: Database
    public let balances: Database
    public let sensors: Database
    public let purchases: Database
    public let grants: Database
    public let certs: Database
    /// Ratings of purchases, by purchase, by sensor and by owner (the trust model's index).
    public let ratings: Database
    /// Group purchases (`group.*` entries): each group's terms, who paid, and its state;
    /// the escrow itself is a row of `balances`.
    public let groups: Database
    public let readings: Database
    /// Each sensor's `readings.commit` entries in ledger order (key: sensor index u32 BE ‖
    /// commit index u64 BE; value: first and last reading time, ns, u64 BE each): how a
    /// batch is found by its commit, for live items retrieved later. Dropped with the
    /// readings it points at.
    public let readingsCommits: Database
    public let pairing: Database
    public let keys: Database
    public let meta: Database
    public let credentials: Database
    public let roster: Database
    public let offline: Database
    /// XEP-0191: the addresses each account blocks (key: account ‖ 0 ‖ blocked JID, no value).
    public let blocklist: Database
    /// XEP-0313 message archives: per archive (an account, or a room), key: owner ‖ 0 ‖ id u64
    /// BE (microseconds since 1970 × 16 + a sequence, so ids sort by time); value: the other
    /// party's JID ‖ 0 ‖ the message's XML.
    public let archive: Database
    /// XEP-0049 private XML storage (clients' bookmarks): key account ‖ 0 ‖ element name ‖
    /// 0 ‖ namespace; value: the element's XML.
    public let privateStorage: Database
    /// XEP-0163 personal eventing: per account and node, its configuration (key: account ‖ 0 ‖
    /// node ‖ 0x00) and its items (key: account ‖ 0 ‖ node ‖ 0x01 ‖ sequence u64 BE, value:
    /// item id ‖ 0 ‖ payload XML).
    public let pep: Database
    /// As a witness: per log origin, the newest checkpoint cosigned (size ‖ root).
    public let witnessLogs: Database
    /// This gateway's own checkpoints with the witnesses' cosignatures gathered so far
    /// (size → the note with every signature), and per witness the size it last cosigned.
    public let ledgerCosigned: Database
    public let witnessPeers: Database
    /// Live readings (XEP-0060): subscriptions by node, and items kept for subscribers with
    /// no available resource. Delivery state, not market facts: never on the ledger.
    public let liveSubscriptions: Database
    public let livePending: Database
    /// Multi-user chat (XEP-0045): each durable room's configuration, affiliations and
    /// subject (key: the room's localpart), and each room's recent messages for the history
    /// sent on join (key: room ‖ 0 ‖ sequence u64 BE). Chatter, not market facts.
    public let mucRooms: Database
    public let mucHistory: Database
    /// A XEP-0347 Thing Registry (`[registry] enabled`): things other gateways registered
    /// here (key: registering domain ‖ 0 ‖ node id; value: the `<thing/>` XML). A cache of
    /// what they said, not a market fact: never on the ledger.
    public let registryThings: Database

    init(environment: LMDBEnvironment) throws(LMDBError) {
        ledgerEntries = try environment.openDatabase(named: "ledger.entries")
        ledgerNodes = try environment.openDatabase(named: "ledger.nodes")
        ledgerCheckpoints = try environment.openDatabase(named: "ledger.checkpoints")
        accounts = try environment.openDatabase(named: "accounts")
        balances = try environment.openDatabase(named: "balances")
        sensors = try environment.openDatabase(named: "sensors")
        purchases = try environment.openDatabase(named: "purchases")
        grants = try environment.openDatabase(named: "grants")
        certs = try environment.openDatabase(named: "certs")
        ratings = try environment.openDatabase(named: "ratings")
        groups = try environment.openDatabase(named: "groups")
        readings = try environment.openDatabase(named: "readings")
        readingsCommits = try environment.openDatabase(named: "readings.commits")
        pairing = try environment.openDatabase(named: "pairing")
        keys = try environment.openDatabase(named: "keys")
        meta = try environment.openDatabase(named: "meta")
        credentials = try environment.openDatabase(named: "xmpp.credentials")
        roster = try environment.openDatabase(named: "xmpp.roster")
        offline = try environment.openDatabase(named: "xmpp.offline")
        blocklist = try environment.openDatabase(named: "xmpp.blocklist")
        archive = try environment.openDatabase(named: "xmpp.archive")
        privateStorage = try environment.openDatabase(named: "xmpp.private")
        pep = try environment.openDatabase(named: "xmpp.pep")
        witnessLogs = try environment.openDatabase(named: "witness.logs")
        ledgerCosigned = try environment.openDatabase(named: "ledger.cosigned")
        witnessPeers = try environment.openDatabase(named: "witness.peers")
        liveSubscriptions = try environment.openDatabase(named: "live.subscriptions")
        livePending = try environment.openDatabase(named: "live.pending")
        mucRooms = try environment.openDatabase(named: "muc.rooms")
        mucHistory = try environment.openDatabase(named: "muc.history")
        registryThings = try environment.openDatabase(named: "registry.things")
    }

    /// The tables that replay rebuilds from the ledger alone.
    public var derivedFromLedger: [Database] { [accounts, balances, sensors, purchases, grants, certs, ratings, groups] }
}
