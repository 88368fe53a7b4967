internal import AgoraCore
public import AgoraLedger
public import AgoraMarket
public import AgoraStore
internal import AgoraPKI
internal import Crypto
public import Logging
#if canImport(Glibc)
internal import Glibc
#endif

/// The composition root: one store, its ledger and market, opened from a configuration.
///
/// Every `agora` command and `agora serve` work through one of these. Commands reach the
/// store and the ledger only through its use-case methods (`Gateway+Ledger`,
/// `Gateway+Market`, …), never with transactions of their own. `close()` seals a final
/// checkpoint (so everything written is covered by a signed note) and stops the writer.
public final class Gateway: Sendable {
    public let configuration: AgoraConfiguration
    let store: Store
    let ledger: Ledger
    public let market: Market
    public let logger: Logger
    /// The key store, when the gateway was opened with its keys unlocked.
    let keys: KeyStore?

    /// Meta key of the gateway's display name.
    static let nameKey = StoreKey.text("gateway.name")

    private init(configuration: AgoraConfiguration, store: Store, ledger: Ledger, keys: KeyStore?, logger: Logger) {
        self.configuration = configuration
        self.store = store
        self.ledger = ledger
        self.market = Market(store: store, ledger: ledger)
        self.keys = keys
        self.logger = logger
    }

    /// Opens an initialised store. With `unlockKeys`, also loads the key-encryption key
    /// and the log key (needed to sign checkpoints, i.e. for every command that writes).
    public static func open(_ configuration: AgoraConfiguration, environment: [String: String],
                            unlockKeys: Bool = true, logger: Logger) throws -> Gateway {
        guard FileSystem.exists(configuration.storePath) else { throw GatewayError.noStore(configuration.stateDirectory) }
        let store = try Store(path: configuration.storePath, options: configuration.store,
                              writerOptions: configuration.writer, logger: logger)
        do {
            guard let origin = try store.read({ try Ledger.storedOrigin(in: $0, tables: store.tables) }) else {
                throw GatewayError.noStore(configuration.stateDirectory)
            }
            var signer: NoteSigner?
            var keyStore: KeyStore?
            if unlockKeys {
                let kek = try KeyEncryptionKey(loadingFrom: configuration.resolvedKEKFile(environment: environment))
                let keys = KeyStore(kek: kek, tables: store.tables)
                keyStore = keys
                let secret = try store.read { try keys.open(NoteSigner.keyStoreName, in: $0) }
                let opened = try NoteSigner(name: origin, rawPrivateKey: secret.bytes)
                // The sealed key must be the one genesis names, or every checkpoint it signs would fail audits.
                let genesisKey = try store.read { txn -> String? in
                    guard let bytes = try txn.get(store.tables.ledgerEntries, StoreKey.u64(0)),
                          case .genesis(let genesis) = try LedgerEntry(decoding: bytes).body else { return nil }
                    return genesis.logKey
                }
                guard genesisKey == opened.verifier.description else {
                    throw LedgerError.badKey("the sealed log key does not match the key named in the genesis entry")
                }
                signer = opened
            }
            let ledger = Ledger(tables: store.tables, origin: origin, signer: signer, checkpointInterval: configuration.checkpointInterval)
            if signer != nil { ledger.installCheckpointHook(on: store.writer) }
            return Gateway(configuration: configuration, store: store, ledger: ledger, keys: keyStore, logger: logger)
        } catch {
            store.close()
            throw error
        }
    }

    /// What `agora init` reports.
    public struct Initialized: Sendable {
        public let origin: String
        public let verifierKey: NoteVerifier
        public let kekFile: String
        public let kekCreated: Bool
    }

