public import AgoraCore
public import AgoraStore

/// Accounts' SCRAM keys in the `xmpp.credentials` table (never the password, never the ledger).
public struct CredentialStore: Sendable {
    let store: Store

    public init(store: Store) { self.store = store }

    public func credentials(for jid: BareJID) -> SCRAMCredentials? {
        guard let bytes = try? store.read({ try $0.get(store.tables.credentials, StoreKey.text(jid.description)) }) else { return nil }
        return SCRAMCredentials(decoding: bytes)
    }

    /// Stores `credentials` for `jid` inside an existing write transaction.
    public static func put(_ credentials: SCRAMCredentials, for jid: BareJID, tables: Tables, in txn: WriteTransaction) throws {
        try txn.put(tables.credentials, StoreKey.text(jid.description), credentials.encoded)
    }

    public func set(_ credentials: SCRAMCredentials, for jid: BareJID) async throws {
        let tables = store.tables
        try await store.write { txn in try Self.put(credentials, for: jid, tables: tables, in: txn) }
    }
}
