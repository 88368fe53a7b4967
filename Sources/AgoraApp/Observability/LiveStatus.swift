/// What a running `agora serve` reports about itself: `/status.json` on the HTTP listener,
/// the live part of `agora status`, and the counters `/metrics` exposes. Counters count
/// since the process started; sizes and states are as of the moment of the request.
public struct LiveStatus: Sendable, Codable, Equatable {
    public var version: String
    public var uptimeSeconds: Double
    /// Listeners bound, store open, broker connected when MQTT is configured.
    public var ready: Bool
    public var problems: [String]
    public var xmpp: XMPP?
    public var mqtt: MQTT?
    public var store: Store
    public var ledger: Ledger
    public var http: HTTP?
    public var witness: Witness?

    public struct XMPP: Sendable, Codable, Equatable {
        public var negotiating: Int
        public var bound: Int
        public var detached: Int
        public var connections: Int
        public var refusedConnections: Int
        public var logins: Int
        public var authFailures: Int
        public var authThrottled: Int
        public var resumptions: Int
        public var presenceDropped: Int
        public var stanzasIn: [String: Int]
        public var stanzasOut: [String: Int]
        public var streamErrors: [String: Int]
        public var iqErrors: [String: Int]
        public var offlineRefused: [String: Int]
        /// Multi-user chat: rooms, occupants, messages relayed, refusals by reason (nil: off).
        public var mucRooms: Int?
        public var mucOccupants: Int?
        public var mucMessages: Int?
        public var mucRefused: [String: Int]?
        /// Stanzas block lists stopped (XEP-0191), by direction.
        public var blocked: [String: Int]?
        /// Server-to-server federation (nil: off): streams by direction, peers authenticated
        /// by how, refusals by reason, stanzas by direction, bounces by condition.
        public var s2s: S2S?
    }

    public struct S2S: Sendable, Codable, Equatable {
        public var streams: [String: Int]
        public var authenticated: [String: Int]
        public var refused: [String: Int]
        public var stanzas: [String: Int]
        public var bounced: [String: Int]
    }

    public struct MQTT: Sendable, Codable, Equatable {
        public var connected: Bool
        public var packs: Int
        public var readingsStored: Int
        public var duplicates: Int
        public var heldForSpace: Int
        /// Readings (or packs, for `malformed`, `bad_topic` and `queue_full`) not stored, by reason.
        public var dropped: [String: Int]
        public var queueDepth: Int
        /// Pairing requests by outcome: `paired`, `refused`, `rate_limited`.
        public var pairing: [String: Int]
        /// Readings whose own time lies in the last minute (the ingest rate, per minute).
        public var readingsLastMinute: Int
    }

    public struct Store: Sendable, Codable, Equatable {
        public var batches: Int
        public var failedRequests: Int
        public var diskFullRefusals: Int
        public var diskFull: Bool
        public var mapSizeBytes: Int
        public var maxMapSizeBytes: Int
        public var usedBytes: Int
    }

    public struct Ledger: Sendable, Codable, Equatable {
        public var entries: UInt64
        public var checkpointSize: UInt64
        /// Seconds since the stored checkpoint last grew, as this process saw it (or since it
        /// started): checkpoints carry no time of their own.
        public var checkpointAgeSeconds: Double
        /// Whether the totals below (read from the ledger) cover all of it yet; after a start
        /// on a long ledger they catch up over a few requests.
        public var ledgerTotalsComplete: Bool
        public var certificatesIssued: Int
        public var certificatesRevoked: Int
        public var purchases: Int
        public var creditsSpent: UInt64
        public var accounts: Int
        public var sensors: Int
        public var frozenSensors: Int
    }

    public struct HTTP: Sendable, Codable, Equatable {
        public var connections: Int
        public var responses: [String: Int]
        public var refused: [String: Int]
        /// Dashboard logins by outcome: `accepted`, `refused`, `throttled`.
        public var dashboardLogins: [String: Int]
    }

    /// Witnessing: as a witness of other logs, and this log's own witnesses.
    public struct Witness: Sendable, Codable, Equatable {
        /// `add-checkpoint` requests answered, by outcome (`cosigned`, or why not).
        public var requests: [String: Int]
        /// Per log witnessed (origin), the size last cosigned.
        public var logs: [String: UInt64]
        /// Cosignatures the newest checkpoint needs (`witness.min_cosignatures`).
        public var required: Int
        /// The size of the newest checkpoint with at least `required` cosignatures gathered
        /// by this process (0: none yet).
        public var witnessedSize: UInt64
        public var peers: [Peer]

        public struct Peer: Sendable, Codable, Equatable {
            public var name: String
            public var url: String
            /// The size it last cosigned of this log.
            public var cosignedSize: UInt64
            /// Seconds since its last cosignature (nil: none since the process started).
            public var cosignedAgeSeconds: Double?
            public var failures: Int
            public var lastError: String?
        }
    }
}