    /// Creates the state directory (0700), the key-encryption key (0600, unless it
    /// exists), the store, the log key and the genesis entry with the first checkpoint.
    /// Refuses a directory that already holds a store.
    public static func initialize(_ configuration: AgoraConfiguration, domain: String, name: String?,
                                  environment: [String: String], logger: Logger) async throws -> Initialized {
        do { try BareJID.validateDomain(domain, original: domain) } catch { throw MarketRefusal.invalid(error) }
        let name = try Self.validatedName(name ?? domain)
        let directory = configuration.stateDirectory
        try FileSystem.makeDirectory(directory, mode: 0o700)
        guard !FileSystem.exists(configuration.storePath) else { throw GatewayError.storeExists(configuration.storePath) }

        let kekPath = configuration.resolvedKEKFile(environment: environment)
        let kekCreated = !FileSystem.exists(kekPath)
        let kek = kekCreated ? try KeyEncryptionKey.create(at: kekPath) : try KeyEncryptionKey(loadingFrom: kekPath)

        let origin = "\(domain)/agora"
        let authority = try CertificateAuthority.create(name: name, now: .now())
        let caDER = try CertificateAuthority.der(of: authority.certificate)
        let logKey = Curve25519.Signing.PrivateKey()
        let signer = try NoteSigner(name: origin, privateKey: logKey)
        let store = try Store(path: configuration.storePath, options: configuration.store,
                              writerOptions: configuration.writer, logger: logger)
        defer {
            store.close()
            Self.returnCreatedFiles(in: configuration.stateDirectory, logger: logger)
        }
        let ledger = Ledger(tables: store.tables, origin: origin, signer: signer, checkpointInterval: configuration.checkpointInterval)
        let keys = KeyStore(kek: kek, tables: store.tables)
        let genesis = LedgerEntry(time: .now(), actor: .gateway, body: .genesis(.init(
            origin: origin, name: name, logKey: signer.verifier.description,
            caFingerprint: Hex.encode(SHA256.hash(data: caDER)),
            checkpointInterval: Int(configuration.checkpointInterval.components.seconds * 1000
                                    + configuration.checkpointInterval.components.attoseconds / 1_000_000_000_000_000))))
        let rawKey = SecretBytes(Array(logKey.rawRepresentation))
        _ = try await store.write { txn in
            try keys.seal(rawKey, as: NoteSigner.keyStoreName, in: txn)
            try keys.seal(SecretBytes(authority.sealableKey), as: CertificateAuthority.keyStoreName, in: txn)
            let records = AuthorityRecords(tables: store.tables)
            try records.storeCertificate(authority.certificate, in: txn)
            try records.writeCRL(by: authority, revoked: [], days: configuration.crlDays, in: txn)
            try txn.put(store.tables.meta, Self.nameKey, Array(name.utf8))
            try txn.put(store.tables.meta, StoreKey.text("schema"), Array("1".utf8))
            return try ledger.initialize(genesis: genesis, in: txn)
        }
        logger.notice("store initialized", metadata: ["ledger.origin": "\(origin)", "store.path": "\(configuration.storePath)"])
        return Initialized(origin: origin, verifierKey: signer.verifier, kekFile: kekPath, kekCreated: kekCreated)
    }

    static func validatedName(_ name: String) throws -> String {
        do { return try TextField.validate(name, field: "gateway name", maxBytes: 128, allowEmpty: false) } catch {
            throw MarketRefusal.invalid(error)
        }
    }

    /// Seals a checkpoint covering every entry written, then stops the writer.
    public func close() async {
        if ledger.signer != nil {
            do {
                try await ledger.sealCheckpoint(through: store)
            } catch {
                logger.error("final checkpoint failed", metadata: ["error": "\(error)"])
            }
        }
        await store.shutdown()
        Self.returnCreatedFiles(in: configuration.stateDirectory, logger: logger)
    }

    /// `sudo agora …` against the service's state directory: what root created there (the
    /// store and its lock file, certificates, keys) goes back to the directory's owner.
    private static func returnCreatedFiles(in stateDirectory: String, logger: Logger) {
        do {
            try FileSystem.returnCreatedFiles(in: stateDirectory)
        } catch {
            logger.error("could not give new state files to the state directory's owner", metadata: ["error": "\(error)"])
        }
    }

    /// The gateway's display name, from `agora init --name`.
    public func name() throws -> String {
        try store.read { txn in try txn.get(store.tables.meta, Self.nameKey).map { String(decoding: $0, as: UTF8.self) } ?? "" }
    }
}
