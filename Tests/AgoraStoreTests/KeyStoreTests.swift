import AgoraStore
import AgoraTestSupport
import Foundation
import Testing

@Suite struct KeyStoreTests {
    @Test func sealedKeyOpensWithTheSameKEKOnly() async throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let store = try makeTestStore(in: dir)
        defer { store.close() }
        let kek = try KeyEncryptionKey.create(at: dir.file("agora.kek"))
        let other = try KeyEncryptionKey.create(at: dir.file("other.kek"))
        let secret = SecretBytes(Array(0..<32))
        let keys = KeyStore(kek: kek, tables: store.tables)
        try await store.write { txn in try keys.seal(secret, as: "ledger.log", in: txn) }
        #expect(try store.read { try keys.open("ledger.log", in: $0) }.bytes == secret.bytes)
        // The stored record is not the plaintext.
        let record = try store.read { try $0.get(store.tables.keys, StoreKey.text("ledger.log")) }!
        #expect(!contains(record, secret.bytes))
        // A different KEK cannot open it, and the error says so without key bytes.
        let wrong = KeyStore(kek: other, tables: store.tables)
        do {
            _ = try store.read { try wrong.open("ledger.log", in: $0) }
            Issue.record("opened with the wrong KEK")
        } catch {
            #expect(error as? KeyStoreError == .keyUnsealFailed("ledger.log"))
        }
    }

    @Test func recordMovedToAnotherNameDoesNotOpen() async throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let store = try makeTestStore(in: dir)
        defer { store.close() }
        let keys = KeyStore(kek: try KeyEncryptionKey.create(at: dir.file("agora.kek")), tables: store.tables)
        try await store.write { txn in
            try keys.seal(SecretBytes([1, 2, 3]), as: "a", in: txn)
            let record = try txn.get(store.tables.keys, StoreKey.text("a"))!
            try txn.put(store.tables.keys, StoreKey.text("b"), record)
        }
        #expect(throws: KeyStoreError.self) { try store.read { try keys.open("b", in: $0) } }
    }

    @Test func kekReadableByOthersIsRefused() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let path = dir.file("agora.kek")
        _ = try KeyEncryptionKey.create(at: path)
        #expect(try FileManager.default.attributesOfItem(atPath: path)[.posixPermissions] as? Int == 0o600)
        try FileManager.default.setAttributes([.posixPermissions: 0o644], ofItemAtPath: path)
        #expect(throws: KeyStoreError.kekPermissions(path: path, mode: 0o644)) { try KeyEncryptionKey(loadingFrom: path) }
        try FileManager.default.setAttributes([.posixPermissions: 0o640], ofItemAtPath: path)
        #expect(throws: KeyStoreError.self) { try KeyEncryptionKey(loadingFrom: path) }
    }

    @Test func kekOfTheWrongSizeIsRefused() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let path = dir.file("short.kek")
        FileManager.default.createFile(atPath: path, contents: Data(repeating: 1, count: 16), attributes: [.posixPermissions: 0o600])
        #expect(throws: KeyStoreError.kekMalformed(path: path)) { try KeyEncryptionKey(loadingFrom: path) }
    }

    @Test func keysNeverPrintTheirBytes() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let kek = try KeyEncryptionKey.create(at: dir.file("agora.kek"))
        let secret = SecretBytes([0xDE, 0xAD, 0xBE, 0xEF])
        for text in [String(describing: kek), String(reflecting: secret), "\(secret)"] {
            #expect(text.contains("redacted"))
            #expect(!text.lowercased().contains("dead"))
            #expect(!text.contains("222"))
        }
    }

    private func contains(_ haystack: [UInt8], _ needle: [UInt8]) -> Bool {
        guard needle.count <= haystack.count else { return false }
        return (0...(haystack.count - needle.count)).contains { Array(haystack[$0..<$0 + needle.count]) == needle }
    }
}
